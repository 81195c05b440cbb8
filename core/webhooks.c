/* Webhooks: event types and filters, the retry schedule, secrets, signatures,
 * the master key, URL parsing, the SSRF address classifier and the outbox
 * observer. See core/webhooks.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <mbedtls/base64.h>
#include <mbedtls/gcm.h>
#include <mbedtls/md.h>
#include "core/webhooks.h"
#include "core/crypto.h"
#include "core/clock.h"
#include "core/ids.h"
#include "core/keys.h"

/* ---- event types ---------------------------------------------------------------- */

const char *const webhook_event_types[] = {
    "merchant.created",
    "order.created",
    "order.approved",
    "order.rejected",
    "order.review_requested",
    "order.confirmed",
    "order.cancelled",
    "order.shipped",
    "order.abandoned",
    "order.expired",
    "order.cart_updated",
    "order.returned",
    "order.instalment_paid",
    "order.instalment_failed",
    "order.paid_off",
    "order.card_changed",
    "order.early_payment",
    "order.due_day_changed",
    "payment.created",
    "payment.authorized",
    "payment.captured",
    "payment.partially_captured",
    "payment.failed",
    "payment.cancelled",
    "payment.amount_updated",
    "payment.authorization_expired",
    "payment.charge_succeeded",
    "payment.charge_failed",
    /* refunds */
    "refund.created",
    "refund.sent",
    "refund.refunded",
    "refund.failed",
    "refund.not_honored",
    "refund.payment_cancelled",
    /* disputes */
    "dispute.opened",
    "dispute.evidence_added",
    "dispute.submitted",
    "dispute.evidence_sent",
    "dispute.under_review",
    "dispute.won",
    "dispute.lost",
    "dispute.accepted",
    "dispute.expired",
    /* payment links */
    "payment_link.created",
    "payment_link.completed",
    "payment_link.payment_failed",
    "payment_link.expired",
    "payment_link.deactivated",
    /* payouts */
    "payout.created",
    "payout.in_transit",
    "payout.paid",
    "payout.failed",
    "payout_schedule.ran",
    /* disbursements */
    "disbursement.created",
    "disbursement_schedule.ran",
    /* payment terminals */
    "terminal.created",
    "terminal.updated",
    "terminal.billed",
    /* risk settings */
    "risk_settings.updated",
    /* bank account */
    "bank_account.updated",
    "customer.created",
    "customer.otp_requested",
    "customer.otp_failed",
    "customer.session_started",
    "test_clock.advanced",
    NULL,
};

int webhook_type_deliverable(const char *type)
{
    /* plugin.* events are a plugin's own storage (caisse.kv), not the merchant's business */
    return type && strncmp(type, "webhook_endpoint.", 17) != 0 && strncmp(type, "plugin.", 7) != 0;
}

int webhook_filter_valid(const char *f)
{
    if (!f || !*f || strlen(f) >= CS_EVENT_TYPE_BYTES_MAX)
        return 0;
    if (strcmp(f, "*") == 0)
        return 1;
    size_t n = strlen(f);
    int wildcard = n > 2 && f[n - 1] == '*' && f[n - 2] == '.';
    for (const char *const *t = webhook_event_types; *t; t++) {
        if (wildcard ? strncmp(*t, f, n - 1) == 0 : strcmp(*t, f) == 0)
            return 1;
    }
    return 0;
}

int webhook_filter_match(const char *filter, const char *type)
{
    if (!webhook_type_deliverable(type))
        return 0;
    if (strcmp(filter, "*") == 0)
        return 1;
    size_t n = strlen(filter);
    if (n > 2 && filter[n - 1] == '*' && filter[n - 2] == '.')
        return strncmp(filter, type, n - 1) == 0;
    return strcmp(filter, type) == 0;
}

