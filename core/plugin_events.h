#ifndef CAISSE_PLUGIN_EVENTS_H
#define CAISSE_PLUGIN_EVENTS_H
/* Delivery of committed events to plugins' caisse.on_event handlers
 * (docs/plugins.md "Events").
 *
 * After each committed batch (the writer's commit hook wakes the loop
 * thread), each plugin with subscriptions reads the log from its position
 * (the last sequence it handled, kept durably in the store's plugin_cursors
 * table) and, for each event of a merchant that matches one of its patterns,
 * calls its handlers on the loop thread, in its sandbox, never inside a write
 * transaction. The commands a handler returns then run as the event's
 * merchant (actor "plugin:<name>"), and its KV writes commit together with
 * the new position: an event is handled at least once (a crash between the
 * commands and the position redelivers it; handlers de-duplicate with
 * event.seq) and never skipped, except a handler that fails three times in a
 * row on the same event (retried after 0.2 s and 1 s): it is then skipped
 * with a log line and counted in GET /v1/plugins. Plugins advance
 * independently: one that fails or waits never holds another back. A plugin
 * seen for the first time starts at the head of the log. */
#include <jansson.h>
#include "core/app.h"

/* Starts delivery (after the writer; loop thread). Returns 0 or CS_ENOMEM. */
int plugin_events_start(struct app *app);
/* The writer's commit hook part (writer thread; ctx = the app). */
void plugin_events_on_commit(void *ctx);
/* Looks for work soon (after a reload: new subscriptions). Loop thread. */
void plugin_events_kick(struct app *app);
/* Stops delivery and closes its handles (before the writer stops). */
void plugin_events_stop(struct app *app);
/* Adds "delivery": {position, delivered, failures, skipped, last_error?} to
 * the entries of GET /v1/plugins for plugins with subscriptions. */
void plugin_events_describe(struct app *app, json_t *list);

#endif
