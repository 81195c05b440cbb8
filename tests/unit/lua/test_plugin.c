/* Lua plugins (lua/plugin.h): manifest validation, route matching, loading
 * with per-plugin errors and collisions, handler calls with budgets, and
 * reload that swaps a plugin only when its new version loads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "tests/unit/tap.h"
#include "core/errors.h"
#include "lua/plugin.h"

static int parse(const char *folder, const char *text, char *err)
{
    struct plugin_manifest m;
    return plugin_manifest_parse(folder, text, strlen(text), &m, err, 400);
}

static void test_manifest(void)
{
    char err[400];
    struct plugin_manifest m;
    const char *good = "{\"name\":\"shop-x_1\",\"version\":\"1.2.3\",\"description\":\"d\","
                       "\"routes\":[{\"method\":\"POST\",\"path\":\"/webhook\"},{\"method\":\"GET\",\"path\":\"/orders/{id}\"}]}";
    OK(plugin_manifest_parse("shop-x_1", good, strlen(good), &m, err, sizeof err) == 0, "a good manifest: %s", err);
    EQ_STR(m.name, "shop-x_1", "name");
    EQ_STR(m.version, "1.2.3", "version");
    EQ_INT(m.nroutes, 2, "two routes");
    EQ_STR(m.routes[1].path, "/orders/{id}", "route path");
    OK(parse("p", "{\"name\":\"p\",\"version\":\"0.1\"}", err) == 0, "routes are optional, version N.N: %s", err);
    OK(parse("p", "{\"name\":\"p\",\"version\":\"1.0.0-beta.1\"}", err) == 0, "a pre-release version");

    struct { const char *text, *want; } bad[] = {
        {"{", "not valid JSON"},
        {"[]", "JSON object"},
        {"{\"name\":\"p\",\"version\":\"1.0.0\",\"hooks\":[]}", "unknown field hooks"},
        {"{\"version\":\"1.0.0\"}", "name is required"},
        {"{\"name\":\"P\",\"version\":\"1.0.0\"}", "a-z"},
        {"{\"name\":\"other\",\"version\":\"1.0.0\"}", "folder"},
        {"{\"name\":\"p\",\"version\":\"one\"}", "version"},
        {"{\"name\":\"p\",\"version\":\"1\"}", "version"},
        {"{\"name\":\"p\",\"version\":1}", "version"},
        {"{\"name\":\"p\",\"version\":\"1.0.0\",\"routes\":{}}", "routes must be an array"},
        {"{\"name\":\"p\",\"version\":\"1.0.0\",\"routes\":[{\"method\":\"FETCH\",\"path\":\"/x\"}]}", "method"},
        {"{\"name\":\"p\",\"version\":\"1.0.0\",\"routes\":[{\"method\":\"GET\",\"path\":\"x\"}]}", "relative"},
        {"{\"name\":\"p\",\"version\":\"1.0.0\",\"routes\":[{\"method\":\"GET\",\"path\":\"/a//b\"}]}", "relative"},
        {"{\"name\":\"p\",\"version\":\"1.0.0\",\"routes\":[{\"method\":\"GET\",\"path\":\"/a/../b\"}]}", "relative"},
        {"{\"name\":\"p\",\"version\":\"1.0.0\",\"routes\":[{\"method\":\"GET\",\"path\":\"/a/\"}]}", "relative"},
        {"{\"name\":\"p\",\"version\":\"1.0.0\",\"routes\":[{\"method\":\"GET\"}]}", "routes[0]"},
        {"{\"name\":\"p\",\"version\":\"1.0.0\",\"routes\":[{\"method\":\"GET\",\"path\":\"/x\"},"
         "{\"method\":\"GET\",\"path\":\"/x\"}]}", "route collision: GET /x"},
        {"{\"name\":\"p\",\"name\":\"p\",\"version\":\"1.0.0\"}", "not valid JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        int rc = parse("p", bad[i].text, err);
        OK(rc != 0 && strstr(err, bad[i].want), "bad manifest %zu refused with \"%s\": got \"%s\"", i, bad[i].want, err);
    }
}

static void test_match(void)
{
    json_t *params = json_object();
    OK(plugin_path_match("/webhook", "/webhook", NULL), "literal");
    OK(!plugin_path_match("/webhook", "/webhooks", NULL), "longer path");
    OK(!plugin_path_match("/webhook", "/web", NULL), "shorter path");
    OK(!plugin_path_match("/webhook", "/webhook/", NULL), "trailing slash");
    OK(plugin_path_match("/", "/", NULL), "root");
    OK(plugin_path_match("/orders/{id}/ship", "/orders/ord_1/ship", params), "a parameter");
    EQ_STR(json_string_value(json_object_get(params, "id")), "ord_1", "captured");
    OK(!plugin_path_match("/orders/{id}", "/orders/", NULL), "an empty segment does not match");
    OK(!plugin_path_match("/orders/{id}", "/orders/a/b", NULL), "a parameter takes one segment");
    json_decref(params);
}

/* ---- loading and calling, on a temporary directory ---------------------------- */

