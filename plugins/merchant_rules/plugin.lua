-- Merchant rules (README.md in this folder): each merchant sets its own risk
-- rules through PUT /plugins/merchant_rules/rules; they are kept in the
-- plugin's key-value storage (key "rules", per merchant and mode) and applied
-- by a per-merchant override of `risk.decide`, for orders and card payments:
--
--   blocked_countries = { "RU", ... }   rejected: the customer's billing
--                                       country (orders) or the card's issuing
--                                       country (payments) is in the list
--   max_amount = { EUR = 200000 }       rejected above this amount (minor
--                                       units, per currency)
--   review_above = { EUR = 100000 }     orders above it go to manual review
--                                       (payments have no review: not applied)
--
-- A merchant without rules never reaches this plugin (its overrides apply to
-- the merchants it keeps a key for); DELETE /rules removes them.

local KEY = "rules"
local COUNTRIES_MAX = 250
local RULE_PREFIX = "merchant_rules."

local function err(status, code, param, message)
  return { status = status, body = { error = { type = "invalid_request_error", code = code, param = param,
                                               message = message } } }
end

-- ---- validation -------------------------------------------------------------

local function is_array(t)
  return type(t) == "table" and (getmetatable(t) ~= nil or next(t) == nil or t[1] ~= nil)
end

-- { CUR = positive integer, ... } -> nil or an error response
local function check_amounts(v, field)
  if type(v) ~= "table" or is_array(v) and next(v) ~= nil then
    return err(400, "parameter_invalid", field, field .. " must be an object of currency -> amount in minor units")
  end
  for cur, amount in pairs(v) do
    if type(cur) ~= "string" or not cur:match("^[A-Z][A-Z][A-Z]$") then
      return err(400, "parameter_invalid", field, field .. ": " .. tostring(cur) .. " is not a currency code (ISO 4217)")
    end
    if math.type(amount) ~= "integer" or amount <= 0 then
      return err(400, "parameter_invalid", field .. "." .. cur, field .. "." .. cur .. " must be a positive integer (minor units)")
    end
  end
  return nil
end

-- The request body -> rules, or nil and an error response.
local function parse_rules(body)
  if type(body) ~= "table" or is_array(body) and next(body) ~= nil then
    return nil, err(400, "parameter_invalid", "", "the body must be a JSON object")
  end
  for k in pairs(body) do
    if k ~= "blocked_countries" and k ~= "max_amount" and k ~= "review_above" then
      return nil, err(400, "parameter_unknown", tostring(k), "unknown field " .. tostring(k) ..
                      " (blocked_countries, max_amount, review_above)")
    end
  end
  local rules = { blocked_countries = caisse.array(), max_amount = {}, review_above = {} }
  local bc = body.blocked_countries
  if bc ~= nil then
    if not is_array(bc) or #bc > COUNTRIES_MAX then
      return nil, err(400, "parameter_invalid", "blocked_countries",
                      "blocked_countries must be an array of at most 250 country codes")
    end
    for i, c in ipairs(bc) do
      if type(c) ~= "string" or not c:match("^[A-Z][A-Z]$") then
        return nil, err(400, "parameter_invalid", "blocked_countries[" .. (i - 1) .. "]",
                        "blocked_countries[" .. (i - 1) .. "] must be an ISO 3166-1 alpha-2 code in upper case")
      end
      rules.blocked_countries[#rules.blocked_countries + 1] = c
    end
  end
  for _, field in ipairs({ "max_amount", "review_above" }) do
    if body[field] ~= nil then
      local bad = check_amounts(body[field], field)
      if bad then return nil, bad end
      for cur, amount in pairs(body[field]) do rules[field][cur] = amount end
    end
  end
  return rules
end

-- ---- routes ---------------------------------------------------------------------

caisse.route("GET", "/rules", function(request)
  local m = request.merchant
  return { status = 200, body = { merchant = m.id, livemode = m.livemode,
                                  rules = caisse.kv.get(m.id, KEY) or caisse.null } }
end)

caisse.route("PUT", "/rules", function(request)
  if request.json == nil then
    return err(400, "json_invalid", "", "the body must be JSON")
  end
  local rules, bad = parse_rules(request.json)
  if not rules then return bad end
  local m = request.merchant
  caisse.kv.put(m.id, KEY, rules)
  caisse.log("info", "merchant " .. m.id .. " set its rules")
  return { status = 200, body = { merchant = m.id, livemode = m.livemode, rules = rules } }
end)

caisse.route("DELETE", "/rules", function(request)
  local m = request.merchant
  caisse.kv.delete(m.id, KEY)
  return { status = 200, body = { merchant = m.id, livemode = m.livemode, rules = caisse.null } }
end)

-- ---- the decision ------------------------------------------------------------------

local function contains(list, value)
  if type(list) ~= "table" or value == nil then return false end
  for _, v in ipairs(list) do
    if v == value then return true end
  end
  return false
end

local function limit(map, currency)
  return type(map) == "table" and map[currency] or nil
end

-- What the rules say about a decision's facts, before the platform's policy.
local function facts(input)
  if input.kind == "payment" then
    local p, card = input.payment or {}, input.card or {}
    return { payment = true, amount = p.amount, currency = p.currency, country = card.country }
  end
  local customer = type(input.customer) == "table" and input.customer or {}
  local billing = type(customer.billing_address) == "table" and customer.billing_address or {}
  return { payment = false, amount = input.amount, currency = input.currency, country = billing.country }
end

local function rejected(f, rule)
  if f.payment then return { decision = "rejected", rule = RULE_PREFIX .. rule } end
  return { decision = "rejected" }     -- orders: no reason is ever returned nor stored
end

caisse.policy.override("risk.decide", function(input, base)
  local rules = caisse.kv.get(input.merchant.id, KEY)
  if type(rules) ~= "table" then return base(input) end
  local f = facts(input)
  if contains(rules.blocked_countries, f.country) then
    return rejected(f, "blocked_country")
  end
  local cap = limit(rules.max_amount, f.currency)
  if cap and math.type(f.amount) == "integer" and f.amount > cap then
    return rejected(f, "max_amount")
  end
  local out = base(input)
  local review = limit(rules.review_above, f.currency)
  if not f.payment and review and out.decision == "approved" and f.amount > review then
    return { decision = "review" }
  end
  return out
end)
