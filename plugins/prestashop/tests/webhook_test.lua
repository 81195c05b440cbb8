-- caisse plugin test plugins/prestashop
-- The PrestaShop state -> caisse command mapping, on in-memory orders.

local function order(t, reference, status)
  local id = "ord_" .. reference
  t.orders.add({ id = id, object = "order", reference = reference, status = status })
  return id
end

local function send(t, reference, state_id, name)
  return t.request("POST", "/webhook", { json = { id_order = 12, reference = reference,
                                                  current_state = { id = state_id, name = name } } })
end

local function no_commands(t, r)
  t.ok(r.commands == nil or #r.commands == 0, "no command")
end

caisse.test("4 Shipped and 5 Delivered ship, 6 Canceled cancels", function(t)
  local id = order(t, "XKBKNABJK", "confirmed")
  for _, s in ipairs({ 4, 5 }) do
    local r = send(t, "XKBKNABJK", s)
    t.eq(r.body.action, "ship", s)
    t.eq(r.commands, { { op = "ship", order = id, params = {} } }, s)
  end
  local r = send(t, "XKBKNABJK", "6", "Canceled")
  t.eq(r.body.action, "cancel")
  t.eq(r.commands[1].params.reason, "customer_request")
end)

caisse.test("7 Refunded before shipping cancels the order", function(t)
  for _, status in ipairs({ "pending", "approved", "confirmed" }) do
    local id = order(t, "R" .. status, status)
    local r = send(t, "R" .. status, 7, "Refunded")
    t.eq(r.status, 200, status)
    t.eq(r.body.action, "cancel", status)
    t.eq(r.body.prestashop_state, 7)
    t.eq(r.commands, { { op = "cancel", order = id, params = { reason = "customer_request",
         comment = "refunded in PrestaShop (order R" .. status .. ")" } } }, status)
  end
end)

caisse.test("7 Refunded after shipping returns the whole order", function(t)
  for _, status in ipairs({ "partially_shipped", "shipped", "completed" }) do
    local id = order(t, "S" .. status, status)
    local r = send(t, "S" .. status, "7")
    t.eq(r.status, 200, status)
    t.eq(r.body.action, "return", status)
    t.eq(r.commands, { { op = "return", order = id, params = {} } }, status)
  end
end)

caisse.test("a redelivered 7 Refunded does nothing", function(t)
  for _, status in ipairs({ "cancelled", "returned" }) do
    order(t, "D" .. status, status)
    local r = send(t, "D" .. status, 7)
    t.eq(r.status, 200, status)
    t.eq(r.body.action, "none", status)
    t.eq(r.body.note, nil, "no note any more")
    no_commands(t, r)
  end
end)

caisse.test("7 Refunded on an order never paid is 409, an unknown one 404", function(t)
  order(t, "XEXPIRED", "expired")
  local r = send(t, "XEXPIRED", 7)
  t.eq(r.status, 409)
  t.eq(r.body.error.code, "state_invalid")
  no_commands(t, r)
  r = send(t, "NOSUCHREF", 7)
  t.eq(r.status, 404)
  no_commands(t, r)
end)

caisse.test("other states do nothing, without looking the order up", function(t)
  for _, s in ipairs({ 1, 2, 3, 8 }) do
    local r = send(t, "NOSUCHREF", s)
    t.eq(r.status, 200, s)
    t.eq(r.body.action, "none", s)
    no_commands(t, r)
  end
end)
