#ifndef CAISSE_STORE_TEST_H
#define CAISSE_STORE_TEST_H
/* Helpers shared by the store's unit tests: temporary directories, opening a
 * store, appending an event from JSON text. */
#define _GNU_SOURCE
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "store/store.h"
#include "tests/unit/tap.h"

#define T_UNUSED __attribute__((unused))

static T_UNUSED char *t_tmpdir(void)
{
    char *p = strdup("/tmp/caisse-store-XXXXXX");
    if (!p || !mkdtemp(p)) {
        perror("mkdtemp");
        exit(2);
    }
    return p;
}

static int t_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    return remove(path);
}

static T_UNUSED void t_rmrf(char *dir)
{
    nftw(dir, t_rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

static T_UNUSED struct store *t_open(const char *dir, const struct store_options *opt)
{
    struct store *s = NULL;
    struct cs_diag d = { 0 };
    int err = store_open(&s, dir, opt, &d);
    if (err) {
        printf("# store_open(%s): %s: %s\n", dir, cs_err_name(err), d.message);
        exit(2);
    }
    return s;
}

/* Appends one event; data is JSON text. */
static T_UNUSED int t_append(struct store_txn *t, const char *id, const char *type, const char *agg,
                             uint64_t expected, const char *merchant, int livemode, int64_t time_us,
                             const char *data_json, struct event_view *out)
{
    json_t *data = json_loads(data_json, JSON_ALLOW_NUL, NULL);
    if (!data) {
        printf("# bad test JSON: %s\n", data_json);
        exit(2);
    }
    struct event_in ev = { .id = id, .type = type, .aggregate_id = agg,
                           .expected_version = expected, .merchant_id = merchant,
                           .livemode = livemode, .actor = "cli", .time_us = time_us, .data = data };
    int err = store_event_append(t, &ev, out);
    json_decref(data);
    return err;
}

/* Head seq in a fresh read transaction. */
static T_UNUSED uint64_t t_head(struct store *s)
{
    struct store_txn r;
    uint64_t seq = UINT64_MAX;
    if (store_read_begin(s, &r) == 0)
        store_head(&r, &seq, NULL);
    store_abort(&r);
    return seq;
}

#define EQ_ERR(got, want, what)                                                          \
    do {                                                                                 \
        int got_ = (got), want_ = (want);                                                \
        OK(got_ == want_, "%s", what);                                                   \
        if (got_ != want_)                                                               \
            printf("#   got %s, want %s\n", got_ ? cs_err_name(got_) : "0",              \
                   want_ ? cs_err_name(want_) : "0");                                    \
    } while (0)

#endif
