#ifndef CAISSE_METRICS_H
#define CAISSE_METRICS_H
/* Prometheus text exposition (GET /metrics). Request metrics are recorded on
 * the loop thread; commit metrics by the writer thread (atomics). */
#include <stddef.h>
#include <stdint.h>

/* Per route (pattern) and status; latency into a fixed histogram. */
void metrics_observe_request(const char *method, const char *route, int status, uint64_t latency_ns);
/* One committed write transaction: how many commands and events it carried and
 * how long mdb_txn_commit (the fsync) took. */
void metrics_observe_commit(unsigned commands, unsigned events, uint64_t fsync_ns);
void metrics_observe_commit_failure(void);
/* One committed step of the idempotency sweep (core/idem_sweeper.c). */
void metrics_observe_idem_sweep(uint64_t visited, uint64_t purged, int finished);
/* Renders everything into a malloc'd string; *len its length. */
char *metrics_render(size_t *len);

#endif
