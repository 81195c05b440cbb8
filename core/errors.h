#ifndef CAISSE_ERRORS_H
#define CAISSE_ERRORS_H
#include <stddef.h>

/* One table feeds the C codes, the HTTP status and the API error body.
 * Functions return 0 or a negative CS_E* code; the detail (which field, why)
 * goes into a struct cs_diag that the caller owns. */
#define CS_ERRORS(X) \
    X(CS_EPARAM,        400, "invalid_request_error", "parameter_invalid") \
    X(CS_EMISSING,      400, "invalid_request_error", "parameter_missing") \
    X(CS_EUNKNOWN,      400, "invalid_request_error", "parameter_unknown") \
    X(CS_EJSON,         400, "invalid_request_error", "json_invalid") \
    X(CS_EAMOUNT,       400, "invalid_request_error", "amount_invalid") \
    X(CS_ECURRENCY,     400, "invalid_request_error", "currency_invalid") \
    X(CS_EAUTH,         401, "authentication_error",  "api_key_invalid") \
    X(CS_ECARD,         402, "card_error",            "card_declined") \
    X(CS_ECODE,         401, "authentication_error",  "code_invalid") \
    X(CS_EFORBIDDEN,    403, "permission_error",      "forbidden") \
    X(CS_ENOTFOUND,     404, "invalid_request_error", "resource_missing") \
    X(CS_EROUTE,        404, "invalid_request_error", "route_unknown") \
    X(CS_EMETHOD,       405, "invalid_request_error", "method_not_allowed") \
    X(CS_ETIMEOUT,      408, "invalid_request_error", "request_timeout") \
    X(CS_ECONFLICT,     409, "invalid_request_error", "version_mismatch") \
    X(CS_ESTATE,        409, "invalid_request_error", "state_invalid") \
    X(CS_EIDEMPOTENCY,  409, "idempotency_error",     "idempotency_key_reused") \
    X(CS_EIDEMINFLIGHT, 409, "idempotency_error",     "idempotency_key_in_use") \
    X(CS_ETOOLARGE,     413, "invalid_request_error", "body_too_large") \
    X(CS_EURITOOLONG,   414, "invalid_request_error", "uri_too_long") \
    X(CS_EMEDIATYPE,    415, "invalid_request_error", "content_type_unsupported") \
    X(CS_EHEADERS,      431, "invalid_request_error", "headers_too_large") \
    X(CS_EPOLICY,       422, "policy_error",          "policy_refused") \
    X(CS_ERATE,         429, "rate_limit_error",      "rate_limited") \
    X(CS_EPOLICYFAIL,   500, "api_error",             "policy_failed") \
    X(CS_EINTERNAL,     500, "api_error",             "internal_error") \
    X(CS_EBUSY,         503, "api_error",             "overloaded") \
    X(CS_ESHUTDOWN,     503, "api_error",             "shutting_down") \
    X(CS_ESTORAGE,      507, "api_error",             "storage_full") \
    X(CS_EIO,           500, "api_error",             "storage_io") \
    X(CS_ECORRUPT,      500, "api_error",             "storage_corrupt") \
    X(CS_ENOENT,        404, "invalid_request_error", "not_found_internal") \
    X(CS_ENOMEM,        500, "api_error",             "out_of_memory") \
    X(CS_EPLUGINFAIL,   500, "api_error",             "plugin_failed")

enum cs_err {
    CS_OK = 0,
    CS_E__FIRST = -1000,
#define X(name, status, type, code) name,
    CS_ERRORS(X)
#undef X
    CS_E__LAST
};

/* HTTP status, API error type and code for a CS_E* value (500/api_error for
 * anything unknown). */
int cs_err_status(int err);
const char *cs_err_type(int err);
const char *cs_err_code(int err);
const char *cs_err_name(int err);

/* The detail of one failure, rendered as {"error":{type,code,message,param}}. */
struct cs_diag {
    int err;            /* CS_E* */
    char param[128];    /* the offending field as a path ("customer.email", "lines[2].quantity"), or "" */
    char message[256];
};

/* Records err/param/message (printf-style) in d and returns err, so callers
 * can write `return cs_fail(d, CS_EPARAM, "amount", "must be > 0");`. */
int cs_fail(struct cs_diag *d, int err, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Renders d as the API error body into buf (NUL-terminated). Returns length. */
size_t cs_diag_render(const struct cs_diag *d, char *buf, size_t cap);

#endif
