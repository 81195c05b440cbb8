#ifndef CAISSE_LEDGER_LINES_H
#define CAISSE_LEDGER_LINES_H
/* Reading the ledger's balance transactions for the reports and the
 * reconciliation: by their creation time (a day, a month, a year), and
 * which ones a payout carried (docs/reports.md, "Its lines"), shared by the
 * payout reports (core/api_payout_reports.c) and the reconciliation
 * (core/api_reconciliation.c) so both answer alike.
 *
 * A standard payout (the payout run) pays the whole available balance, so
 * it carries the transactions that became available after the creation of
 * the merchant's previous standard payout and up to its own creation, its
 * own `payout` line excepted. An early (`instant`) payout carries only its
 * own line. */
#include <stdint.h>
#include <jansson.h>
#include "store/store.h"

/* The window rule, pure: 1 if a transaction available at avail_us from
 * `source` falls to the standard payout `payout_id` created at created_us
 * whose previous standard payout was created at prev_created_us (INT64_MIN
 * for the first). */
int ledger_window_holds(int64_t prev_created_us, int64_t created_us, const char *payout_id, int64_t avail_us,
                        const char *source);

/* The lines `payout` (its document) carried, oldest first, each with a
 * "date" (YYYY-MM-DD of its creation). CS_ECORRUPT if the payout's
 * creation time or currency is unreadable. */
int ledger_lines_of_payout(struct store_txn *t, const char *merchant_id, int livemode, json_t *payout, json_t **lines);

/* Visits the merchant's balance transactions created in [lo_us, hi_us),
 * newest first, decoded, with their creation time; fn returns non-zero to
 * stop. The walk ends at the first one created before lo_us (the log is in
 * time order). CS_ECORRUPT if one cannot be read. */
int ledger_txns_created_in(struct store_txn *t, const char *merchant_id, int livemode, int64_t lo_us, int64_t hi_us,
                           int (*fn)(void *ctx, json_t *txn, int64_t created_us), void *ctx);

/* The card-stream transactions created in [lo_us, hi_us) in `currency` that
 * carry a fee or VAT (the fee invoice's lines), oldest first, each with a
 * "date". */
int ledger_lines_with_fees(struct store_txn *t, const char *merchant_id, int livemode, const char *currency,
                           int64_t lo_us, int64_t hi_us, json_t **lines);

/* The bnpl `disbursement` transactions created in [lo_us, hi_us) in
 * `currency` with a commission, oldest first, each with a "date" and its
 * fee and vat signed as charged to the merchant (positive; negative when
 * the disbursement gave more back than it charged). */
int ledger_commission_lines(struct store_txn *t, const char *merchant_id, int livemode, const char *currency,
                            int64_t lo_us, int64_t hi_us, json_t **lines);

#endif
