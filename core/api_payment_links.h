#ifndef CAISSE_API_PAYMENT_LINKS_H
#define CAISSE_API_PAYMENT_LINKS_H
/* What the payment link handlers (core/api_payment_links.c) give the
 * scheduler: the expiry job of core/jobs.c. At the link's expires_at an
 * active link ends (payment_link.expired) and its payment, if it still
 * awaits its card, is cancelled as abandoned (payment.cancelled). */
#include <jansson.h>
#include "core/scheduler.h"

int payment_link_job_expire(struct store_txn *t, const struct sched_job *j, int64_t time_us, json_t *prepared,
                            struct cs_diag *d);

#endif
