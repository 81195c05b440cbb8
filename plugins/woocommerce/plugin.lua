-- WooCommerce adapter (README.md in this folder): POST /plugins/woocommerce/webhook
-- takes WooCommerce's "order updated" webhook payload and turns its status into
-- caisse commands on the order whose reference equals the WooCommerce `number`.
--
--   completed             -> ship everything left to ship
--   cancelled             -> cancel (reason customer_request)
--   refunded              -> cancel if nothing shipped yet, else return the
--                            whole order (caisse.shop.apply "refund")
--   processing and others -> nothing (200)
--
-- The handler only decides; the host runs the commands after it returns.


local ACTIONS = { completed = "ship", cancelled = "cancel", refunded = "refund" }

local err = caisse.shop.error

local function reference_of(payload)
  local n = payload.number
  if type(n) == "number" and math.type(n) == "integer" then return tostring(n) end
  if type(n) == "string" and #n > 0 then return n end
  local id = payload.id
  if math.type(id) == "integer" then return tostring(id) end
  return nil
end

local function items_of(payload)
  local items = caisse.array()
  if type(payload.line_items) == "table" then
    for _, li in ipairs(payload.line_items) do
      if type(li) == "table" then
        items[#items + 1] = { sku = li.sku, quantity = li.quantity }
      end
    end
  end
  return items
end

caisse.route("POST", "/webhook", function(request)
  local payload = request.json
  -- WooCommerce pings a new webhook with "webhook_id=N" (form-encoded): accept it.
  if payload == nil and type(request.body) == "string" and request.body:match("^webhook_id=%d+$") then
    return { status = 200, body = { received = true, action = "ping" } }
  end
  if type(payload) ~= "table" or payload.status == nil then
    return err(400, "parameter_invalid", "expected a WooCommerce order JSON payload with id, number and status")
  end
  local status = payload.status
  if type(status) ~= "string" then
    return err(400, "parameter_invalid", "status must be a string")
  end
  local reference = reference_of(payload)
  if reference == nil then
    return err(400, "parameter_missing", "the WooCommerce order has no number")
  end
  local action = ACTIONS[status]
  if action == nil then
    return { status = 200, body = { received = true, action = "none", woocommerce_status = status, reference = reference } }
  end

  local body = { received = true, reference = reference, woocommerce_status = status,
                 items = items_of(payload) }
  return caisse.shop.apply(action, reference, body, "WooCommerce")
end)
