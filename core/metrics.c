/* Prometheus text exposition (core/metrics.h).
 *
 * Request metrics are touched by the loop thread only, so they are plain
 * counters in two small open-addressing tables (labels are bounded: methods by
 * llhttp, routes by the route table, statuses by the code). Commit metrics come
 * from the writer thread and use C11 atomics; a render from the loop thread may
 * see a commit half-counted, which Prometheus tolerates. */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/metrics.h"

#define REQ_SLOTS    1024u      /* (method, route, status) triples; power of 2 */
#define ROUTE_SLOTS  256u       /* routes with a latency histogram; power of 2 */
#define LABEL_BYTES  128u       /* longer labels are truncated */

static const double latency_le_s[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5 };
#define LATENCY_BUCKETS (sizeof latency_le_s / sizeof latency_le_s[0])
static const unsigned events_le[] = { 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024 };
#define EVENTS_BUCKETS (sizeof events_le / sizeof events_le[0])

struct req_slot {
    uint64_t count;             /* 0: empty slot */
    int status;
    char method[16];
    char route[LABEL_BYTES];
};

struct route_slot {
    int used;
    char route[LABEL_BYTES];
    uint64_t buckets[LATENCY_BUCKETS + 1];  /* not cumulative; last is +Inf */
    uint64_t count, sum_ns;
};

static struct req_slot req_slots[REQ_SLOTS];
static struct route_slot route_slots[ROUTE_SLOTS];
static uint64_t req_dropped;    /* observations that found their table full */

static atomic_uint_fast64_t commits, commit_failures, commit_commands, commit_events;
static atomic_uint_fast64_t idem_visited, idem_purged, idem_sweeps;
static atomic_uint_fast64_t epc_buckets[EVENTS_BUCKETS + 1], epc_sum;
static atomic_uint_fast64_t fsync_buckets[LATENCY_BUCKETS + 1], fsync_sum_ns;

