/* JSON document helpers of the decide functions (core/doc.h). */
#include <string.h>
#include "core/doc.h"
#include "core/clock.h"

int doc_one_of(const char *s, const char *const *list)
{
    for (; s && *list; list++)
        if (strcmp(s, *list) == 0)
            return 1;
    return 0;
}

int doc_is(json_t *doc, const char *key, const char *value)
{
    const char *s = json_string_value(json_object_get(doc, key));
    return s && strcmp(s, value) == 0;
}

int64_t doc_int(json_t *doc, const char *key)
{
    return json_integer_value(json_object_get(doc, key));
}

const char *doc_str(json_t *doc, const char *key)
{
    const char *s = json_string_value(json_object_get(doc, key));
    return s ? s : "?";
}

void doc_set_time(json_t *doc, const char *key, int64_t us)
{
    char at[40];
    clock_format_rfc3339(us, at, sizeof at);
    json_object_set_new(doc, key, json_string(at));
}

json_t *doc_next_version(json_t *doc, int64_t now_us)
{
    json_t *n = json_deep_copy(doc);
    if (!n)
        return NULL;
    json_object_set_new(n, "version", json_integer(doc_int(doc, "version") + 1));
    doc_set_time(n, "updated", now_us);
    return n;
}

json_t *doc_event_data(json_t *doc, json_t *jobs, json_t *related)
{
    json_t *data = json_pack("{s:o}", "object", doc);
    if (data && jobs)
        json_object_set_new(data, "jobs", jobs);
    else
        json_decref(jobs);
    if (data && related)
        json_object_set_new(data, "related", related);
    else
        json_decref(related);
    return data;
}