int webhook_filters_match(const char *filters, size_t len, const char *type)
{
    const char *p = filters, *end = filters + len;
    while (p < end) {
        size_t n = strnlen(p, (size_t)(end - p));
        if (n == (size_t)(end - p))
            return 0;   /* not terminated: malformed, match nothing */
        if (webhook_filter_match(p, type))
            return 1;
        p += n + 1;
    }
    return 0;
}

/* ---- retries --------------------------------------------------------------------- */

static const int64_t backoff_s[WEBHOOK_ATTEMPTS_MAX] = {
    0, 5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 14 * 3600, 20 * 3600, 24 * 3600,
};

int64_t webhook_backoff_nominal_s(unsigned attempt)
{
    return attempt < WEBHOOK_ATTEMPTS_MAX ? backoff_s[attempt] : -1;
}

int64_t webhook_backoff_us(unsigned attempt, double scale, uint32_t rnd)
{
    if (attempt >= WEBHOOK_ATTEMPTS_MAX)
        return -1;
    if (!(scale > 0))
        scale = 1.0;
    double us = (double)backoff_s[attempt] * 1e6 * scale;
    /* jitter in [-10 %, +10 %): retries of many deliveries that failed together
     * (an endpoint coming back) do not all arrive at the same instant */
    double j = 0.9 + 0.2 * ((double)rnd / 4294967296.0);
    return (int64_t)(us * j);
}

/* ---- secrets and signatures ------------------------------------------------------ */

int webhook_secret_new(char out[WEBHOOK_SECRET_TEXT_BYTES])
{
    uint8_t raw[WEBHOOK_SECRET_RAW_BYTES];
    if (crypto_random(raw, sizeof raw) != 0)
        return CS_EINTERNAL;
    memcpy(out, "whsec_", 6);
    size_t n = 0;
    if (mbedtls_base64_encode((unsigned char *)out + 6, WEBHOOK_SECRET_TEXT_BYTES - 6, &n, raw, sizeof raw))
        return CS_EINTERNAL;
    out[6 + n] = 0;
    return 0;
}

int webhook_secret_decode(const char *secret, uint8_t *key, size_t cap, size_t *key_len)
{
    if (!secret || strncmp(secret, "whsec_", 6) != 0)
        return CS_EPARAM;
    const char *b = secret + 6;
    if (mbedtls_base64_decode(key, cap, key_len, (const unsigned char *)b, strlen(b)) || *key_len == 0)
        return CS_EPARAM;
    return 0;
}

size_t webhook_sign(const uint8_t *key, size_t key_len, const char *msg_id, int64_t timestamp_s,
                    const char *body, size_t body_len, char *out, size_t cap)
{
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
    mbedtls_md_context_t c;
    uint8_t mac[32];
    char ts[24];
    int tn = snprintf(ts, sizeof ts, "%lld", (long long)timestamp_s);
    mbedtls_md_init(&c);
    int rc = mbedtls_md_setup(&c, md, 1) || mbedtls_md_hmac_starts(&c, key, key_len) ||
             mbedtls_md_hmac_update(&c, (const unsigned char *)msg_id, strlen(msg_id)) ||
             mbedtls_md_hmac_update(&c, (const unsigned char *)".", 1) ||
             mbedtls_md_hmac_update(&c, (const unsigned char *)ts, (size_t)tn) ||
             mbedtls_md_hmac_update(&c, (const unsigned char *)".", 1) ||
             mbedtls_md_hmac_update(&c, (const unsigned char *)body, body_len) ||
             mbedtls_md_hmac_finish(&c, mac);
    mbedtls_md_free(&c);
    if (rc || cap < 4)
        return 0;
    memcpy(out, "v1,", 3);
    size_t n = 0;
    if (mbedtls_base64_encode((unsigned char *)out + 3, cap - 3, &n, mac, sizeof mac))
        return 0;
    return 3 + n;
}

/* ---- the master key ---------------------------------------------------------------- */

