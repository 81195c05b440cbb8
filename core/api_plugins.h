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

/* One order command as the merchant (core/api_orders.c): op is "confirm",
 * "cancel" or "ship", params its body as the API takes it (NULL: {}).
 * Returns 0 and later calls done(ctx, status, body, len) on the loop thread
 * with the API's answer (the order, or an error body); or returns an error
 * (validation, queue full) with d filled, and done is not called. */
int orders_submit_command(struct app *app, const char *merchant_id, int livemode, const char *actor,
                          const char *op, const char *order_id, json_t *params,
                          void (*done)(void *ctx, int status, const char *body, size_t len), void *ctx,
                          struct cs_diag *d);

#endif
