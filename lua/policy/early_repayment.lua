-- Built-in `plans.early_repayment_fee`: what a shopper pays on top of the
-- remaining principal to pay a plan off early (seed 000: "no fee unless local
-- law sets one"). Amounts are integers in minor units.
--
-- Input:  { country = "FR", currency = "EUR", amount = <remaining principal>,
--           date = "YYYY-MM-DD", merchant = { id } }
-- Output: { fee = <int >= 0> }
--
-- None of FR, ES, PT, IT charges one on an interest-free plan, so the default
-- is 0 everywhere. A country or merchant override wraps it:
--   local base = caisse.policy.get("plans.early_repayment_fee")
--   caisse.policy.define("plans.early_repayment_fee", function(input)
--     if input.country == "XX" then return { fee = caisse.money.percent(input.amount, 100, "half_up") } end
--     return base(input)
--   end)
caisse.policy.define("plans.early_repayment_fee", function(input)
  if math.type(input.amount) ~= "integer" or input.amount < 0 then
    error("plans.early_repayment_fee: amount must be a non-negative integer in minor units")
  end
  return { fee = 0 }
end)
