#ifndef CAISSE_DOC_H
#define CAISSE_DOC_H
/* Small readers and writers of JSON documents shared by the decide functions
 * of payments, refunds, disputes and payment links (pure: no I/O). */
#include <stdint.h>
#include <jansson.h>

/* 1 if s is one of the NULL-terminated list (NULL s: 0). */
int doc_one_of(const char *s, const char *const *list);
/* 1 if doc[key] is the string value. */
int doc_is(json_t *doc, const char *key, const char *value);
/* doc[key] as an integer (0 if absent or not one). */
int64_t doc_int(json_t *doc, const char *key);
/* doc[key] as a string, or "?" (for messages). */
const char *doc_str(json_t *doc, const char *key);
/* doc[key] = the RFC 3339 time of us. */
void doc_set_time(json_t *doc, const char *key, int64_t us);

/* A deep copy of an object's document for its next version: version + 1,
 * updated = now. NULL if out of memory. */
json_t *doc_next_version(json_t *doc, int64_t now_us);
/* The data of an object's event: {"object": doc, "jobs": jobs, "related":
 * related}, jobs and related left out when NULL. Steals all three (also on
 * failure, returning NULL). */
json_t *doc_event_data(json_t *doc, json_t *jobs, json_t *related);

#endif
