/* Webhook signatures, secrets, their encryption at rest, webhook ids and URLs. */
#include <string.h>
#include "core/webhooks.h"
#include "core/ids.h"
#include "tests/unit/tap.h"

int main(void)
{
    /* The Standard Webhooks test vector (standard-webhooks spec and its libraries'
     * tests), checked independently with:
     *   printf '%s' 'msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{"test": 2432232314}' |
     *     openssl dgst -sha256 -mac HMAC \
     *       -macopt hexkey:$(printf MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw | base64 -d | xxd -p) -binary | base64
     *   -> g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= */
    const char *secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const char *body = "{\"test\": 2432232314}";
    uint8_t key[64];
    size_t klen = 0;
    EQ_INT(webhook_secret_decode(secret, key, sizeof key, &klen), 0, "the secret decodes");
    EQ_INT(klen, 24, "24 key bytes");
    char sig[128];
    size_t n = webhook_sign(key, klen, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body, strlen(body), sig, sizeof sig);
    OK(n > 0, "signed");
    EQ_STR(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", "the known signature");
    /* any change of id, timestamp or body changes it */
    char other[128];
    webhook_sign(key, klen, "msg_p5jXN8AQM9LWM0D4loKWxJel", 1614265330, body, strlen(body), other, sizeof other);
    OK(strcmp(sig, other) != 0, "another id, another signature");
    webhook_sign(key, klen, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265331, body, strlen(body), other, sizeof other);
    OK(strcmp(sig, other) != 0, "another timestamp, another signature");
    webhook_sign(key, klen, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, "{\"test\": 2432232315}", strlen(body), other, sizeof other);
    OK(strcmp(sig, other) != 0, "another body, another signature");
    EQ_INT(webhook_sign(key, klen, "m", 1, "x", 1, other, 10), 0, "too small a buffer is refused");
    EQ_INT(webhook_secret_decode("sk_test_abc", key, sizeof key, &klen), CS_EPARAM, "not a whsec_ secret");
    EQ_INT(webhook_secret_decode("whsec_***", key, sizeof key, &klen), CS_EPARAM, "bad base64");

    /* new secrets: whsec_ + base64(24 random bytes), each different */
    char s1[WEBHOOK_SECRET_TEXT_BYTES], s2[WEBHOOK_SECRET_TEXT_BYTES];
    EQ_INT(webhook_secret_new(s1), 0, "a new secret");
    EQ_INT(webhook_secret_new(s2), 0, "another one");
    OK(strncmp(s1, "whsec_", 6) == 0 && strlen(s1) == 6 + 32, "whsec_ + 32 base64 characters: %s", s1);
    OK(strcmp(s1, s2) != 0, "secrets differ");
    EQ_INT(webhook_secret_decode(s1, key, sizeof key, &klen), 0, "a new secret decodes");
    EQ_INT(klen, WEBHOOK_SECRET_RAW_BYTES, "to 24 bytes");

    /* at rest: AES-256-GCM bound to the endpoint id */
    uint8_t mk[WEBHOOK_MASTER_KEY_BYTES], mk2[WEBHOOK_MASTER_KEY_BYTES];
    memset(mk, 7, sizeof mk);
    memset(mk2, 8, sizeof mk2);
    json_t *sealed = NULL;
    EQ_INT(webhook_secret_seal(mk, "we_A", s1, &sealed), 0, "sealed");
    char *text = json_dumps(sealed, JSON_COMPACT);
    OK(text && !strstr(text, s1) && !strstr(text, s1 + 6), "the ciphertext does not show the secret");
    free(text);
    char back[WEBHOOK_SECRET_TEXT_BYTES];
    EQ_INT(webhook_secret_open(mk, "we_A", sealed, back), 0, "opened");
    EQ_STR(back, s1, "the same secret");
    EQ_INT(webhook_secret_open(mk2, "we_A", sealed, back), CS_ECORRUPT, "another master key fails");
    EQ_INT(webhook_secret_open(mk, "we_B", sealed, back), CS_ECORRUPT, "another endpoint's id fails");
    json_t *tampered = json_deep_copy(sealed);
    char ct[128];
    snprintf(ct, sizeof ct, "%s", json_string_value(json_object_get(tampered, "ciphertext")));
    ct[3] = ct[3] == 'A' ? 'B' : 'A';
    json_object_set_new(tampered, "ciphertext", json_string(ct));
    EQ_INT(webhook_secret_open(mk, "we_A", tampered, back), CS_ECORRUPT, "a changed ciphertext fails");
    json_decref(tampered);
    json_t *again = NULL;
    webhook_secret_seal(mk, "we_A", s1, &again);
    OK(!json_equal(again, sealed), "a fresh nonce each time");
    json_decref(again);
    json_decref(sealed);

    /* webhook ids: deterministic per (endpoint, event), valid ids */
    char m1[CS_ID_BYTES_MAX], m2[CS_ID_BYTES_MAX], m3[CS_ID_BYTES_MAX];
    webhook_msg_id("we_01M830399XPF1DH8DWE9WHEJMW", 42, m1);
    webhook_msg_id("we_01M830399XPF1DH8DWE9WHEJMW", 42, m2);
    webhook_msg_id("we_01M830399XPF1DH8DWE9WHEJMW", 43, m3);
    OK(id_valid(m1, "msg"), "msg_ + 26 base32: %s", m1);
    EQ_STR(m1, m2, "the same id on every retry");
    OK(strcmp(m1, m3) != 0, "another event, another id");

    /* URLs */
    struct webhook_url u;
    const char *why = NULL;
    EQ_INT(webhook_url_parse("https://Hooks.Example.com/caisse?x=1", &u, &why), 0, "https URL");
    OK(u.tls, "tls");
    EQ_STR(u.host, "hooks.example.com", "host lower-cased");
    EQ_STR(u.port, "443", "default https port");
    EQ_STR(u.path, "/caisse?x=1", "path and query");
    EQ_INT(webhook_url_parse("http://127.0.0.1:8080", &u, &why), 0, "http with a port, no path");
    EQ_STR(u.path, "/", "path defaults to /");
    EQ_STR(u.port, "8080", "port");
    OK(u.host_is_ip, "an IPv4 literal");
    EQ_INT(webhook_url_parse("http://[::1]:9/x", &u, &why), 0, "IPv6 literal");
    EQ_STR(u.host, "::1", "brackets removed");
    OK(u.host_is_ip, "an IPv6 literal");
    EQ_INT(webhook_url_parse("http://example.com?q", &u, &why), 0, "query without path");
    EQ_STR(u.path, "/?q", "path / then the query");
    static const char *const bad[] = {
        "ftp://example.com/", "example.com/hook", "https://user:pw@example.com/", "https://user@example.com/",
        "https:///path", "https://exa mple.com/", "https://example.com:0/", "https://example.com:65536/",
        "https://example.com:80a/", "https://example.com/#frag", "https://[::1/", "https://[zz]/",
        "https://ex_ample.com/", "https://example.com/é", "", NULL};
    for (const char *const *b = bad; *b; b++)
        EQ_INT(webhook_url_parse(*b, &u, &why), CS_EPARAM, *b);
    char longurl[CS_WEBHOOK_URL_BYTES_MAX + 16];
    strcpy(longurl, "https://example.com/");
    memset(longurl + 20, 'a', sizeof longurl - 21);
    longurl[sizeof longurl - 1] = 0;
    EQ_INT(webhook_url_parse(longurl, &u, &why), CS_EPARAM, "longer than 2048 bytes");
    longurl[CS_WEBHOOK_URL_BYTES_MAX] = 0;
    EQ_INT(webhook_url_parse(longurl, &u, &why), 0, "exactly 2048 bytes");
    return tap_done();
}
