/* Lua plugins (plugin.h): manifests, one sandbox per plugin, caisse.route,
 * caisse.orders.find, handler calls with a validated response, reload that
 * swaps each plugin only when its new version loads. caisse.kv, on_event and
 * policy overrides live in plugin_kv.c, plugin_events.c, plugin_policy.c. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <lua.h>
#include <lauxlib.h>
#include "core/limits.h"
#include "lua/json_lua.h"
#include "lua/plugin.h"
#include "lua/plugin_internal.h"
#include "core/embedded.h"
#include "lua/sandbox.h"

static const char routes_key = 0;   /* registry[&routes_key] = { ["POST /webhook"] = fn } */

/* ---- manifest ------------------------------------------------------------------ */

static int name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > PLUGIN_NAME_BYTES_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-'))
            return 0;
    return 1;
}

/* N.N[.N][-suffix[.x]] */
static int version_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > PLUGIN_VERSION_BYTES_MAX)
        return 0;
    int parts = 0;
    const char *p = s;
    for (;;) {
        if (!isdigit((unsigned char)*p))
            return 0;
        while (isdigit((unsigned char)*p))
            p++;
        parts++;
        if (*p != '.')
            break;
        p++;
    }
    if (parts < 2 || parts > 3)
        return 0;
    if (*p == '-' || *p == '+') {
        p++;
        if (!*p)
            return 0;
        for (; *p; p++)
            if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' && *p != '+')
                return 0;
    }
    return *p == '\0';
}

/* A policy (hook) name: as caisse.policy.define takes it. */
static int hook_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > CS_LUA_HOOK_NAME_BYTES_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '.'))
            return 0;
    return 1;
}

static int path_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= PLUGIN_PATH_BYTES_MAX || s[0] != '/')
        return 0;
    if (n == 1)
        return 1;                    /* "/": the plugin's root */
    const char *p = s + 1;
    for (;;) {
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == 0)
            return 0;               /* "//" or a trailing "/" */
        if (p[0] == '{') {
            if (len < 3 || p[len - 1] != '}')
                return 0;
            for (size_t i = 1; i + 1 < len; i++)
                if (!(isalnum((unsigned char)p[i]) || p[i] == '_'))
                    return 0;
        } else {
            for (size_t i = 0; i < len; i++)
                if (!(isalnum((unsigned char)p[i]) || strchr("._~-", p[i])))
                    return 0;
            if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
                return 0;
        }
        if (!e)
            return 1;
        p = e + 1;
    }
}

