#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <jansson.h>
#include "core/errors.h"

struct err_row { int err; int status; const char *type; const char *code; const char *name; };

static const struct err_row err_rows[] = {
#define X(name, status, type, code) { name, status, type, code, #name },
    CS_ERRORS(X)
#undef X
};

static const struct err_row *err_find(int err)
{
    if (err <= CS_E__FIRST || err >= CS_E__LAST)
        return NULL;
    return &err_rows[err - CS_E__FIRST - 1];
}

int cs_err_status(int err) { const struct err_row *r = err_find(err); return r ? r->status : 500; }
const char *cs_err_type(int err) { const struct err_row *r = err_find(err); return r ? r->type : "api_error"; }
const char *cs_err_code(int err) { const struct err_row *r = err_find(err); return r ? r->code : "internal_error"; }
const char *cs_err_name(int err) { const struct err_row *r = err_find(err); return r ? r->name : "CS_E?"; }

int cs_fail(struct cs_diag *d, int err, const char *param, const char *fmt, ...)
{
    if (!d)
        return err;
    d->err = err;
    snprintf(d->param, sizeof d->param, "%s", param ? param : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->message, sizeof d->message, fmt, ap);
    va_end(ap);
    return err;
}

size_t cs_diag_render(const struct cs_diag *d, char *buf, size_t cap)
{
    json_t *e = json_pack("{s:s,s:s,s:s}", "type", cs_err_type(d->err), "code", cs_err_code(d->err),
                          "message", d->message[0] ? d->message : cs_err_code(d->err));
    if (e && d->param[0])
        json_object_set_new(e, "param", json_string(d->param));
    json_t *root = json_pack("{s:o}", "error", e);
    size_t n = root ? json_dumpb(root, buf, cap ? cap - 1 : 0, JSON_COMPACT) : 0;
    json_decref(root);
    if (n >= cap)
        n = 0;
    if (n == 0 && cap > 0)
        n = (size_t)snprintf(buf, cap, "{\"error\":{\"type\":\"api_error\",\"code\":\"internal_error\",\"message\":\"error\"}}");
    if (n >= cap) n = cap - 1;
    buf[n] = 0;
    return n;
}
