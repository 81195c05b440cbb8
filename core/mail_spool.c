#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <curl/curl.h>
#include "core/mail_spool.h"
#include "core/writer.h"

#define SPOOL_TICK_MS 200u
#define SPOOL_BATCH 64u

struct mail_spool {
    struct app *app;
    uv_timer_t tick;
    char dir[4096];
    char relay[512];          /* smtp://host:port, or "" to spool to dir */
    int busy;                 /* a batch is being sent, or its deletion is in the writer */
    uv_work_t work;
    struct del_cmd *sending;  /* the batch handed to the SMTP thread */
};

struct spooled {
    char key[160];
    size_t klen;
};

struct del_cmd {
    struct write_cmd base;
    struct mail_spool *m;
    struct spooled keys[SPOOL_BATCH];
    char *msgs[SPOOL_BATCH];  /* relay mode: the messages to send */
    size_t lens[SPOOL_BATCH];
    int sent[SPOOL_BATCH];
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
    if (col->m->relay[0]) {   /* relay mode: copied for the SMTP thread */
        char *copy = malloc(len + 1);
        if (!copy)
            return 1;
        memcpy(copy, msg, len);
        copy[len] = 0;
        col->c->msgs[col->c->n] = copy;
        col->c->lens[col->c->n] = len;
        return ++col->c->n == SPOOL_BATCH;
    }
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
        if ((!c->m->relay[0] || c->sent[i]) && store_mail_del(t, c->keys[i].key, c->keys[i].klen) != 0)
            return write_cmd_fail(wc, t->err);
    return write_cmd_reply(wc, 200, "{}", 2);
}

static void del_cmd_free(struct del_cmd *c)
{
    for (unsigned i = 0; i < c->n; i++)
        free(c->msgs[i]);
    free(c->base.body);
    free(c);
}

static void delete_done(struct write_cmd *wc)
{
    struct del_cmd *c = (struct del_cmd *)wc;
    c->m->busy = 0;
    del_cmd_free(c);
}

/* ---- SMTP relay (libcurl), on a libuv worker thread: never on the loop ---- */

struct reader {
    const char *p;
    size_t left;
};

static size_t read_msg(char *buf, size_t size, size_t nitems, void *arg)
{
    struct reader *r = arg;
    size_t n = size * nitems < r->left ? size * nitems : r->left;
    memcpy(buf, r->p, n);
    r->p += n;
    r->left -= n;
    return n;
}

/* The address of the To: header ("Name <a@b>" or "a@b"). */
static int recipient(const char *msg, char *out, size_t cap)
{
    const char *h = strstr(msg, "\r\nTo: ");
    if (!h)
        return -1;
    h += 6;
    const char *end = strstr(h, "\r\n");
    const char *lt = memchr(h, '<', (size_t)(end - h));
    if (lt) {
        h = lt + 1;
        end = memchr(h, '>', (size_t)(end - h));
        if (!end)
            return -1;
    }
    size_t n = (size_t)(end - h);
    if (n == 0 || n + 3 > cap)
        return -1;
    snprintf(out, cap, "<%.*s>", (int)n, h);
    return 0;
}

static void send_batch(uv_work_t *w)
{
    struct mail_spool *m = w->data;
    struct del_cmd *c = m->sending;
    CURL *curl = curl_easy_init();
    for (unsigned i = 0; curl && i < c->n; i++) {
        char to[300];
        if (recipient(c->msgs[i], to, sizeof to) != 0) {
            c->sent[i] = 1;   /* unsendable: never will be; dropped with a note */
            fprintf(stderr, "caisse: mail: no recipient in %s, dropped\n", c->keys[i].key);
            continue;
        }
        struct curl_slist *rcpt = curl_slist_append(NULL, to);
        struct reader r = {c->msgs[i], c->lens[i]};
        curl_easy_reset(curl);
        curl_easy_setopt(curl, CURLOPT_URL, m->relay);
        curl_easy_setopt(curl, CURLOPT_MAIL_FROM, "<no-reply@caisse.invalid>");
        curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpt);
        curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_msg);
        curl_easy_setopt(curl, CURLOPT_READDATA, &r);
        curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
        curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
        CURLcode rc = curl_easy_perform(curl);
        curl_slist_free_all(rcpt);
        c->sent[i] = rc == CURLE_OK;
        if (rc != CURLE_OK) {
            fprintf(stderr, "caisse: mail: relay %s refused %s: %s (kept for a retry)\n", m->relay,
                    c->keys[i].key, curl_easy_strerror(rc));
            break;   /* the relay is down: the rest waits too */
        }
    }
    if (curl)
        curl_easy_cleanup(curl);
}

static void batch_sent(uv_work_t *w, int status)
{
    struct mail_spool *m = w->data;
    struct del_cmd *c = m->sending;
    m->sending = NULL;
    unsigned any = 0;
    for (unsigned i = 0; i < c->n; i++)
        any += (unsigned)c->sent[i];
    if (status != 0 || !any || writer_submit(m->app->writer, &c->base) != 0) {
        m->busy = 0;
        del_cmd_free(c);
    }
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
    if (c->n == 0) {
        free(c);
        return;
    }
    m->busy = 1;
    if (m->relay[0]) {
        m->sending = c;
        m->work.data = m;
        if (uv_queue_work(m->app->loop, &m->work, send_batch, batch_sent) != 0) {
            m->sending = NULL;
            m->busy = 0;
            del_cmd_free(c);
        }
        return;
    }
    if (writer_submit(m->app->writer, &c->base) != 0) {
        m->busy = 0;
        free(c);
    }
}

int mail_spool_start(struct app *app, const char *data_dir, const char *relay, struct mail_spool **out)
{
    struct mail_spool *m = calloc(1, sizeof *m);
    if (!m)
        return CS_ENOMEM;
    m->app = app;
    if (relay && relay[0]) {
        snprintf(m->relay, sizeof m->relay, "%s", relay);
        curl_global_init(CURL_GLOBAL_DEFAULT);
    }
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
