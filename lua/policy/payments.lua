-- Built-in `payments.retry`: when a scheduled charge of a split or deposit
-- payment fails, whether and when it is attempted again. Documented in
-- docs/policies.md.
--
-- Input:  { attempt = n (the attempt about to run, 1 for the first),
--           type, amount, currency, livemode, merchant = "mer_…" }
-- Output: { retry_after_hours = h }  -- if this attempt fails, try again h hours later
--         { }                        -- if this attempt fails, stop: the merchant decides
--
-- Default: three attempts in all, a day apart.

local ATTEMPTS_MAX = 3
local RETRY_AFTER_HOURS = 24

caisse.policy.define("payments.retry", function(input)
  if type(input.attempt) ~= "number" then
    error("payments.retry: attempt must be a number")
  end
  if input.attempt < ATTEMPTS_MAX then
    return { retry_after_hours = RETRY_AFTER_HOURS }
  end
  return {}
end)
