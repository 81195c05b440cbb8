#ifndef CAISSE_TERMINALS_H
#define CAISSE_TERMINALS_H
/* Payment terminals (docs/terminals.md): the card readers a merchant takes
 * payments on in its shop. Pure decisions here; the routes and the monthly
 * billing job are in core/api_terminals.c.
 *
 * A terminal (`trm_…`) has the manufacturer's serial number (unique per
 * merchant and mode) and a name the merchant gives it. Card payments taken
 * on it (channel "terminal") are its transactions. Each terminal is billed
 * for each calendar month (UTC, on the merchant's clock) by its job
 * terminal.bill at 01:00 UTC on the 1st of the next month: fees.compute kind
 * "terminal" prices the month from its transaction count (free from a
 * threshold on, lua/policy/fees.lua); a fee is taken from the merchant's card
 * balance (balance transaction `terminal_fee`, store/proj_ledger.c). */
#include <stdint.h>
#include <jansson.h>
#include "core/errors.h"

#define TERMINAL_BILL_HOUR_UTC 1          /* the billing run: 01:00 UTC on the 1st */
#define TERMINAL_SERIAL_BYTES_MIN 4
#define TERMINAL_SERIAL_BYTES_MAX 32
#define TERMINAL_NAME_BYTES_MAX 64

/* 1 if s is a serial number: 4 to 32 of [A-Za-z0-9-]. */
int terminal_serial_valid(const char *s);

/* When the month of `us` is billed: 01:00 UTC on the 1st of the next month
 * (December -> January of the next year). */
int64_t terminal_bill_time_after(int64_t us);

/* The month a billing run due at `due_us` bills, "YYYY-MM" (out >= 8
 * bytes): the month before due_us's month (January -> December of the year
 * before). */
void terminal_billed_month(int64_t due_us, char *out, size_t cap);

/* "YYYY-MM" as [start, end) in UTC microseconds; -1 if malformed. */
int terminal_month_range(const char *month, int64_t *start_us, int64_t *end_us);

/* A new terminal (terminal.created's data: the object, and its first
 * billing job). `name` may be NULL. */
int terminal_decide_create(const char *id, const char *merchant_id, int livemode, const char *serial,
                           const char *name, int64_t now_us, json_t **data, struct cs_diag *d);

/* A new name (NULL clears it): terminal.updated's data. */
int terminal_decide_rename(json_t *doc, const char *name, int64_t now_us, json_t **data, struct cs_diag *d);

/* The billing of `month` (terminal.billed's data): data.fee {month,
 * transactions, fee, vat, currency}, the object's billing, the next run.
 * CS_ESTATE if that month is already billed (a stale job). */
int terminal_decide_bill(json_t *doc, const char *month, int64_t transactions, int64_t fee, int64_t vat,
                         const char *currency, int64_t due_us, int64_t now_us, json_t **data, struct cs_diag *d);

#endif
