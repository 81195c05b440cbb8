/* Validation and merge of a merchant's risk settings (core/risk_settings.h). */
#include <string.h>
#include "core/risk_settings.h"
#include "core/json_in.h"
#include "core/limits.h"

const char *const risk_settings_fields[] = {"blocked_cards", "blocked_bins", "blocked_card_countries",
                                            "card_outstanding_limit", "velocity", "block_virtual_cards",
                                            "block_systematic_authorization", NULL};

json_t *risk_settings_defaults(void)
{
    return json_pack("{s:[],s:[],s:[],s:n,s:n,s:b,s:b}", "blocked_cards", "blocked_bins", "blocked_card_countries",
                     "card_outstanding_limit", "velocity", "block_virtual_cards", 0,
                     "block_systematic_authorization", 0);
}

/* ---- list entries ------------------------------------------------------------------ */

static int all_of(const char *s, size_t len, const char *set)
{
    if (strlen(s) != len)
        return 0;
    for (; *s; s++)
        if (!strchr(set, *s))
            return 0;
    return 1;
}

/* A card fingerprint as payments show it (card.fingerprint): lower-case hex
 * HMAC-SHA256 (docs/cards.md). */
static int valid_fingerprint(const char *s) { return all_of(s, 64, "0123456789abcdef"); }
static int valid_bin(const char *s) { return all_of(s, 6, "0123456789"); }
static int valid_country(const char *s) { return all_of(s, 2, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"); }

struct list_kind {
    const char *field;
    int (*valid)(const char *s);
    const char *what;
};
static const struct list_kind lists[] = {
    {"blocked_cards", valid_fingerprint, "a card fingerprint (64 lower-case hex digits, as card.fingerprint shows it)"},
    {"blocked_bins", valid_bin, "a BIN (the card number's first 6 digits)"},
    {"blocked_card_countries", valid_country, "an ISO 3166 alpha-2 country code in upper case (\"BR\")"},
};

/* The list at body[kind->field], checked, duplicates dropped (the first
 * occurrence keeps its place). */
static int read_list(json_t *body, const struct list_kind *kind, json_t **out, struct cs_diag *d)
{
    json_t *v = json_object_get(body, kind->field);
    if (!json_is_array(v))
        return cs_fail(d, CS_EPARAM, kind->field, "%s must be an array (send [] to empty it)", kind->field);
    if (json_array_size(v) > RISK_LIST_ENTRIES_MAX)
        return cs_fail(d, CS_EPARAM, kind->field, "%s holds at most %u entries", kind->field, RISK_LIST_ENTRIES_MAX);
    json_t *list = json_array();
    if (!list)
        return cs_fail(d, CS_ENOMEM, "", "out of memory");
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        const char *s = json_string_value(e);
        if (!s || strlen(s) != json_string_length(e) || !kind->valid(s)) {
            char p[64];
            snprintf(p, sizeof p, "%s[%zu]", kind->field, i);
            json_decref(list);
            return cs_fail(d, CS_EPARAM, p, "%s must be %s", p, kind->what);
        }
        int seen = 0;
        size_t j;
        json_t *k;
        json_array_foreach(list, j, k) {
            if (strcmp(json_string_value(k), s) == 0) {
                seen = 1;
                break;
            }
        }
        if (!seen && json_array_append(list, e) != 0) {
            json_decref(list);
            return cs_fail(d, CS_ENOMEM, "", "out of memory");
        }
    }
    *out = list;
    return 0;
}

/* ---- limits ------------------------------------------------------------------------ */

static int read_outstanding(json_t *v, json_t **out, struct cs_diag *d)
{
    static const char *const keys[] = {"amount", "window_days", NULL};
    const char *path = "card_outstanding_limit";
    int64_t amount = 0, days = RISK_OUTSTANDING_WINDOW_DAYS_DEFAULT;
    int rc;
    if ((rc = jin_object(v, path, keys, d)) || (rc = jin_int(v, path, "amount", 1, 1, CS_AMOUNT_MINOR_MAX, &amount, d)) ||
        (rc = jin_int(v, path, "window_days", 0, 1, RISK_OUTSTANDING_WINDOW_DAYS_MAX, &days, d)))
        return rc;
    *out = json_pack("{s:I,s:I}", "amount", (json_int_t)amount, "window_days", (json_int_t)days);
    return *out ? 0 : cs_fail(d, CS_ENOMEM, "", "out of memory");
}

static int read_velocity(json_t *v, json_t **out, struct cs_diag *d)
{
    static const char *const keys[] = {"max_count", "max_amount", "window_hours", NULL};
    const char *path = "velocity";
    int64_t count = -1, amount = -1, hours = RISK_VELOCITY_WINDOW_HOURS_DEFAULT;
    int rc;
    if ((rc = jin_object(v, path, keys, d)) ||
        (rc = jin_int(v, path, "max_count", 0, 1, RISK_VELOCITY_COUNT_MAX, &count, d)) ||
        (rc = jin_int(v, path, "max_amount", 0, 1, CS_AMOUNT_MINOR_MAX, &amount, d)) ||
        (rc = jin_int(v, path, "window_hours", 0, 1, RISK_VELOCITY_WINDOW_HOURS_MAX, &hours, d)))
        return rc;
    if (count < 0 && amount < 0)
        return cs_fail(d, CS_EMISSING, "velocity.max_count",
                       "velocity needs max_count, max_amount or both (null turns the control off)");
    *out = json_object();
    if (!*out)
        return cs_fail(d, CS_ENOMEM, "", "out of memory");
    json_object_set_new(*out, "max_count", count < 0 ? json_null() : json_integer(count));
    json_object_set_new(*out, "max_amount", amount < 0 ? json_null() : json_integer(amount));
    json_object_set_new(*out, "window_hours", json_integer(hours));
    return 0;
}

/* ---- the update -------------------------------------------------------------------- */

static int read_field(json_t *body, const char *field, json_t **out, struct cs_diag *d)
{
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++)
        if (strcmp(field, lists[i].field) == 0)
            return read_list(body, &lists[i], out, d);
    json_t *v = json_object_get(body, field);
    if (strcmp(field, "card_outstanding_limit") == 0 || strcmp(field, "velocity") == 0) {
        if (json_is_null(v)) {
            *out = json_null();
            return 0;
        }
        if (!json_is_object(v))
            return cs_fail(d, CS_EPARAM, field, "%s must be an object, or null to turn the control off", field);
        return field[0] == 'c' ? read_outstanding(v, out, d) : read_velocity(v, out, d);
    }
    if (!json_is_boolean(v))
        return cs_fail(d, CS_EPARAM, field, "%s must be true or false", field);
    *out = json_incref(v);
    return 0;
}

