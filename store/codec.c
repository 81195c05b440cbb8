/* The record codec: field validation, timestamps, the chain hash, and the
 * event JSON as stored. */
#include "core/limits.h"
#include <string.h>
#include "core/sha256.h"
#include "store/store_internal.h"

static int charset_valid(const char *s, size_t max_bytes, int (*ok)(unsigned char))
{
    if (!s)
        return 0;
    size_t n = 0;
    for (; s[n]; n++)
        if (n + 1 >= max_bytes || !ok((unsigned char)s[n]))
            return 0;
    return n > 0;
}

static int is_id_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}
static int is_type_char(unsigned char c) { return (c >= 'a' && c <= 'z') || c == '_' || c == '.'; }
static int is_actor_char(unsigned char c) { return is_id_char(c) || c == ':' || c == '.' || c == '-'; }

int store_id_valid(const char *s) { return charset_valid(s, CS_ID_BYTES_MAX, is_id_char); }
int store_type_valid(const char *s) { return charset_valid(s, CS_EVENT_TYPE_BYTES_MAX, is_type_char); }
int store_actor_valid(const char *s) { return charset_valid(s, CS_STORE_ACTOR_BYTES_MAX, is_actor_char); }

int store_type_match(const char *pattern, const char *type, size_t type_len)
{
    if (!pattern)
        return 1;
    size_t n = strlen(pattern);
    if (n > 0 && pattern[n - 1] == '*')
        return type_len >= n - 1 && memcmp(type, pattern, n - 1) == 0;
    return type_len == n && memcmp(type, pattern, n) == 0;
}

/* ---- time ----------------------------------------------------------------- */

/* Days since 1970-01-01 <-> proleptic Gregorian date (the era-based
 * algorithm: 400-year eras of 146097 days). Only for days >= 0. */
static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = z / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = y / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static char *put_digits(char *p, int v, int width)
{
    for (int i = width - 1; i >= 0; i--, v /= 10)
        p[i] = (char)('0' + v % 10);
    return p + width;
}

void store_time_format(int64_t us, char out[STORE_TIME_TEXT_BYTES])
{
    if (us < 0)
        us = 0;
    if (us > STORE_TIME_US_MAX)
        us = STORE_TIME_US_MAX;
    int64_t secs = us / 1000000, frac = us % 1000000;
    int64_t days = secs / 86400, sod = secs % 86400;
    int y, m, d;
    civil_from_days(days, &y, &m, &d);
    /* Fixed-width fields written digit by digit: "YYYY-MM-DDTHH:MM:SS.ffffffZ". */
    char *p = out;
    p = put_digits(p, y, 4); *p++ = '-';
    p = put_digits(p, m, 2); *p++ = '-';
    p = put_digits(p, d, 2); *p++ = 'T';
    p = put_digits(p, (int)(sod / 3600), 2); *p++ = ':';
    p = put_digits(p, (int)(sod / 60 % 60), 2); *p++ = ':';
    p = put_digits(p, (int)(sod % 60), 2); *p++ = '.';
    p = put_digits(p, (int)frac, 6); *p++ = 'Z';
    *p = 0;
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 1;
}

int store_time_parse(const char *s, int64_t *us)
{
    int y, mo, d, h, mi, sec, frac;
    if (!s || strlen(s) != STORE_TIME_TEXT_BYTES - 1 || s[4] != '-' || s[7] != '-' ||
        s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != '.' || s[26] != 'Z' ||
        !digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) ||
        !digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &sec) ||
        !digits(s + 20, 6, &frac) || y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 ||
        h > 23 || mi > 59 || sec > 59)
        return CS_ECORRUPT;
    int64_t v = ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) * 1000000) + frac;
    /* Reject dates that do not exist (Feb 30): formatting must give it back. */
    char back[STORE_TIME_TEXT_BYTES];
    store_time_format(v, back);
    if (strcmp(back, s) != 0)
        return CS_ECORRUPT;
    *us = v;
    return 0;
}

/* ---- records -------------------------------------------------------------- */

void store_chain_hash(const uint8_t prev[STORE_HASH_BYTES], const char *json, size_t len,
                      uint8_t out[STORE_HASH_BYTES])
{
    struct sha256 c;
    sha256_init(&c);
    sha256_update(&c, prev, STORE_HASH_BYTES);
    sha256_update(&c, json, len);
    sha256_final(&c, out);
}

int store_record_split(const MDB_val *rec, const uint8_t **hash, const char **json, size_t *len)
{
    const uint8_t *p = rec->mv_data;
    if (rec->mv_size <= STORE_RECORD_HEADER_BYTES || p[0] != STORE_RECORD_FORMAT)
        return CS_ECORRUPT;
    *hash = p + 1;
    *json = (const char *)p + STORE_RECORD_HEADER_BYTES;
    *len = rec->mv_size - STORE_RECORD_HEADER_BYTES;
    return 0;
}

static const char *get_str(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));   /* NULL if absent or not a string */
}

static int get_u64(json_t *o, const char *k, uint64_t *out)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_integer(v) || json_integer_value(v) < 1)
        return 0;
    *out = (uint64_t)json_integer_value(v);
    return 1;
}

int store_event_decode(const char *json, size_t len, struct event_view *v)
{
    memset(v, 0, sizeof *v);
    /* JSON_ALLOW_NUL: data may hold "\u0000" (jansson dumps NUL that way). */
    json_t *root = json_loadb(json, len, JSON_ALLOW_NUL, NULL);
    json_t *merchant = root ? json_object_get(root, "merchant") : NULL;
    json_t *livemode = root ? json_object_get(root, "livemode") : NULL;
    const char *created = root ? get_str(root, "created") : NULL;
    const char *object = root ? get_str(root, "object") : NULL;
    if (!json_is_object(root) || !object || strcmp(object, "event") != 0 ||
        !get_u64(root, "seq", &v->seq) || !get_u64(root, "aggregate_version", &v->aggregate_version) ||
        !(v->id = get_str(root, "id")) || !(v->type = get_str(root, "type")) ||
        !(v->aggregate_id = get_str(root, "aggregate_id")) || !(v->actor = get_str(root, "actor")) ||
        !(json_is_string(merchant) || json_is_null(merchant)) || !json_is_boolean(livemode) ||
        !created || store_time_parse(created, &v->time_us) != 0 ||
        !json_is_object(json_object_get(root, "data"))) {
        json_decref(root);
        memset(v, 0, sizeof *v);
        return CS_ECORRUPT;
    }
    v->merchant_id = json_string_value(merchant);
    v->livemode = json_is_true(livemode);
    v->data = json_object_get(root, "data");
    v->root = root;
    v->json = json;
    v->json_len = len;
    return 0;
}

void event_view_clear(struct event_view *v)
{
    if (!v)
        return;
    json_decref(v->root);
    memset(v, 0, sizeof *v);
}
