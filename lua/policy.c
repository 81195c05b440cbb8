/* The policy engine (policy.h): the built-in policies compiled into the
 * binary, then the operator's overrides, in one sandbox; rebuilt from the same
 * sources after a budget or memory failure; swapped on reload only when every
 * file loads. */
#include "core/limits.h"
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "core/embedded.h"
#include "lua/policy.h"
#include "lua/sandbox.h"

#define BUILTIN_PREFIX        "lua/policy/"

struct policy_file {
    char *name;         /* full path, for diagnostics */
    char *chunkname;    /* "@" + path */
    char *text;
    size_t len;
};

struct policy_engine {
    struct sandbox *sb;             /* NULL after a failed rebuild: rebuilt on the next call */
    struct sandbox_limits lim;
    char *override_dir;
    struct policy_file *files;      /* the overrides `sb` was built from */
    size_t nfiles;
    unsigned generation;
    policy_resolver_fn resolver;    /* per-merchant overrides (plugins); NULL: none */
    void *resolver_ctx;
    int resolving;                  /* a resolver call is running: never re-enter it */
};

static void files_free(struct policy_file *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(f[i].name);
        free(f[i].chunkname);
        free(f[i].text);
    }
    free(f);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_embedded(const void *a, const void *b)
{
    return strcmp((*(const struct embedded_file *const *)a)->path,
                  (*(const struct embedded_file *const *)b)->path);
}

static int read_file(const char *path, char **text, size_t *len, struct cs_diag *d)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return cs_fail(d, CS_EPOLICYFAIL, "", "policy file %s: %s", path, strerror(errno));
    char *buf = malloc(CS_POLICY_FILE_BYTES_MAX + 1);
    if (!buf) {
        fclose(f);
        return cs_fail(d, CS_ENOMEM, "", "policy file %s: out of memory", path);
    }
    size_t n = fread(buf, 1, CS_POLICY_FILE_BYTES_MAX + 1, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || n > CS_POLICY_FILE_BYTES_MAX) {
        free(buf);
        return cs_fail(d, CS_EPOLICYFAIL, "", "policy file %s: %s", path,
                       bad ? "read error" : "larger than 1 MiB");
    }
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return 0;
}

/* Reads the *.lua files of dir (regular files, not starting with '.') in name order. */
static int files_read(const char *dir, struct policy_file **out, size_t *nout, struct cs_diag *d)
{
    *out = NULL;
    *nout = 0;
    if (!dir)
        return 0;
    DIR *dh = opendir(dir);
    if (!dh)
        return cs_fail(d, CS_EPOLICYFAIL, "", "policy directory %s: %s", dir, strerror(errno));
    char *names[CS_POLICY_FILES_MAX];
    size_t n = 0;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(dh))) {
        if (de->d_name[0] == '.' || !ends_with(de->d_name, ".lua"))
            continue;
        if (n == CS_POLICY_FILES_MAX) {
            rc = cs_fail(d, CS_EPOLICYFAIL, "", "policy directory %s: more than %u files", dir,
                         CS_POLICY_FILES_MAX);
            break;
        }
        if (!(names[n] = strdup(de->d_name))) {
            rc = cs_fail(d, CS_ENOMEM, "", "policy directory %s: out of memory", dir);
            break;
        }
        n++;
    }
    closedir(dh);
    qsort(names, n, sizeof names[0], cmp_str);
    struct policy_file *files = rc ? NULL : calloc(n ? n : 1, sizeof *files);
    if (!rc && !files)
        rc = cs_fail(d, CS_ENOMEM, "", "policy directory %s: out of memory", dir);
    size_t got = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        size_t plen = strlen(dir) + 1 + strlen(names[i]) + 1;
        char *path = malloc(plen), *chunk = malloc(plen + 1);
        if (!path || !chunk) {
            free(path);
            free(chunk);
            rc = cs_fail(d, CS_ENOMEM, "", "policy directory %s: out of memory", dir);
            break;
        }
        snprintf(path, plen, "%s/%s", dir, names[i]);
        snprintf(chunk, plen + 1, "@%s", path);
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
            free(path);
            free(chunk);
            continue;       /* a directory or a dangling link named *.lua: not a policy */
        }
        files[got] = (struct policy_file){ path, chunk, NULL, 0 };
        rc = read_file(path, &files[got].text, &files[got].len, d);
        got++;
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    if (rc) {
        if (files)
            files_free(files, got);
        return rc;
    }
    *out = files;
    *nout = got;
    return 0;
}

/* Builds a sandbox from the built-ins (embedded files lua/policy/NAME.lua, in name
 * order) followed by `files`. */
