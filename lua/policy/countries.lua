-- Built-in `country.rules`: the rules of the merchant's country that the
-- server applies (VAT rates, business-day calendar, accepted ID documents, a
-- country's checkout refusal). Documented in docs/policies.md "country.rules".
--
-- Input:  { country = "FR", purpose = "credit_application" | "identity_check" | "payout",
--           date = "YYYY-MM-DD", merchant = { id, credit_intermediary = bool },
--           credit_intermediary = { name, registration } | nil  -- supplied by an override }
-- Output: { country, purpose, date,
--           vat_rates = { standard = 2000, reduced = [550, 1000], super_reduced = 210 },
--                        -- basis points; {} for a country without a table
--           business_day = bool,          -- `date` is neither a weekend day nor a public holiday
--           holiday = "Whit Monday" | nil, -- the public holiday on `date`, if any
--           next_business_day = "YYYY-MM-DD", -- the first business day strictly after `date`
--           id_documents = [ "national_id", "residence_permit" ], -- accepted for `purpose`
--           credit_intermediary = { ... } | nil, -- echoed from the input
--           checkout_refusal = nil | { rule, param, message } }
--
-- The countries themselves are the files lua/policy/countries/*.lua: each
-- calls countries.define(code, spec). This file is loaded first (built-ins load
-- in byte order of their paths, and "countries.lua" < "countries/…"), so the
-- global `countries` table below exists when they run. An override file may
-- call countries.define too (a new country, or a replacement spec), or wrap
-- the `country.rules` hook as usual.
--
-- spec = {
--   name = "France",
--   vat_rates = { standard = <bp>, reduced = { <bp>, ... }, super_reduced = <bp> },
--   holidays = { { date = "MM-DD", name = "...", from = <year>, to = <year> }  -- fixed date
--                | { easter = <days from Easter Sunday>, name = "..." } , ... },
--   weekend = { [0] = true, [6] = true },     -- optional: days of the week, 0 = Sunday
--   id_documents = { credit_application = {...}, identity_check = {...} },  -- optional
--   checkout_refusal = function(input) return nil | { rule, param, message } end,  -- optional
-- }

local PURPOSES = { credit_application = true, identity_check = true, payout = true }

-- Accepted ID documents by purpose when a country does not set its own
-- (../shared/DOMAIN.md: credit application — national ID card or residence
-- permit; identity check — also passport).
local DEFAULT_ID_DOCUMENTS = {
  credit_application = { "national_id", "residence_permit" },
  identity_check = { "national_id", "residence_permit", "passport" },
  payout = {},   -- the payout calendar asks only for business days
}

local DEFAULT_WEEKEND = { [0] = true, [6] = true }   -- Sunday, Saturday

local YEAR_MIN, YEAR_MAX = 1583, 9999                -- Gregorian Easter; caisse dates end in 9999

local specs = {}           -- code -> spec
local holiday_cache = {}   -- code .. year -> { ["MM-DD"] = name }
-- code .. date -> { holiday, business, next_business_day } of country.rules:
-- every checkout asks about the same day. Emptied by countries.define and
-- when it holds DAY_CACHE_MAX days (a payout calendar may ask about many).
local day_cache, day_cache_n, DAY_CACHE_MAX = {}, 0, 64

-- ---- dates ------------------------------------------------------------------

local function days_in_month(y, m)
  if m == 2 then
    return (y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0)) and 29 or 28
  end
  return (m == 4 or m == 6 or m == 9 or m == 11) and 30 or 31
end

local function parse_date(s)
  if type(s) ~= "string" then return nil end
  local y, m, d = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)$")
  if not y then return nil end
  y, m, d = math.tointeger(tonumber(y)), math.tointeger(tonumber(m)), math.tointeger(tonumber(d))
  if y < YEAR_MIN or m < 1 or m > 12 or d < 1 or d > days_in_month(y, m) then return nil end
  return y, m, d
end

-- Days since 1970-01-01 of a proleptic Gregorian date, and back (integer
-- arithmetic; `//` floors).
local function day_number(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = y // 400
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = (153 * mp + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  return era * 146097 + doe - 719468
end

local function from_day_number(z)
  z = z + 719468
  local era = z // 146097
  local doe = z - era * 146097
  local yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
  local doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
  local mp = (5 * doy + 2) // 153
  local d = doy - (153 * mp + 2) // 5 + 1
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  return y, m, d
end

local function weekday(z)             -- 0 = Sunday ... 6 = Saturday (1970-01-01 was a Thursday)
  return (z + 4) % 7
end

-- Easter Sunday of the Gregorian calendar (the anonymous algorithm, Meeus).
local function easter(y)
  local a, b, c = y % 19, y // 100, y % 100
  local d, e = b // 4, b % 4
  local f = (b + 8) // 25
  local g = (b - f + 1) // 3
  local h = (19 * a + b - d - g + 15) % 30
  local i, k = c // 4, c % 4
  local l = (32 + 2 * e + 2 * i - h - k) % 7
  local m = (a + 11 * h + 22 * l) // 451
  local month = (h + l - 7 * m + 114) // 31
  local day = (h + l - 7 * m + 114) % 31 + 1
  return month, day
end

local function format_date(y, m, d)
  return string.format("%04d-%02d-%02d", y, m, d)
end

-- ---- holidays ---------------------------------------------------------------

-- { ["MM-DD"] = name } of the public holidays of `code` in year y.
local function holidays_of(code, spec, y)
  local key = code .. y
  local cached = holiday_cache[key]
  if cached then return cached end
  local out = {}
  local em, ed = easter(y)
  local ez = day_number(y, em, ed)
  for _, h in ipairs(spec.holidays or {}) do
    if (h.from == nil or y >= h.from) and (h.to == nil or y <= h.to) then
      if h.date then
        out[h.date] = out[h.date] or h.name
      else
        local hy, hm, hd = from_day_number(ez + h.easter)
        if hy == y then
          local md = string.format("%02d-%02d", hm, hd)
          out[md] = out[md] or h.name
        end
      end
    end
  end
  holiday_cache[key] = out
  return out
end

-- The holiday name on day number z (nil if none), and whether z is a business day.
local function day_facts(code, spec, z)
  local y, m, d = from_day_number(z)
  local name = holidays_of(code, spec, y)[string.format("%02d-%02d", m, d)]
  local weekend = (spec.weekend or DEFAULT_WEEKEND)[weekday(z)] == true
  return name, not weekend and name == nil
end

-- ---- helpers ----------------------------------------------------------------

local function copy(v)
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = copy(x) end
  local mt = getmetatable(v)
  if mt ~= nil then setmetatable(out, mt) end   -- keeps caisse.array's mark
  return out
end

local function list(t)
  local out = caisse.array()
  for i, x in ipairs(t or {}) do out[i] = x end
  return out
end

local function check_spec(code, spec)
  if type(code) ~= "string" or not code:match("^[A-Z][A-Z]$") then
    error("countries.define: the country code must be two upper-case letters", 3)
  end
  if type(spec) ~= "table" then error("countries.define(" .. code .. "): spec must be a table", 3) end
  for i, h in ipairs(spec.holidays or {}) do
    local ok = type(h) == "table" and type(h.name) == "string" and
      ((type(h.date) == "string" and h.date:match("^%d%d%-%d%d$") ~= nil and h.easter == nil) or
       (h.date == nil and math.type(h.easter) == "integer"))
    if not ok then
      error(string.format("countries.define(%s): holidays[%d] needs a name and either date = \"MM-DD\" "
                          .. "or easter = <integer days>", code, i), 3)
    end
  end
end

-- ---- the global table ---------------------------------------------------------

countries = {
  -- Registers (or replaces) the rules of a country.
  define = function(code, spec)
    check_spec(code, spec)
    specs[code] = spec
    day_cache, day_cache_n = {}, 0
    for k in pairs(holiday_cache) do
      if k:sub(1, 2) == code then holiday_cache[k] = nil end
    end
  end,
  -- The spec of a country (a copy), or nil.
  get = function(code) return copy(specs[code]) end,
  -- Easter Sunday of year y as "YYYY-MM-DD".
  easter = function(y)
    if math.type(y) ~= "integer" or y < YEAR_MIN or y > YEAR_MAX then
      error("countries.easter: year must be an integer from 1583 to 9999", 2)
    end
    local m, d = easter(y)
    return format_date(y, m, d)
  end,
  -- The public holidays of a country in year y: a list of { date, name } in date order.
  holidays = function(code, y)
    local spec = specs[code]
    if spec == nil then return caisse.array() end
    if math.type(y) ~= "integer" or y < YEAR_MIN or y > YEAR_MAX then
      error("countries.holidays: year must be an integer from 1583 to 9999", 2)
    end
    local rows = {}
    for md, name in pairs(holidays_of(code, spec, y)) do
      rows[#rows + 1] = { date = string.format("%04d-", y) .. md, name = name }
    end
    table.sort(rows, function(a, b) return a.date < b.date end)
    return caisse.array(rows)
  end,
}

caisse.policy.define("country.rules", function(input)
  local code = input.country
  if type(code) ~= "string" or not code:match("^[A-Z][A-Z]$") then
    error("country.rules: country must be an ISO 3166-1 alpha-2 code such as FR")
  end
  local purpose = input.purpose
  if not PURPOSES[purpose] then
    error("country.rules: purpose must be credit_application, identity_check or payout")
  end
  -- A country without a spec: weekends only, no VAT table, the default documents.
  local spec = specs[code] or {}

  -- The cache holds only dates that were valid: a hit needs no parsing.
  local day = type(input.date) == "string" and day_cache[code .. input.date]
  if not day then
    local y, m, d = parse_date(input.date)
    if not y then
      error("country.rules: date must be a valid \"YYYY-MM-DD\" from 1583")
    end
    local z = day_number(y, m, d)
    local holiday, business = day_facts(code, spec, z)
    local next_z = z + 1
    while true do
      local _, ok = day_facts(code, spec, next_z)
      if ok then break end
      next_z = next_z + 1
    end
    local ny, nm, nd = from_day_number(next_z)
    if ny > YEAR_MAX then error("country.rules: no business day after " .. input.date .. " before year 10000") end
    if day_cache_n >= DAY_CACHE_MAX then day_cache, day_cache_n = {}, 0 end
    day = { date = format_date(y, m, d), holiday = holiday, business = business,
            next_business_day = format_date(ny, nm, nd) }
    day_cache[code .. input.date], day_cache_n = day, day_cache_n + 1
  end

  local docs = (spec.id_documents or {})[purpose] or DEFAULT_ID_DOCUMENTS[purpose]
  local out = {
    country = code,
    purpose = purpose,
    date = day.date,
    vat_rates = copy(spec.vat_rates) or {},
    business_day = day.business,
    holiday = day.holiday,
    next_business_day = day.next_business_day,
    id_documents = list(docs),
  }
  if type(input.credit_intermediary) == "table" then
    out.credit_intermediary = copy(input.credit_intermediary)
  end
  if type(out.vat_rates.reduced) == "table" then
    out.vat_rates.reduced = list(out.vat_rates.reduced)
  end
  if spec.checkout_refusal then
    local refusal = spec.checkout_refusal(input)
    if refusal ~= nil then out.checkout_refusal = copy(refusal) end
  end
  return out
end)
