/* Failure paths: sticky errors after a failed append, a failed commit, the map
 * filling up (and growing), unsafe flags, and a read-only process reading
 * while this one writes and grows the map. */
#include "tests/unit/store/store_test.h"
#include <pthread.h>
#include <sys/wait.h>

#define MiB (1ull << 20)

/* One transaction of n events of about `bytes` of data each, named after
 * their seq so that a retried batch is the same batch. */
static int batch(struct store *s, int n, size_t bytes)
{
    char *pad = malloc(bytes + 1);
    memset(pad, 'x', bytes);
    pad[bytes] = 0;
    json_t *data = json_pack("{s:s}", "pad", pad);
    free(pad);
    struct store_txn t;
    int err = store_write_begin(s, &t);
    for (int i = 0; i < n && !err; i++) {
        uint64_t head;
        char id[32], agg[32];
        if ((err = store_head(&t, &head, NULL)))
            break;
        snprintf(id, sizeof id, "evt_%llu", (unsigned long long)head + 1);
        snprintf(agg, sizeof agg, "agg_%llu", (unsigned long long)head + 1);
        struct event_in ev = { id, "test.filled", agg, STORE_VERSION_NEW, "mer_1", 0, "cli",
                               1000000 + (int64_t)head, data, NULL, 0 };
        err = store_event_append(&t, &ev, NULL);
    }
    int cerr = store_commit(&t, NULL);
    json_decref(data);
    return err ? err : cerr;
}

static void test_sticky_append_fault(void)
{
#ifdef CAISSE_FAULTS
    char *dir = t_tmpdir();
    struct store *s = t_open(dir, NULL);
    struct store_txn t, r;
    EQ_ERR(store_write_begin(s, &t), 0, "write begin");
    EQ_ERR(t_append(&t, "evt_1", "order.created", "ord_1", 0, "mer_1", 0, 1, "{\"order\":{\"id\":\"ord_1\"}}", NULL), 0, "setup append");
    EQ_ERR(store_commit(&t, NULL), 0, "setup commit");
    uint8_t d_before[32], d_after[32], e_before[32], e_after[32];
    EQ_ERR(store_read_begin(s, &r), 0, "read");
    store_projection_digest(&r, "orders", d_before);
    store_projection_digest(&r, "events_by_merchant", e_before);
    store_abort(&r);

    EQ_ERR(store_write_begin(s, &t), 0, "write begin");
    EQ_ERR(t_append(&t, "evt_2", "order.created", "ord_2", 0, "mer_1", 0, 2, "{\"order\":{\"id\":\"ord_2\"}}", NULL), 0, "first of the batch");
    store_fault_set(STORE_FAULT_APPEND_FAIL, 1);
    EQ_ERR(t_append(&t, "evt_3", "order.created", "ord_3", 0, "mer_1", 0, 3, "{\"order\":{\"id\":\"ord_3\"}}", NULL), CS_EIO, "append fault: CS_EIO");
    EQ_ERR(t.err, CS_EIO, "the error is sticky");
    EQ_ERR(t_append(&t, "evt_4", "order.created", "ord_4", 0, "mer_1", 0, 4, "{\"order\":{\"id\":\"ord_4\"}}", NULL), CS_EIO, "later append is a no-op returning it");
    uint64_t head;
    EQ_ERR(store_head(&t, &head, NULL), CS_EIO, "later read in the txn returns it");
    struct idem_record rec = { .status = 200 };
    EQ_ERR(store_idem_put(&t, "mer_1", 0, "k", &rec), CS_EIO, "idem put returns it");
    EQ_ERR(store_commit(&t, NULL), CS_EIO, "commit fails with the sticky error");

    EQ_INT(t_head(s), 1, "a fresh read: head unchanged");
    EQ_ERR(store_read_begin(s, &r), 0, "read");
    MDB_val doc;
    uint64_t ver;
    EQ_ERR(store_order_get(&r, "ord_2", &doc), CS_ENOENT, "no projection of the batch (ord_2)");
    EQ_ERR(store_order_get(&r, "ord_3", &doc), CS_ENOENT, "no projection of the half-written event");
    store_stream_version(&r, "ord_3", &ver);
    EQ_INT(ver, 0, "no stream entry of the batch");
    struct event_view v;
    EQ_ERR(store_event_get(&r, 2, &v), CS_ENOENT, "no log record of the batch");
    EQ_ERR(store_idem_get(&r, "mer_1", 0, "k", 0, 1, &rec), CS_ENOENT, "no idempotency record");
    store_projection_digest(&r, "orders", d_after);
    store_projection_digest(&r, "events_by_merchant", e_after);
    OK(memcmp(d_before, d_after, 32) == 0 && memcmp(e_before, e_after, 32) == 0, "digests unchanged");
    store_abort(&r);

    EQ_ERR(batch(s, 3, 10), 0, "the next batch commits");
    EQ_INT(t_head(s), 4, "and continues the log at 2");
    uint64_t count, bad;
    struct cs_diag d = { 0 };
    EQ_ERR(store_audit_verify(s, &count, &bad, &d), 0, "chain intact");
    store_close(s);
    t_rmrf(dir);
#else
    OK(1, "# SKIP fault injection not compiled");
#endif
}