int webhook_master_key_load(const char *data_dir, uint8_t key[WEBHOOK_MASTER_KEY_BYTES], struct cs_diag *d)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/master.key", data_dir);
    if (keys_load(data_dir, "master.key", key) != 0)   /* creates it 0600 at the first start */
        return cs_fail(d, CS_EIO, "master.key", "cannot read or create %s", path);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size != WEBHOOK_MASTER_KEY_BYTES)
        return cs_fail(d, CS_ECORRUPT, "master.key", "%s must be a file of %u bytes", path,
                       WEBHOOK_MASTER_KEY_BYTES);
    if (st.st_mode & 077)
        return cs_fail(d, CS_EFORBIDDEN, "master.key", "%s is readable by others: chmod 600 it", path);
    return 0;
}

#define GCM_NONCE_BYTES 12u
#define GCM_TAG_BYTES 16u

int webhook_secret_seal(const uint8_t key[WEBHOOK_MASTER_KEY_BYTES], const char *endpoint_id,
                        const char *secret, json_t **out)
{
    size_t n = strlen(secret);
    uint8_t nonce[GCM_NONCE_BYTES], ct[WEBHOOK_SECRET_TEXT_BYTES + GCM_TAG_BYTES];
    if (n >= WEBHOOK_SECRET_TEXT_BYTES || crypto_random(nonce, sizeof nonce) != 0)
        return CS_EINTERNAL;
    mbedtls_gcm_context g;
    mbedtls_gcm_init(&g);
    int rc = mbedtls_gcm_setkey(&g, MBEDTLS_CIPHER_ID_AES, key, 256) ||
             mbedtls_gcm_crypt_and_tag(&g, MBEDTLS_GCM_ENCRYPT, n, nonce, sizeof nonce,
                                       (const unsigned char *)endpoint_id, strlen(endpoint_id),
                                       (const unsigned char *)secret, ct, GCM_TAG_BYTES, ct + n);
    mbedtls_gcm_free(&g);
    if (rc)
        return CS_EINTERNAL;
    char nb[32], cb[128];
    size_t nl = 0, cl = 0;
    if (mbedtls_base64_encode((unsigned char *)nb, sizeof nb, &nl, nonce, sizeof nonce) ||
        mbedtls_base64_encode((unsigned char *)cb, sizeof cb, &cl, ct, n + GCM_TAG_BYTES))
        return CS_EINTERNAL;
    *out = json_pack("{s:s#,s:s#}", "nonce", nb, (int)nl, "ciphertext", cb, (int)cl);
    return *out ? 0 : CS_ENOMEM;
}

int webhook_secret_open(const uint8_t key[WEBHOOK_MASTER_KEY_BYTES], const char *endpoint_id,
                        const json_t *sealed, char out[WEBHOOK_SECRET_TEXT_BYTES])
{
    const char *nb = json_string_value(json_object_get(sealed, "nonce"));
    const char *cb = json_string_value(json_object_get(sealed, "ciphertext"));
    uint8_t nonce[GCM_NONCE_BYTES + 4], ct[WEBHOOK_SECRET_TEXT_BYTES + GCM_TAG_BYTES + 4];
    size_t nl = 0, cl = 0;
    if (!nb || !cb || mbedtls_base64_decode(nonce, sizeof nonce, &nl, (const unsigned char *)nb, strlen(nb)) ||
        nl != GCM_NONCE_BYTES ||
        mbedtls_base64_decode(ct, sizeof ct, &cl, (const unsigned char *)cb, strlen(cb)) ||
        cl <= GCM_TAG_BYTES || cl - GCM_TAG_BYTES >= WEBHOOK_SECRET_TEXT_BYTES)
        return CS_ECORRUPT;
    size_t n = cl - GCM_TAG_BYTES;
    mbedtls_gcm_context g;
    mbedtls_gcm_init(&g);
    int rc = mbedtls_gcm_setkey(&g, MBEDTLS_CIPHER_ID_AES, key, 256) ||
             mbedtls_gcm_auth_decrypt(&g, n, nonce, GCM_NONCE_BYTES, (const unsigned char *)endpoint_id,
                                      strlen(endpoint_id), ct + n, GCM_TAG_BYTES, ct, (unsigned char *)out);
    mbedtls_gcm_free(&g);
    if (rc)
        return CS_ECORRUPT;
    out[n] = 0;
    return 0;
}

