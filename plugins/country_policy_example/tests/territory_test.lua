-- caisse plugin test plugins/country_policy_example

local function rules(date, merchant, livemode)
  return { country = "FR", purpose = "credit_application", date = date,
           merchant = { id = merchant or "mer_test", credit_intermediary = false }, livemode = livemode or false }
end

local function set(t, code)
  local r = t.request("PUT", "/territory", { json = { territory = code } })
  t.eq(r.status, 200, "PUT /territory")
  return r
end

caisse.test("without a territory: mainland France", function(t)
  local out = t.policy("country.rules", rules("2026-05-27"))
  t.eq(out.vat_rates.standard, 2000)
  t.eq(out.business_day, true, "27 May 2026 is a Wednesday")
end)

caisse.test("Guadeloupe: its VAT and its holiday", function(t)
  local r = set(t, "GP")
  t.eq(r.body.name, "Guadeloupe")
  local out = t.policy("country.rules", rules("2026-05-27"))
  t.eq(out.vat_rates, { standard = 850, reduced = { 210 }, super_reduced = 105 })
  t.eq(out.business_day, false)
  t.eq(out.holiday, "Abolition of slavery (Guadeloupe)")
  t.eq(out.next_business_day, "2026-05-28")
  t.eq(out.id_documents, { "national_id", "residence_permit" }, "the rest comes from the built-in policy")
end)

caisse.test("the national holidays still apply, and next_business_day skips the territory's", function(t)
  set(t, "GP")
  local out = t.policy("country.rules", rules("2026-05-14"))        -- Ascension (national)
  t.eq(out.holiday, "Ascension Day")
  out = t.policy("country.rules", rules("2026-05-26"))              -- the day before the territory's holiday
  t.eq(out.business_day, true)
  t.eq(out.next_business_day, "2026-05-28", "27 May is skipped")
  set(t, "RE")
  out = t.policy("country.rules", rules("2027-12-17"))              -- a Friday; 20 Dec 2027 is a Monday
  t.eq(out.next_business_day, "2027-12-21", "the weekend, then La Réunion's 20 December")
end)

caisse.test("per merchant and mode; other countries untouched", function(t)
  set(t, "MQ")
  t.eq(t.policy("country.rules", rules("2026-05-22", "mer_other")).business_day, true, "another merchant")
  t.eq(t.policy("country.rules", rules("2026-05-22", nil, true)).business_day, true, "live mode")
  t.eq(t.policy("country.rules", rules("2026-05-22")).business_day, false, "this merchant in test mode")
  local es = rules("2026-05-22")
  es.country = "ES"
  t.eq(t.policy("country.rules", es).vat_rates.standard, 2100, "a Spanish call keeps Spain's rules")
end)

caisse.test("fees.compute: the VAT on a dispute fee at 8.5 %", function(t)
  local input = { kind = "dispute", amount = 12000, currency = "EUR", livemode = false,
                  merchant = { id = "mer_test", country = "FR" } }
  t.eq(t.policy("fees.compute", input), { fee = 1500, vat = 300 }, "mainland: 20 %")
  set(t, "RE")
  t.eq(t.policy("fees.compute", input), { fee = 1500, vat = 128 }, "8.5 % of 15.00, half up")
end)

caisse.test("DELETE /territory goes back to mainland rules", function(t)
  set(t, "GP")
  t.eq(t.request("DELETE", "/territory").body.territory, caisse.null)
  t.eq(t.policy("country.rules", rules("2026-05-27")).business_day, true)
end)

caisse.test("bad requests are refused with the field named", function(t)
  t.eq(t.request("PUT", "/territory", { json = { territory = "GY" } }).body.error.param, "territory")
  t.eq(t.request("PUT", "/territory", { json = {} }).body.error.code, "parameter_missing")
  t.eq(t.request("PUT", "/territory", { json = { territory = "GP", vat = 0 } }).body.error.param, "vat")
  t.eq(t.request("PUT", "/territory", { body = "GP" }).status, 400)
  t.eq(t.request("POST", "/territory").status, 405)
  t.eq(t.kv.get("mer_test", "territory"), nil, "nothing stored")
end)
