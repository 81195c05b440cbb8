-- Shopify adapter (README.md in this folder): POST /plugins/shopify/webhook
-- takes Shopify's order webhooks; the topic is the X-Shopify-Topic header. It
-- acts on the caisse order whose reference equals the Shopify order `name`
-- (e.g. "#1001").
--
--   orders/fulfilled -> ship everything left to ship
--   orders/cancelled -> cancel (reason customer_request)
--   other topics     -> nothing (200)
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

caisse.route("POST", "/webhook", function(request)
  local topic = request.headers["x-shopify-topic"]
  if type(topic) ~= "string" or #topic == 0 then
    return err(400, "parameter_missing", "the X-Shopify-Topic header is required (orders/fulfilled or orders/cancelled)")
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
  if topic ~= "orders/fulfilled" and topic ~= "orders/cancelled" then
    base.action = "none"
    return { status = 200, body = base }
  end

  return caisse.shop.apply(topic == "orders/fulfilled" and "ship" or "cancel", reference, base, "Shopify")
end)