static void test_commit_fault(void)
{
#ifdef CAISSE_FAULTS
    char *dir = t_tmpdir();
    struct store *s = t_open(dir, NULL);
    EQ_ERR(batch(s, 2, 10), 0, "setup");
    store_fault_set(STORE_FAULT_COMMIT_FAIL, 1);
    EQ_ERR(batch(s, 5, 10), CS_EIO, "commit fault: CS_EIO");
    EQ_INT(t_head(s), 2, "nothing of the batch visible");
    struct store_txn r;
    uint64_t ver;
    store_read_begin(s, &r);
    store_stream_version(&r, "agg_3", &ver);
    EQ_INT(ver, 0, "no stream of the batch");
    store_abort(&r);
    EQ_ERR(batch(s, 5, 10), 0, "the retried batch commits");
    EQ_INT(t_head(s), 7, "head 7");
    store_close(s);
    t_rmrf(dir);
#else
    OK(1, "# SKIP fault injection not compiled");
#endif
}

static void test_map_full(void)
{
    char *dir = t_tmpdir();
    struct store_options o = { .map_bytes_initial = MiB, .map_bytes_max = MiB };
    struct store *s = t_open(dir, &o);
    int err = 0, batches = 0;
    while (!err && batches < 1000) {
        err = batch(s, 4, 3000);
        batches++;
    }
    EQ_ERR(err, CS_ESTORAGE, "a full map fails the batch with CS_ESTORAGE");
    uint64_t head = t_head(s);
    OK(head > 0 && head == (uint64_t)(batches - 1) * 4, "reads still work, earlier batches kept (head %llu)",
       (unsigned long long)head);
    struct store_txn r;
    struct event_view v;
    EQ_ERR(store_read_begin(s, &r), 0, "read begin on a full map");
    EQ_ERR(store_event_get(&r, head, &v), 0, "last event readable");
    event_view_clear(&v);
    store_abort(&r);
    EQ_ERR(store_grow(s), CS_ESTORAGE, "grow at the maximum: CS_ESTORAGE");
    EQ_INT(store_map_bytes(s), MiB, "map unchanged");
    store_close(s);
    t_rmrf(dir);

    dir = t_tmpdir();
    o.map_bytes_max = 4 * MiB;
    s = t_open(dir, &o);
    int grew = 0, retried_ok = 0, failed = 0;
    for (int i = 0; i < 2000 && !failed; i++) {
        err = batch(s, 4, 3000);
        if (err == CS_ESTORAGE) {
            if (store_grow(s) != 0) {
                failed = 1;
                break;
            }
            grew++;
            uint64_t before = t_head(s);
            err = batch(s, 4, 3000);
            retried_ok += err == 0 && t_head(s) == before + 4;
        }
        if (err && err != CS_ESTORAGE)
            failed = 2;
    }
    EQ_INT(failed, 1, "eventually the maximum is reached");
    EQ_INT(grew, 2, "the map doubled twice: 1 -> 2 -> 4 MiB");
    EQ_INT(retried_ok, 2, "each retried batch committed after growing");
    EQ_INT(store_map_bytes(s), 4 * MiB, "map at its maximum");
    uint64_t count, bad;
    struct cs_diag d = { 0 };
    EQ_ERR(store_audit_verify(s, &count, &bad, &d), 0, "the chain verifies across growth");
    EQ_INT(count, t_head(s), "every event checked");
    store_close(s);

    /* Reopening keeps the grown size even with a smaller initial size. */
    s = t_open(dir, &o);
    EQ_INT(store_map_bytes(s), 4 * MiB, "reopened at the grown size");
    store_close(s);
    t_rmrf(dir);
}

static void test_unsafe_flags(void)
{
    static const struct { unsigned flag; const char *name; } flags[] = {
        { MDB_NOSYNC, "MDB_NOSYNC" }, { MDB_NOMETASYNC, "MDB_NOMETASYNC" },
        { MDB_MAPASYNC, "MDB_MAPASYNC" }, { MDB_WRITEMAP, "MDB_WRITEMAP" },
    };
    char *dir = t_tmpdir();
    for (size_t i = 0; i < 4; i++) {
        struct store_options o = { .env_flags = flags[i].flag };
        struct store *s = (struct store *)1;
        struct cs_diag d = { 0 };
        int err = store_open(&s, dir, &o, &d);
        EQ_ERR(err, CS_EPARAM, flags[i].name);
        OK(s == NULL, "no store on failure");
        OK(strstr(d.message, flags[i].name) != NULL, "message names %s: %s", flags[i].name, d.message);
    }
    struct store_options o = { .env_flags = MDB_NOSYNC, .allow_unsafe = 1 };
    struct store *s = t_open(dir, &o);
    EQ_ERR(batch(s, 1, 10), 0, "allow_unsafe opens with MDB_NOSYNC");
    store_close(s);
    t_rmrf(dir);

    struct store_options ro = { .read_only = 1 };
    struct cs_diag d = { 0 };
    EQ_ERR(store_open(&s, "/tmp/caisse-store-does-not-exist", &ro, &d), CS_ENOENT,
           "read-only open of a missing store: CS_ENOENT");
}

