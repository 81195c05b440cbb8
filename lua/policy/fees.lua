-- Built-in `fees.compute`: what caisse charges the merchant for an operation,
-- and the VAT on that fee. Documented in docs/policies.md "fees.compute".
--
-- Input:  { kind = "dispute" | "payment" | "payout" | "order" | "terminal", -- what is priced
--                                      -- (payout: an early payout; order: a buy-now-pay-later
--                                      -- commission; terminal: a payment terminal's month)
--           amount = <minor units>,    -- the amount of the operation (the disputed amount,
--                                      -- the amount a card payment captures)
--           card = { country, funding, brand },   -- kind "payment": the card's facts
--           payment = { type, channel },          -- kind "payment"
--           product = "pay_in_3" | "instalments_…",  -- kind "order": the plan's product
--           transactions = <count>, month = "YYYY-MM",  -- kind "terminal" (no amount)
--           terminal = { id = "trm_…" },              -- kind "terminal"
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

-- A card payment: a rate on the captured amount plus a fixed part, lower for
-- cards issued in the European Economic Area (interchange is capped there),
-- plus the VAT of the merchant's country on the fee. Each capture is priced
-- (a partial capture, a split or deposit charge: each on its own amount).

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

-- Card payments: basis points of the captured amount + a fixed part (minor units).
local PAYMENT_RATE_BP = { eea = 140, other = 290 }
local PAYMENT_FIXED = { EUR = 25 }
local EEA = {}
for c in ("AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IS IT LI LT LU LV MT NL NO PL PT RO SE SI SK"):gmatch("%u%u") do
  EEA[c] = true
end

-- An early (instant) payout: 1 % of the amount paid out, at least 0.50 EUR,
-- plus VAT. Standard payouts are free and are not priced.
local PAYOUT_RATE_BP, PAYOUT_MIN = 100, { EUR = 50 }

local pricing = {}

function pricing.payout(input)
  local min = PAYOUT_MIN[input.currency]
  if not min then
    error("fees.compute: no early payout price for currency " .. tostring(input.currency) .. ": override fees.compute")
  end
  local fee = math.max(min, caisse.money.percent(input.amount, PAYOUT_RATE_BP, "half_up"))
  return { fee = fee, vat = caisse.money.percent(fee, vat_rate(input.merchant.country), "half_up") }
end

function pricing.payment(input)
  local fixed = PAYMENT_FIXED[input.currency]
  if not fixed then
    error("fees.compute: no card payment price for currency " .. tostring(input.currency) .. ": override fees.compute")
  end
  if math.type(input.amount) ~= "integer" or input.amount < 0 then
    error("fees.compute: amount must be a non-negative integer")
  end
  local card = type(input.card) == "table" and input.card or {}
  local rate = EEA[card.country] and PAYMENT_RATE_BP.eea or PAYMENT_RATE_BP.other
  local fee = caisse.money.percent(input.amount, rate, "half_up") + fixed
  return { fee = fee, vat = caisse.money.percent(fee, vat_rate(input.merchant.country), "half_up") }
end

-- A buy-now-pay-later order's commission (docs/disbursements.md): basis
-- points of the order amount that became payable, by the plan's product
-- (seed 000: 3.45 % for pay in 3; 1.95 % for the longer instalment plans),
-- taken from the disbursement, plus the VAT of the merchant's country on it.
-- The amount is never negative: a reduction's commission given back is
-- priced on its absolute value and signed by the caller.
local ORDER_RATE_BP = { pay_in_3 = 345 }
local ORDER_INSTALMENTS_RATE_BP = 195

function pricing.order(input)
  if math.type(input.amount) ~= "integer" or input.amount < 0 then
    error("fees.compute: amount must be a non-negative integer")
  end
  local product = input.product
  local rate = ORDER_RATE_BP[product]
  if not rate and type(product) == "string" and product:match("^instalments_") then
    rate = ORDER_INSTALMENTS_RATE_BP
  end
  if not rate then
    error("fees.compute: no commission for product " .. tostring(product) .. ": override fees.compute")
  end
  local fee = caisse.money.percent(input.amount, rate, "half_up")
  return { fee = fee, vat = caisse.money.percent(fee, vat_rate(input.merchant.country), "half_up") }
end

-- A payment terminal's month (docs/terminals.md): free when the terminal
-- took at least TERMINAL_FREE_FROM transactions (card payments on it that
-- did not fail) in the calendar month, else a monthly fee, plus the VAT of the
-- merchant's country on it. Each terminal is priced on its own count.
-- Seed 003 says "plus de 150" (more than 150) in one sentence and "au moins
-- 150" (at least 150) in the rule for several terminals; exactly 150 is read
-- as free: the per-terminal rule is the precise one, and a standard-form
-- contract's ambiguity reads in favour of the party that did not draft it
-- (French Civil Code art. 1190).
local TERMINAL_FREE_FROM = 150
local TERMINAL_MONTHLY_FEE = { EUR = 2500 }

function pricing.terminal(input)
  local n = input.transactions
  if math.type(n) ~= "integer" or n < 0 then
    error("fees.compute: transactions must be a non-negative integer")
  end
  local monthly = TERMINAL_MONTHLY_FEE[input.currency]
  if not monthly then
    error("fees.compute: no terminal fee for currency " .. tostring(input.currency) .. ": override fees.compute")
  end
  if n >= TERMINAL_FREE_FROM then
    return { fee = 0, vat = 0 }
  end
  return { fee = monthly, vat = caisse.money.percent(monthly, vat_rate(input.merchant.country), "half_up") }
end

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