void webhook_msg_id(const char *endpoint_id, uint64_t seq, char out[CS_ID_BYTES_MAX])
{
    static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    char buf[CS_ID_BYTES_MAX + 24];
    int n = snprintf(buf, sizeof buf, "%s:%llu", endpoint_id, (unsigned long long)seq);
    uint8_t h[32];
    crypto_sha256(buf, (size_t)n, h);
    memcpy(out, "msg_", 4);
    /* 26 characters of 5 bits each from the first 130 bits of the hash */
    for (unsigned i = 0; i < ID_BODY_CHARS; i++) {
        unsigned bit = i * 5, byte = bit / 8, shift = bit % 8;
        unsigned v = ((unsigned)h[byte] << 8 | h[byte + 1]) >> (11 - shift);
        out[4 + i] = crockford[v & 31];
    }
    out[4 + ID_BODY_CHARS] = 0;
}

/* ---- URLs ---------------------------------------------------------------------------- */

int webhook_url_parse(const char *url, struct webhook_url *u, const char **why)
{
    memset(u, 0, sizeof *u);
    size_t len = strlen(url);
    if (len == 0 || len > CS_WEBHOOK_URL_BYTES_MAX) {
        *why = "url must be 1 to 2048 bytes";
        return CS_EPARAM;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)url[i];
        if (ch <= 0x20 || ch >= 0x7f) {
            *why = "url must be printable ASCII without spaces (percent-encode the rest)";
            return CS_EPARAM;
        }
    }
    const char *p;
    if (strncasecmp(url, "https://", 8) == 0) {
        u->tls = 1;
        p = url + 8;
    } else if (strncasecmp(url, "http://", 7) == 0) {
        p = url + 7;
    } else {
        *why = "url must start with https:// or http://";
        return CS_EPARAM;
    }
    if (strchr(url, '#')) {
        *why = "url must not have a fragment (#…)";
        return CS_EPARAM;
    }
    size_t alen = strcspn(p, "/?");
    const char *path = p + alen;
    if (memchr(p, '@', alen)) {
        *why = "url must not carry credentials (user:password@): authenticate the signature instead";
        return CS_EPARAM;
    }
    const char *host = p, *port = NULL;
    size_t hlen;
    if (alen > 0 && p[0] == '[') {
        const char *close = memchr(p, ']', alen);
        if (!close) {
            *why = "url has an unterminated IPv6 address";
            return CS_EPARAM;
        }
        host = p + 1;
        hlen = (size_t)(close - host);
        if (close + 1 < p + alen) {
            if (close[1] != ':') {
                *why = "url has a malformed host";
                return CS_EPARAM;
            }
            port = close + 2;
        }
        u->host_is_ip = 1;
    } else {
        const char *colon = memchr(p, ':', alen);
        hlen = colon ? (size_t)(colon - p) : alen;
        if (colon)
            port = colon + 1;
    }
    if (hlen == 0 || hlen >= sizeof u->host) {
        *why = "url must name a host";
        return CS_EPARAM;
    }
    for (size_t i = 0; i < hlen; i++) {
        char ch = host[i];
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
                 ch == '-' || (u->host_is_ip && ch == ':');
        if (!ok) {
            *why = "url has a malformed host";
            return CS_EPARAM;
        }
        u->host[i] = (char)((ch >= 'A' && ch <= 'Z') ? ch + 32 : ch);
    }
    u->host[hlen] = 0;
    if (u->host_is_ip) {
        struct in6_addr a6;
        if (inet_pton(AF_INET6, u->host, &a6) != 1) {
            *why = "url has a malformed IPv6 address";
            return CS_EPARAM;
        }
    } else {
        struct in_addr a4;
        u->host_is_ip = inet_pton(AF_INET, u->host, &a4) == 1;
    }
    if (port) {
        size_t plen = (size_t)(p + alen - port);
        long v = 0;
        for (size_t i = 0; i < plen; i++) {
            if (port[i] < '0' || port[i] > '9' || i >= 5) {
                *why = "url has a malformed port";
                return CS_EPARAM;
            }
            v = v * 10 + (port[i] - '0');
        }
        if (plen == 0 || v < 1 || v > 65535) {
            *why = "url port must be 1 to 65535";
            return CS_EPARAM;
        }
        snprintf(u->port, sizeof u->port, "%ld", v);
    } else {
        snprintf(u->port, sizeof u->port, "%s", u->tls ? "443" : "80");
    }
    if (*path == '?' || !*path)
        snprintf(u->path, sizeof u->path, "/%s", path);
    else
        snprintf(u->path, sizeof u->path, "%s", path);
    return 0;
}