/* A child process opens the store read-only while we hold it open for
 * writing; we then grow the map past the child's and the child must still
 * read (MDB_MAP_RESIZED handled on txn begin). */
static void test_read_only_process(void)
{
    char *dir = t_tmpdir();
    struct store_options o = { .map_bytes_initial = MiB, .map_bytes_max = 64 * MiB };
    struct store *s = t_open(dir, &o);
    EQ_ERR(batch(s, 1, 10), 0, "setup");
    int p2c[2], c2p[2];
    if (pipe(p2c) || pipe(c2p))
        exit(2);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        struct store_options ro = { .read_only = 1, .map_bytes_initial = MiB };
        struct store *r = NULL;
        struct cs_diag d = { 0 };
        struct store_txn t;
        uint64_t head, want;
        if (store_open(&r, dir, &ro, &d))
            _exit(10);
        if (t_head(r) != 1)
            _exit(11);
        if (store_write_begin(r, &t) != CS_EPARAM)
            _exit(12);
        store_abort(&t);
        if (write(c2p[1], "r", 1) != 1 || read(p2c[0], &want, sizeof want) != sizeof want)
            _exit(13);
        if (store_read_begin(r, &t))
            _exit(14);
        struct event_view v;
        if (store_head(&t, &head, NULL) || head != want || store_event_get(&t, head, &v))
            _exit(15);
        event_view_clear(&v);
        store_abort(&t);
        store_close(r);
        _exit(0);
    }
    char c;
    OK(read(c2p[0], &c, 1) == 1, "child opened read-only while we write");
    int err = 0;
    for (int i = 0; i < 200 && !err; i++) {
        err = batch(s, 4, 3000);
        if (err == CS_ESTORAGE && (err = store_grow(s)) == 0)
            err = batch(s, 4, 3000);
    }
    EQ_ERR(err, 0, "wrote about 2.4 MB, growing the map");
    OK(store_map_bytes(s) > MiB, "map grew past the child's");
    uint64_t head = t_head(s);
    OK(write(p2c[1], &head, sizeof head) == sizeof head, "told the child");
    int status = -1;
    waitpid(pid, &status, 0);
    OK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
       "child read the new head through the resized map (exit %d)", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    close(p2c[0]); close(p2c[1]); close(c2p[0]); close(c2p[1]);
    store_close(s);
    t_rmrf(dir);
}

struct reader { struct store *s; int stop, reads, errors; uint64_t last; };

static void *reader_main(void *arg)
{
    struct reader *r = arg;
    while (!__atomic_load_n(&r->stop, __ATOMIC_SEQ_CST)) {
        struct store_txn t;
        uint64_t head = 0;
        struct event_view v;
        int err = store_read_begin(r->s, &t);
        if (!err)
            err = store_head(&t, &head, NULL);
        if (!err && head) {
            err = store_event_get(&t, head, &v);
            event_view_clear(&v);
        }
        store_abort(&t);
        r->errors += err != 0 || head < r->last;
        r->last = head;
        r->reads++;
    }
    return NULL;
}

/* Readers in other threads keep reading while the writer grows the map under
 * them: growth waits for their transactions and they never see an error. */
static void test_grow_with_readers(void)
{
    char *dir = t_tmpdir();
    struct store_options o = { .map_bytes_initial = MiB, .map_bytes_max = 8 * MiB };
    struct store *s = t_open(dir, &o);
    struct reader rd[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        rd[i] = (struct reader){ .s = s };
        pthread_create(&th[i], NULL, reader_main, &rd[i]);
    }
    int err = 0, grew = 0;
    for (int i = 0; i < 200 && !err; i++) {
        err = batch(s, 4, 3000);
        if (err == CS_ESTORAGE && (err = store_grow(s)) == 0) {
            grew++;
            err = batch(s, 4, 3000);
        }
    }
    int reads = 0, errors = 0;
    for (int i = 0; i < 4; i++) {
        __atomic_store_n(&rd[i].stop, 1, __ATOMIC_SEQ_CST);
        pthread_join(th[i], NULL);
        reads += rd[i].reads;
        errors += rd[i].errors;
    }
    EQ_ERR(err, 0, "writer wrote 2.4 MB while readers read");
    OK(grew >= 1, "the map grew under the readers (%d times)", grew);
    OK(reads > 0, "readers read (%d transactions)", reads);
    EQ_INT(errors, 0, "no reader saw an error or a head going back");
    store_close(s);
    t_rmrf(dir);
}

int main(void)
{
    test_sticky_append_fault();
    test_commit_fault();
    test_map_full();
    test_unsafe_flags();
    test_read_only_process();
    test_grow_with_readers();
    return tap_done();
}
