-- caisse plugin test plugins/magento
-- The Magento order state -> caisse command mapping, on in-memory orders.

local function order(t, reference, status)
  local id = "ord_" .. reference
  t.orders.add({ id = id, object = "order", reference = reference, status = status })
  return id
end

local function send(t, increment_id, state)
  return t.request("POST", "/webhook", { json = { order = { entity_id = 5, increment_id = increment_id,
                                                            state = state, status = state } } })
end

local function no_commands(t, r)
  t.ok(r.commands == nil or #r.commands == 0, "no command")
end

caisse.test("complete ships, canceled cancels", function(t)
  local id = order(t, "000000123", "confirmed")
  local r = send(t, "000000123", "complete")
  t.eq(r.body.action, "ship")
  t.eq(r.commands, { { op = "ship", order = id, params = {} } })
  r = send(t, "000000123", "canceled")
  t.eq(r.body.action, "cancel")
end)

caisse.test("closed before shipping cancels the order", function(t)
  for _, status in ipairs({ "pending", "approved", "confirmed" }) do
    local id = order(t, "1-" .. status, status)
    local r = send(t, "1-" .. status, "closed")
    t.eq(r.status, 200, status)
    t.eq(r.body.action, "cancel", status)
    t.eq(r.commands, { { op = "cancel", order = id, params = { reason = "customer_request",
         comment = "refunded in Magento (order 1-" .. status .. ")" } } }, status)
  end
end)

caisse.test("closed after shipping returns the whole order", function(t)
  for _, status in ipairs({ "partially_shipped", "shipped", "completed" }) do
    local id = order(t, "2-" .. status, status)
    local r = send(t, "2-" .. status, "closed")
    t.eq(r.status, 200, status)
    t.eq(r.body.action, "return", status)
    t.eq(r.body.magento_state, "closed")
    t.eq(r.commands, { { op = "return", order = id, params = {} } }, status)
  end
end)

caisse.test("a redelivered closed does nothing", function(t)
  for _, status in ipairs({ "cancelled", "returned" }) do
    order(t, "3-" .. status, status)
    local r = send(t, "3-" .. status, "closed")
    t.eq(r.status, 200, status)
    t.eq(r.body.action, "none", status)
    t.eq(r.body.note, nil, "no note any more")
    no_commands(t, r)
  end
end)

caisse.test("closed on an order never paid is 409, an unknown one 404", function(t)
  order(t, "4-abandoned", "abandoned")
  local r = send(t, "4-abandoned", "closed")
  t.eq(r.status, 409)
  t.eq(r.body.error.code, "state_invalid")
  no_commands(t, r)
  r = send(t, "000999999", "closed")
  t.eq(r.status, 404)
  no_commands(t, r)
end)

caisse.test("other states do nothing", function(t)
  for _, s in ipairs({ "new", "pending_payment", "processing", "holded" }) do
    local r = send(t, "000999999", s)
    t.eq(r.status, 200, s)
    t.eq(r.body.action, "none", s)
    no_commands(t, r)
  end
end)
