-- Built-in `risk.decide`: the policy part of the risk decision (the server adds
-- its own controls). Returns only the outcome: rejection reasons are never
-- returned nor stored. Documented in docs/policies.md.
--
-- Input:  { amount, currency, country, product, livemode, purchase_date = "YYYY-MM-DD",
--           customer = { first_name, last_name, email, phone, birth_date = "YYYY-MM-DD",
--                        id_document = { type, number } },
--           merchant = { id } }
-- Output: { decision = "approved" | "rejected" | "review" }
--
-- Rules, in order:
--   1. test mode only (livemode ~= true): an email whose local part contains
--      "+reject" is rejected (magic test customer);
--   2. a customer younger than 18 on the purchase date is rejected;
--   3. a missing or invalid birth date goes to review;
--   4. test mode only: an email whose local part contains "+review" goes to review;
--   5. otherwise approved.

local ADULT_AGE_YEARS = 18

local function ymd(s)
  if type(s) ~= "string" then return nil end
  local y, m, d = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)$")
  if not y then return nil end
  y, m, d = math.tointeger(tonumber(y)), math.tointeger(tonumber(m)), math.tointeger(tonumber(d))
  if m < 1 or m > 12 or d < 1 or d > 31 then return nil end
  return y, m, d
end

-- Full years between two dates (a 29 February birthday comes of age on
-- 1 March in common years).
local function age_years(by, bm, bd, py, pm, pd)
  local age = py - by
  if pm < bm or (pm == bm and pd < bd) then age = age - 1 end
  return age
end

local function magic(customer)
  local email = type(customer) == "table" and customer.email
  if type(email) ~= "string" then return nil end
  local localpart = (email:match("^(.*)@") or email):lower()
  if localpart:find("+reject", 1, true) then return "rejected" end
  if localpart:find("+review", 1, true) then return "review" end
  return nil
end

caisse.policy.define("risk.decide", function(input)
  -- Card payments (input.kind == "payment"): the platform's own controls ran
  -- already; merchants add their rules by wrapping this hook (docs/policies.md).
  if input.kind == "payment" then
    return { decision = "approved" }
  end
  local py, pm, pd = ymd(input.purchase_date)
  if not py then
    error("risk.decide: purchase_date must be \"YYYY-MM-DD\"")
  end
  local customer = type(input.customer) == "table" and input.customer or {}
  local test_magic = input.livemode ~= true and magic(customer) or nil

  if test_magic == "rejected" then return { decision = "rejected" } end
  local by, bm, bd = ymd(customer.birth_date)
  if not by then return { decision = "review" } end
  if age_years(by, bm, bd, py, pm, pd) < ADULT_AGE_YEARS then
    return { decision = "rejected" }
  end
  if test_magic == "review" then return { decision = "review" } end
  return { decision = "approved" }
end)
