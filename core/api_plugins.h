#ifndef CAISSE_API_PLUGINS_H
#define CAISSE_API_PLUGINS_H
/* The HTTP side of Lua plugins (lua/plugin.h, docs/plugins.md): requests
 * under /plugins/<name>/..., GET /v1/plugins, POST /v1/admin/plugins/reload,
 * and the order commands a handler returns, run through the writer. */
#include <jansson.h>
#include "core/app.h"

#define PLUGINS_MOUNT "/plugins/"

/* Loads the plugins of `dir` (NULL: none) into app->plugins, with
 * caisse.orders.find reading app->store. Prints each plugin that failed. */
int api_plugins_start(struct app *app, const char *dir, struct cs_diag *d);
/* Reloads (SIGHUP); prints the outcome. */
void api_plugins_reload_log(struct app *app);

/* A request under /plugins/: authenticated as a merchant by the router. */
void api_plugins_dispatch(struct req_ctx *rc);

/* Runs a plugin call's commands ({op, order|payment, params?}, validated by
 * lua/plugin.h) one by one through the writer as merchant/livemode/actor; the
 * first that fails stops the run (the next ones are listed as skipped).
 * finish(ctx, results, failed_status) gets one result per command
 * ({op, order|payment, status, body} or {..., status: null, skipped: true})
 * and the first failure's status (0 if none). `commands` must stay alive
 * until finish. Returns 0 or CS_ENOMEM (finish not called). */
int plugin_commands_run(struct app *app, const char *merchant_id, int livemode, const char *actor,
                        json_t *commands, void (*finish)(void *ctx, json_t *results, int failed_status),
                        void *ctx);

/* One order command as the merchant (core/api_orders.c): op is "confirm",
 * "cancel", "ship", "cart" or "return", params its body as the API takes it
 * (NULL: {}; a `return` with {} gives the whole order up, see orders.h).
 * Returns 0 and later calls done(ctx, status, body, len) on the loop thread
 * with the API's answer (the order, or an error body); or returns an error
 * (validation, queue full) with d filled, and done is not called. */
int orders_submit_command(struct app *app, const char *merchant_id, int livemode, const char *actor,
                          const char *op, const char *order_id, json_t *params,
                          void (*done)(void *ctx, int status, const char *body, size_t len), void *ctx,
                          struct cs_diag *d);

#endif