static char dir[64];

static void put(const char *plugin, const char *file, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, plugin);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/%s/%s", dir, plugin, file);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void rm_tree(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

static json_t *find_stub(void *ctx, const char *merchant_id, int livemode, const char *reference)
{
    if (strcmp(reference, "R-1") != 0 || strcmp(merchant_id, "mer_1") != 0)
        return NULL;
    return json_pack("[{s:s,s:s,s:s}]", "id", "ord_A", "reference", "R-1", "status", "confirmed");
}

static json_t *plugin_entry(json_t *list, const char *name)
{
    size_t i;
    json_t *p;
    json_array_foreach(list, i, p)
        if (strcmp(json_string_value(json_object_get(p, "name")), name) == 0)
            return p;
    return NULL;
}

#define MANIFEST(name, routes) "{\"name\":\"" name "\",\"version\":\"1.0.0\",\"routes\":[" routes "]}"
#define ROUTE(m, p) "{\"method\":\"" m "\",\"path\":\"" p "\"}"

static int call(struct plugins *h, const char *name, const char *method, const char *path, json_t **resp,
                struct cs_diag *d)
{
    json_t *req = json_pack("{s:s,s:s,s:{s:s,s:b}}", "method", method, "path", path, "merchant", "id", "mer_1",
                            "livemode", 0);
    int rc = plugins_handle(h, name, method, path, "mer_1", 0, req, resp, NULL, d);
    json_decref(req);
    return rc;
}

