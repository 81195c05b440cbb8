#ifndef CAISSE_WRITER_H
#define CAISSE_WRITER_H
/* The single writer and its group commit (DESIGN.md rule 4).
 *
 * The loop thread submits commands; the writer thread takes every command
 * queued so far (up to CS_WRITER_BATCH_MAX), runs each one's `exec` inside ONE
 * write transaction, commits it with one fsync, and only then hands the
 * results back to the loop thread, where `done` answers the client. Commands
 * that arrive while a commit is in flight wait for the next transaction: the
 * slower the disk, the bigger the batch.
 *
 * exec() must check everything before it writes (so a refused command leaves
 * the transaction untouched) and report its outcome in status/body/diag. If
 * the transaction itself fails (a sticky store error, the commit) every
 * command of the batch fails with that error: nothing is half-written. A full
 * map is grown and the batch retried once per growth step. */
#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include "core/errors.h"
#include "store/store.h"

struct writer;
struct write_cmd;

typedef int (*write_exec_fn)(struct store_txn *t, struct write_cmd *c);

struct write_cmd {
    write_exec_fn exec;           /* runs on the writer thread */
    void (*release)(struct write_cmd *c); /* optional: on the writer thread once the batch is
                                   * final (committed or failed), to free what only exec used */
    void (*done)(struct write_cmd *c); /* runs on the loop thread after commit (or failure) */
    void *ctx;                    /* the submitter's */
    /* outcome, set by exec (or by the writer when the batch fails) */
    int status;                   /* HTTP status to answer */
    char *body;                   /* malloc'd response body, owned by the command */
    size_t body_len;
    struct cs_diag diag;          /* when err != 0 */
    int err;
    unsigned events;              /* events appended */
    struct write_cmd *next;       /* queue link, private */
};

int writer_start(struct writer **out, struct store *s, uv_loop_t *loop);
/* From the loop thread. Returns 0, CS_EBUSY (queue full) or CS_ESHUTDOWN;
 * on error `done` will not be called. */
int writer_submit(struct writer *w, struct write_cmd *c);
/* Finishes every queued command (their `done` runs), then joins the thread.
 * Call from the loop thread; it runs the loop until the queue is drained. */
void writer_stop(struct writer *w);
void writer_free(struct writer *w);
/* Called on the writer thread after each committed batch, before its
 * commands are answered: observers of the append path (the webhook outbox)
 * learn that what they wrote is durable. Set before the first submit. */
void writer_set_commit_hook(struct writer *w, void (*fn)(void *ctx), void *ctx);
/* Commands waiting or executing. */
unsigned writer_pending(struct writer *w);

/* Helper for exec functions: sets status and a copy of the body. */
int write_cmd_reply(struct write_cmd *c, int status, const char *body, size_t len);
int write_cmd_fail(struct write_cmd *c, int err);

#endif