static int fail_msg(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail_msg(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
    return -1;
}

int plugin_manifest_parse(const char *folder, const char *text, size_t len, struct plugin_manifest *m,
                          char *err, size_t errcap)
{
    static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", NULL};
    memset(m, 0, sizeof *m);
    json_error_t je;
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        snprintf(err, errcap, "manifest.json is not valid JSON (line %d: %s)", je.line, je.text);
        return -1;
    }
    int rc = -1;
    const char *key;
    json_t *v;
    if (!json_is_object(j)) {
        fail_msg(err, errcap, "manifest.json must be a JSON object");
        goto done;
    }
    json_object_foreach(j, key, v) {
        if (strcmp(key, "name") && strcmp(key, "version") && strcmp(key, "routes") && strcmp(key, "description") &&
            strcmp(key, "policies")) {
            fail_msg(err, errcap, "manifest.json: unknown field %s", key);
            goto done;
        }
    }
    const char *name = json_string_value(json_object_get(j, "name"));
    if (!name) {
        fail_msg(err, errcap, "manifest.json: name is required (a string)");
        goto done;
    }
    if (!name_ok(name)) {
        fail_msg(err, errcap, "manifest.json: name %s must be 1 to 64 characters of a-z, 0-9, '_' and '-'", name);
        goto done;
    }
    if (strcmp(name, folder) != 0) {
        fail_msg(err, errcap, "manifest.json: name %s must equal the folder's name %s", name, folder);
        goto done;
    }
    const char *version = json_string_value(json_object_get(j, "version"));
    if (!version || !version_ok(version)) {
        fail_msg(err, errcap, "manifest.json: version must be a string like \"1.2.0\"");
        goto done;
    }
    json_t *desc = json_object_get(j, "description");
    if (desc && (!json_is_string(desc) || strlen(json_string_value(desc)) > PLUGIN_DESC_BYTES_MAX)) {
        fail_msg(err, errcap, "manifest.json: description must be a string of at most 500 bytes");
        goto done;
    }
    json_t *routes = json_object_get(j, "routes");
    if (routes && !json_is_array(routes)) {
        fail_msg(err, errcap, "manifest.json: routes must be an array of {method, path}");
        goto done;
    }
    if (json_array_size(routes) > PLUGIN_ROUTES_MAX) {
        fail_msg(err, errcap, "manifest.json: at most 32 routes");
        goto done;
    }
    json_t *policies = json_object_get(j, "policies");
    if (policies && (!json_is_array(policies) || json_array_size(policies) > PLUGIN_POLICIES_MAX)) {
        fail_msg(err, errcap, "manifest.json: policies must be an array of at most %d policy names", PLUGIN_POLICIES_MAX);
        goto done;
    }
    size_t i;
    json_array_foreach(policies, i, v) {
        const char *hook = json_string_value(v);
        if (!hook || !hook_name_ok(hook)) {
            fail_msg(err, errcap, "manifest.json: policies[%zu] must be a policy name like \"risk.decide\" "
                     "(1 to 64 characters of a-z, 0-9, '_' and '.')", i);
            goto done;
        }
        for (unsigned k = 0; k < m->npolicies; k++)
            if (strcmp(m->policies[k], hook) == 0) {
                fail_msg(err, errcap, "manifest.json: policies: %s is listed twice", hook);
                goto done;
            }
        snprintf(m->policies[m->npolicies++], sizeof m->policies[0], "%s", hook);
    }
    snprintf(m->name, sizeof m->name, "%s", name);
    snprintf(m->version, sizeof m->version, "%s", version);
    snprintf(m->description, sizeof m->description, "%s", desc ? json_string_value(desc) : "");
    json_array_foreach(routes, i, v) {
        char where[32];
        snprintf(where, sizeof where, "routes[%zu]", i);
        const char *method = json_string_value(json_object_get(v, "method"));
        const char *path = json_string_value(json_object_get(v, "path"));
        if (!json_is_object(v) || json_object_size(v) != 2 || !method || !path) {
            fail_msg(err, errcap, "manifest.json: %s must be {\"method\": ..., \"path\": ...}", where);
            goto done;
        }
        int known = 0;
        for (const char *const *mm = methods; *mm; mm++)
            known |= strcmp(*mm, method) == 0;
        if (!known) {
            fail_msg(err, errcap, "manifest.json: %s.method must be GET, POST, PUT, PATCH or DELETE (got %s)", where, method);
            goto done;
        }
        if (!path_ok(path)) {
            fail_msg(err, errcap, "manifest.json: %s.path %s must be relative to the plugin's mount: "
                     "\"/segment/{param}\"", where, path);
            goto done;
        }
        for (unsigned k = 0; k < m->nroutes; k++)
            if (strcmp(m->routes[k].method, method) == 0 && strcmp(m->routes[k].path, path) == 0) {
                char what[PLUGIN_PATH_BYTES_MAX + 16];
                snprintf(what, sizeof what, "%s %s", method, path);
                fail_msg(err, errcap, "manifest.json: route collision: %s is declared twice", what);
                goto done;
            }
        snprintf(m->routes[m->nroutes].method, sizeof m->routes[0].method, "%s", method);
        snprintf(m->routes[m->nroutes].path, sizeof m->routes[0].path, "%s", path);
        m->nroutes++;
    }
    rc = 0;
done:
    json_decref(j);
    return rc;
}

