/* `caisse plugin test <dir>` (plugin_test.h): a plugin's own Lua tests
 * against an in-memory host. The plugin runs in its usual sandbox, exactly as
 * the server runs it (same runtime, same checks, same budgets); the tests run
 * in a second sandbox and reach the plugin only through the host functions
 * below, with JSON values crossing between the two states. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lua.h>
#include <lauxlib.h>
#include "core/embedded.h"
#include "lua/json_lua.h"
#include "lua/plugin.h"
#include "lua/plugin_test.h"
#include "lua/policy.h"
#include "lua/sandbox.h"

#define TEST_FILES_MAX   64
#define TESTS_MAX        1000
#define TEST_FILE_BYTES  (1u << 20)
#define TEST_MERCHANT    "mer_test"

struct test_host {
    struct plugins *plugins;
    struct policy_engine *engine;
    const char *name;             /* the plugin's */
    json_t *kv;                   /* "<merchant>\x1f<t|l>\x1f<key>" -> value */
    json_t *orders;               /* [{merchant, livemode, doc}] in insertion order */
    json_int_t seq;               /* the next event's default seq */
    json_t *scratch;              /* a value being pushed into the test state */
};

static const char caisse_key = 0;   /* registry of the test state: its `caisse` table */

/* ---- the in-memory host the plugin sees ------------------------------------------------ */

static void kv_key(char *out, size_t cap, const char *merchant, int livemode, const char *key)
{
    snprintf(out, cap, "%s\x1f%c\x1f%s", merchant, livemode ? 'l' : 't', key);
}

static json_t *host_find(void *ctx, const char *merchant_id, int livemode, const char *reference)
{
    struct test_host *h = ctx;
    json_t *out = json_array();
    for (size_t i = json_array_size(h->orders); i-- > 0 && json_array_size(out) < 10;) {
        json_t *o = json_array_get(h->orders, i);
        json_t *doc = json_object_get(o, "doc");
        const char *ref = json_string_value(json_object_get(doc, "reference"));
        if (ref && strcmp(ref, reference) == 0 &&
            strcmp(json_string_value(json_object_get(o, "merchant")), merchant_id) == 0 &&
            json_is_true(json_object_get(o, "livemode")) == livemode)
            json_array_append(out, doc);
    }
    return out;
}

static json_t *host_kv_get(void *ctx, const char *plugin, const char *merchant_id, int livemode, const char *key)
{
    (void)plugin;
    struct test_host *h = ctx;
    char k[512];
    kv_key(k, sizeof k, merchant_id, livemode, key);
    json_t *v = json_object_get(h->kv, k);
    return v ? json_deep_copy(v) : NULL;
}

static void host_kv_each(void *ctx, const char *plugin, const char *merchant_id, int livemode,
                         int (*fn)(void *fctx, const char *key), void *fctx)
{
    (void)plugin;
    struct test_host *h = ctx;
    char prefix[512];
    kv_key(prefix, sizeof prefix, merchant_id, livemode, "");
    size_t plen = strlen(prefix);
    const char *k;
    json_t *v;
    json_object_foreach(h->kv, k, v)
        if (strncmp(k, prefix, plen) == 0 && fn(fctx, k + plen))
            return;
}

/* Commits a call's writes at once (the server commits them when the call
 * has returned, before answering). */
static void commit_writes(struct test_host *h, const char *merchant, int livemode, json_t *writes)
{
    size_t i;
    json_t *w;
    json_array_foreach(writes, i, w) {
        char k[512];
        kv_key(k, sizeof k, merchant, livemode, json_string_value(json_object_get(w, "key")));
        json_t *v = json_object_get(w, "value");
        if (v)
            json_object_set_new(h->kv, k, json_deep_copy(v));
        else
            json_object_del(h->kv, k);
    }
    if (writes)
        plugins_kv_settled(h->plugins, h->name, merchant, livemode, writes);
}

/* ---- the functions the tests call (caisse.testhost, wrapped by testing.lua) ------------- */

static struct test_host *host_of(lua_State *L)
{
    return lua_touserdata(L, lua_upvalueindex(1));
}

/* Pushes v (stolen) into the test state. */
static void push_owned(lua_State *L, struct test_host *h, json_t *v)
{
    json_decref(h->scratch);
    h->scratch = v;               /* freed after the test if the push raises */
    jl_push(L, v);
    h->scratch = NULL;
    json_decref(v);
}

