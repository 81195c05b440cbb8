-- PrestaShop adapter (README.md in this folder): POST /plugins/prestashop/webhook
-- takes a PrestaShop order status update and turns its new state into caisse
-- commands on the order whose reference equals the PrestaShop `reference`.
--
--   4 Shipped   -> ship everything left to ship (already shipped: nothing)
--   5 Delivered -> ship if not yet shipped (already shipped: nothing)
--   6 Canceled  -> cancel (reason customer_request)
--   7 Refunded  -> cancel if nothing shipped yet, else return the whole
--                  order (caisse.shop.apply "refund")
--   others      -> nothing (200)
--
-- The handler only decides; the host runs the commands after it returns.

local ACTIONS = { [4] = "ship", [5] = "ship", [6] = "cancel", [7] = "refund" }

local err = caisse.shop.error

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

  local action = ACTIONS[state]
  if action == nil then
    base.action = "none"
    return { status = 200, body = base }
  end

  return caisse.shop.apply(action, reference, base, "PrestaShop")
end)
