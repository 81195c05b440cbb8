-- caisse plugin test plugins/merchant_rules

local ORDER = {                      -- risk.decide's input for an order (docs/policies.md)
  amount = 30000, currency = "EUR", country = "FR", product = "pay_in_3", livemode = false,
  purchase_date = "2026-03-02",
  customer = { first_name = "Camille", last_name = "Martin", email = "camille@example.com",
               birth_date = "1990-04-12", billing_address = { country = "FR" } },
  merchant = { id = "mer_test" },
}

local function order(changes)
  local o = {}
  for k, v in pairs(ORDER) do o[k] = v end
  o.customer = { first_name = "Camille", last_name = "Martin", email = "camille@example.com",
                 birth_date = "1990-04-12", billing_address = { country = "FR" } }
  for k, v in pairs(changes or {}) do o[k] = v end
  return o
end

local function payment(amount, card_country)
  return { kind = "payment", livemode = false, merchant = { id = "mer_test", country = "FR" },
           payment = { amount = amount, currency = "EUR", type = "at_order", channel = "api" },
           card = { brand = "visa", country = card_country, funding = "credit" }, counters = {} }
end

local function set_rules(t, rules)
  local r = t.request("PUT", "/rules", { json = rules })
  t.eq(r.status, 200, "PUT /rules")
  return r
end

caisse.test("without rules the built-in policy decides", function(t)
  t.eq(t.policy("risk.decide", order()).decision, "approved")
  local o = order()
  o.customer.billing_address.country = "RU"
  t.eq(t.policy("risk.decide", o).decision, "approved", "no rules: a country is not blocked")
end)

caisse.test("PUT /rules stores them for the merchant and GET reads them", function(t)
  local r = set_rules(t, { blocked_countries = { "RU", "BY" }, max_amount = { EUR = 200000 },
                           review_above = { EUR = 100000 } })
  t.eq(r.body.rules.blocked_countries, { "RU", "BY" })
  t.eq(t.kv.get("mer_test", "rules").max_amount, { EUR = 200000 })
  t.eq(t.request("GET", "/rules").body.rules.review_above, { EUR = 100000 })
  t.eq(t.request("GET", "/rules", { merchant = "mer_other" }).body.rules, caisse.null, "another merchant has none")
  t.eq(r.commands, nil, "no commands")
end)

caisse.test("a blocked billing country is rejected, others are not", function(t)
  set_rules(t, { blocked_countries = { "RU" } })
  local o = order()
  o.customer.billing_address.country = "RU"
  t.eq(t.policy("risk.decide", o), { decision = "rejected" }, "no reason for an order")
  t.eq(t.policy("risk.decide", order()).decision, "approved")
end)

caisse.test("the basket cap rejects above it, per currency", function(t)
  set_rules(t, { max_amount = { EUR = 50000 } })
  t.eq(t.policy("risk.decide", order({ amount = 50001 })).decision, "rejected")
  t.eq(t.policy("risk.decide", order({ amount = 50000 })).decision, "approved", "the cap itself is allowed")
  t.eq(t.policy("risk.decide", order({ amount = 90000, currency = "GBP" })).decision, "approved", "no GBP cap")
end)

caisse.test("orders above review_above go to review, the built-in rules still apply", function(t)
  set_rules(t, { review_above = { EUR = 20000 } })
  t.eq(t.policy("risk.decide", order({ amount = 20001 })).decision, "review")
  t.eq(t.policy("risk.decide", order({ amount = 20000 })).decision, "approved")
  local minor = order({ amount = 90000 })
  minor.customer.birth_date = "2015-01-01"
  t.eq(t.policy("risk.decide", minor).decision, "rejected", "a minor stays rejected, not sent to review")
end)

caisse.test("card payments: issuing country and cap, with a rule name; no review", function(t)
  set_rules(t, { blocked_countries = { "BR" }, max_amount = { EUR = 50000 }, review_above = { EUR = 100 } })
  t.eq(t.policy("risk.decide", payment(1000, "BR")), { decision = "rejected", rule = "merchant_rules.blocked_country" })
  t.eq(t.policy("risk.decide", payment(60000, "FR")), { decision = "rejected", rule = "merchant_rules.max_amount" })
  t.eq(t.policy("risk.decide", payment(1000, "FR")).decision, "approved", "review_above does not apply to payments")
end)

caisse.test("rules are per merchant and per mode", function(t)
  set_rules(t, { blocked_countries = { "RU" } })
  local o = order({ merchant = { id = "mer_other" } })
  o.customer.billing_address.country = "RU"
  t.eq(t.policy("risk.decide", o).decision, "approved", "another merchant")
  o = order({ livemode = true })
  o.customer.billing_address.country = "RU"
  t.eq(t.policy("risk.decide", o).decision, "approved", "the same merchant in live mode")
end)

caisse.test("DELETE /rules removes them", function(t)
  set_rules(t, { blocked_countries = { "RU" } })
  t.eq(t.request("DELETE", "/rules").status, 200)
  t.eq(t.kv.get("mer_test", "rules"), nil)
  local o = order()
  o.customer.billing_address.country = "RU"
  t.eq(t.policy("risk.decide", o).decision, "approved")
end)

caisse.test("bad rules are refused with the field named, nothing stored", function(t)
  local cases = {
    { { blocked_countries = { "ru" } }, "blocked_countries[0]" },
    { { blocked_countries = "RU" }, "blocked_countries" },
    { { max_amount = { EUR = 0 } }, "max_amount.EUR" },
    { { max_amount = { EUR = 10.5 } }, "max_amount.EUR" },
    { { review_above = { euro = 100 } }, "review_above" },
    { { colour = "red" }, "colour" },
  }
  for _, c in ipairs(cases) do
    local r = t.request("PUT", "/rules", { json = c[1] })
    t.eq(r.status, 400, c[2])
    t.eq(r.body.error.param, c[2])
  end
  t.eq(t.request("PUT", "/rules", { body = "not json" }).body.error.code, "json_invalid")
  t.eq(t.kv.get("mer_test", "rules"), nil, "nothing stored")
end)
