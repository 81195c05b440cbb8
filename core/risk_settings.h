#ifndef CAISSE_RISK_SETTINGS_H
#define CAISSE_RISK_SETTINGS_H
/* A merchant's risk controls (seed 004 "Contrôle risques", levels 1 and 2;
 * docs/risk.md): exactly the fields payment_risk_rule() (core/payments.c)
 * reads, one settings object per merchant and mode. Pure: the validation of
 * a partial update and its merge into the current settings; the handlers are
 * core/api_risk.c.
 *
 * The seven fields and their defaults:
 *   blocked_cards                  []     card fingerprints (64 lower-case hex)
 *   blocked_bins                   []     6 digits
 *   blocked_card_countries         []     ISO 3166 alpha-2, upper case
 *   card_outstanding_limit         null   {amount, window_days}
 *   velocity                       null   {max_count, max_amount, window_hours}
 *   block_virtual_cards            false
 *   block_systematic_authorization false */
#include <jansson.h>
#include "core/errors.h"

/* Limits of one settings object. The windows bound the walk over a card's
 * payments that every payment's risk check makes (core/api_payments.c). */
#define RISK_LIST_ENTRIES_MAX                1000u   /* each list, after duplicates are removed */
#define RISK_OUTSTANDING_WINDOW_DAYS_DEFAULT 30
#define RISK_OUTSTANDING_WINDOW_DAYS_MAX     366
#define RISK_VELOCITY_WINDOW_HOURS_DEFAULT   24
#define RISK_VELOCITY_WINDOW_HOURS_MAX       (31 * 24)
#define RISK_VELOCITY_COUNT_MAX              100000

/* The field names, in document order (NULL-terminated). */
extern const char *const risk_settings_fields[];

/* The seven fields at their defaults (a new object). */
json_t *risk_settings_defaults(void);

/* Validates the body of POST /v1/risk_settings: an object with at least one
 * of the seven fields, each checked (errors name the field, a list entry as
 * "blocked_bins[2]"). *patch is a new object with the given fields in their
 * stored form: lists without duplicates (first occurrence kept, order
 * otherwise as given), limits with their defaults filled in, null for a
 * cleared limit. */
int risk_settings_validate(json_t *body, json_t **patch, struct cs_diag *d);

/* The settings after `patch` (from risk_settings_validate) on `current` (a
 * stored settings document, or NULL for the defaults): a new object holding
 * the seven fields only. *previous (may be NULL) gets a new object with the
 * former values of the fields that changed ({} if none did). */
json_t *risk_settings_apply(json_t *current, json_t *patch, json_t **previous);

#endif
