#ifndef CAISSE_LIST_PAGE_H
#define CAISSE_LIST_PAGE_H
/* One page of a list response,
 *   {"object":"list","data":[…],"has_more":…,"next_cursor":…}
 * built by appending stored JSON documents as they are, never re-parsed. */
#include <stddef.h>
#include "core/app.h"

struct list_page {
    unsigned limit, count;
    int has_more;
    char next_cursor[64];      /* the cursor of the last item added */
    char *out;
    size_t len, cap;
    int err;                   /* CS_ENOMEM once an append failed */
};

void list_page_init(struct list_page *p, unsigned limit);
/* Adds one item and remembers its cursor. Returns 1 when the page was already
 * full (the item is not added; has_more is set), so a visitor can stop. */
int list_page_add(struct list_page *p, const char *json, size_t len, const char *cursor);
/* Answers rc with the page (200) or with the append error, then frees it. */
void list_page_respond(struct list_page *p, struct req_ctx *rc);
void list_page_free(struct list_page *p);

/* The `limit` query parameter: default CS_LIST_LIMIT_DEFAULT, 1..CS_LIST_LIMIT_MAX.
 * On error fills rc->diag and returns its code. */
int list_parse_limit(struct req_ctx *rc, unsigned *limit);

/* The page to start after: `cursor` or its alias `starting_after` (not
 * both), NULL for the first page; *name is the parameter given, for the
 * message when the store refuses the cursor (list_cursor_refused). On error
 * fills rc->diag and returns its code. */
int list_parse_cursor(struct req_ctx *rc, const char **cursor, const char **name);
/* Answers 400 naming the cursor parameter that is not a previous page's
 * next_cursor. */
void list_cursor_refused(struct req_ctx *rc, const char *name);

#endif
