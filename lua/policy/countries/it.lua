-- Italy: VAT rates, national public holidays, ID documents. Loaded after
-- ../countries.lua (see there for the spec format); documented in
-- docs/policies.md "country.rules".
--
-- Public holidays (legge 260/1949 and later): the national ones, with
-- 4 October (San Francesco d'Assisi) again a national holiday from 2026 (law
-- of October 2025). Patron saints' days of each city are local and not
-- included.

countries.define("IT", {
  name = "Italy",
  -- 22 % standard; 5 % and 10 % reduced; 4 % super-reduced.
  vat_rates = { standard = 2200, reduced = { 500, 1000 }, super_reduced = 400 },
  holidays = {
    { date = "01-01", name = "New Year's Day" },
    { date = "01-06", name = "Epiphany" },
    { easter = 1,     name = "Easter Monday" },
    { date = "04-25", name = "Liberation Day" },
    { date = "05-01", name = "Labour Day" },
    { date = "06-02", name = "Republic Day" },
    { date = "08-15", name = "Assumption Day" },
    { date = "10-04", name = "Saint Francis of Assisi", from = 2026 },
    { date = "11-01", name = "All Saints' Day" },
    { date = "12-08", name = "Immaculate Conception" },
    { date = "12-25", name = "Christmas Day" },
    { date = "12-26", name = "Saint Stephen's Day" },
  },
  id_documents = {
    credit_application = { "national_id", "residence_permit" },
    identity_check = { "national_id", "residence_permit", "passport" },
  },
})