int plugin_path_match(const char *pattern, const char *path, json_t *params)
{
    const char *p = pattern, *s = path;
    while (*p && *s) {
        if (*p == '{') {
            const char *pe = strchr(p, '}');
            const char *se = strchr(s, '/');
            size_t len = se ? (size_t)(se - s) : strlen(s);
            if (!pe || len == 0)
                return 0;
            if (params) {
                char key[PLUGIN_PATH_BYTES_MAX];
                snprintf(key, sizeof key, "%.*s", (int)(pe - p - 1), p + 1);
                json_object_set_new(params, key, json_stringn(s, len));
            }
            p = pe + 1;
            s += len;
            continue;
        }
        if (*p != *s)
            return 0;
        p++;
        s++;
    }
    return *p == '\0' && *s == '\0';
}

/* ---- the Lua side: caisse.route, caisse.orders.find ----------------------------- */

static struct plugin *plugin_of(lua_State *L)
{
    return lua_touserdata(L, lua_upvalueindex(1));
}

/* caisse.route(method, path, fn): only while plugin.lua's top level runs, only
 * routes the manifest declares, each once. */
static int lplugin_route(lua_State *L)
{
    struct plugin *p = plugin_of(L);
    const char *method = luaL_checkstring(L, 1);
    const char *path = luaL_checkstring(L, 2);
    luaL_checktype(L, 3, LUA_TFUNCTION);
    if (!p->loading)
        return luaL_error(L, "caisse.route: routes are registered when plugin.lua loads, not later");
    int declared = 0;
    for (unsigned i = 0; i < p->man.nroutes && !declared; i++)
        declared = strcmp(p->man.routes[i].method, method) == 0 && strcmp(p->man.routes[i].path, path) == 0;
    if (!declared)
        return luaL_error(L, "caisse.route: %s %s is not declared in manifest.json", method, path);
    lua_settop(L, 3);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &routes_key);
    lua_pushfstring(L, "%s %s", method, path);
    lua_pushvalue(L, -1);
    if (lua_rawget(L, 4) != LUA_TNIL)
        return luaL_error(L, "caisse.route: route collision: %s %s is registered twice", method, path);
    lua_pop(L, 1);
    lua_pushvalue(L, 3);
    lua_rawset(L, 4);
    p->registered++;
    return 0;
}

/* caisse.orders.find(reference) -> { order, ... } | nil */
static int lplugin_orders_find(lua_State *L)
{
    struct plugin *p = plugin_of(L);
    size_t len;
    const char *ref = luaL_checklstring(L, 1, &len);
    luaL_argcheck(L, len > 0 && len <= 200, 1, "a reference has 1 to 200 bytes");
    if (!p->cur_merchant)
        return luaL_error(L, "caisse.orders.find: only inside a handler (a route, an event or a policy override)");
    if (++p->finds > PLUGIN_FINDS_MAX)
        return luaL_error(L, "caisse.orders.find: at most %d calls per request", PLUGIN_FINDS_MAX);
    if (!p->host->find) {
        lua_pushnil(L);
        return 1;
    }
    json_t *found = p->host->find(p->host->find_ctx, p->cur_merchant, p->cur_livemode, ref);
    if (!found || json_array_size(found) == 0) {
        json_decref(found);
        lua_pushnil(L);
        return 1;
    }
    json_decref(p->scratch);
    p->scratch = found;           /* freed by the caller if the push raises */
    jl_push(L, found);
    p->scratch = NULL;
    json_decref(found);
    return 1;
}

static void plugin_extend(lua_State *L, void *ud)
{
    struct plugin *p = ud;
    lua_newtable(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &routes_key);
    lua_pushlightuserdata(L, p);
    lua_pushcclosure(L, lplugin_route, 1);
    lua_setfield(L, -2, "route");
    lua_newtable(L);
    lua_pushlightuserdata(L, p);
    lua_pushcclosure(L, lplugin_orders_find, 1);
    lua_setfield(L, -2, "find");
    lua_setfield(L, -2, "orders");
    plugin_kv_extend(L, p);
    plugin_events_extend(L, p);
    plugin_policy_extend(L, p);
}

