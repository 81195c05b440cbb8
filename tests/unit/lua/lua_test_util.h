#ifndef CAISSE_LUA_TEST_UTIL_H
#define CAISSE_LUA_TEST_UTIL_H
/* Helpers shared by tests/unit/lua/test_*.c: a temporary override directory,
 * an engine over it, and calls with JSON text in. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include "lua/policy.h"
#include "tests/unit/tap.h"

static inline char *tdir_new(void)
{
    char tmpl[] = "/tmp/caisse-lua-test-XXXXXX";
    char *d = mkdtemp(tmpl);
    if (!d) {
        perror("mkdtemp");
        exit(2);
    }
    return strdup(d);
}

static inline void tdir_write(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        perror(path);
        exit(2);
    }
}

static inline void tdir_free(char *dir)
{
    DIR *dh = opendir(dir);
    struct dirent *de;
    char path[512];
    while (dh && (de = readdir(dh))) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        unlink(path);
    }
    if (dh)
        closedir(dh);
    rmdir(dir);
    free(dir);
}

/* An engine over a fresh directory holding one override file (or none). */
static inline struct policy_engine *engine_with(const char *override, char **dir_out, struct cs_diag *d)
{
    char *dir = tdir_new();
    if (override)
        tdir_write(dir, "50-test.lua", override);
    struct policy_options o = { .override_dir = dir };
    struct policy_engine *e = NULL;
    memset(d, 0, sizeof *d);
    if (policy_engine_new(&o, &e, d) != 0)
        e = NULL;
    if (dir_out)
        *dir_out = dir;
    else
        tdir_free(dir);
    return e;
}

/* Calls `name` with the JSON text `in`. Returns the output (or NULL), *rc the code. */
static inline json_t *call_json(struct policy_engine *e, const char *name, const char *in, int *rc,
                         struct cs_diag *d)
{
    json_error_t jerr;
    json_t *input = json_loads(in, 0, &jerr);
    if (!input) {
        fprintf(stderr, "bad test JSON: %s: %s\n", in, jerr.text);
        exit(2);
    }
    json_t *out = NULL;
    memset(d, 0, sizeof *d);
    *rc = policy_call(e, name, input, &out, d);
    json_decref(input);
    return out;
}

static inline int contains(const char *haystack, const char *needle)
{
    return haystack && strstr(haystack, needle) != NULL;
}

#define CONTAINS(hay, needle, what) \
    do { \
        const char *h_ = (hay); \
        OK(contains(h_, (needle)), "%s", what); \
        if (!contains(h_, (needle))) \
            printf("#   \"%s\" does not contain \"%s\"\n", h_ ? h_ : "(null)", (needle)); \
    } while (0)

#endif
