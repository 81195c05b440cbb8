#include <stdio.h>
#include <string.h>
#include "core/json_in.h"
#include "core/limits.h"

static unsigned json_depth(json_t *v)
{
    unsigned max = 0;
    if (json_is_object(v)) {
        const char *k;
        json_t *c;
        json_object_foreach(v, k, c) {
            unsigned d = json_depth(c);
            if (d > max) max = d;
            if (max > CS_JSON_DEPTH_MAX) break;
        }
        return max + 1;
    }
    if (json_is_array(v)) {
        size_t i;
        json_t *c;
        json_array_foreach(v, i, c) {
            unsigned d = json_depth(c);
            if (d > max) max = d;
            if (max > CS_JSON_DEPTH_MAX) break;
        }
        return max + 1;
    }
    return 0;
}

int jin_parse(const char *body, size_t len, json_t **out, struct cs_diag *d)
{
    *out = NULL;
    if (len == 0) {
        *out = json_object();
        return 0;
    }
    json_error_t e;
    json_t *v = json_loadb(body, len, JSON_REJECT_DUPLICATES, &e);
    if (!v)
        return cs_fail(d, CS_EJSON, "", "the body is not valid JSON: %s at line %d column %d",
                       e.text, e.line, e.column);
    if (!json_is_object(v)) {
        json_decref(v);
        return cs_fail(d, CS_EJSON, "", "the body must be a JSON object");
    }
    if (json_depth(v) > CS_JSON_DEPTH_MAX) {
        json_decref(v);
        return cs_fail(d, CS_EJSON, "", "the body nests deeper than %u levels", CS_JSON_DEPTH_MAX);
    }
    *out = v;
    return 0;
}

void jin_path(char *out, size_t cap, const char *path, const char *key)
{
    if (path && path[0])
        snprintf(out, cap, "%s.%s", path, key);
    else
        snprintf(out, cap, "%s", key);
}

int jin_object(json_t *v, const char *path, const char *const *allowed, struct cs_diag *d)
{
    if (!json_is_object(v))
        return cs_fail(d, CS_EPARAM, path, "%s must be an object", path[0] ? path : "the body");
    const char *k;
    json_t *c;
    json_object_foreach(v, k, c) {
        int known = 0;
        for (const char *const *a = allowed; *a; a++)
            if (strcmp(*a, k) == 0) { known = 1; break; }
        if (!known) {
            char p[128];
            jin_path(p, sizeof p, path, k);
            return cs_fail(d, CS_EUNKNOWN, p, "unknown field %s", p);
        }
    }
    return 0;
}

static json_t *member(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_null(v) ? NULL : v;
}

int jin_printable(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return 0;
    return 1;
}

int jin_token(const char *s)
{
    if (!*s) return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-'))
            return 0;
    return 1;
}

int jin_string(json_t *obj, const char *path, const char *key, int required, size_t min_bytes,
               size_t max_bytes, const char **out, struct cs_diag *d)
{
    char p[128];
    jin_path(p, sizeof p, path, key);
    json_t *v = member(obj, key);
    if (!v)
        return required ? cs_fail(d, CS_EMISSING, p, "%s is required", p) : 0;
    if (!json_is_string(v))
        return cs_fail(d, CS_EPARAM, p, "%s must be a string", p);
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (strlen(s) != n || !jin_printable(s))
        return cs_fail(d, CS_EPARAM, p, "%s contains control characters", p);
    if (n < min_bytes)
        return cs_fail(d, CS_EPARAM, p, "%s must not be empty", p);
    if (n > max_bytes)
        return cs_fail(d, CS_EPARAM, p, "%s is longer than %zu bytes", p, max_bytes);
    *out = s;
    return 0;
}

int jin_int(json_t *obj, const char *path, const char *key, int required, int64_t min, int64_t max,
            int64_t *out, struct cs_diag *d)
{
    char p[128];
    jin_path(p, sizeof p, path, key);
    json_t *v = member(obj, key);
    if (!v)
        return required ? cs_fail(d, CS_EMISSING, p, "%s is required", p) : 0;
    if (!json_is_integer(v))
        return cs_fail(d, CS_EPARAM, p, "%s must be an integer", p);
    json_int_t i = json_integer_value(v);
    if (i < min || i > max)
        return cs_fail(d, CS_EPARAM, p, "%s must be between %lld and %lld", p, (long long)min,
                       (long long)max);
    *out = i;
    return 0;
}

int jin_bool(json_t *obj, const char *path, const char *key, int required, int *out, struct cs_diag *d)
{
    char p[128];
    jin_path(p, sizeof p, path, key);
    json_t *v = member(obj, key);
    if (!v)
        return required ? cs_fail(d, CS_EMISSING, p, "%s is required", p) : 0;
    if (!json_is_boolean(v))
        return cs_fail(d, CS_EPARAM, p, "%s must be true or false", p);
    *out = json_is_true(v);
    return 0;
}

json_t *jin_child(json_t *obj, const char *path, const char *key, json_type type, int required,
                  int *rc, struct cs_diag *d)
{
    char p[128];
    jin_path(p, sizeof p, path, key);
    *rc = 0;
    json_t *v = member(obj, key);
    if (!v) {
        if (required)
            *rc = cs_fail(d, CS_EMISSING, p, "%s is required", p);
        return NULL;
    }
    if (json_typeof(v) != type) {
        *rc = cs_fail(d, CS_EPARAM, p, "%s must be an %s", p, type == JSON_ARRAY ? "array" : "object");
        return NULL;
    }
    return v;
}

int jin_metadata(json_t *obj, const char *path, json_t **out, struct cs_diag *d)
{
    int rc = 0;
    char mp[128];
    jin_path(mp, sizeof mp, path, "metadata");
    json_t *meta = jin_child(obj, path, "metadata", JSON_OBJECT, 0, &rc, d);
    *out = NULL;
    if (rc || !meta)
        return rc;
    if (json_object_size(meta) > CS_METADATA_KEYS_MAX)
        return cs_fail(d, CS_EPARAM, mp, "metadata holds more than %u keys", CS_METADATA_KEYS_MAX);
    const char *k;
    json_t *v;
    json_object_foreach(meta, k, v) {
        char p[sizeof mp + 48];   /* keys longer than 40 bytes are refused below */
        snprintf(p, sizeof p, "%s.%.40s", mp, k);
        if (strlen(k) == 0 || strlen(k) > 40 || !jin_printable(k))
            return cs_fail(d, CS_EPARAM, p, "metadata keys are 1 to 40 printable bytes");
        if (!json_is_string(v) || json_string_length(v) > 500 || !jin_printable(json_string_value(v)))
            return cs_fail(d, CS_EPARAM, p, "%s must be a string of at most 500 bytes", p);
    }
    *out = meta;
    return 0;
}

int jin_email(const char *s)
{
    const char *at = strchr(s, '@');
    if (!at || at == s || strchr(at + 1, '@') || strlen(s) > 254)
        return 0;
    const char *dot = strrchr(at + 1, '.');
    if (!dot || dot == at + 1 || dot[1] == 0)
        return 0;
    for (const char *p = s; *p; p++)
        if (*p == ' ' || *p == ',' || *p == ';' || *p == '<' || *p == '>')
            return 0;
    return 1;
}

int jin_phone(const char *s)
{
    if (s[0] != '+')
        return 0;
    size_t n = 0;
    for (const char *p = s + 1; *p; p++, n++)
        if (*p < '0' || *p > '9')
            return 0;
    return n >= 8 && n <= 15 && s[1] != '0';
}
