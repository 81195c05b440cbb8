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

/* The object `id` as this merchant and mode see it, read now (loop thread):
 * 0 and a new reference, CS_ENOENT, or the store's error. */
int object_read_own(struct req_ctx *rc, const char *id, json_t **doc);
/* The same, answering the request when it fails: 404 naming `param` ("no
 * such <what>: <id>") or the store's error. Returns 0 with *doc, or nonzero
 * once answered. */
int object_fetch(struct req_ctx *rc, const char *id, const char *param, const char *what, json_t **doc);

/* Appends the event whose data.object is the next version of the object
 * (its "version" field is the stream version the event makes). */
int object_append(struct store_txn *t, struct command *c, const char *type, json_t *data);

/* The same for an event of a scheduled job (actor "scheduler"). */
struct sched_job;
int object_job_append(struct store_txn *t, const struct sched_job *j, int64_t time_us, const char *type,
                      json_t *data);

/* Appends to `into` every document of a merchant's objects of `kind`,
 * newest first (CS_ECORRUPT if one cannot be read). */
int object_list_all(struct store_txn *t, const char *merchant_id, int livemode, const char *kind, json_t *into);

/* Answers the command with the object as the projection now holds it. */
int object_reply(struct store_txn *t, struct command *c, const char *id, int status);

/* Ends a write command on its object (c->object_id): rc != 0 fails it with
 * rc (its events roll back); else it answers `status` with the object as the
 * projection now holds it and stores that answer for Idempotency-Key
 * retries. Returns what the exec returns. */
int object_done(struct store_txn *t, struct command *c, int rc, int status);

/* The exec of a change to an existing object: the Idempotency-Key, the
 * object as this merchant and mode see it (404 naming `what` otherwise),
 * change() deciding the event from its document, the append, the answer
 * (200 with the object as the projection now holds it). change() gets the
 * command (cast it to the embedding struct) and fills c->base.diag when it
 * refuses. */
typedef int (*object_change_fn)(struct command *c, json_t *doc, const char **type, json_t **data);
int object_exec_change(struct store_txn *t, struct command *c, const char *what, object_change_fn change);

/* GET /v1/<things>: the merchant's objects of `kind` newest first, a page of
 * `limit`, after the cursor (`cursor`, or `starting_after` as some clients
 * name it: the id, with `prefix`, of the last object of the previous page;
 * not both). For each name of `eq_fields` (NULL-terminated, may be NULL)
 * given as a query parameter, only the objects whose field of that name is
 * that string. The caller has refused unknown parameters and checked the
 * filters' values. */
void object_list_respond(struct req_ctx *rc, const char *kind, const char *prefix, const char *what,
                         const char *const *eq_fields);

/* GET /v1/<things>/{id}: the object if the path's id has `prefix` and the
 * object is the merchant's; 404 naming `what` otherwise. */
void object_get_handler(struct req_ctx *rc, const char *prefix, const char *what);

#endif
