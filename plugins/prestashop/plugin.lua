-- PrestaShop adapter (README.md in this folder): POST /plugins/prestashop/webhook
-- takes a PrestaShop order status update and turns its new state into caisse
-- commands on the order whose reference equals the PrestaShop `reference`.
--
--   4 Shipped   -> ship everything left to ship (already shipped: nothing)
--   5 Delivered -> ship if not yet shipped (already shipped: nothing)
--   6 Canceled  -> cancel (reason customer_request)
--   7 Refunded  -> nothing, with a note (caisse has no refund command yet)
--   others      -> nothing (200)
--
-- The handler only decides; the host runs the commands after it returns.

local SHIPPED = { shipped = true, completed = true, returned = true }
local CANCELLABLE = { pending = true, approved = true, confirmed = true }
local SHIP_STATES = { [4] = true, [5] = true }
local CANCELED, REFUNDED = 6, 7

local function err(status, code, message)
  return { status = status, body = { error = { type = "invalid_request_error", code = code, message = message } } }
end

-- current_state: {"id": 4, "name": "Shipped"}, or the bare id (PrestaShop's
-- webservice writes ids as strings: "4").
local function state_of(payload)
  local cs = payload.current_state
  local id, name = cs, nil
  if type(cs) == "table" then id, name = cs.id, cs.name end
  if type(id) == "string" and id:match("^%d+$") and #id <= 9 then id = tonumber(id) end
  if math.type(id) ~= "integer" then return nil end
  if type(name) ~= "string" then name = nil end
  return id, name
end

caisse.route("POST", "/webhook", function(request)
  local payload = request.json
  if type(payload) ~= "table" or payload.current_state == nil then
    return err(400, "parameter_invalid",
               "expected a PrestaShop order status JSON payload with id_order, reference and current_state")
  end
  local state, state_name = state_of(payload)
  if state == nil then
    return err(400, "parameter_invalid", "current_state must be {\"id\": <integer>, \"name\": …} or an integer id")
  end
  local reference = payload.reference
  if type(reference) ~= "string" or #reference == 0 then
    return err(400, "parameter_missing", "the PrestaShop order has no reference")
  end
  local base = { received = true, reference = reference, prestashop_state = state,
                 prestashop_state_name = state_name, id_order = payload.id_order }
  if math.type(base.id_order) ~= "integer" and type(base.id_order) ~= "string" then base.id_order = nil end

  if state == REFUNDED then
    base.action = "none"
    base.note = "refunds are not supported by caisse yet: nothing was recorded, refund the order in caisse by hand"
    return { status = 200, body = base }
  end
  if not SHIP_STATES[state] and state ~= CANCELED then
    base.action = "none"
    return { status = 200, body = base }
  end

  local orders = caisse.orders.find(reference)
  if orders == nil then
    return err(404, "resource_missing", "no caisse order with reference " .. reference)
  end
  local order = orders[1]
  base.order = order.id

  if SHIP_STATES[state] then
    if SHIPPED[order.status] then
      base.action = "none"               -- a redelivery, or Delivered after Shipped
      return { status = 200, body = base }
    end
    base.action = "ship"
    caisse.log("info", "prestashop order " .. reference .. " state " .. state .. ": shipping " .. order.id)
    return { status = 200, body = base, commands = { { op = "ship", order = order.id, params = {} } } }
  end

  -- canceled
  if order.status == "cancelled" then
    base.action = "none"
    return { status = 200, body = base }
  end
  if not CANCELLABLE[order.status] then
    return err(409, "state_invalid", "the caisse order " .. order.id .. " is " .. order.status ..
               " and can no longer be cancelled; use a return")
  end
  base.action = "cancel"
  return { status = 200, body = base,
           commands = { { op = "cancel", order = order.id, params = { reason = "customer_request",
                          comment = "cancelled in PrestaShop (order " .. reference .. ")" } } } }
end)