/* ---- SSRF ------------------------------------------------------------------------------ */

static const char *v4_class(uint32_t a)
{
    if (a == 0xA9FEA9FEu)                      return "metadata";      /* 169.254.169.254 */
    if ((a >> 24) == 0)                        return "unspecified";   /* 0.0.0.0/8 */
    if ((a >> 24) == 10)                       return "private";       /* 10/8 */
    if ((a >> 24) == 127)                      return "loopback";      /* 127/8 */
    if ((a & 0xFFF00000u) == 0xAC100000u)      return "private";       /* 172.16/12 */
    if ((a & 0xFFFF0000u) == 0xC0A80000u)      return "private";       /* 192.168/16 */
    if ((a & 0xFFFF0000u) == 0xA9FE0000u)      return "link_local";    /* 169.254/16 */
    if ((a & 0xFFC00000u) == 0x64400000u)      return "shared";        /* 100.64/10 (CGNAT) */
    if ((a & 0xF0000000u) == 0xE0000000u)      return "multicast";     /* 224/4 */
    if ((a & 0xF0000000u) == 0xF0000000u)      return "reserved";      /* 240/4, broadcast */
    return NULL;
}

static uint32_t v4_at(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

const char *webhook_addr_class(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return v4_class(ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr));
    if (sa->sa_family != AF_INET6)
        return "reserved";
    const uint8_t *b = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
    static const uint8_t zero[16];
    if (memcmp(b, zero, 16) == 0)
        return "unspecified";                                        /* :: */
    if (memcmp(b, zero, 15) == 0 && b[15] == 1)
        return "loopback";                                           /* ::1 */
    if (memcmp(b, zero, 10) == 0 && b[10] == 0xff && b[11] == 0xff)
        return v4_class(v4_at(b + 12));                              /* ::ffff:a.b.c.d */
    if (memcmp(b, zero, 12) == 0)
        return v4_class(v4_at(b + 12));                              /* ::a.b.c.d (deprecated) */
    static const uint8_t nat64[12] = {0x00, 0x64, 0xff, 0x9b};
    if (memcmp(b, nat64, 12) == 0)
        return v4_class(v4_at(b + 12));                              /* 64:ff9b::/96 */
    if (b[0] == 0x20 && b[1] == 0x02)
        return v4_class(v4_at(b + 2));                               /* 2002::/16 6to4 */
    if ((b[0] & 0xfe) == 0xfc)
        return "private";                                            /* fc00::/7 (incl. fd00:ec2::254) */
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
        return "link_local";                                         /* fe80::/10 */
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0)
        return "private";                                            /* fec0::/10 site-local */
    if (b[0] == 0xff)
        return "multicast";                                          /* ff00::/8 */
    return NULL;
}

const char *webhook_addr_refused(const struct sockaddr *sa, int allow_private)
{
    const char *c = webhook_addr_class(sa);
    if (!c)
        return NULL;
    if (allow_private && strcmp(c, "metadata") != 0)
        return NULL;
    return c;
}