/* The value at idx as JSON (a new reference), or raises. */
static json_t *arg_json(lua_State *L, int idx, const char *what)
{
    char err[160];
    json_t *v = jl_to_json(L, idx, err, sizeof err);
    if (!v)
        luaL_error(L, "%s: %s", what, err);
    return v;
}

static const char *opt_merchant(json_t *opts)
{
    const char *m = json_string_value(json_object_get(opts, "merchant"));
    return m ? m : TEST_MERCHANT;
}

/* t.request(method, path, opts) -> { status, body, commands } */
static int lrequest(lua_State *L)
{
    struct test_host *h = host_of(L);
    const char *method = luaL_checkstring(L, 1);
    const char *path = luaL_checkstring(L, 2);
    luaL_checktype(L, 3, LUA_TTABLE);
    json_t *opts = arg_json(L, 3, "t.request: opts");
    const char *merchant = opt_merchant(opts);
    int livemode = json_is_true(json_object_get(opts, "livemode"));
    json_t *headers = json_object(), *hv;
    const char *hk;
    json_object_foreach(json_object_get(opts, "headers"), hk, hv) {
        char lower[128];
        size_t n = strlen(hk) < sizeof lower - 1 ? strlen(hk) : sizeof lower - 1;
        for (size_t i = 0; i < n; i++)
            lower[i] = (char)(hk[i] >= 'A' && hk[i] <= 'Z' ? hk[i] + 32 : hk[i]);
        lower[n] = '\0';
        json_object_set(headers, lower, hv);
    }
    json_t *jbody = json_object_get(opts, "json");
    json_t *raw = json_object_get(opts, "body");
    char *text = jbody ? json_dumps(jbody, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_t *query = json_object_get(opts, "query");
    query = json_is_object(query) ? json_incref(query) : json_object();
    json_t *req = json_pack("{s:s,s:s,s:o,s:o,s:s,s:{s:s,s:b}}", "method", method, "path", path, "query",
                            query, "headers", headers, "body",
                            json_is_string(raw) ? json_string_value(raw) : text ? text : "", "merchant", "id",
                            merchant, "livemode", livemode);
    free(text);
    if (req && jbody)
        json_object_set(req, "json", jbody);
    if (!req) {
        json_decref(opts);
        return luaL_error(L, "t.request: out of memory");
    }
    json_t *resp = NULL, *writes = NULL;
    struct cs_diag d = {0};
    int err = plugins_handle(h->plugins, h->name, method, path, merchant, livemode, req, &resp, &writes, &d);
    json_decref(req);
    if (err) {
        char buf[1024];
        d.param[0] = '\0';        /* a 405's allowed methods travel in param: not a field */
        size_t n = cs_diag_render(&d, buf, sizeof buf);
        json_t *body = json_loadb(buf, n, 0, NULL);
        resp = json_pack("{s:i,s:o}", "status", cs_err_status(err), "body", body ? body : json_object());
    } else {
        commit_writes(h, merchant, livemode, writes);
        json_decref(writes);
    }
    json_decref(opts);
    if (!resp)
        return luaL_error(L, "t.request: out of memory");
    push_owned(L, h, resp);
    return 1;
}

/* t.event(event) -> { commands = [...] }; raises if a handler fails. */
static int levent(lua_State *L)
{
    struct test_host *h = host_of(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    json_t *ev = arg_json(L, 1, "t.event");
    if (!json_is_object(ev) || !json_is_string(json_object_get(ev, "type"))) {
        json_decref(ev);
        return luaL_error(L, "t.event: an event is a table with at least a type");
    }
    if (!json_object_get(ev, "seq"))
        json_object_set_new(ev, "seq", json_integer(h->seq));
    h->seq = json_integer_value(json_object_get(ev, "seq")) + 1;
    char id[64];
    snprintf(id, sizeof id, "evt_test_%lld", (long long)json_integer_value(json_object_get(ev, "seq")));
    static const char *const defaults[][2] = {
        {"object", "event"}, {"merchant", TEST_MERCHANT}, {"aggregate_id", ""}, {"actor", "test"},
        {"created", "2026-01-01T00:00:00.000000Z"},
    };
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
        if (!json_object_get(ev, defaults[i][0]))
            json_object_set_new(ev, defaults[i][0], json_string(defaults[i][1]));
    if (!json_object_get(ev, "id"))
        json_object_set_new(ev, "id", json_string(id));
    if (!json_object_get(ev, "livemode"))
        json_object_set_new(ev, "livemode", json_false());
    if (!json_object_get(ev, "aggregate_version"))
        json_object_set_new(ev, "aggregate_version", json_integer(1));
    if (!json_object_get(ev, "data"))
        json_object_set_new(ev, "data", json_object());
    json_t *commands = NULL, *writes = NULL;
    struct cs_diag d = {0};
    int err = plugins_event(h->plugins, h->name, ev, &commands, &writes, &d);
    if (err) {
        json_decref(ev);
        return luaL_error(L, "%s", d.message);
    }
    commit_writes(h, json_string_value(json_object_get(ev, "merchant")), json_is_true(json_object_get(ev, "livemode")),
                  writes);
    json_decref(writes);
    json_decref(ev);
    push_owned(L, h, json_pack("{s:o}", "commands", commands));
    return 1;
}

/* t.policy(name, input) -> output; raises on failure. */
static int lpolicy(lua_State *L)
{
    struct test_host *h = host_of(L);
    const char *name = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    json_t *in = arg_json(L, 2, "t.policy: input");
    json_t *out = NULL;
    struct cs_diag d = {0};
    int err = policy_call(h->engine, name, in, &out, &d);
    json_decref(in);
    if (err)
        return luaL_error(L, "%s", d.message);
    push_owned(L, h, out);
    return 1;
}

static int check_livemode(lua_State *L, int idx)
{
    if (lua_isnoneornil(L, idx))
        return 0;
    luaL_checktype(L, idx, LUA_TBOOLEAN);
    return lua_toboolean(L, idx);
}

/* t.kv.get(merchant, key[, livemode]) */
static int lkv_get(lua_State *L)
{
    struct test_host *h = host_of(L);
    const char *m = luaL_checkstring(L, 1), *key = luaL_checkstring(L, 2);
    json_t *v = host_kv_get(h, h->name, m, check_livemode(L, 3), key);
    if (!v) {
        lua_pushnil(L);
        return 1;
    }
    push_owned(L, h, v);
    return 1;
}

/* t.kv.put(merchant, key, value[, livemode]): state before a test step */
static int lkv_put(lua_State *L)
{
    struct test_host *h = host_of(L);
    const char *m = luaL_checkstring(L, 1), *key = luaL_checkstring(L, 2);
    luaL_checkany(L, 3);
    int livemode = check_livemode(L, 4);
    json_t *v = arg_json(L, 3, "t.kv.put: value");
    char k[512];
    kv_key(k, sizeof k, m, livemode, key);
    json_object_set_new(h->kv, k, v);
    return 0;
}

/* t.kv.delete(merchant, key[, livemode]) */
static int lkv_delete(lua_State *L)
{
    struct test_host *h = host_of(L);
    const char *m = luaL_checkstring(L, 1), *key = luaL_checkstring(L, 2);
    char k[512];
    kv_key(k, sizeof k, m, check_livemode(L, 3), key);
    json_object_del(h->kv, k);
    return 0;
}

/* t.orders.add(order[, merchant[, livemode]]) */
static int ladd_order(lua_State *L)
{
    struct test_host *h = host_of(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    const char *m = luaL_optstring(L, 2, TEST_MERCHANT);
    int livemode = check_livemode(L, 3);
    json_t *doc = arg_json(L, 1, "t.orders.add");
    json_array_append_new(h->orders, json_pack("{s:s,s:b,s:o}", "merchant", m, "livemode", livemode, "doc", doc));
    return 0;
}

static void test_extend(lua_State *L, void *ud)
{
    static const luaL_Reg fns[] = {
        {"request", lrequest}, {"event", levent}, {"policy", lpolicy}, {"kv_get", lkv_get},
        {"kv_put", lkv_put}, {"kv_delete", lkv_delete}, {"add_order", ladd_order}, {NULL, NULL},
    };
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &caisse_key);
    luaL_newlibtable(L, fns);
    lua_pushlightuserdata(L, ud);
    luaL_setfuncs(L, fns, 1);
    lua_setfield(L, -2, "testhost");
}

/* ---- running ------------------------------------------------------------------------------- */

enum { RUN_COUNT, RUN_NAME, RUN_ONE };

struct run {
    int op;
    lua_Integer index;
    lua_Integer count;
    char name[200];
};

static int lrun(lua_State *L)
{
    struct run *r = lua_touserdata(L, 1);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &caisse_key);
    lua_getfield(L, -1, "testrun");
    lua_getfield(L, -1, r->op == RUN_COUNT ? "count" : r->op == RUN_NAME ? "name" : "run");
    if (r->op != RUN_COUNT)
        lua_pushinteger(L, r->index);
    lua_call(L, r->op == RUN_COUNT ? 0 : 1, r->op == RUN_ONE ? 0 : 1);
    if (r->op == RUN_COUNT)
        r->count = lua_tointeger(L, -1);
    else if (r->op == RUN_NAME)
        snprintf(r->name, sizeof r->name, "%s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "?");
    return 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

struct test_files {
    char *names[TEST_FILES_MAX];
    char *chunks[TEST_FILES_MAX];
    char *texts[TEST_FILES_MAX];
    size_t lens[TEST_FILES_MAX];
    size_t n;
};

static void files_free(struct test_files *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->names[i]);
        free(f->chunks[i]);
        free(f->texts[i]);
    }
}

/* The files dir/tests/NAME.lua in name order. Returns 0 or -1 (err says why). */
static int files_read(const char *dir, const char *plugin, struct test_files *f, char *err, size_t cap)
{
    char tdir[PATH_MAX];
    if (snprintf(tdir, sizeof tdir, "%s/tests", dir) >= (int)sizeof tdir) {
        snprintf(err, cap, "the plugin's path is too long");
        return -1;
    }
    DIR *dh = opendir(tdir);
    if (!dh)
        return errno == ENOENT ? 0 : (snprintf(err, cap, "tests: %s", strerror(errno)), -1);
    struct dirent *de;
    while ((de = readdir(dh))) {
        if (de->d_name[0] == '.' || !ends_with(de->d_name, ".lua"))
            continue;
        if (f->n == TEST_FILES_MAX) {
            snprintf(err, cap, "tests: more than %d test files", TEST_FILES_MAX);
            closedir(dh);
            return -1;
        }
        f->names[f->n++] = strdup(de->d_name);
    }
    closedir(dh);
    qsort(f->names, f->n, sizeof f->names[0], cmp_str);
    for (size_t i = 0; i < f->n; i++) {
        char path[PATH_MAX];
        if (!f->names[i] || snprintf(path, sizeof path, "%s/%s", tdir, f->names[i]) >= (int)sizeof path) {
            snprintf(err, cap, "a test file's path is too long (or out of memory)");
            return -1;
        }
        FILE *fp = fopen(path, "rb");
        char *buf = malloc(TEST_FILE_BYTES + 1);
        size_t n = fp && buf ? fread(buf, 1, TEST_FILE_BYTES + 1, fp) : 0;
        if (!fp || !buf || ferror(fp) || n > TEST_FILE_BYTES) {
            snprintf(err, cap, "tests/%.200s: %s", f->names[i], !fp ? strerror(errno) : "unreadable or larger than 1 MiB");
            if (fp)
                fclose(fp);
            free(buf);
            return -1;
        }
        fclose(fp);
        buf[n] = '\0';
        f->texts[i] = buf;
        f->lens[i] = n;
        size_t clen = strlen(plugin) + strlen(f->names[i]) + 16;
        f->chunks[i] = malloc(clen);
        if (!f->chunks[i]) {
            snprintf(err, cap, "out of memory");
            return -1;
        }
        snprintf(f->chunks[i], clen, "=%s/tests/%s", plugin, f->names[i]);
    }
    return 0;
}

/* The test state: testing.lua, then the test files. */
static int build_tests(struct test_host *h, struct test_files *f, struct sandbox **sb, struct cs_diag *d)
{
    const struct embedded_file *lib = embedded_find("lua/plugin/testing.lua");
    if (!lib)
        return cs_fail(d, CS_EINTERNAL, "", "lua/plugin/testing.lua is not compiled in");
    struct sandbox_source src[TEST_FILES_MAX + 1];
    src[0] = (struct sandbox_source){"testing.lua", "=testing.lua", lib->data, lib->len};
    for (size_t i = 0; i < f->n; i++)
        src[i + 1] = (struct sandbox_source){f->chunks[i] + 1, f->chunks[i], f->texts[i], f->lens[i]};
    struct sandbox_ext ext = {test_extend, h, "test"};
    return sandbox_new_ext(NULL, src, f->n + 1, &ext, sb, d);
}

int plugin_test_run(const char *dir, FILE *out)
{
    char abs[PATH_MAX];
    if (!realpath(dir, abs)) {
        fprintf(out, "Bail out! %s: %s\n", dir, strerror(errno));
        return 2;
    }
    char *slash = strrchr(abs, '/');
    char parent[PATH_MAX];
    const char *name = slash + 1;
    snprintf(parent, sizeof parent, "%.*s", slash == abs ? 1 : (int)(slash - abs), abs);

    struct test_host h = {.name = name, .kv = json_object(), .orders = json_array(), .seq = 1};
    struct test_files files = {.n = 0};
    struct sandbox *tsb = NULL;
    struct cs_diag d = {0};
    char err[600] = "";
    int status = 2;
    struct plugin_options po = {.dir = parent, .only = name, .find = host_find, .find_ctx = &h,
                                .kv_get = host_kv_get, .kv_each = host_kv_each, .kv_ctx = &h};
    if (!h.kv || !h.orders) {
        fprintf(out, "Bail out! out of memory\n");
        goto done;
    }
    if (plugins_new(&po, &h.plugins, &d) != 0 || policy_engine_new(NULL, &h.engine, &d) != 0) {
        fprintf(out, "Bail out! %s\n", d.message);
        goto done;
    }
    policy_engine_set_resolver(h.engine, plugins_policy_call, h.plugins);
    json_t *list = plugins_list_json(h.plugins);
    json_t *entry = json_array_get(list, 0);
    if (!entry || strcmp(json_string_value(json_object_get(entry, "status")), "loaded") != 0) {
        fprintf(out, "Bail out! plugin %s does not load: %s\n", name,
                entry ? json_string_value(json_object_get(entry, "error")) : "no manifest.json here");
        json_decref(list);
        goto done;
    }
    fprintf(out, "TAP version 13\n# plugin %s %s (%s)\n", name, json_string_value(json_object_get(entry, "version")),
            dir);
    json_decref(list);
    if (files_read(abs, name, &files, err, sizeof err) != 0) {
        fprintf(out, "Bail out! %s\n", err);
        goto done;
    }
    if (build_tests(&h, &files, &tsb, &d) != 0) {
        fprintf(out, "Bail out! %s\n", d.message);
        goto done;
    }
    struct run r = {.op = RUN_COUNT};
    if (sandbox_protected(tsb, lrun, &r, "test runner", &d) != 0) {
        fprintf(out, "Bail out! %s\n", d.message);
        goto done;
    }
    if (r.count == 0) {
        fprintf(out, "1..0 # no tests: write %s/tests/NAME.lua files with caisse.test(name, function(t) ... end)\n", dir);
        status = 1;
        goto done;
    }
    lua_Integer count = r.count > TESTS_MAX ? TESTS_MAX : r.count;
    unsigned failed = 0;
    fprintf(out, "1..%lld\n", (long long)count);
    for (lua_Integer i = 1; i <= count; i++) {
        struct run nr = {.op = RUN_NAME, .index = i};
        if (!tsb && build_tests(&h, &files, &tsb, &d) != 0) {
            fprintf(out, "Bail out! %s\n", d.message);
            goto done;
        }
        if (sandbox_protected(tsb, lrun, &nr, "test runner", &d) != 0)
            snprintf(nr.name, sizeof nr.name, "#%lld", (long long)i);
        char what[260];
        snprintf(what, sizeof what, "test \"%s\"", nr.name);
        /* each test starts from an empty host: no keys, no orders */
        json_object_clear(h.kv);
        json_array_clear(h.orders);
        h.seq = 1;
        struct run one = {.op = RUN_ONE, .index = i};
        struct cs_diag td = {0};
        int rc = sandbox_protected(tsb, lrun, &one, what, &td);
        json_decref(h.scratch);
        h.scratch = NULL;
        if (rc == 0) {
            fprintf(out, "ok %lld - %s\n", (long long)i, nr.name);
        } else {
            failed++;
            fprintf(out, "not ok %lld - %s\n  ---\n  message: %s\n  ...\n", (long long)i, nr.name, td.message);
        }
        if (sandbox_tainted(tsb)) {   /* a test ran out of budget: start the next from fresh files */
            sandbox_free(tsb);
            tsb = NULL;
        }
    }
    fprintf(out, "# %lld passed, %u failed\n", (long long)(count - failed), failed);
    status = failed ? 1 : 0;
done:
    sandbox_free(tsb);
    files_free(&files);
    policy_engine_free(h.engine);
    plugins_free(h.plugins);
    json_decref(h.kv);
    json_decref(h.orders);
    json_decref(h.scratch);
    return status;
}