int risk_settings_validate(json_t *body, json_t **patch, struct cs_diag *d)
{
    *patch = NULL;
    int rc = jin_object(body, "", risk_settings_fields, d);
    if (rc)
        return rc;
    if (json_object_size(body) == 0)
        return cs_fail(d, CS_EMISSING, "", "give at least one setting to change (blocked_cards, blocked_bins, "
                       "blocked_card_countries, card_outstanding_limit, velocity, block_virtual_cards, "
                       "block_systematic_authorization)");
    json_t *p = json_object();
    if (!p)
        return cs_fail(d, CS_ENOMEM, "", "out of memory");
    /* In document order, so the first bad field named is always the same. */
    for (const char *const *f = risk_settings_fields; *f; f++) {
        if (!json_object_get(body, *f))
            continue;
        json_t *v = NULL;
        if ((rc = read_field(body, *f, &v, d)) != 0) {
            json_decref(p);
            return rc;
        }
        json_object_set_new(p, *f, v);
    }
    *patch = p;
    return 0;
}

json_t *risk_settings_apply(json_t *current, json_t *patch, json_t **previous)
{
    json_t *out = risk_settings_defaults(), *prev = json_object();
    if (!out || !prev) {
        json_decref(out);
        json_decref(prev);
        return NULL;
    }
    for (const char *const *f = risk_settings_fields; *f; f++) {
        json_t *cur = json_object_get(current, *f);
        if (cur)
            json_object_set(out, *f, cur);
        json_t *next = json_object_get(patch, *f);
        if (!next)
            continue;
        json_t *before = json_object_get(out, *f);
        if (!json_equal(before, next))
            json_object_set(prev, *f, before);
        json_object_set(out, *f, next);
    }
    if (previous)
        *previous = prev;
    else
        json_decref(prev);
    return out;
}
