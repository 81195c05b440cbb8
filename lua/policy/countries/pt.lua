-- Portugal: VAT rates, national public holidays, ID documents, and the
-- credit-intermediary rule. Loaded after ../countries.lua (see there for the
-- spec format); documented in docs/policies.md "country.rules".
--
-- Public holidays (Código do Trabalho art. 234, as restored in 2016): the
-- mandatory national ones. Carnival and municipal holidays are optional or
-- local and not included.
--
-- The rule `pt_credit_intermediary`: in Portugal a financed order (a credit
-- agreement offered at the point of sale) must go through a credit
-- intermediary registered with Banco de Portugal, unless the merchant is
-- itself one. Built-in default: checkout of a credit application is refused
-- unless merchant.credit_intermediary is true (`caisse merchant create
-- --credit-intermediary`). An operator who has a registered intermediary
-- supplies it from an override that wraps `country.rules` and sets
-- input.credit_intermediary = { name = "...", registration = "<BdP number>" }
-- (see docs/policies.md); then the order is accepted and the output echoes the
-- intermediary.

local RULE = "pt_credit_intermediary"

local function registered(ci)
  return type(ci) == "table" and type(ci.registration) == "string" and ci.registration:match("%S") ~= nil
end

countries.define("PT", {
  name = "Portugal",
  -- Mainland: 23 % standard; 6 % reduced and 13 % intermediate (Madeira and
  -- the Azores have their own lower rates).
  vat_rates = { standard = 2300, reduced = { 600, 1300 } },
  holidays = {
    { date = "01-01", name = "New Year's Day" },
    { easter = -2,    name = "Good Friday" },
    { easter = 0,     name = "Easter Sunday" },
    { date = "04-25", name = "Freedom Day" },
    { date = "05-01", name = "Labour Day" },
    { easter = 60,    name = "Corpus Christi" },
    { date = "06-10", name = "Portugal Day" },
    { date = "08-15", name = "Assumption Day" },
    { date = "10-05", name = "Republic Day" },
    { date = "11-01", name = "All Saints' Day" },
    { date = "12-01", name = "Restoration of Independence" },
    { date = "12-08", name = "Immaculate Conception" },
    { date = "12-25", name = "Christmas Day" },
  },
  id_documents = {
    credit_application = { "national_id", "residence_permit" },
    identity_check = { "national_id", "residence_permit", "passport" },
  },
  checkout_refusal = function(input)
    if input.purpose ~= "credit_application" then return nil end
    local merchant = input.merchant
    if type(merchant) == "table" and merchant.credit_intermediary == true then return nil end
    if registered(input.credit_intermediary) then return nil end
    return {
      rule = RULE,
      param = "merchant",
      message = RULE .. ": a financed order in Portugal needs a registered credit intermediary; "
        .. "this merchant is not one and no intermediary is configured",
    }
  end,
})
