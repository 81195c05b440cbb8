#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "core/mail_spool.h"
#include "core/writer.h"

#define SPOOL_TICK_MS 200u
#define SPOOL_BATCH 64u

struct mail_spool {
    struct app *app;
    uv_timer_t tick;
    char dir[4096];
    int busy;                 /* a batch's deletion is in the writer */
};

struct spooled {
    char key[160];
    size_t klen;
};

struct del_cmd {
    struct write_cmd base;
    struct mail_spool *m;
    struct spooled keys[SPOOL_BATCH];
    unsigned n;
};

static int mkdirs(const char *dir)
{
    char p[4200];
    const char *subs[] = {"", "/tmp", "/new", "/cur"};
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s%s", dir, subs[i]);
        if (mkdir(p, 0700) != 0 && errno != EEXIST)
            return -1;
    }
    return 0;
}

static int spool_one(struct mail_spool *m, const struct spooled *k, const char *msg, size_t len)
{
    char tmp[4400], dst[4400];
    snprintf(tmp, sizeof tmp, "%s/tmp/%.*s.eml", m->dir, (int)k->klen, k->key);
    snprintf(dst, sizeof dst, "%s/new/%.*s.eml", m->dir, (int)k->klen, k->key);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return -1;
    ssize_t w = write(fd, msg, len);
    int ok = w == (ssize_t)len && fsync(fd) == 0;
    close(fd);
    if (!ok || rename(tmp, dst) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

struct collect {
    struct mail_spool *m;
    struct del_cmd *c;
};

static int collect_visit(void *ctx, const char *key, size_t klen, const char *msg, size_t len)
{
    struct collect *col = ctx;
    if (klen >= sizeof col->c->keys[0].key)
        return 0;   /* cannot be one of ours */
    struct spooled *k = &col->c->keys[col->c->n];
    memcpy(k->key, key, klen);
    k->key[klen] = 0;
    k->klen = klen;
    if (spool_one(col->m, k, msg, len) != 0) {
        fprintf(stderr, "caisse: mail spool: cannot write %s/new/%s.eml: %s\n", col->m->dir, k->key, strerror(errno));
        return 1;   /* the disk: try again at the next tick */
    }
    return ++col->c->n == SPOOL_BATCH;
}

static int exec_delete(struct store_txn *t, struct write_cmd *wc)
{
    struct del_cmd *c = (struct del_cmd *)wc;
    for (unsigned i = 0; i < c->n; i++)
        if (store_mail_del(t, c->keys[i].key, c->keys[i].klen) != 0)
            return write_cmd_fail(wc, t->err);
    return write_cmd_reply(wc, 200, "{}", 2);
}

static void delete_done(struct write_cmd *wc)
{
    struct del_cmd *c = (struct del_cmd *)wc;
    c->m->busy = 0;
    free(wc->body);
    free(c);
}

static void on_tick(uv_timer_t *h)
{
    struct mail_spool *m = h->data;
    if (m->busy || m->app->stopping)
        return;
    struct del_cmd *c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->base.exec = exec_delete;
    c->base.done = delete_done;
    c->m = m;
    struct collect col = {m, c};
    struct store_txn t;
    if (store_read_begin(m->app->store, &t) == 0) {
        store_mail_each(&t, collect_visit, &col);
        store_abort(&t);
    }
    if (c->n == 0 || writer_submit(m->app->writer, &c->base) != 0) {
        free(c);
        return;
    }
    m->busy = 1;
}

int mail_spool_start(struct app *app, const char *data_dir, struct mail_spool **out)
{
    struct mail_spool *m = calloc(1, sizeof *m);
    if (!m)
        return CS_ENOMEM;
    m->app = app;
    snprintf(m->dir, sizeof m->dir, "%s/mail-spool", data_dir);
    if (mkdirs(m->dir) != 0) {
        free(m);
        return CS_EIO;
    }
    uv_timer_init(app->loop, &m->tick);
    m->tick.data = m;
    uv_timer_start(&m->tick, on_tick, SPOOL_TICK_MS, SPOOL_TICK_MS);
    *out = m;
    return 0;
}

static void spool_closed(uv_handle_t *h)
{
    free(h->data);
}

void mail_spool_stop(struct mail_spool *m)
{
    if (!m)
        return;
    uv_timer_stop(&m->tick);
    uv_close((uv_handle_t *)&m->tick, spool_closed);
}
