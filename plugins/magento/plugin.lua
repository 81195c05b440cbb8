-- Magento 2 adapter (README.md in this folder): POST /plugins/magento/webhook
-- takes a sales order save/status event ({"order": {...}}) and turns the
-- order's `state` into caisse commands on the order whose reference equals
-- the Magento `increment_id`.
--
--   complete -> ship everything left to ship
--   canceled -> cancel (reason customer_request)
--   closed   -> (refunded by a credit memo) cancel if nothing shipped yet,
--               else return the whole order (caisse.shop.apply "refund")
--   others   -> nothing (200)
--
-- The handler only decides; the host runs the commands after it returns.


local ACTIONS = { complete = "ship", canceled = "cancel", closed = "refund" }

local err = caisse.shop.error

local function reference_of(order)
  local n = order.increment_id
  if type(n) == "string" and #n > 0 then return n end
  if math.type(n) == "integer" then return tostring(n) end
  return nil
end

caisse.route("POST", "/webhook", function(request)
  local payload = request.json
  if type(payload) ~= "table" or type(payload.order) ~= "table" then
    return err(400, "parameter_invalid",
               "expected a Magento sales order JSON payload {\"order\": {\"increment_id\", \"state\", \"status\"}}")
  end
  local mo = payload.order
  local state = mo.state
  if type(state) ~= "string" or #state == 0 then
    return err(400, "parameter_invalid", "order.state must be a string")
  end
  local reference = reference_of(mo)
  if reference == nil then
    return err(400, "parameter_missing", "the Magento order has no increment_id")
  end
  local base = { received = true, reference = reference, magento_state = state }
  if type(mo.status) == "string" then base.magento_status = mo.status end

  local action = ACTIONS[state]
  if action == nil then
    base.action = "none"
    return { status = 200, body = base }
  end

  return caisse.shop.apply(action, reference, base, "Magento")
end)