/* ---- loading ---------------------------------------------------------------------- */

static int read_whole(const char *path, char **text, size_t *len, char *err, size_t errcap)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errcap, "%s: %s", strrchr(path, '/') ? strrchr(path, '/') + 1 : path, strerror(errno));
        return -1;
    }
    char *buf = malloc(PLUGIN_FILE_BYTES_MAX + 1);
    size_t n = buf ? fread(buf, 1, PLUGIN_FILE_BYTES_MAX + 1, f) : 0;
    int bad = !buf || ferror(f) || n > PLUGIN_FILE_BYTES_MAX;
    fclose(f);
    if (bad) {
        free(buf);
        snprintf(err, errcap, "%s: unreadable or larger than 1 MiB", strrchr(path, '/') ? strrchr(path, '/') + 1 : path);
        return -1;
    }
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return 0;
}

static void plugin_free(struct plugin *p)
{
    if (!p)
        return;
    sandbox_free(p->sb);
    free(p->text);
    json_decref(p->scratch);
    json_decref(p->call_writes);
    json_decref(p->call_view);
    free(p);
}

static int plugin_build(struct plugin *p, struct cs_diag *d)
{
    /* The built-in adapter library (caisse.shop) first, then the plugin. */
    const struct embedded_file *lib = embedded_find("lua/plugin/shop.lua");
    if (!lib)
        return cs_fail(d, CS_EINTERNAL, "", "the built-in plugin library lua/plugin/shop.lua is not compiled in");
    struct sandbox_source src[2] = {{"shop.lua", "=shop.lua", lib->data, lib->len},
                                    {p->chunkname + 1, p->chunkname, p->text, p->len}};
    struct sandbox_ext ext = {plugin_extend, p, "plugin"};
    p->loading = 1;
    p->registered = 0;
    p->policies_registered = 0;
    p->nsubs = 0;
    int rc = sandbox_new_ext(&p->host->lim, src, 2, &ext, &p->sb, d);
    p->loading = 0;
    if (rc == 0 && p->registered != p->man.nroutes) {
        /* a declared route without a handler */
        sandbox_free(p->sb);
        p->sb = NULL;
        return cs_fail(d, CS_EPLUGINFAIL, "", "plugin %s: %u route(s) of manifest.json have no handler: "
                       "call caisse.route(method, path, fn) for each", p->name, p->man.nroutes - p->registered);
    }
    if (rc == 0 && p->policies_registered != p->man.npolicies) {
        sandbox_free(p->sb);
        p->sb = NULL;
        return cs_fail(d, CS_EPLUGINFAIL, "", "plugin %s: %u polic(ies) of manifest.json have no override: "
                       "call caisse.policy.override(name, fn) for each", p->name,
                       p->man.npolicies - p->policies_registered);
    }
    return rc;
}

/* Loads folder `name` of dir into a new struct plugin (always returned,
 * loaded or with its error; NULL only on memory exhaustion). */
