/* Request validation names the offending field. */
#include <string.h>
#include "core/json_in.h"
#include "core/errors.h"
#include "tests/unit/tap.h"

int main(void)
{
    struct cs_diag d = {0};
    json_t *v = NULL;
    EQ_INT(jin_parse("{\"a\":1}", 7, &v, &d), 0, "parses an object");
    json_decref(v);
    EQ_INT(jin_parse("", 0, &v, &d), 0, "empty body is {}");
    OK(json_is_object(v), "{}");
    json_decref(v);
    EQ_INT(jin_parse("[1]", 3, &v, &d), CS_EJSON, "array refused");
    EQ_INT(jin_parse("{\"a\":", 5, &v, &d), CS_EJSON, "truncated refused");
    EQ_INT(jin_parse("{\"a\":1,\"a\":2}", 13, &v, &d), CS_EJSON, "duplicate keys refused");
    const char *deep = "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{}}}}}}}}}}}}}}}}}}";
    EQ_INT(jin_parse(deep, strlen(deep), &v, &d), CS_EJSON, "too deep refused");

    json_t *o = json_loads("{\"name\":\"x\",\"n\":5,\"f\":1.5,\"s\":\"\",\"b\":true,\"ctl\":\"a\\u0001\"}", 0, NULL);
    static const char *const allowed[] = {"name", "n", "f", "s", "b", "ctl", NULL};
    static const char *const fewer[] = {"name", NULL};
    EQ_INT(jin_object(o, "", allowed, &d), 0, "known keys");
    EQ_INT(jin_object(o, "cart", fewer, &d), CS_EUNKNOWN, "unknown key");
    OK(strncmp(d.param, "cart.", 5) == 0, "param names the path: %s", d.param);
    const char *s = NULL;
    int64_t i = 0;
    int b = 0;
    EQ_INT(jin_string(o, "", "name", 1, 1, 10, &s, &d), 0, "string");
    EQ_STR(s, "x", "string value");
    EQ_INT(jin_string(o, "", "missing", 1, 1, 10, &s, &d), CS_EMISSING, "missing required");
    EQ_STR(d.param, "missing", "param of the missing field");
    EQ_INT(jin_string(o, "", "missing", 0, 1, 10, &s, &d), 0, "missing optional");
    EQ_INT(jin_string(o, "", "s", 1, 1, 10, &s, &d), CS_EPARAM, "empty string refused");
    EQ_INT(jin_string(o, "", "n", 1, 1, 10, &s, &d), CS_EPARAM, "int is not a string");
    EQ_INT(jin_string(o, "", "ctl", 1, 1, 10, &s, &d), CS_EPARAM, "control characters refused");
    EQ_INT(jin_int(o, "x", "n", 1, 0, 10, &i, &d), 0, "int");
    EQ_INT(i, 5, "int value");
    EQ_INT(jin_int(o, "x", "n", 1, 6, 10, &i, &d), CS_EPARAM, "int below min");
    EQ_STR(d.param, "x.n", "param path");
    EQ_INT(jin_int(o, "", "f", 1, 0, 10, &i, &d), CS_EPARAM, "float is not an int");
    EQ_INT(jin_bool(o, "", "b", 1, &b, &d), 0, "bool");
    EQ_INT(b, 1, "bool value");
    json_decref(o);

    char buf[512];
    cs_fail(&d, CS_EPARAM, "customer.email", "customer.email is not valid");
    size_t n = cs_diag_render(&d, buf, sizeof buf);
    OK(n > 0 && strstr(buf, "\"param\":\"customer.email\"") && strstr(buf, "\"code\":\"parameter_invalid\""),
       "error body: %s", buf);
    EQ_INT(cs_err_status(CS_ESTORAGE), 507, "storage full is 507");
    EQ_INT(cs_err_status(CS_EIDEMPOTENCY), 409, "idempotency reuse is 409");
    EQ_INT(cs_err_status(12345), 500, "unknown code is 500");
    return tap_done();
}
