-- caisse.shop: what every e-commerce platform adapter does once it has read
-- its own platform's payload. Loaded before each plugin's plugin.lua (built
-- into the binary, lua/plugin.c), so adapters share one tested behaviour:
--
--   caisse.shop.error(status, code, message)        -> an error response table
--   caisse.shop.apply(action, reference, body, platform)
--       action "ship" | "cancel": finds the merchant's order with that
--       reference and answers with the command to run, or with nothing to do
--       when the order is already there (a redelivered webhook), 404 when no
--       order has that reference, 409 when a shipped order is "cancelled".
--       `body` is the response body so far; `order` and `action` are added.
-- Decisions only: the host runs the returned commands after the handler.

local SHIPPED = { shipped = true, completed = true, returned = true }
local CANCELLABLE = { pending = true, approved = true, confirmed = true }

local shop = {}

function shop.error(status, code, message)
  return { status = status, body = { error = { type = "invalid_request_error", code = code, message = message } } }
end

function shop.apply(action, reference, body, platform)
  if action ~= "ship" and action ~= "cancel" then
    error("caisse.shop.apply: action must be \"ship\" or \"cancel\"")
  end
  local orders = caisse.orders.find(reference)
  if orders == nil then
    return shop.error(404, "resource_missing", "no caisse order with reference " .. reference)
  end
  local order = orders[1]
  body.order = order.id

  if action == "ship" then
    if SHIPPED[order.status] then
      body.action = "none"               -- a redelivery: already shipped
      return { status = 200, body = body }
    end
    body.action = "ship"
    caisse.log("info", platform .. " order " .. reference .. ": shipping " .. order.id)
    return { status = 200, body = body, commands = { { op = "ship", order = order.id, params = {} } } }
  end

  if order.status == "cancelled" then
    body.action = "none"                 -- a redelivery: already cancelled
    return { status = 200, body = body }
  end
  if not CANCELLABLE[order.status] then
    return shop.error(409, "state_invalid", "the caisse order " .. order.id .. " is " .. order.status ..
                      " and can no longer be cancelled; use a return")
  end
  body.action = "cancel"
  return { status = 200, body = body,
           commands = { { op = "cancel", order = order.id, params = { reason = "customer_request",
                          comment = "cancelled in " .. platform .. " (order " .. reference .. ")" } } } }
end

caisse.shop = shop
