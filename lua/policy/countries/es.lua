-- Spain: VAT rates, national public holidays, ID documents. Loaded after
-- ../countries.lua (see there for the spec format); documented in
-- docs/policies.md "country.rules".
--
-- Public holidays: the national ones only (fiestas de ámbito nacional, Real
-- Decreto 2001/1983 art. 45 and the yearly BOE list). Holy Thursday, Easter
-- Monday, the regions' own days and a region's moving of a Sunday holiday to
-- the Monday are regional decisions and are not included.

countries.define("ES", {
  name = "Spain",
  -- 21 % standard; 10 % reduced; 4 % super-reduced (peninsula and Balearics;
  -- the Canary Islands have IGIC instead of VAT).
  vat_rates = { standard = 2100, reduced = { 1000 }, super_reduced = 400 },
  holidays = {
    { date = "01-01", name = "New Year's Day" },
    { date = "01-06", name = "Epiphany" },
    { easter = -2,    name = "Good Friday" },
    { date = "05-01", name = "Labour Day" },
    { date = "08-15", name = "Assumption Day" },
    { date = "10-12", name = "National Day of Spain" },
    { date = "11-01", name = "All Saints' Day" },
    { date = "12-06", name = "Constitution Day" },
    { date = "12-08", name = "Immaculate Conception" },
    { date = "12-25", name = "Christmas Day" },
  },
  id_documents = {
    credit_application = { "national_id", "residence_permit" },
    identity_check = { "national_id", "residence_permit", "passport" },
  },
})