static uint32_t hash_str(uint32_t h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static void copy_label(char *dst, size_t cap, const char *src)
{
    size_t n = strnlen(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = 0;
}

/* Compare as copy_label would have stored it. */
static int label_eq(const char *stored, size_t cap, const char *s)
{
    return strncmp(stored, s, cap - 1) == 0;
}

static unsigned latency_bucket(uint64_t ns)
{
    for (unsigned i = 0; i < LATENCY_BUCKETS; i++)
        if ((double)ns <= latency_le_s[i] * 1e9)
            return i;
    return LATENCY_BUCKETS;
}

static struct route_slot *route_find(const char *route)
{
    uint32_t h = hash_str(2166136261u, route);
    for (unsigned i = 0; i < ROUTE_SLOTS; i++) {
        struct route_slot *s = &route_slots[(h + i) & (ROUTE_SLOTS - 1)];
        if (!s->used) {
            s->used = 1;
            copy_label(s->route, sizeof s->route, route);
            return s;
        }
        if (label_eq(s->route, sizeof s->route, route))
            return s;
    }
    return NULL;
}

void metrics_observe_request(const char *method, const char *route, int status, uint64_t latency_ns)
{
    if (!method)
        method = "UNKNOWN";
    if (!route)
        route = "unmatched";
    uint32_t h = hash_str(hash_str(2166136261u, method), route) ^ (uint32_t)status * 2654435761u;
    struct req_slot *slot = NULL;
    for (unsigned i = 0; i < REQ_SLOTS; i++) {
        struct req_slot *s = &req_slots[(h + i) & (REQ_SLOTS - 1)];
        if (s->count == 0) {
            s->status = status;
            copy_label(s->method, sizeof s->method, method);
            copy_label(s->route, sizeof s->route, route);
            slot = s;
            break;
        }
        if (s->status == status && label_eq(s->method, sizeof s->method, method) &&
            label_eq(s->route, sizeof s->route, route)) {
            slot = s;
            break;
        }
    }
    if (!slot) {
        req_dropped++;
        return;
    }
    slot->count++;
    struct route_slot *r = route_find(route);
    if (r) {
        r->buckets[latency_bucket(latency_ns)]++;
        r->count++;
        r->sum_ns += latency_ns;
    }
}

void metrics_observe_commit(unsigned commands, unsigned events, uint64_t fsync_ns)
{
    atomic_fetch_add_explicit(&commits, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&commit_commands, commands, memory_order_relaxed);
    atomic_fetch_add_explicit(&commit_events, events, memory_order_relaxed);
    unsigned b = 0;
    while (b < EVENTS_BUCKETS && events > events_le[b])
        b++;
    atomic_fetch_add_explicit(&epc_buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&epc_sum, events, memory_order_relaxed);
    atomic_fetch_add_explicit(&fsync_buckets[latency_bucket(fsync_ns)], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&fsync_sum_ns, fsync_ns, memory_order_relaxed);
}

void metrics_observe_commit_failure(void)
{
    atomic_fetch_add_explicit(&commit_failures, 1, memory_order_relaxed);
}

void metrics_observe_idem_sweep(uint64_t visited, uint64_t purged, int finished)
{
    atomic_fetch_add_explicit(&idem_visited, visited, memory_order_relaxed);
    atomic_fetch_add_explicit(&idem_purged, purged, memory_order_relaxed);
    if (finished)
        atomic_fetch_add_explicit(&idem_sweeps, 1, memory_order_relaxed);
}

/* ---- rendering ------------------------------------------------------------ */

struct out {
    char *buf;
    size_t len, cap;
    int failed;
};

static void out_printf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_printf(struct out *o, const char *fmt, ...)
{
    if (o->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            o->failed = 1;
            return;
        }
        if ((size_t)n < o->cap - o->len) {
            o->len += (size_t)n;
            return;
        }
        size_t cap = o->cap * 2 + (size_t)n;
        char *b = realloc(o->buf, cap);
        if (!b) {
            o->failed = 1;
            return;
        }
        o->buf = b;
        o->cap = cap;
    }
}

/* A label value with \, " and newline escaped, as the text format requires. */
static const char *esc(const char *s, char *buf, size_t cap)
{
    size_t j = 0;
    for (; *s && j + 3 < cap; s++) {
        if (*s == '\\' || *s == '"') {
            buf[j++] = '\\';
            buf[j++] = *s;
        } else if (*s == '\n') {
            buf[j++] = '\\';
            buf[j++] = 'n';
        } else {
            buf[j++] = *s;
        }
    }
    buf[j] = 0;
    return buf;
}

static void out_seconds_le(struct out *o, double le)
{
    out_printf(o, "%g", le);
}

static void render_latency_hist(struct out *o, const char *name, const char *labels,
                                const uint64_t *buckets, uint64_t count, uint64_t sum_ns)
{
    uint64_t cum = 0;
    const char *sep = labels[0] ? "," : "";
    for (unsigned i = 0; i < LATENCY_BUCKETS; i++) {
        cum += buckets[i];
        out_printf(o, "%s_bucket{%s%sle=\"", name, labels, sep);
        out_seconds_le(o, latency_le_s[i]);
        out_printf(o, "\"} %llu\n", (unsigned long long)cum);
    }
    cum += buckets[LATENCY_BUCKETS];
    out_printf(o, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep, (unsigned long long)cum);
    const char *lb = labels[0] ? "{" : "", *rb = labels[0] ? "}" : "";
    out_printf(o, "%s_sum%s%s%s %.9f\n", name, lb, labels, rb, (double)sum_ns / 1e9);
    out_printf(o, "%s_count%s%s%s %llu\n", name, lb, labels, rb, (unsigned long long)count);
}

static uint64_t ld(atomic_uint_fast64_t *a) { return atomic_load_explicit(a, memory_order_relaxed); }

char *metrics_render(size_t *len)
{
    struct out o = { .cap = 8192 };
    o.buf = malloc(o.cap);
    if (!o.buf)
        return NULL;
    o.buf[0] = 0;
    char e1[LABEL_BYTES * 2 + 4], e2[LABEL_BYTES * 2 + 4];

    out_printf(&o, "# HELP caisse_http_requests_total HTTP requests answered, by method, route pattern and status.\n"
                   "# TYPE caisse_http_requests_total counter\n");
    for (unsigned i = 0; i < REQ_SLOTS; i++) {
        const struct req_slot *s = &req_slots[i];
        if (s->count)
            out_printf(&o, "caisse_http_requests_total{method=\"%s\",route=\"%s\",status=\"%d\"} %llu\n",
                       esc(s->method, e1, sizeof e1), esc(s->route, e2, sizeof e2), s->status,
                       (unsigned long long)s->count);
    }
    out_printf(&o, "# HELP caisse_http_requests_dropped_total Request observations not recorded (label table full).\n"
                   "# TYPE caisse_http_requests_dropped_total counter\n"
                   "caisse_http_requests_dropped_total %llu\n", (unsigned long long)req_dropped);

    out_printf(&o, "# HELP caisse_http_request_duration_seconds Time from the first byte of a request to its response being queued.\n"
                   "# TYPE caisse_http_request_duration_seconds histogram\n");
    for (unsigned i = 0; i < ROUTE_SLOTS; i++) {
        const struct route_slot *s = &route_slots[i];
        if (!s->used)
            continue;
        char labels[sizeof e1 + 16];
        snprintf(labels, sizeof labels, "route=\"%s\"", esc(s->route, e1, sizeof e1));
        render_latency_hist(&o, "caisse_http_request_duration_seconds", labels, s->buckets, s->count, s->sum_ns);
    }

    out_printf(&o, "# HELP caisse_commits_total Write transactions committed.\n"
                   "# TYPE caisse_commits_total counter\ncaisse_commits_total %llu\n",
               (unsigned long long)ld(&commits));
    out_printf(&o, "# HELP caisse_commit_failures_total Write transactions that failed to commit.\n"
                   "# TYPE caisse_commit_failures_total counter\ncaisse_commit_failures_total %llu\n",
               (unsigned long long)ld(&commit_failures));
    out_printf(&o, "# HELP caisse_idempotency_sweeps_total Finished sweeps of the idempotency records.\n"
                   "# TYPE caisse_idempotency_sweeps_total counter\ncaisse_idempotency_sweeps_total %llu\n"
                   "# HELP caisse_idempotency_visited_total Idempotency records looked at by the sweeps.\n"
                   "# TYPE caisse_idempotency_visited_total counter\ncaisse_idempotency_visited_total %llu\n"
                   "# HELP caisse_idempotency_purged_total Expired idempotency records deleted by the sweeps.\n"
                   "# TYPE caisse_idempotency_purged_total counter\ncaisse_idempotency_purged_total %llu\n",
               (unsigned long long)ld(&idem_sweeps), (unsigned long long)ld(&idem_visited),
               (unsigned long long)ld(&idem_purged));
    out_printf(&o, "# HELP caisse_commit_commands_total Commands carried by committed transactions.\n"
                   "# TYPE caisse_commit_commands_total counter\ncaisse_commit_commands_total %llu\n",
               (unsigned long long)ld(&commit_commands));
    out_printf(&o, "# HELP caisse_events_total Events appended to the log.\n"
                   "# TYPE caisse_events_total counter\ncaisse_events_total %llu\n",
               (unsigned long long)ld(&commit_events));

    out_printf(&o, "# HELP caisse_events_per_commit Events appended per committed transaction.\n"
                   "# TYPE caisse_events_per_commit histogram\n");
    uint64_t cum = 0, n_commits = 0;
    for (unsigned i = 0; i <= EVENTS_BUCKETS; i++)
        n_commits += ld(&epc_buckets[i]);
    for (unsigned i = 0; i < EVENTS_BUCKETS; i++) {
        cum += ld(&epc_buckets[i]);
        out_printf(&o, "caisse_events_per_commit_bucket{le=\"%u\"} %llu\n", events_le[i], (unsigned long long)cum);
    }
    out_printf(&o, "caisse_events_per_commit_bucket{le=\"+Inf\"} %llu\n"
                   "caisse_events_per_commit_sum %llu\ncaisse_events_per_commit_count %llu\n",
               (unsigned long long)n_commits, (unsigned long long)ld(&epc_sum), (unsigned long long)n_commits);

    out_printf(&o, "# HELP caisse_fsync_seconds Time spent committing (fsync) a write transaction.\n"
                   "# TYPE caisse_fsync_seconds histogram\n");
    uint64_t fb[LATENCY_BUCKETS + 1], fcount = 0;
    for (unsigned i = 0; i <= LATENCY_BUCKETS; i++) {
        fb[i] = ld(&fsync_buckets[i]);
        fcount += fb[i];
    }
    render_latency_hist(&o, "caisse_fsync_seconds", "", fb, fcount, ld(&fsync_sum_ns));

    if (o.failed) {
        free(o.buf);
        return NULL;
    }
    if (len)
        *len = o.len;
    return o.buf;
}