static struct plugin *plugin_load(struct plugins *h, const char *name)
{
    struct plugin *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->host = h;
    snprintf(p->name, sizeof p->name, "%s", name);
    snprintf(p->chunkname, sizeof p->chunkname, "=%s/plugin.lua", name);
    size_t plen = strlen(h->dir) + strlen(name) + 32;
    char *path = malloc(plen);
    if (!path) {
        free(p);
        return NULL;
    }
    char *mtext = NULL;
    size_t mlen = 0;
    char err[400];
    snprintf(path, plen, "%s/%s/manifest.json", h->dir, name);
    if (!name_ok(name)) {
        snprintf(p->error, sizeof p->error, "the folder name must be 1 to 64 characters of a-z, 0-9, '_' and '-'");
        goto out;
    }
    if (read_whole(path, &mtext, &mlen, err, sizeof err) != 0) {
        snprintf(p->error, sizeof p->error, "%s", err);
        goto out;
    }
    if (plugin_manifest_parse(name, mtext, mlen, &p->man, err, sizeof err) != 0) {
        snprintf(p->error, sizeof p->error, "%s", err);
        goto out;
    }
    p->manifest_ok = 1;
    snprintf(path, plen, "%s/%s/plugin.lua", h->dir, name);
    if (read_whole(path, &p->text, &p->len, err, sizeof err) != 0) {
        snprintf(p->error, sizeof p->error, "%s", err);
        goto out;
    }
    struct cs_diag d = {0};
    if (plugin_build(p, &d) != 0) {
        snprintf(p->error, sizeof p->error, "%s", d.message);
        goto out;
    }
    p->loaded = 1;
out:
    free(mtext);
    free(path);
    return p;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The folder names of dir (directories not starting with '.'), sorted; only
 * `only` if it is set. */
static unsigned scan_dir(const char *dir, const char *only, char *names[PLUGINS_MAX])
{
    unsigned n = 0;
    DIR *dh = dir ? opendir(dir) : NULL;
    if (!dh)
        return 0;
    struct dirent *de;
    while ((de = readdir(dh)) && n < PLUGINS_MAX) {
        if (de->d_name[0] == '.' || (only && strcmp(de->d_name, only) != 0))
            continue;
        size_t plen = strlen(dir) + strlen(de->d_name) + 2;
        char *path = malloc(plen);
        struct stat st;
        if (!path)
            continue;
        snprintf(path, plen, "%s/%s", dir, de->d_name);
        int isdir = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
        free(path);
        if (isdir && (names[n] = strdup(de->d_name)))
            n++;
    }
    closedir(dh);
    qsort(names, n, sizeof names[0], cmp_name);
    return n;
}

int plugins_new(const struct plugin_options *o, struct plugins **out, struct cs_diag *d)
{
    *out = NULL;
    struct plugins *h = calloc(1, sizeof *h);
    if (!h)
        return cs_fail(d, CS_ENOMEM, "", "plugins: out of memory");
    h->lim.instructions_max = o ? o->instructions_max : 0;
    h->lim.memory_bytes_max = o ? o->memory_bytes_max : 0;
    h->find = o ? o->find : NULL;
    h->find_ctx = o ? o->find_ctx : NULL;
    h->kv_get = o ? o->kv_get : NULL;
    h->kv_each = o ? o->kv_each : NULL;
    h->kv_ctx = o ? o->kv_ctx : NULL;
    h->overlay = json_object();
    if (!h->overlay || (o && o->dir && !(h->dir = strdup(o->dir))) || (o && o->only && !(h->only = strdup(o->only)))) {
        plugins_free(h);
        return cs_fail(d, CS_ENOMEM, "", "plugins: out of memory");
    }
    if (h->dir) {
        DIR *dh = opendir(h->dir);
        if (!dh) {
            int e = errno;
            plugins_free(h);
            return cs_fail(d, CS_EPLUGINFAIL, "", "plugin directory %s: %s", o->dir, strerror(e));
        }
        closedir(dh);
    }
    plugins_reload(h);
    *out = h;
    return 0;
}

void plugins_free(struct plugins *h)
{
    if (!h)
        return;
    for (unsigned i = 0; i < h->n; i++)
        plugin_free(h->list[i]);
    json_decref(h->overlay);
    free(h->dir);
    free(h->only);
    free(h);
}

unsigned plugins_reload(struct plugins *h)
{
    char *names[PLUGINS_MAX];
    unsigned n = scan_dir(h->dir, h->only, names), failed = 0;
    struct plugin *next[PLUGINS_MAX];
    unsigned nn = 0;
    for (unsigned i = 0; i < n; i++) {
        struct plugin *old = NULL;
        for (unsigned k = 0; k < h->n; k++)
            if (h->list[k] && strcmp(h->list[k]->name, names[i]) == 0) {
                old = h->list[k];
                h->list[k] = NULL;
            }
        struct plugin *p = plugin_load(h, names[i]);
        if (p && !p->loaded)
            failed++;
        if (p && !p->loaded && old && old->loaded) {
            /* keep serving the previous version */
            snprintf(old->error, sizeof old->error, "reload failed, still serving version %.32s: %.400s",
                     old->man.version, p->error);
            plugin_free(p);
            p = old;
        } else if (!p) {
            p = old;
        } else {
            plugin_free(old);
        }
        if (p)
            next[nn++] = p;
        free(names[i]);
    }
    for (unsigned k = 0; k < h->n; k++)
        plugin_free(h->list[k]);             /* folders that are gone */
    memcpy(h->list, next, nn * sizeof next[0]);
    h->n = nn;
    return failed;
}

unsigned plugins_count(const struct plugins *h) { return h ? h->n : 0; }

const char *plugins_name(const struct plugins *h, unsigned i)
{
    return h && i < h->n ? h->list[i]->name : NULL;
}

json_t *plugins_list_json(const struct plugins *h)
{
    json_t *arr = json_array();
    for (unsigned i = 0; h && i < h->n; i++) {
        const struct plugin *p = h->list[i];
        json_t *routes = json_array();
        for (unsigned k = 0; p->manifest_ok && k < p->man.nroutes; k++) {
            char mount[PLUGIN_PATH_BYTES_MAX + PLUGIN_NAME_BYTES_MAX + 16];
            snprintf(mount, sizeof mount, "/plugins/%s%s", p->name,
                     strcmp(p->man.routes[k].path, "/") == 0 ? "/" : p->man.routes[k].path);
            json_array_append_new(routes, json_pack("{s:s,s:s,s:s}", "method", p->man.routes[k].method, "path",
                                                    p->man.routes[k].path, "mounted_at", mount));
        }
        json_t *policies = json_array(), *events = json_array();
        for (unsigned k = 0; p->manifest_ok && k < p->man.npolicies; k++)
            json_array_append_new(policies, json_string(p->man.policies[k]));
        for (unsigned k = 0; p->loaded && k < p->nsubs; k++)
            json_array_append_new(events, json_string(p->subs[k]));
        json_array_append_new(arr, json_pack("{s:s,s:s*,s:s*,s:o,s:o,s:o,s:s,s:s*}", "name", p->name, "version",
                                             p->manifest_ok ? p->man.version : NULL, "description",
                                             p->manifest_ok ? p->man.description : NULL, "routes", routes,
                                             "policies", policies, "events", events,
                                             "status", p->loaded ? "loaded" : "failed", "error",
                                             p->error[0] ? p->error : NULL));
    }
    return arr;
}

/* ---- handling ---------------------------------------------------------------------- */

struct call {
    struct plugin *p;
    const char *key;              /* "POST /webhook" */
    json_t *request;
    json_t *out;
    char err[200];
};

static int lplugin_call(lua_State *L)
{
    struct call *c = lua_touserdata(L, 1);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &routes_key);
    lua_getfield(L, -1, c->key);
    if (lua_type(L, -1) != LUA_TFUNCTION) {
        snprintf(c->err, sizeof c->err, "no handler for %s", c->key);
        return 0;
    }
    jl_push(L, c->request);
    lua_call(L, 1, 1);
    if (lua_type(L, -1) != LUA_TTABLE) {
        snprintf(c->err, sizeof c->err, "the handler returned a %s value, not a table", luaL_typename(L, -1));
        return 0;
    }
    char err[160];
    c->out = jl_to_json(L, -1, err, sizeof err);
    if (!c->out)
        snprintf(c->err, sizeof c->err, "its response is not JSON: %s", err);
    return 0;
}

