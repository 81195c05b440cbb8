-- Built-in `fees.compute`: what caisse charges the merchant for an operation,
-- and the VAT on that fee. Documented in docs/policies.md "fees.compute".
--
-- Input:  { kind = "dispute",          -- what is priced; later also "payment", "payout"
--           amount = <minor units>,    -- the amount of the operation (the disputed amount)
--           currency = "EUR",
--           merchant = { id = "mer_…", country = "FR" },
--           livemode = bool }
-- Output: { fee = <minor units>, vat = <minor units> }   -- both integers >= 0, in `currency`
--
-- Default for a dispute: a flat fee (seed 003: "une commission forfaitaire"),
-- 15.00 in EUR, whatever the amount, plus the VAT of the merchant's country
-- on that fee at its standard rate (countries.lua: FR 20 %, ES 21 %,
-- PT 23 %, IT 22 %), rounded half up to the minor unit. A kind this policy
-- does not price, a currency without a flat fee or a country without a VAT
-- rate raises: an override must say what to charge rather than charge 0.

-- Flat dispute fee per currency, minor units (about 15 EUR each).
local DISPUTE_FEE = {
  EUR = 1500, USD = 1500, GBP = 1300, CHF = 1500, SEK = 17000, DKK = 11000, NOK = 17500,
  PLN = 6500, CZK = 37500, HUF = 600000, RON = 7500, JPY = 2500,
}

local function vat_rate(country)
  local spec = countries.get(country)
  local rate = spec and spec.vat_rates and spec.vat_rates.standard
  if math.type(rate) ~= "integer" then
    error("fees.compute: no standard VAT rate for country " .. tostring(country) ..
          ": define the country (countries.define) or override fees.compute")
  end
  return rate
end

local pricing = {}

function pricing.dispute(input)
  local fee = DISPUTE_FEE[input.currency]
  if not fee then
    error("fees.compute: no dispute fee for currency " .. tostring(input.currency) .. ": override fees.compute")
  end
  return { fee = fee, vat = caisse.money.percent(fee, vat_rate(input.merchant.country), "half_up") }
end

caisse.policy.define("fees.compute", function(input)
  local price = pricing[input.kind]
  if not price then
    error("fees.compute: nothing priced for kind " .. tostring(input.kind))
  end
  if type(input.merchant) ~= "table" then
    error("fees.compute: merchant must be a table { id, country }")
  end
  return price(input)
end)
