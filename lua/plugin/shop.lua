-- caisse.shop: what every e-commerce platform adapter does once it has read
-- its own platform's payload. Loaded before each plugin's plugin.lua (built
-- into the binary, lua/plugin.c), so adapters share one tested behaviour:
--
--   caisse.shop.error(status, code, message)        -> an error response table
--   caisse.shop.apply(action, reference, body, platform)
--       action "ship" | "cancel" | "refund": finds the merchant's order with
--       that reference and answers with the command to run, or with nothing
--       to do when the order is already there (a redelivered webhook), 404
--       when no order has that reference, 409 when the order's state does
--       not allow it (a shipped order "cancelled", a rejected order
--       "refunded"). A refund is a cancellation (which refunds what was
--       paid) before shipping, and the return of the whole order (the
--       `return` command with no lines: everything paid back, the schedule
--       stopped) once something shipped.
--       `body` is the response body so far; `order` and `action` ("ship",
--       "cancel", "return" or "none") are added.
-- Decisions only: the host runs the returned commands after the handler.

local SHIPPED = { shipped = true, completed = true, returned = true }
local CANCELLABLE = { pending = true, approved = true, confirmed = true }
local RETURNABLE = { partially_shipped = true, shipped = true, completed = true }
local ACTIONS = { ship = true, cancel = true, refund = true }

local shop = {}

function shop.error(status, code, message)
  return { status = status, body = { error = { type = "invalid_request_error", code = code, message = message } } }
end

function shop.apply(action, reference, body, platform)
  if not ACTIONS[action] then
    error("caisse.shop.apply: action must be \"ship\", \"cancel\" or \"refund\"")
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

  if order.status == "cancelled" or (action == "refund" and order.status == "returned") then
    body.action = "none"                 -- a redelivery: already cancelled (or returned)
    return { status = 200, body = body }
  end
  local verb = action == "refund" and "refunded" or "cancelled"
  if action == "refund" and RETURNABLE[order.status] then
    -- Something shipped: the platform refunded the whole order, so caisse
    -- takes everything back (what never shipped is dropped), refunds what
    -- was paid and stops the schedule.
    body.action = "return"
    caisse.log("info", platform .. " order " .. reference .. ": refunded, returning " .. order.id)
    return { status = 200, body = body, commands = { { op = "return", order = order.id, params = {} } } }
  end
  if not CANCELLABLE[order.status] then
    if action == "refund" then
      return shop.error(409, "state_invalid", "the caisse order " .. order.id .. " is " .. order.status ..
                        ": nothing was paid, there is nothing to refund")
    end
    return shop.error(409, "state_invalid", "the caisse order " .. order.id .. " is " .. order.status ..
                      " and can no longer be cancelled; use a return")
  end
  body.action = "cancel"
  return { status = 200, body = body,
           commands = { { op = "cancel", order = order.id, params = { reason = "customer_request",
                          comment = verb .. " in " .. platform .. " (order " .. reference .. ")" } } } }
end

caisse.shop = shop
