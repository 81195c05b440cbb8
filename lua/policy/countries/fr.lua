-- France (metropolitan): VAT rates, national public holidays, ID documents.
-- Loaded after ../countries.lua (see there for the spec format); documented in
-- docs/policies.md "country.rules".
--
-- Public holidays (Code du travail L3133-1): the eleven national ones. Whit
-- Monday stays a public holiday (it may be the "journée de solidarité" worked
-- by employees, but it is a jour férié). Good Friday and 26 December are
-- Alsace-Moselle only and not included.

countries.define("FR", {
  name = "France",
  -- 20 % standard; 5.5 % and 10 % reduced; 2.1 % super-reduced (mainland).
  vat_rates = { standard = 2000, reduced = { 550, 1000 }, super_reduced = 210 },
  holidays = {
    { date = "01-01", name = "New Year's Day" },
    { easter = 1,     name = "Easter Monday" },
    { date = "05-01", name = "Labour Day" },
    { date = "05-08", name = "Victory in Europe Day" },
    { easter = 39,    name = "Ascension Day" },
    { easter = 50,    name = "Whit Monday" },
    { date = "07-14", name = "Bastille Day" },
    { date = "08-15", name = "Assumption Day" },
    { date = "11-01", name = "All Saints' Day" },
    { date = "11-11", name = "Armistice Day" },
    { date = "12-25", name = "Christmas Day" },
  },
  id_documents = {
    credit_application = { "national_id", "residence_permit" },
    identity_check = { "national_id", "residence_permit", "passport" },
  },
})
