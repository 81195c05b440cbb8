-- caisse plugin test plugins/woocommerce
-- The WooCommerce status -> caisse command mapping, on in-memory orders.

local function order(t, reference, status)
  local id = "ord_" .. reference
  t.orders.add({ id = id, object = "order", reference = reference, status = status })
  return id
end

local function send(t, number, status)
  return t.request("POST", "/webhook", { json = { id = 727, number = number, status = status,
                                                  line_items = { { sku = "TSHIRT-M", quantity = 2 } } } })
end

local function no_commands(t, r)
  t.ok(r.commands == nil or #r.commands == 0, "no command")
end

caisse.test("completed ships, cancelled cancels", function(t)
  local id = order(t, "1001", "confirmed")
  local r = send(t, "1001", "completed")
  t.eq(r.status, 200)
  t.eq(r.body.action, "ship")
  t.eq(r.commands, { { op = "ship", order = id, params = {} } })
  r = send(t, 1001, "cancelled")
  t.eq(r.body.action, "cancel")
  t.eq(r.commands[1].op, "cancel")
  t.eq(r.commands[1].params.reason, "customer_request")
end)

caisse.test("refunded before shipping cancels the order", function(t)
  for _, status in ipairs({ "pending", "approved", "confirmed" }) do
    local id = order(t, "R-" .. status, status)
    local r = send(t, "R-" .. status, "refunded")
    t.eq(r.status, 200, status)
    t.eq(r.body.action, "cancel", status)
    t.eq(r.commands, { { op = "cancel", order = id, params = { reason = "customer_request",
         comment = "refunded in WooCommerce (order R-" .. status .. ")" } } }, status)
  end
end)

caisse.test("refunded after shipping returns the whole order", function(t)
  for _, status in ipairs({ "partially_shipped", "shipped", "completed" }) do
    local id = order(t, "S-" .. status, status)
    local r = send(t, "S-" .. status, "refunded")
    t.eq(r.status, 200, status)
    t.eq(r.body.action, "return", status)
    t.eq(r.body.order, id)
    t.eq(r.commands, { { op = "return", order = id, params = {} } }, status)
  end
end)

caisse.test("a redelivered refunded does nothing", function(t)
  for _, status in ipairs({ "cancelled", "returned" }) do
    order(t, "D-" .. status, status)
    local r = send(t, "D-" .. status, "refunded")
    t.eq(r.status, 200, status)
    t.eq(r.body.action, "none", status)
    no_commands(t, r)
  end
end)

caisse.test("refunded on an order that was never paid is 409, an unknown one 404", function(t)
  order(t, "X-1", "rejected")
  local r = send(t, "X-1", "refunded")
  t.eq(r.status, 409)
  t.eq(r.body.error.code, "state_invalid")
  t.ok(r.body.error.message:find("nothing to refund", 1, true), r.body.error.message)
  no_commands(t, r)
  r = send(t, "NO-SUCH", "refunded")
  t.eq(r.status, 404)
  t.eq(r.body.error.code, "resource_missing")
  no_commands(t, r)
end)

caisse.test("other statuses do nothing", function(t)
  order(t, "P-1", "confirmed")
  for _, status in ipairs({ "processing", "on-hold", "failed", "trash" }) do
    local r = send(t, "P-1", status)
    t.eq(r.status, 200, status)
    t.eq(r.body.action, "none", status)
    no_commands(t, r)
  end
end)
