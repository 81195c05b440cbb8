#ifndef CAISSE_PORTAL_H
#define CAISSE_PORTAL_H
/* The shopper's self-service API (/v1/customer/…, core/api_portal.c). */
#include "core/app.h"

/* Checks a shopper session token (Bearer cst_…): sets rc->merchant_id,
 * livemode, customer_id and actor. On failure fills rc->diag, returns it. */
int portal_authenticate(struct req_ctx *rc, const char *token);

#endif