/* The ops of commands and what each acts on ("order" or "payment"). */
static const struct { const char *op, *field, *prefix; } command_ops[] = {
    {"confirm", "order", "ord_"},
    {"cancel", "order", "ord_"},
    {"ship", "order", "ord_"},
    {"cart", "order", "ord_"},
    {"return", "order", "ord_"},
    {"refund", "payment", "pay_"},
    {NULL, NULL, NULL},
};

int plugin_check_commands(json_t *holder, char *err, size_t cap)
{
    json_t *cmds = json_object_get(holder, "commands");
    const char *key;
    json_t *v;
    if (!cmds)
        return 0;
    if (json_is_object(cmds) && json_object_size(cmds) == 0) {
        json_object_set_new(holder, "commands", json_array());   /* an empty Lua table */
        return 0;
    }
    if (!json_is_array(cmds) || json_array_size(cmds) > PLUGIN_COMMANDS_MAX) {
        snprintf(err, cap, "commands must be an array of at most %d commands", PLUGIN_COMMANDS_MAX);
        return -1;
    }
    size_t i;
    json_array_foreach(cmds, i, v) {
        const char *op = json_string_value(json_object_get(v, "op"));
        int k = 0;
        while (op && command_ops[k].op && strcmp(command_ops[k].op, op) != 0)
            k++;
        if (!json_is_object(v) || !op || !command_ops[k].op) {
            snprintf(err, cap, "commands[%zu].op must be \"ship\", \"confirm\", \"cancel\", \"cart\", \"return\" or \"refund\"", i);
            return -1;
        }
        const char *field = command_ops[k].field;
        const char *target = json_string_value(json_object_get(v, field));
        if (!target || !*target) {
            snprintf(err, cap, "commands[%zu].%s must be an id (%s...)", i, field, command_ops[k].prefix);
            return -1;
        }
        json_t *params;
        json_object_foreach(v, key, params) {
            if (strcmp(key, "op") && strcmp(key, field) && strcmp(key, "params")) {
                snprintf(err, cap, "commands[%zu]: unknown field %.40s (op, %s, params)", i, key, field);
                return -1;
            }
        }
        params = json_object_get(v, "params");
        if (params && !json_is_object(params) && !(json_is_array(params) && json_array_size(params) == 0)) {
            snprintf(err, cap, "commands[%zu].params must be a table", i);
            return -1;
        }
        if (params && json_is_array(params))
            json_object_set_new(v, "params", json_object());   /* {} marked as an array: still empty */
    }
    return 0;
}