static void test_load_and_call(void)
{
    snprintf(dir, sizeof dir, "/tmp/caisse-plugins-XXXXXX");
    OK(mkdtemp(dir) != NULL, "temp dir");
    put("good", "manifest.json", MANIFEST("good", ROUTE("POST", "/hook") "," ROUTE("GET", "/find/{ref}") ","
                                          ROUTE("GET", "/many")));
    put("good", "plugin.lua",
        "caisse.route('POST', '/hook', function(req)\n"
        "  return {status = 202, body = {got = req.method, m = req.merchant.id},\n"
        "          commands = {{op = 'ship', order = 'ord_A', params = {}}}}\n"
        "end)\n"
        "caisse.route('GET', '/find/{ref}', function(req)\n"
        "  local o = caisse.orders.find(req.params.ref)\n"
        "  if not o then return {status = 404, body = 'none'} end\n"
        "  return {body = {id = o[1].id}}\n"
        "end)\n"
        "caisse.route('GET', '/many', function(req)\n"
        "  for i = 1, 20 do caisse.orders.find('R-1') end\n"
        "  return {}\n"
        "end)\n");
    put("bad", "manifest.json", "{\"name\":\"bad\"");
    put("bad", "plugin.lua", "");
    put("dup", "manifest.json", MANIFEST("dup", ROUTE("POST", "/x")));
    put("dup", "plugin.lua", "caisse.route('POST', '/x', function() return {} end)\n"
                             "caisse.route('POST', '/x', function() return {} end)\n");
    put("undeclared", "manifest.json", MANIFEST("undeclared", ""));
    put("undeclared", "plugin.lua", "caisse.route('GET', '/y', function() return {} end)\n");
    put("missing", "manifest.json", MANIFEST("missing", ROUTE("GET", "/z")));
    put("missing", "plugin.lua", "-- registers nothing\n");
    put("loops", "manifest.json", MANIFEST("loops", ROUTE("GET", "/loop") "," ROUTE("GET", "/bomb") ","
                                           ROUTE("GET", "/exec") "," ROUTE("GET", "/badcmd")));
    put("loops", "plugin.lua",
        "caisse.route('GET', '/loop', function() while true do end end)\n"
        "caisse.route('GET', '/bomb', function() local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 1000) .. i end end)\n"
        "caisse.route('GET', '/exec', function() return os.execute('true') end)\n"
        "caisse.route('GET', '/badcmd', function() return {commands = {{op = 'capture', order = 'ord_A'}}} end)\n");

    struct plugin_options o = {.dir = dir, .find = find_stub, .instructions_max = 200000,
                               .memory_bytes_max = 8u << 20};
    struct plugins *h = NULL;
    struct cs_diag d = {0};
    OK(plugins_new(&o, &h, &d) == 0, "plugins_new: %s", d.message);
    json_t *list = plugins_list_json(h);
    EQ_INT(json_array_size(list), 6, "six plugins listed");
    EQ_STR(json_string_value(json_object_get(plugin_entry(list, "good"), "status")), "loaded", "good loads");
    EQ_STR(json_string_value(json_object_get(plugin_entry(list, "loops"), "status")), "loaded", "loops loads");
    EQ_STR(json_string_value(json_object_get(plugin_entry(list, "bad"), "status")), "failed", "bad fails");
    OK(strstr(json_string_value(json_object_get(plugin_entry(list, "bad"), "error")) ?: "", "manifest.json"),
       "bad names its manifest");
    OK(strstr(json_string_value(json_object_get(plugin_entry(list, "dup"), "error")) ?: "", "route collision"),
       "dup: route collision");
    OK(strstr(json_string_value(json_object_get(plugin_entry(list, "dup"), "error")) ?: "", "dup/plugin.lua:2"),
       "dup: source:line");
    OK(strstr(json_string_value(json_object_get(plugin_entry(list, "undeclared"), "error")) ?: "", "not declared"),
       "undeclared route refused");
    OK(strstr(json_string_value(json_object_get(plugin_entry(list, "missing"), "error")) ?: "", "no handler"),
       "a declared route without a handler");
    json_decref(list);

    json_t *resp = NULL;
    OK(call(h, "good", "POST", "/hook", &resp, &d) == 0, "good handles: %s", d.message);
    EQ_INT(json_integer_value(json_object_get(resp, "status")), 202, "status");
    EQ_STR(json_string_value(json_object_get(json_object_get(resp, "body"), "m")), "mer_1", "merchant in the request");
    EQ_STR(json_string_value(json_object_get(json_array_get(json_object_get(resp, "commands"), 0), "op")), "ship",
           "a command");
    json_decref(resp);
    OK(call(h, "good", "GET", "/find/R-1", &resp, &d) == 0, "find: %s", d.message);
    EQ_INT(json_integer_value(json_object_get(resp, "status")), 200, "default status 200");
    EQ_STR(json_string_value(json_object_get(json_object_get(resp, "body"), "id")), "ord_A", "found");
    json_decref(resp);
    OK(call(h, "good", "GET", "/find/R-2", &resp, &d) == 0 && json_integer_value(json_object_get(resp, "status")) == 404,
       "not found");
    json_decref(resp);
    EQ_INT(call(h, "good", "GET", "/hook", &resp, &d), CS_EMETHOD, "other method: 405");
    OK(call(h, "good", "GET", "/many", &resp, &d) == CS_EPLUGINFAIL && strstr(d.message, "at most 16 calls"),
       "caisse.orders.find is capped per request: %s", d.message);
    EQ_INT(call(h, "good", "GET", "/nope", &resp, &d), CS_EROUTE, "unknown route");
    EQ_INT(call(h, "nobody", "GET", "/x", &resp, &d), CS_EROUTE, "unknown plugin");
    EQ_INT(call(h, "bad", "POST", "/x", &resp, &d), CS_EPLUGINFAIL, "a failed plugin answers plugin_failed");

    struct { const char *path, *want; } fails[] = {
        {"/loop", "instruction budget (at loops/plugin.lua:1)"},
        {"/bomb", "memory cap"},
        {"/exec", "loops/plugin.lua:3"},
        {"/badcmd", "commands[0].op"},
    };
    for (int round = 0; round < 2; round++)
        for (size_t i = 0; i < sizeof fails / sizeof fails[0]; i++) {
            d.message[0] = '\0';
            int rc = call(h, "loops", "GET", fails[i].path, &resp, &d);
            OK(rc == CS_EPLUGINFAIL && strstr(d.message, "plugin loops") && strstr(d.message, fails[i].want),
               "%s fails alone (round %d): %s", fails[i].path, round, d.message);
        }
    OK(call(h, "good", "POST", "/hook", &resp, &d) == 0, "good still works after the others failed");
    json_decref(resp);

    /* reload: a broken new version keeps the old one; a good one replaces it */
    put("good", "plugin.lua", "caisse.route('POST', '/hook', function() return {} end\n");
    EQ_INT(plugins_reload(h), 5, "five fail to reload");
    list = plugins_list_json(h);
    json_t *g = plugin_entry(list, "good");
    EQ_STR(json_string_value(json_object_get(g, "status")), "loaded", "good still loaded");
    OK(strstr(json_string_value(json_object_get(g, "error")) ?: "", "reload failed"), "the reload error is reported");
    json_decref(list);
    OK(call(h, "good", "POST", "/hook", &resp, &d) == 0 && json_integer_value(json_object_get(resp, "status")) == 202,
       "the old version still serves");
    json_decref(resp);
    put("good", "manifest.json", MANIFEST("good", ROUTE("POST", "/hook")));
    put("good", "plugin.lua", "caisse.route('POST', '/hook', function() return {status = 201, body = 'v2'} end)\n");
    plugins_reload(h);
    OK(call(h, "good", "POST", "/hook", &resp, &d) == 0 && json_integer_value(json_object_get(resp, "status")) == 201,
       "the new version serves");
    EQ_STR(json_string_value(json_object_get(resp, "body")), "v2", "string body");
    json_decref(resp);
    list = plugins_list_json(h);
    OK(json_object_get(plugin_entry(list, "good"), "error") == NULL, "no error after a good reload: %s",
       json_string_value(json_object_get(plugin_entry(list, "good"), "error")));
    json_decref(list);

    plugins_free(h);
    rm_tree();
}

int main(void)
{
    test_manifest();
    test_match();
    test_load_and_call();
    return tap_done();
}
