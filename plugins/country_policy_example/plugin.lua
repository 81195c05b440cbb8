-- Country policy example (README.md in this folder): a French merchant
-- established in an overseas department says so once,
--
--   PUT /plugins/country_policy_example/territory  {"territory": "GP"}
--
-- and from then on its policy calls see that territory's rules instead of
-- mainland France's, through per-merchant overrides:
--
--   country.rules  vat_rates: standard 8.5 %, reduced 2.1 %, super-reduced
--                  1.05 % (Code général des impôts, art. 296) instead of 20 /
--                  5.5, 10 / 2.1 %; the territory's own public holiday (the
--                  abolition of slavery) is not a business day, and
--                  next_business_day skips it;
--   fees.compute   the VAT on caisse's fees at 8.5 % instead of 20 %.
--
-- Everything else (the national holidays, the ID documents, the checkout
-- rules) comes from the built-in policy through base(). Merchants that never
-- set a territory, and merchants outside France, are not affected.

local KEY = "territory"

local TERRITORIES = {
  GP = { name = "Guadeloupe", holiday = { date = "05-27", name = "Abolition of slavery (Guadeloupe)" } },
  MQ = { name = "Martinique", holiday = { date = "05-22", name = "Abolition of slavery (Martinique)" } },
  RE = { name = "La Réunion", holiday = { date = "12-20", name = "Abolition of slavery (La Réunion)" } },
}

-- basis points, like the built-in tables (lua/policy/countries/fr.lua)
local function vat_rates()
  return { standard = 850, reduced = caisse.array({ 210 }), super_reduced = 105 }
end

local function err(status, code, param, message)
  return { status = status, body = { error = { type = "invalid_request_error", code = code, param = param,
                                               message = message } } }
end

-- ---- routes -------------------------------------------------------------------------

local function describe(m, code)
  local t = code and TERRITORIES[code]
  return { merchant = m.id, livemode = m.livemode, territory = code or caisse.null,
           name = t and t.name or caisse.null, vat_rates = t and vat_rates() or caisse.null }
end

caisse.route("GET", "/territory", function(request)
  local m = request.merchant
  return { status = 200, body = describe(m, caisse.kv.get(m.id, KEY)) }
end)

caisse.route("PUT", "/territory", function(request)
  local body = request.json
  if type(body) ~= "table" then
    return err(400, "json_invalid", "", "the body must be a JSON object {\"territory\": \"GP\"}")
  end
  for k in pairs(body) do
    if k ~= "territory" then
      return err(400, "parameter_unknown", tostring(k), "unknown field " .. tostring(k) .. " (territory)")
    end
  end
  local code = body.territory
  if code == nil then
    return err(400, "parameter_missing", "territory", "territory is required: GP, MQ or RE")
  end
  if type(code) ~= "string" or not TERRITORIES[code] then
    return err(400, "parameter_invalid", "territory", "territory must be GP (Guadeloupe), MQ (Martinique) or RE (La Réunion)")
  end
  local m = request.merchant
  caisse.kv.put(m.id, KEY, code)
  return { status = 200, body = describe(m, code) }
end)

caisse.route("DELETE", "/territory", function(request)
  local m = request.merchant
  caisse.kv.delete(m.id, KEY)
  return { status = 200, body = describe(m, nil) }
end)

-- ---- the overrides -------------------------------------------------------------------

-- The merchant's territory, or nil.
local function territory(input)
  local code = caisse.kv.get(input.merchant.id, KEY)
  return code and TERRITORIES[code] or nil
end

-- The territory's holiday name on "YYYY-MM-DD", or nil.
local function holiday_on(t, date)
  if type(date) == "string" and date:sub(6) == t.holiday.date then return t.holiday.name end
  return nil
end

caisse.policy.override("country.rules", function(input, base)
  local out = base(input)
  local t = input.country == "FR" and territory(input)
  if not t then return out end
  out.vat_rates = vat_rates()
  local name = holiday_on(t, out.date)
  if name then
    out.business_day = false
    out.holiday = name
  end
  -- the national calendar's next business day, unless it is the territory's
  -- holiday: then the national one after it (a fixed date falls once a year)
  local next_day = out.next_business_day
  if holiday_on(t, next_day) then
    next_day = base({ country = input.country, purpose = input.purpose, date = next_day,
                      merchant = input.merchant, livemode = input.livemode }).next_business_day
  end
  out.next_business_day = next_day
  return out
end)

caisse.policy.override("fees.compute", function(input, base)
  local out = base(input)
  if input.merchant.country == "FR" and territory(input) then
    out.vat = caisse.money.percent(out.fee, vat_rates().standard, "half_up")
  end
  return out
end)
