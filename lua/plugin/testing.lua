-- The test side of `caisse plugin test <dir>` (lua/plugin_test.c,
-- docs/plugins.md "Testing a plugin"). Loaded into a sandbox of its own
-- before the plugin's tests/*.lua; the plugin itself runs in its usual
-- sandbox against an in-memory host, and each test reaches it through `t`:
--
--   caisse.test("name", function(t) ... end)
--   t.merchant                                  "mer_test" (test mode), the default merchant
--   t.request(method, path, opts) -> response   calls the route's handler: opts = { json = {...}
--                                               | body = "raw", headers = {...}, query = {...},
--                                               merchant = "mer_…", livemode = false };
--                                               response = { status, body, commands } (commands
--                                               are recorded, not run); a failing handler gives
--                                               the server's 500 { error = {...} }
--   t.event(event) -> { commands = {...} }      calls the on_event handlers: event = { type,
--                                               data, merchant, livemode, seq, aggregate_id }
--                                               (defaults filled); raises if a handler fails
--   t.policy(name, input) -> output             the policy as the server would call it: the
--                                               plugin's override first when it applies, the
--                                               built-in policies as base; raises on failure
--   t.kv.get/put/delete(merchant, key[, value][, livemode])   the in-memory storage (empty at
--                                               the start of each test, like the orders)
--   t.orders.add(order[, merchant[, livemode]]) what caisse.orders.find will find
--   t.eq(actual, expected[, what]), t.ok(value[, what]), t.raises(fn[, text]) -> message
-- KV writes of a handler are committed when it returns, as on the server.

local host = caisse.testhost
caisse.testhost = nil

local tests = {}

function caisse.test(name, fn)
  if type(name) ~= "string" or name == "" then error("caisse.test: a test needs a name", 2) end
  if type(fn) ~= "function" then error("caisse.test: a test needs a function", 2) end
  tests[#tests + 1] = { name = name, fn = fn }
end

-- A readable, deterministic rendering of a value (keys sorted).
local function show(v, depth)
  depth = depth or 0
  if v == caisse.null then return "null" end
  local ty = type(v)
  if ty == "string" then return string.format("%q", v) end
  if ty ~= "table" then return tostring(v) end
  if depth > 6 then return "{...}" end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b)
    if type(a) == type(b) and (type(a) == "number" or type(a) == "string") then return a < b end
    return type(a) < type(b)
  end)
  local parts, n = {}, #v
  for _, k in ipairs(keys) do
    if math.type(k) == "integer" and k >= 1 and k <= n then
      parts[#parts + 1] = show(v[k], depth + 1)
    else
      parts[#parts + 1] = tostring(k) .. " = " .. show(v[k], depth + 1)
    end
  end
  return "{" .. table.concat(parts, ", ") .. "}"
end

local function deep_eq(a, b)
  if a == b then return true end
  if type(a) ~= "table" or type(b) ~= "table" then
    if math.type(a) and math.type(b) then return a == b end
    return false
  end
  for k, v in pairs(a) do
    if not deep_eq(v, b[k]) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end

local function new_t()
  local t = { merchant = "mer_test" }
  function t.eq(actual, expected, what)
    if not deep_eq(actual, expected) then
      error((what and (what .. ": ") or "") .. "expected " .. show(expected) .. ", got " .. show(actual), 2)
    end
  end
  function t.ok(value, what)
    if not value then error(what or "expected a true value, got " .. show(value), 2) end
  end
  function t.raises(fn, text)
    local ok, err = pcall(fn)
    if ok then error("expected an error" .. (text and (" containing " .. string.format("%q", text)) or ""), 2) end
    err = tostring(err)
    if text and not err:find(text, 1, true) then
      error("expected an error containing " .. string.format("%q", text) .. ", got " .. string.format("%q", err), 2)
    end
    return err
  end
  function t.request(method, path, opts) return host.request(method, path, opts or {}) end
  function t.event(event) return host.event(event) end
  function t.policy(name, input) return host.policy(name, input) end
  t.kv = { get = host.kv_get, put = host.kv_put, delete = host.kv_delete }
  t.orders = { add = host.add_order }
  return t
end

-- For the runner only (lua/plugin_test.c).
caisse.testrun = {
  count = function() return #tests end,
  name = function(i) return tests[i].name end,
  run = function(i) tests[i].fn(new_t()) end,
}