/* Checks {status, body, commands} and fills the default status. */
static int check_response(json_t *r, char *err, size_t cap)
{
    const char *key;
    json_t *v;
    if (!json_is_object(r)) {
        snprintf(err, cap, "the handler returned an array, not a table");
        return -1;
    }
    json_object_foreach(r, key, v) {
        if (strcmp(key, "status") && strcmp(key, "body") && strcmp(key, "commands")) {
            snprintf(err, cap, "unknown field %.40s in the handler's response (status, body, commands)", key);
            return -1;
        }
    }
    json_t *st = json_object_get(r, "status");
    if (!st)
        json_object_set_new(r, "status", json_integer(200));
    else if (!json_is_integer(st) || json_integer_value(st) < 100 || json_integer_value(st) > 599) {
        snprintf(err, cap, "status must be an integer 100..599");
        return -1;
    }
    json_t *body = json_object_get(r, "body");
    if (body && !json_is_object(body) && !json_is_array(body) && !json_is_string(body)) {
        snprintf(err, cap, "body must be a table or a string");
        return -1;
    }
    return plugin_check_commands(r, err, cap);
}

struct plugin *plugin_find(struct plugins *h, const char *name)
{
    for (unsigned i = 0; h && i < h->n; i++)
        if (strcmp(h->list[i]->name, name) == 0)
            return h->list[i];
    return NULL;
}

int plugin_ensure_state(struct plugin *p, struct cs_diag *d)
{
    if (p->sb)
        return 0;
    /* a previous call tripped a budget and the rebuild failed: try again */
    struct cs_diag why = {0};
    if (plugin_build(p, &why) != 0)
        return cs_fail(d, CS_EPLUGINFAIL, "", "plugin %s could not be rebuilt: %s", p->name, why.message);
    return 0;
}

