#ifndef CAISSE_NOTIFY_H
#define CAISSE_NOTIFY_H
/* E-mails to shoppers (seed 000): confirmation of a purchase, a receipt per
 * paid instalment, the updated plan after a cart edit or a return. Each is
 * rendered as an RFC 5322 message and put in the mail outbox in the same
 * write transaction as the event that sends it, so an acknowledged event
 * never loses its e-mail; the spooler (core/mail_spool.c) delivers it. */
#include <stdint.h>
#include <jansson.h>
#include "store/store.h"

/* After an order event was appended in t: queues the e-mail it sends, if any.
 * Returns 0 or a CS code (the transaction's error). */
int notify_order_event(struct store_txn *t, const char *type, const char *order_id, int64_t time_us);

/* A payout notice to the merchant (its document's "email", if any): the
 * payout's amount, fee and destination, queued with the payout's event.
 * Returns 0 (also when the merchant has no e-mail) or a CS code. */
int notify_payout(struct store_txn *t, json_t *merchant, json_t *payout, int64_t time_us);

/* A disbursement notice to the merchant (its document's "email", if any):
 * reference, amount received, commissions VAT included and the number of
 * orders, queued with the disbursement's event. Returns 0 or a CS code. */
int notify_disbursement(struct store_txn *t, json_t *merchant, json_t *disbursement, int64_t time_us);

/* Renders one message (exposed for tests). Returns a malloc'd string. */
char *notify_render(const char *to, const char *subject, const char *body, const char *message_id,
                    int64_t time_us);

#endif
