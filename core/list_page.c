#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/list_page.h"

static void put(struct list_page *p, const char *s, size_t n)
{
    if (p->err)
        return;
    if (p->len + n + 1 > p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 4096;
        while (cap < p->len + n + 1)
            cap *= 2;
        char *b = realloc(p->out, cap);
        if (!b) {
            p->err = CS_ENOMEM;
            return;
        }
        p->out = b;
        p->cap = cap;
    }
    memcpy(p->out + p->len, s, n);
    p->len += n;
    p->out[p->len] = 0;
}

void list_page_init(struct list_page *p, unsigned limit)
{
    memset(p, 0, sizeof *p);
    p->limit = limit;
    static const char head[] = "{\"object\":\"list\",\"data\":[";
    put(p, head, sizeof head - 1);
}

int list_page_add(struct list_page *p, const char *json, size_t len, const char *cursor)
{
    if (p->count == p->limit) {
        p->has_more = 1;
        return 1;
    }
    if (p->count++)
        put(p, ",", 1);
    put(p, json, len);
    snprintf(p->next_cursor, sizeof p->next_cursor, "%s", cursor);
    return 0;
}

void list_page_respond(struct list_page *p, struct req_ctx *rc)
{
    char tail[128];
    int n = p->has_more ? snprintf(tail, sizeof tail, "],\"has_more\":true,\"next_cursor\":\"%s\"}", p->next_cursor)
                        : snprintf(tail, sizeof tail, "],\"has_more\":false,\"next_cursor\":null}");
    put(p, tail, (size_t)n);
    if (p->err)
        respond_fail(rc, p->err, "", "out of memory building the list");
    else
        respond_json_text(rc, 200, p->out, p->len);
    list_page_free(p);
}

void list_page_free(struct list_page *p)
{
    free(p->out);
    p->out = NULL;
    p->len = p->cap = 0;
}

int list_parse_limit(struct req_ctx *rc, unsigned *limit)
{
    const char *s = query_param(rc, "limit");
    *limit = CS_LIST_LIMIT_DEFAULT;
    if (!s)
        return 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < 1 || v > (long)CS_LIST_LIMIT_MAX)
        return cs_fail(&rc->diag, CS_EPARAM, "limit", "limit must be an integer from 1 to %u", CS_LIST_LIMIT_MAX);
    *limit = (unsigned)v;
    return 0;
}

int list_parse_cursor(struct req_ctx *rc, const char **cursor, const char **name)
{
    const char *c = query_param(rc, "cursor"), *after = query_param(rc, "starting_after");
    *name = after ? "starting_after" : "cursor";
    *cursor = after ? after : c;
    if (c && after)
        return cs_fail(&rc->diag, CS_EPARAM, "starting_after", "give cursor or starting_after, not both");
    return 0;
}

void list_cursor_refused(struct req_ctx *rc, const char *name)
{
    respond_fail(rc, CS_EPARAM, name, "%s must be the next_cursor of a previous page", name);
}