static int engine_build(const struct policy_engine *e, const struct policy_file *files, size_t nfiles,
                        struct sandbox **out, struct cs_diag *d)
{
    size_t nb = 0;
    for (const struct embedded_file *f = embedded_files; f->path; f++)
        if (strncmp(f->path, BUILTIN_PREFIX, strlen(BUILTIN_PREFIX)) == 0 && ends_with(f->path, ".lua"))
            nb++;
    const struct embedded_file **builtins = calloc(nb ? nb : 1, sizeof *builtins);
    struct sandbox_source *src = calloc(nb + nfiles ? nb + nfiles : 1, sizeof *src);
    char (*chunknames)[80] = calloc(nb ? nb : 1, sizeof *chunknames);
    int rc;
    if (!builtins || !src || !chunknames) {
        rc = cs_fail(d, CS_ENOMEM, "", "policy engine: out of memory");
        goto done;
    }
    nb = 0;
    for (const struct embedded_file *f = embedded_files; f->path; f++)
        if (strncmp(f->path, BUILTIN_PREFIX, strlen(BUILTIN_PREFIX)) == 0 && ends_with(f->path, ".lua"))
            builtins[nb++] = f;
    qsort(builtins, nb, sizeof *builtins, cmp_embedded);
    for (size_t i = 0; i < nb; i++) {
        const char *base = builtins[i]->path + strlen(BUILTIN_PREFIX);
        snprintf(chunknames[i], sizeof chunknames[i], "=%s", base);
        src[i] = (struct sandbox_source){ base, chunknames[i], builtins[i]->data, builtins[i]->len };
    }
    for (size_t i = 0; i < nfiles; i++)
        src[nb + i] = (struct sandbox_source){ files[i].name, files[i].chunkname, files[i].text, files[i].len };
    rc = sandbox_new(&e->lim, src, nb + nfiles, out, d);
done:
    free(builtins);
    free(src);
    free(chunknames);
    return rc;
}

int policy_engine_new(const struct policy_options *o, struct policy_engine **out, struct cs_diag *d)
{
    *out = NULL;
    struct policy_engine *e = calloc(1, sizeof *e);
    if (!e)
        return cs_fail(d, CS_ENOMEM, "", "policy engine: out of memory");
    if (o) {
        e->lim.instructions_max = o->instructions_max;
        e->lim.memory_bytes_max = o->memory_bytes_max;
        if (o->override_dir && !(e->override_dir = strdup(o->override_dir))) {
            free(e);
            return cs_fail(d, CS_ENOMEM, "", "policy engine: out of memory");
        }
    }
    int rc = files_read(e->override_dir, &e->files, &e->nfiles, d);
    if (rc == 0)
        rc = engine_build(e, e->files, e->nfiles, &e->sb, d);
    if (rc) {
        policy_engine_free(e);
        return rc;
    }
    *out = e;
    return 0;
}

void policy_engine_free(struct policy_engine *e)
{
    if (!e)
        return;
    sandbox_free(e->sb);
    files_free(e->files, e->nfiles);
    free(e->override_dir);
    free(e);
}

int policy_engine_reload(struct policy_engine *e, struct cs_diag *d)
{
    struct policy_file *files;
    size_t nfiles;
    struct sandbox *sb;
    int rc = files_read(e->override_dir, &files, &nfiles, d);
    if (rc)
        return rc;
    rc = engine_build(e, files, nfiles, &sb, d);
    if (rc) {
        files_free(files, nfiles);
        return rc;
    }
    sandbox_free(e->sb);
    files_free(e->files, e->nfiles);
    e->sb = sb;
    e->files = files;
    e->nfiles = nfiles;
    e->generation++;
    return 0;
}

struct base_call {
    struct policy_engine *e;
    const char *name;
};

static int call_own(struct policy_engine *e, const char *name, json_t *input, json_t **output,
                    struct cs_diag *d);

static int call_base(void *ctx, json_t *input, json_t **output, struct cs_diag *d)
{
    struct base_call *b = ctx;
    return call_own(b->e, b->name, input, output, d);
}

void policy_engine_set_resolver(struct policy_engine *e, policy_resolver_fn fn, void *ctx)
{
    e->resolver = fn;
    e->resolver_ctx = ctx;
}

int policy_call(struct policy_engine *e, const char *name, json_t *input, json_t **output,
                struct cs_diag *d)
{
    *output = NULL;
    if (e->resolver && !e->resolving) {
        struct base_call b = {e, name};
        e->resolving = 1;
        int rc = e->resolver(e->resolver_ctx, name, input, call_base, &b, output, d);
        e->resolving = 0;
        if (rc != CS_ENOTFOUND)
            return rc;
        json_decref(*output);
        *output = NULL;
    }
    return call_own(e, name, input, output, d);
}

/* The engine's own hook: built-ins and operator overrides. */
static int call_own(struct policy_engine *e, const char *name, json_t *input, json_t **output,
                    struct cs_diag *d)
{
    *output = NULL;
    if (!e->sb) {
        int rc = engine_build(e, e->files, e->nfiles, &e->sb, d);
        if (rc)
            return rc;
    }
    int rc = sandbox_call(e->sb, name, input, output, d);
    if (sandbox_tainted(e->sb)) {
        /* The failed run may have left the state half-updated or full: start
         * again from the same sources. If that fails, retry on the next call. */
        struct cs_diag ignored;
        sandbox_free(e->sb);
        e->sb = NULL;
        if (engine_build(e, e->files, e->nfiles, &e->sb, &ignored) != 0)
            e->sb = NULL;
    }
    return rc;
}

unsigned policy_engine_generation(const struct policy_engine *e) { return e->generation; }
