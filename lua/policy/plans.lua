-- Built-in `plans.offer`: which payment plans a shopper may choose, and what
-- each costs. Amounts are integers in minor units of the order currency
-- (Lua 5.4 integers; never floats). Documented in docs/policies.md.
--
-- Input:  { amount, currency, country, purchase_date = "YYYY-MM-DD", livemode,
--           merchant = { id, setup_fee_pay_in_3 = <int, default 0> },
--           requested = "pay_in_3" | "instalments_6" | ... | nil }
-- Output: { offers = [ { product, instalments, fee_per_instalment, setup_fee,
--           total_fees, total, schedule = [ { number, due_date, amount, fee } ] } ] }

local PAY_IN_3_MIN, PAY_IN_3_MAX = 5000, 300000            -- 50.00 .. 3000.00, inclusive
local INSTALMENTS_MIN, INSTALMENTS_MAX = 10000, 500000     -- 100.00 .. 5000.00, inclusive

-- Fee per instalment of instalments_N, by order amount (first band that fits).
local FEE_BANDS = {
  { below = 50000,  fee = 100 },   -- amount < 500.00  -> 1.00 per instalment
  { below = 150000, fee = 250 },   -- amount < 1500.00 -> 2.50 per instalment
  { below = nil,    fee = 400 },   -- otherwise        -> 4.00 per instalment
}

local PRODUCTS = { "pay_in_3", "instalments_6", "instalments_9", "instalments_12",
                   "instalments_18", "instalments_24" }

local function fee_per_instalment(amount)
  for _, band in ipairs(FEE_BANDS) do
    if band.below == nil or amount < band.below then
      return band.fee
    end
  end
end

local function check_input(input)
  local amount = input.amount
  if math.type(amount) ~= "integer" or amount <= 0 then
    error("plans.offer: amount must be a positive integer in minor units")
  end
  local date = input.purchase_date
  if type(date) ~= "string" or not date:match("^%d%d%d%d%-%d%d%-%d%d$") then
    error("plans.offer: purchase_date must be \"YYYY-MM-DD\"")
  end
  local fee = 0
  local merchant = input.merchant
  if type(merchant) == "table" and merchant.setup_fee_pay_in_3 ~= nil
     and merchant.setup_fee_pay_in_3 ~= caisse.null then
    fee = merchant.setup_fee_pay_in_3
    if math.type(fee) ~= "integer" or fee < 0 then
      error("plans.offer: merchant.setup_fee_pay_in_3 must be a non-negative integer")
    end
  end
  return amount, date, math.tointeger(tonumber(date:sub(9, 10))), fee
end

-- Instalment k is due k-1 months after the purchase, on the purchase day,
-- clamped to the month's last day; instalment 1 is paid at checkout.
local function schedule(amount, date, day, n, fee_of)
  local parts = caisse.money.split(amount, n)
  local rows = {}
  for k = 1, n do
    rows[k] = {
      number = k,
      due_date = caisse.date.add_months(date, k - 1, day),
      amount = parts[k],
      fee = fee_of(k),
    }
  end
  return caisse.array(rows)
end

local function offer(product, amount, date, day, setup_fee)
  if product == "pay_in_3" then
    if amount < PAY_IN_3_MIN or amount > PAY_IN_3_MAX then return nil end
    return {
      product = product, instalments = 3, fee_per_instalment = 0, setup_fee = setup_fee,
      total_fees = setup_fee, total = amount + setup_fee,
      schedule = schedule(amount, date, day, 3, function(k) return k == 1 and setup_fee or 0 end),
    }
  end
  local n = math.tointeger(tonumber(product:match("^instalments_(%d+)$") or ""))
  if n == nil then return nil end
  local listed = false
  for _, p in ipairs(PRODUCTS) do listed = listed or p == product end
  if not listed then return nil end
  if amount < INSTALMENTS_MIN or amount > INSTALMENTS_MAX then return nil end
  local fee = fee_per_instalment(amount)
  return {
    product = product, instalments = n, fee_per_instalment = fee, setup_fee = 0,
    total_fees = fee * n, total = amount + fee * n,
    schedule = schedule(amount, date, day, n, function() return fee end),
  }
end

caisse.policy.define("plans.offer", function(input)
  local amount, date, day, setup_fee = check_input(input)
  local requested = input.requested
  if requested == caisse.null then requested = nil end
  local offers = {}
  for _, product in ipairs(PRODUCTS) do
    if requested == nil or requested == product then
      offers[#offers + 1] = offer(product, amount, date, day, setup_fee)
    end
  end
  return { offers = caisse.array(offers) }
end)
