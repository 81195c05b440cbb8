-- caisse plugin test plugins/shopify
-- The Shopify topic (and financial_status) -> caisse command mapping, on
-- in-memory orders.

local function order(t, reference, status)
  local id = "ord_" .. reference:sub(2)
  t.orders.add({ id = id, object = "order", reference = reference, status = status })
  return id
end

local function send(t, topic, name, financial_status)
  return t.request("POST", "/webhook", { headers = { ["X-Shopify-Topic"] = topic },
                                         json = { id = 820982911946154508, name = name,
                                                  financial_status = financial_status } })
end

local function no_commands(t, r)
  t.ok(r.commands == nil or #r.commands == 0, "no command")
end

caisse.test("orders/fulfilled ships, orders/cancelled cancels even when refunded", function(t)
  local id = order(t, "#1001", "confirmed")
  local r = send(t, "orders/fulfilled", "#1001", "paid")
  t.eq(r.body.action, "ship")
  t.eq(r.commands, { { op = "ship", order = id, params = {} } })
  r = send(t, "orders/cancelled", "#1001", "refunded")
  t.eq(r.body.action, "cancel")
  t.eq(r.commands[1].params, { reason = "customer_request", comment = "cancelled in Shopify (order #1001)" })
  order(t, "#1002", "shipped")
  r = send(t, "orders/cancelled", "#1002", "refunded")
  t.eq(r.status, 409, "a cancelled shipped order still needs its refund")
end)

caisse.test("an order topic with financial_status refunded, before shipping, cancels", function(t)
  for _, status in ipairs({ "pending", "approved", "confirmed" }) do
    local ref = "#2" .. #status
    local id = order(t, ref, status)
    local r = send(t, "orders/updated", ref, "refunded")
    t.eq(r.status, 200, status)
    t.eq(r.body.action, "cancel", status)
    t.eq(r.body.shopify_financial_status, "refunded")
    t.eq(r.commands, { { op = "cancel", order = id, params = { reason = "customer_request",
         comment = "refunded in Shopify (order " .. ref .. ")" } } }, status)
  end
end)

caisse.test("an order topic with financial_status refunded, after shipping, returns the whole order", function(t)
  local n = 0
  for _, status in ipairs({ "partially_shipped", "shipped", "completed" }) do
    for _, topic in ipairs({ "orders/updated", "orders/paid" }) do
      n = n + 1
      local ref = "#3" .. n
      local id = order(t, ref, status)
      local r = send(t, topic, ref, "refunded")
      t.eq(r.status, 200, status)
      t.eq(r.body.action, "return", status)
      t.eq(r.commands, { { op = "return", order = id, params = {} } }, status)
    end
  end
end)

caisse.test("a redelivered refund does nothing", function(t)
  order(t, "#41", "cancelled")
  order(t, "#42", "returned")
  for _, ref in ipairs({ "#41", "#42" }) do
    local r = send(t, "orders/updated", ref, "refunded")
    t.eq(r.status, 200, ref)
    t.eq(r.body.action, "none", ref)
    no_commands(t, r)
  end
end)

caisse.test("other financial statuses and topics do nothing", function(t)
  order(t, "#51", "shipped")
  for _, fs in ipairs({ "paid", "partially_refunded", "pending", "voided" }) do
    local r = send(t, "orders/updated", "#51", fs)
    t.eq(r.body.action, "none", fs)
    no_commands(t, r)
  end
  local r = send(t, "refunds/create", "#51", "refunded")
  t.eq(r.body.action, "none", "refunds/create is not an order topic")
  no_commands(t, r)
end)

caisse.test("a refund of an order never paid is 409, of an unknown one 404", function(t)
  order(t, "#61", "rejected")
  local r = send(t, "orders/updated", "#61", "refunded")
  t.eq(r.status, 409)
  no_commands(t, r)
  r = send(t, "orders/updated", "#99999", "refunded")
  t.eq(r.status, 404)
  no_commands(t, r)
end)
