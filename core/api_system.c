/* Health, metrics, the OpenAPI document and the operator's policy reload. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/router.h"
#include "core/embedded.h"
#include "core/json_in.h"
#include "core/metrics.h"
#include "core/writer.h"

void api_healthz(struct req_ctx *rc)
{
    struct store_txn t;
    uint64_t seq = 0;
    uint8_t hash[32];
    int err = store_read_begin(rc->app->store, &t);
    if (!err) {
        err = store_head(&t, &seq, hash);
        store_abort(&t);
    }
    if (err) {
        respond_fail(rc, err, "", "the store cannot be read");
        return;
    }
    char body[160];
    int n = snprintf(body, sizeof body, "{\"status\":\"%s\",\"head_seq\":%llu,\"writes_pending\":%u}",
                     rc->app->stopping ? "stopping" : "ok", (unsigned long long)seq,
                     writer_pending(rc->app->writer));
    respond_json_text(rc, rc->app->stopping ? 503 : 200, body, (size_t)n);
}

void api_metrics(struct req_ctx *rc)
{
    size_t len = 0;
    char *text = metrics_render(&len);
    if (!text) {
        respond_fail(rc, CS_ENOMEM, "", "out of memory");
        return;
    }
    http_respond(rc->req, 200, "text/plain; version=0.0.4", NULL, text, len);
    free(text);
}

void api_openapi(struct req_ctx *rc)
{
    const struct embedded_file *f = embedded_find("web/openapi.json");
    if (!f) {
        respond_fail(rc, CS_EINTERNAL, "", "the OpenAPI document is not built in");
        return;
    }
    respond_json_text(rc, 200, f->data, f->len);
}

void api_admin_reload(struct req_ctx *rc)
{
    static const char *const keys[] = {NULL};
    json_t *body = NULL;
    if (jin_parse(rc->req->body, rc->req->body_len, &body, &rc->diag) || jin_object(body, "", keys, &rc->diag)) {
        json_decref(body);
        respond_error(rc);
        return;
    }
    json_decref(body);
    if (policy_engine_reload(rc->app->policy, &rc->diag) != 0) {
        respond_error(rc);
        return;
    }
    char out[96];
    int n = snprintf(out, sizeof out, "{\"reloaded\":true,\"generation\":%u}",
                     policy_engine_generation(rc->app->policy));
    respond_json_text(rc, 200, out, (size_t)n);
}