const char *webhook_host_refused(const struct webhook_url *u, int allow_private)
{
    size_t n = strlen(u->host);
    if (strcmp(u->host, "metadata.google.internal") == 0 || strcmp(u->host, "metadata") == 0)
        return "metadata";
    if (!allow_private && (strcmp(u->host, "localhost") == 0 ||
                           (n > 10 && strcmp(u->host + n - 10, ".localhost") == 0)))
        return "loopback";
    if (!u->host_is_ip)
        return NULL;   /* a name: judged on its resolved addresses at each delivery */
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (strchr(u->host, ':')) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        if (inet_pton(AF_INET6, u->host, &s6->sin6_addr) != 1)
            return "reserved";
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        if (inet_pton(AF_INET, u->host, &s4->sin_addr) != 1)
            return "reserved";
    }
    return webhook_addr_refused((const struct sockaddr *)&ss, allow_private);
}

/* ---- the observer ---------------------------------------------------------------------- */

struct observe_ctx {
    struct store_txn *t;
    const struct event_view *v;
    int err;
    unsigned rows;
};

static int observe_route(void *ctx, const char *endpoint_id, int enabled, const char *filters, size_t len)
{
    struct observe_ctx *o = ctx;
    if (!enabled || !webhook_filters_match(filters, len, o->v->type))
        return 0;
    struct webhook_outbox_row r = {.due_us = o->v->time_us, .seq = o->v->seq, .attempt = 0,
                                   .first_us = o->v->time_us};
    snprintf(r.endpoint_id, sizeof r.endpoint_id, "%s", endpoint_id);
    webhook_msg_id(endpoint_id, o->v->seq, r.msg_id);
    o->err = store_webhook_outbox_put(o->t, &r);
    o->rows++;
    return o->err != 0;
}

int webhooks_observe(struct store_txn *t, const struct event_view *v, void *ctx)
{
    struct webhooks *wh = ctx;
    if (!v->merchant_id || !webhook_type_deliverable(v->type))
        return 0;
    struct observe_ctx o = {.t = t, .v = v};
    int err = store_webhook_routes_each(t, v->merchant_id, v->livemode, NULL, observe_route, &o);
    if (!err)
        err = o.err;
    if (!err && o.rows)
        __atomic_store_n(&wh->outbox_dirty, 1, __ATOMIC_RELEASE);
    return err;
}

/* ---- mail spool ------------------------------------------------------------------------ */

int webhook_mail_spool(const char *data_dir, const char *to, const char *subject, const char *text)
{
    char dir[4096], tmp[4300], path[4300], id[CS_ID_BYTES_MAX], date[64];
    int64_t now = clock_now_us();
    if (id_new("mail", now, id, sizeof id) != 0)
        return CS_EINTERNAL;
    /* The same Maildir as the shoppers' e-mails (core/mail_spool.c). */
    snprintf(dir, sizeof dir, "%s/mail-spool", data_dir);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return CS_EIO;
    snprintf(tmp, sizeof tmp, "%s/tmp", dir);
    snprintf(path, sizeof path, "%s/new", dir);
    if ((mkdir(tmp, 0700) != 0 && errno != EEXIST) || (mkdir(path, 0700) != 0 && errno != EEXIST))
        return CS_EIO;
    snprintf(tmp, sizeof tmp, "%s/tmp/%s.eml", dir, id);
    snprintf(path, sizeof path, "%s/new/%s.eml", dir, id);
    time_t s = (time_t)(now / 1000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return CS_EIO;
    fprintf(f, "Date: %s\r\nFrom: caisse <noreply@caisse.invalid>\r\nTo: %s\r\nSubject: %s\r\n"
               "Message-ID: <%s@caisse.invalid>\r\nMIME-Version: 1.0\r\n"
               "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n",
            date, to, subject, id);
    for (const char *p = text; *p; p++) {
        if (*p == '\n')
            fputc('\r', f);
        fputc(*p, f);
    }
    int bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        unlink(tmp);
        return CS_EIO;
    }
    return 0;
}