void plugin_call_begin(struct plugin *p, enum plugin_call_kind kind, const char *merchant_id, int livemode)
{
    p->cur_kind = kind;
    p->cur_merchant = merchant_id;
    p->cur_livemode = livemode;
    p->finds = 0;
    json_decref(p->call_writes);
    json_decref(p->call_view);
    p->call_writes = p->call_view = NULL;
}

void plugin_call_end(struct plugin *p)
{
    p->cur_kind = PLUGIN_CALL_NONE;
    p->cur_merchant = NULL;
    json_decref(p->scratch);
    p->scratch = NULL;
    json_decref(p->call_writes);
    json_decref(p->call_view);
    p->call_writes = p->call_view = NULL;
    if (p->sb && sandbox_tainted(p->sb)) {
        struct cs_diag ignored = {0};
        sandbox_free(p->sb);
        p->sb = NULL;
        if (plugin_build(p, &ignored) != 0)
            p->sb = NULL;
    }
}

int plugins_handle(struct plugins *h, const char *name, const char *method, const char *subpath,
                   const char *merchant_id, int livemode, json_t *request, json_t **response,
                   json_t **kv_writes, struct cs_diag *d)
{
    *response = NULL;
    if (kv_writes)
        *kv_writes = NULL;
    struct plugin *p = plugin_find(h, name);
    if (!p)
        return cs_fail(d, CS_EROUTE, "", "no plugin named %s", name);
    if (!p->loaded)
        return cs_fail(d, CS_EPLUGINFAIL, "", "plugin %s is not loaded: %s", name, p->error);
    const struct plugin_route *route = NULL;
    char allow[64] = "";
    json_t *params = json_object();
    for (unsigned i = 0; i < p->man.nroutes; i++) {
        const struct plugin_route *r = &p->man.routes[i];
        if (!plugin_path_match(r->path, subpath, NULL))
            continue;
        if (strcmp(r->method, method) == 0) {
            route = r;
            break;
        }
        if (!strstr(allow, r->method) && strlen(allow) + strlen(r->method) + 3 < sizeof allow) {
            if (allow[0])
                strcat(allow, ", ");
            strcat(allow, r->method);
        }
    }
    if (!route) {
        json_decref(params);
        if (allow[0]) {
            cs_fail(d, CS_EMETHOD, "", "%s is not allowed here; allowed: %s", method, allow);
            snprintf(d->param, sizeof d->param, "%s", allow);
            return CS_EMETHOD;
        }
        return cs_fail(d, CS_EROUTE, "", "no route for %s /plugins/%s%s", method, name, subpath);
    }
    plugin_path_match(route->path, subpath, params);
    json_object_set_new(request, "params", params);

    int rc = plugin_ensure_state(p, d);
    if (rc)
        return rc;
    char key[PLUGIN_PATH_BYTES_MAX + 16], what[PLUGIN_NAME_BYTES_MAX + 16];
    snprintf(key, sizeof key, "%s %s", route->method, route->path);
    snprintf(what, sizeof what, "plugin %s", name);
    struct call c = {.p = p, .key = key, .request = request};
    plugin_call_begin(p, PLUGIN_CALL_ROUTE, merchant_id, livemode);
    rc = sandbox_protected(p->sb, lplugin_call, &c, what, d);
    char err[200] = "";
    if (!rc && (c.err[0] || check_response(c.out, err, sizeof err) != 0))
        rc = cs_fail(d, CS_EPLUGINFAIL, "", "plugin %s failed: %s %s: %s", name, route->method, route->path,
                     c.err[0] ? c.err : err);
    json_t *writes = rc ? NULL : plugin_kv_take(p);
    plugin_call_end(p);
    if (rc) {
        json_decref(c.out);
        d->err = CS_EPLUGINFAIL;
        return CS_EPLUGINFAIL;
    }
    *response = c.out;
    if (kv_writes) {
        *kv_writes = writes;
    } else if (writes) {
        plugins_kv_settled(h, name, merchant_id, livemode, writes);   /* nobody will commit them */
        json_decref(writes);
    }
    return 0;
}
