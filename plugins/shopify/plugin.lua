-- Shopify adapter (README.md in this folder): POST /plugins/shopify/webhook
-- takes Shopify's order webhooks; the topic is the X-Shopify-Topic header. It
-- acts on the caisse order whose reference equals the Shopify order `name`
-- (e.g. "#1001").
--
--   orders/fulfilled -> ship everything left to ship
--   orders/cancelled -> cancel (reason customer_request), whatever its
--                       financial_status
--   another orders/… topic (orders/updated, orders/paid…) whose
--   financial_status is "refunded" -> cancel if nothing shipped yet, else
--                       return the whole order (caisse.shop.apply "refund")
--   other topics     -> nothing (200)
--
-- Refunds come through the order topics, not refunds/create: a refund's
-- payload names the order by its id only, not by the name caisse matches;
-- orders/updated follows every refund with the order's financial_status.
--
-- Shopify's X-Shopify-Hmac-Sha256 is NOT checked (the sandbox has no HMAC):
-- the route is authenticated by the caisse merchant key, like every plugin route.
-- The handler only decides; the host runs the commands after it returns.


local err = caisse.shop.error

local function reference_of(payload)
  local n = payload.name
  if type(n) == "string" and #n > 0 then return n end
  if math.type(payload.order_number) == "integer" then return "#" .. tostring(payload.order_number) end
  return nil
end

-- The topic decides; on the other order topics, a fully refunded order
-- ("partially_refunded" is not: caisse's whole-order return does not fit it).
local function action_of(topic, payload)
  if topic == "orders/fulfilled" then return "ship" end
  if topic == "orders/cancelled" then return "cancel" end
  if topic:sub(1, 7) == "orders/" and payload.financial_status == "refunded" then return "refund" end
  return nil
end

caisse.route("POST", "/webhook", function(request)
  local topic = request.headers["x-shopify-topic"]
  if type(topic) ~= "string" or #topic == 0 then
    return err(400, "parameter_missing",
               "the X-Shopify-Topic header is required (orders/fulfilled, orders/cancelled, orders/updated…)")
  end
  local payload = request.json
  if type(payload) ~= "table" or payload.id == nil then
    return err(400, "parameter_invalid", "expected a Shopify order JSON payload with id, name and order_number")
  end
  local reference = reference_of(payload)
  if reference == nil then
    return err(400, "parameter_missing", "the Shopify order has no name (nor order_number)")
  end
  local base = { received = true, reference = reference, shopify_topic = topic }
  if math.type(payload.id) == "integer" or type(payload.id) == "string" then base.shopify_id = payload.id end
  local action = action_of(topic, payload)
  if type(payload.financial_status) == "string" then base.shopify_financial_status = payload.financial_status end
  if action == nil then
    base.action = "none"
    return { status = 200, body = base }
  end

  return caisse.shop.apply(action, reference, base, "Shopify")
end)
