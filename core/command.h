#ifndef CAISSE_COMMAND_H
#define CAISSE_COMMAND_H
/* A write command of the API: what every handler that changes state hands the
 * writer. The loop thread validates the request and fills a command; the
 * writer runs its exec inside the batch's write transaction (check the
 * Idempotency-Key, decide from the projection, append the events, answer from
 * the projection just updated); the loop thread answers the client from the
 * outcome. Commands of plugins and of the scheduler answer a callback instead
 * of an HTTP request.
 *
 * Embed `struct command` first in a larger struct to carry more; `free_extra`
 * (optional) frees that part. */
#include <stdint.h>
#include <jansson.h>
#include "core/app.h"
#include "core/writer.h"

struct command {
    struct write_cmd base;
    struct req_ctx *rc;                       /* NULL for a callback command */
    char merchant_id[CS_ID_BYTES_MAX];
    int livemode;
    char actor[64];
    char object_id[CS_ID_BYTES_MAX];          /* the aggregate the command acts on */
    int64_t now_us;                           /* the merchant's platform time */
    char idem_key[CS_IDEMPOTENCY_KEY_BYTES_MAX + 1];  /* "" if none */
    uint8_t request_sha256[32];
    json_t *params;                           /* the validated request, owned */
    void (*free_extra)(struct command *c);
    void (*cb_done)(void *ctx, int status, const char *body, size_t len);
    void *cb_ctx;
};

/* Allocates a command of `size` bytes (>= sizeof(struct command)) for the
 * request: its merchant, mode, actor and clock, and the Idempotency-Key
 * (with the request's identity: method, path, body). On failure answers the
 * request and returns NULL. */
void *command_new(struct req_ctx *rc, size_t size, write_exec_fn exec);
/* The same for a command with no HTTP request (plugins): answers done(). */
void *command_new_cb(struct app *app, size_t size, write_exec_fn exec, const char *merchant_id, int livemode,
                     const char *actor, void (*done)(void *ctx, int status, const char *body, size_t len),
                     void *ctx);
void command_free(struct command *c);
/* Submits to the writer; on refusal (busy, shutting down) answers and frees. */
void command_submit(struct command *c);
/* Submits a command that creates an object: its id (c->object_id) is a new
 * one with `prefix` ("rfd" -> rfd_…); answers and frees on failure. */
void command_submit_new(struct command *c, const char *prefix);
/* As command_submit, for callback commands: returns the refusal (d filled)
 * instead of answering; the command is freed either way on error. */
int command_submit_cb(struct app *app, struct command *c, struct cs_diag *d);

/* In exec: 1 if the command was answered from a stored response (or refused
 * because the key was used with another request), 0 to go on. */
int command_idem_check(struct store_txn *t, struct command *c);
/* In exec, after a successful reply: keeps the response for retries. */
void command_idem_store(struct store_txn *t, struct command *c);

/* Appends one event by the command's merchant, mode, actor and time. */
int command_append(struct store_txn *t, struct command *c, const char *aggregate_id, const char *type,
                   uint64_t expected_version, json_t *data);
/* The same with data's text made ahead (event_in.data_text: exactly
 * jout_append(data, STORE_DATA_DEPTH_MAX)), so the writer only copies it. */
int command_append_text(struct store_txn *t, struct command *c, const char *aggregate_id, const char *type,
                        uint64_t expected_version, json_t *data, const char *text, size_t text_len);

#endif
