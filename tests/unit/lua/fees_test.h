#ifndef CAISSE_FEES_TEST_H
#define CAISSE_FEES_TEST_H
/* For the fees.compute tests: one call, its {fee, vat} read as the server
 * reads them (dispute_fees_read: the same shape for every kind). */
#include <string.h>
#include <jansson.h>
#include "lua/policy.h"
#include "core/disputes.h"

/* Calls fees.compute with `in` (taken: released here). */
static inline int fees_compute(struct policy_engine *e, json_t *in, int64_t *fee, int64_t *vat, struct cs_diag *d)
{
    json_t *out = NULL;
    memset(d, 0, sizeof *d);
    int rc = policy_call(e, "fees.compute", in, &out, d);
    json_decref(in);
    if (rc == 0)
        rc = dispute_fees_read(out, fee, vat, d);
    json_decref(out);
    return rc;
}

#endif
