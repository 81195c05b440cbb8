#ifndef CAISSE_OBJECTS_H
#define CAISSE_OBJECTS_H
/* Helpers shared by the handlers of the objects projection (payments,
 * refunds, disputes, payment links, risk settings): their documents are
 * stored as their events carry them (data.object). */
#include <jansson.h>
#include "core/app.h"
#include "core/command.h"

/* The document of object `id` if it belongs to this merchant and mode (a new
 * reference); CS_ENOENT otherwise (the caller answers 404: never 403). */
int object_load_own(struct store_txn *t, const char *id, const char *merchant_id, int livemode, json_t **doc);

/* Appends the event whose data.object is the next version of the object
 * (its "version" field is the stream version the event makes). */
int object_append(struct store_txn *t, struct command *c, const char *type, json_t *data);

/* Answers the command with the object as the projection now holds it. */
int object_reply(struct store_txn *t, struct command *c, const char *id, int status);

/* GET /v1/<things>/{id}: the object if the path's id has `prefix` and the
 * object is the merchant's; 404 naming `what` otherwise. */
void object_get_handler(struct req_ctx *rc, const char *prefix, const char *what);

#endif
