#define _GNU_SOURCE /* nftw */
/* Operator subcommands. Each error is one line on stderr naming what failed;
 * exit status 0 means success. */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <time.h>
#include "core/json_in.h"
#include "core/cli.h"
#include "core/server.h"
#include "core/clock.h"
#include "core/crypto.h"
#include "core/ids.h"
#include "core/limits.h"
#include "core/money.h"
#include "core/payment_links.h"
#include "store/store.h"

/* --name value / --name=value lookup over argv; NULL if absent. Flags without
 * a value are looked up with has_flag. */
static const char *opt(int argc, char **argv, const char *name)
{
    size_t n = strlen(name);
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], name) == 0)
            return i + 1 < argc ? argv[i + 1] : NULL;
        if (strncmp(argv[i], name, n) == 0 && argv[i][n] == '=')
            return argv[i] + n + 1;
    }
    return NULL;
}

static int has_flag(int argc, char **argv, const char *name)
{
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return 1;
    return 0;
}

/* Every option must be known: a typo must not silently do something else. */
static int check_opts(int argc, char **argv, const char *const *with_value, const char *const *flags)
{
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "caisse: unexpected argument %s\n", a);
            return -1;
        }
        int ok = 0;
        for (const char *const *w = with_value; *w && !ok; w++) {
            size_t n = strlen(*w);
            if (strcmp(a, *w) == 0) {
                if (i + 1 >= argc) {
                    fprintf(stderr, "caisse: %s needs a value\n", a);
                    return -1;
                }
                i++;
                ok = 1;
            } else if (strncmp(a, *w, n) == 0 && a[n] == '=') {
                ok = 1;
            }
        }
        for (const char *const *f = flags; *f && !ok; f++)
            ok = strcmp(a, *f) == 0;
        if (!ok) {
            fprintf(stderr, "caisse: unknown option %s\n", a);
            return -1;
        }
    }
    return 0;
}

static const char *data_dir(int argc, char **argv)
{
    const char *d = opt(argc, argv, "--data");
    if (!d)
        d = getenv("CAISSE_DATA");
    return d && *d ? d : "./data";
}

static struct store *open_store(const char *dir, int read_only)
{
    struct store *s = NULL;
    struct cs_diag d = {0};
    struct store_options so = {.read_only = read_only};
    if (store_open(&s, dir, &so, &d) != 0) {
        fprintf(stderr, "caisse: %s\n", d.message);   /* it names the directory */
        return NULL;
    }
    return s;
}

/* Opens a store that must already exist: opening for writing would otherwise
 * make an empty one where the operator mistyped the path. */
static struct store *open_existing_store(const char *dir, int read_only)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    if (access(path, F_OK) != 0) {
        fprintf(stderr, "caisse: no store in %s\n", dir);
        return NULL;
    }
    return open_store(dir, read_only);
}

/* A subcommand whose only option is --data: checks the options and opens the
 * store; NULL with *status the exit status (2: bad options, 1: no store). */
static struct store *open_data_only(int argc, char **argv, int read_only, int *status)
{
    static const char *const with_value[] = {"--data", NULL};
    static const char *const flags[] = {NULL};
    *status = 2;
    if (check_opts(argc, argv, with_value, flags))
        return NULL;
    *status = 1;
    return open_existing_store(data_dir(argc, argv), read_only);
}

/* ---- serve ----------------------------------------------------------------- */

static char *read_token_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char buf[256];
    char *r = fgets(buf, sizeof buf, f);
    fclose(f);
    if (!r)
        return NULL;
    buf[strcspn(buf, "\r\n")] = 0;
    return strdup(buf);
}

int cli_serve(int argc, char **argv)
{
    static const char *const with_value[] = {"--data", "--listen", "--config", "--policy-dir",
                                             "--operator-token-file", "--map-max-bytes",
                                             "--header-timeout-ms", "--body-timeout-ms", "--smtp-relay",
                                             "--idle-timeout-ms", "--webhook-ca-file",
                                             "--webhook-backoff-scale", "--plugin-dir", "--public-url", NULL};
    static const char *const flags[] = {"--unsafe-nosync", NULL};
    if (check_opts(argc, argv, with_value, flags))
        return 2;
    int status = 0;
    struct serve_options o = {.data_dir = data_dir(argc, argv), .host = "127.0.0.1", .port = 8080};
    const char *config = opt(argc, argv, "--config");
    char *listen = NULL;
    char *policy_dir = NULL, *token_file = NULL, *map_max = NULL;
    if (config) {
        /* key = value lines; '#' starts a comment; command-line options win. */
        FILE *f = fopen(config, "r");
        if (!f) {
            fprintf(stderr, "caisse: cannot read the config file %s: %s\n", config, strerror(errno));
            return 1;
        }
        char line[1024];
        int lineno = 0;
        while (fgets(line, sizeof line, f)) {
            lineno++;
            line[strcspn(line, "#\r\n")] = 0;
            char *eq = strchr(line, '=');
            char *k = line;
            while (*k == ' ' || *k == '\t') k++;
            if (!*k)
                continue;
            if (!eq) {
                fprintf(stderr, "caisse: %s:%d: expected key = value\n", config, lineno);
                fclose(f);
                status = 1;
            goto out;
            }
            *eq = 0;
            char *v = eq + 1;
            for (char *e = eq - 1; e >= k && (*e == ' ' || *e == '\t'); e--) *e = 0;
            while (*v == ' ' || *v == '\t') v++;
            for (char *e = v + strlen(v) - 1; e >= v && (*e == ' ' || *e == '\t'); e--) *e = 0;
            char **slot = strcmp(k, "listen") == 0 ? &listen : strcmp(k, "policy_dir") == 0 ? &policy_dir
                        : strcmp(k, "operator_token_file") == 0 ? &token_file
                        : strcmp(k, "map_max_bytes") == 0 ? &map_max : NULL;
            if (strcmp(k, "data") == 0 && !opt(argc, argv, "--data")) {
                o.data_dir = strdup(v);
                continue;
            }
            if (!slot) {
                fprintf(stderr, "caisse: %s:%d: unknown key %s\n", config, lineno, k);
                fclose(f);
                status = 1;
            goto out;
            }
            free(*slot);
            *slot = strdup(v);
        }
        fclose(f);
    }
    if (opt(argc, argv, "--listen")) listen = strdup(opt(argc, argv, "--listen"));
    if (opt(argc, argv, "--policy-dir")) policy_dir = strdup(opt(argc, argv, "--policy-dir"));
    if (opt(argc, argv, "--operator-token-file")) token_file = strdup(opt(argc, argv, "--operator-token-file"));
    if (opt(argc, argv, "--map-max-bytes")) map_max = strdup(opt(argc, argv, "--map-max-bytes"));
    if (listen) {
        char *colon = strrchr(listen, ':');
        char *end;
        long port = colon ? strtol(colon + 1, &end, 10) : -1;
        if (!colon || colon == listen || *end || port < 0 || port > 65535) {
            fprintf(stderr, "caisse: --listen must be HOST:PORT, e.g. 127.0.0.1:8080\n");
            status = 2;
            goto out;
        }
        *colon = 0;
        o.host = listen;
        o.port = (int)port;
    }
    if (map_max) {
        char *end;
        unsigned long long v = strtoull(map_max, &end, 10);
        if (!*map_max || *end || v < (1u << 20)) {
            fprintf(stderr, "caisse: --map-max-bytes must be a byte count of at least 1048576\n");
            status = 2;
            goto out;
        }
        o.map_bytes_max = v;
    }
    o.policy_dir = policy_dir;
    if (token_file) {
        char *tok = read_token_file(token_file);
        if (!tok) {
            fprintf(stderr, "caisse: cannot read the operator token file %s\n", token_file);
            status = 1;
            goto out;
        }
        o.operator_token = tok;
    } else if (getenv("CAISSE_OPERATOR_TOKEN")) {
        o.operator_token = getenv("CAISSE_OPERATOR_TOKEN");
    }
    o.unsafe_nosync = has_flag(argc, argv, "--unsafe-nosync");
    o.smtp_relay = opt(argc, argv, "--smtp-relay");
    if (o.smtp_relay && strncmp(o.smtp_relay, "smtp://", 7) != 0 && strncmp(o.smtp_relay, "smtps://", 8) != 0) {
        fprintf(stderr, "caisse: --smtp-relay must be smtp://HOST:PORT or smtps://HOST:PORT\n");
        status = 2;
        goto out;
    }
    o.webhook_ca_file = opt(argc, argv, "--webhook-ca-file");
    o.plugin_dir = opt(argc, argv, "--plugin-dir");
    char public_url[PAYMENT_LINK_PUBLIC_URL_BYTES_MAX + 1];
    if (opt(argc, argv, "--public-url")) {
        const char *why = "";
        if (payment_link_public_url(opt(argc, argv, "--public-url"), public_url, sizeof public_url, &why) != 0) {
            fprintf(stderr, "caisse: --public-url: %s\n", why);
            status = 2;
            goto out;
        }
        o.public_url = public_url;
    }
    if (opt(argc, argv, "--webhook-backoff-scale")) {
        /* a test knob: 0.0001 makes the 24 h step of the retry schedule 8.6 s */
        const char *v = opt(argc, argv, "--webhook-backoff-scale");
        char *end;
        double scale = strtod(v, &end);
        if (!*v || *end || !(scale >= 1e-7 && scale <= 1.0)) {
            fprintf(stderr, "caisse: --webhook-backoff-scale must be a number from 0.0000001 to 1\n");
            status = 2;
            goto out;
        }
        o.webhook_backoff_scale = scale;
    }
    static const char *const timeouts[] = {"--header-timeout-ms", "--body-timeout-ms", "--idle-timeout-ms"};
    unsigned *slots[] = {&o.header_timeout_ms, &o.body_timeout_ms, &o.idle_timeout_ms};
    for (int i = 0; i < 3; i++) {
        const char *v = opt(argc, argv, timeouts[i]);
        if (!v)
            continue;
        char *end;
        long ms = strtol(v, &end, 10);
        if (!*v || *end || ms < 10 || ms > 3600000) {
            fprintf(stderr, "caisse: %s must be milliseconds from 10 to 3600000\n", timeouts[i]);
            status = 2;
            goto out;
        }
        *slots[i] = (unsigned)ms;
    }
    status = server_run(&o);
out:
    if (token_file)
        free((char *)o.operator_token);
    if (o.data_dir != data_dir(argc, argv))
        free((char *)o.data_dir);
    free(listen);
    free(policy_dir);
    free(token_file);
    free(map_max);
    return status;
}

/* ---- merchant create ------------------------------------------------------- */

int cli_merchant(int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "create") != 0) {
        fprintf(stderr, "caisse: usage: caisse merchant create --name NAME --country CC [--email ADDRESS] [--setup-fee MINOR] "
                "[--credit-intermediary] [--data DIR]\n");
        return 2;
    }
    argc--, argv++;
    static const char *const with_value[] = {"--name", "--country", "--data", "--setup-fee", "--email", NULL};
    static const char *const flags[] = {"--credit-intermediary", NULL};
    if (check_opts(argc, argv, with_value, flags))
        return 2;
    const char *name = opt(argc, argv, "--name"), *country = opt(argc, argv, "--country");
    const char *setup = opt(argc, argv, "--setup-fee"), *email = opt(argc, argv, "--email");
    if (email && (!jin_email(email) || !jin_printable(email))) {
        fprintf(stderr, "caisse: --email must be an e-mail address (payout notices go there)\n");
        return 2;
    }
    if (!name || !*name || strlen(name) > 200) {
        fprintf(stderr, "caisse: --name is required (1 to 200 bytes)\n");
        return 2;
    }
    const char *currency = country ? country_currency(country) : NULL;
    if (!currency) {
        fprintf(stderr, "caisse: --country must be a supported ISO 3166 code such as FR, ES, PT, IT\n");
        return 2;
    }
    long long setup_fee = 0;
    if (setup) {
        char *end;
        setup_fee = strtoll(setup, &end, 10);
        if (!*setup || *end || setup_fee < 0 || setup_fee > 100000) {
            fprintf(stderr, "caisse: --setup-fee must be minor units from 0 to 100000\n");
            return 2;
        }
    }
    struct store *s = open_store(data_dir(argc, argv), 0);
    if (!s)
        return 1;
    int64_t now = clock_now_us();
    char id[CS_ID_BYTES_MAX], evt[CS_ID_BYTES_MAX], test_key[64], live_key[64], created[40];
    char test_hash[65], live_hash[65];
    if (id_new("mer", now, id, sizeof id) || id_new("evt", now, evt, sizeof evt) ||
        api_key_new(0, test_key, sizeof test_key) || api_key_new(1, live_key, sizeof live_key)) {
        fprintf(stderr, "caisse: the random generator failed\n");
        store_close(s);
        return 1;
    }
    crypto_sha256_hex(test_key, strlen(test_key), test_hash);
    crypto_sha256_hex(live_key, strlen(live_key), live_hash);
    clock_format_rfc3339(now, created, sizeof created);
    char test_prefix[16], live_prefix[16];
    snprintf(test_prefix, sizeof test_prefix, "%.12s", test_key);
    snprintf(live_prefix, sizeof live_prefix, "%.12s", live_key);
    json_t *merchant = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:s}", "id", id, "object", "merchant", "name", name,
                                 "country", country, "currency", currency, "setup_fee_pay_in_3",
                                 (json_int_t)setup_fee, "created", created);
    /* A registered credit intermediary itself (country.rules: Portugal's
     * pt_credit_intermediary rule); absent means false. */
    if (merchant && has_flag(argc, argv, "--credit-intermediary"))
        json_object_set_new(merchant, "credit_intermediary", json_true());
    if (merchant && email)
        json_object_set_new(merchant, "email", json_string(email));   /* payout notices (docs/payouts.md) */
    json_t *data = json_pack("{s:O,s:[{s:s,s:b,s:s},{s:s,s:b,s:s}]}", "merchant", merchant, "api_keys",
                             "sha256", test_hash, "livemode", 0, "prefix", test_prefix,
                             "sha256", live_hash, "livemode", 1, "prefix", live_prefix);
    struct event_in ev = {.id = evt, .type = "merchant.created", .aggregate_id = id,
                          .expected_version = STORE_VERSION_NEW, .merchant_id = id, .livemode = 0,
                          .actor = "cli", .time_us = now, .data = data};
    struct store_txn t;
    int rc = store_write_begin(s, &t);
    if (rc == 0)
        rc = store_event_append(&t, &ev, NULL);
    if (rc == 0)
        rc = store_commit(&t, NULL);
    else
        store_abort(&t);
    json_decref(data);
    if (rc != 0) {
        json_decref(merchant);
        store_close(s);
        fprintf(stderr, "caisse: the merchant could not be recorded: %s\n", cs_err_code(rc));
        return 1;
    }
    /* The keys are shown once: only their hashes are stored. */
    json_object_set_new(merchant, "test_secret_key", json_string(test_key));
    json_object_set_new(merchant, "live_secret_key", json_string(live_key));
    char *out = json_dumps(merchant, JSON_COMPACT);
    printf("%s\n", out);
    free(out);
    json_decref(merchant);
    store_close(s);
    return 0;
}

/* ---- replay, audit, events --------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

/* The scratch environment of a replay: --scratch DIR, or a new directory
 * from tmpl; NULL (said why) if none can be made. scratch_end removes it
 * unless --keep. */
static const char *scratch_begin(int argc, char **argv, char *tmpl)
{
    const char *scratch = opt(argc, argv, "--scratch");
    if (!scratch && !(scratch = mkdtemp(tmpl)))
        fprintf(stderr, "caisse: cannot make a scratch directory: %s\n", strerror(errno));
    return scratch;
}

static void scratch_end(int argc, char **argv, const char *scratch)
{
    if (!has_flag(argc, argv, "--keep"))
        nftw(scratch, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int cli_replay(int argc, char **argv)
{
    static const char *const with_value[] = {"--data", "--scratch", NULL};
    static const char *const flags[] = {"--keep", NULL};
    if (check_opts(argc, argv, with_value, flags))
        return 2;
    struct store *s = open_store(data_dir(argc, argv), 1);
    if (!s)
        return 1;
    char tmpl[] = "/tmp/caisse-replay-XXXXXX";
    const char *scratch = scratch_begin(argc, argv, tmpl);
    if (!scratch) {
        store_close(s);
        return 1;
    }
    struct cs_diag d = {0};
    int rc = store_replay(s, scratch, stdout, &d);
    store_close(s);
    scratch_end(argc, argv, scratch);
    if (rc != 0) {
        fprintf(stderr, "caisse: replay: projections differ from the log: %s\n", d.message);
        return 1;
    }
    printf("replay: all projections equal\n");
    return 0;
}

/* caisse projections rebuild: replay, then replace what differs. The server
 * keeps documents it has read in memory, so it must not be running. */
int cli_projections(int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "rebuild") != 0) {
        fprintf(stderr, "caisse: usage: caisse projections rebuild [--data DIR] [--scratch DIR] [--keep]\n");
        return 2;
    }
    argc--, argv++;
    static const char *const with_value[] = {"--data", "--scratch", NULL};
    static const char *const flags[] = {"--keep", NULL};
    if (check_opts(argc, argv, with_value, flags))
        return 2;
    const char *dir = data_dir(argc, argv);
    struct store *s = open_existing_store(dir, 0);
    if (!s)
        return 1;
    long other = store_other_process(s);
    if (other) {
        fprintf(stderr, "caisse: projections rebuild: process %ld has %s open (a running server?): stop it first\n",
                other, dir);
        store_close(s);
        return 1;
    }
    char tmpl[] = "/tmp/caisse-rebuild-XXXXXX";
    const char *scratch = scratch_begin(argc, argv, tmpl);
    if (!scratch) {
        store_close(s);
        return 1;
    }
    struct cs_diag d = {0};
    unsigned rebuilt = 0;
    int rc = store_projections_rebuild(s, scratch, stdout, &rebuilt, &d);
    store_close(s);
    scratch_end(argc, argv, scratch);
    if (rc != 0) {
        fprintf(stderr, "caisse: projections rebuild: %s\n", d.message);
        return 1;
    }
    printf("rebuild: %u projection%s rebuilt from the log\n", rebuilt, rebuilt == 1 ? "" : "s");
    return 0;
}

/* caisse audit ledger: every merchant's postings sum to zero per currency. */
static int audit_ledger(struct store *s)
{
    struct store_txn t;
    uint64_t unbalanced = 0;
    int rc = store_read_begin(s, &t);
    if (rc == 0) {
        rc = store_ledger_check(&t, stdout, &unbalanced);
        store_abort(&t);
    }
    if (rc != 0) {
        fprintf(stderr, "caisse: audit: the ledger could not be read: %s\n", cs_err_code(rc));
        return 1;
    }
    return unbalanced ? 1 : 0;
}

int cli_audit(int argc, char **argv)
{
    int ledger = argc >= 1 && strcmp(argv[0], "ledger") == 0;
    if (argc < 1 || (strcmp(argv[0], "verify") != 0 && !ledger)) {
        fprintf(stderr, "caisse: usage: caisse audit verify|ledger [--data DIR]\n");
        return 2;
    }
    int status;
    struct store *s = open_data_only(argc - 1, argv + 1, 1, &status);
    if (!s)
        return status;
    if (ledger) {
        int lrc = audit_ledger(s);
        store_close(s);
        return lrc;
    }
    uint64_t count = 0, bad = 0;
    struct cs_diag d = {0};
    int rc = store_audit_verify(s, &count, &bad, &d);
    store_close(s);
    if (rc != 0) {
        fprintf(stderr, "caisse: audit: hash chain broken at event %llu: %s\n", (unsigned long long)bad, d.message);
        return 1;
    }
    printf("audit: %llu events, hash chain intact\n", (unsigned long long)count);
    return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    if (!s || !*s || *s == '-')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || errno)
        return -1;
    *out = v;
    return 0;
}

/* A time bound: Unix seconds, or RFC 3339 UTC ("2026-11-23T10:00:00Z"). */
static int parse_time_us(const char *s, int64_t *out)
{
    uint64_t secs;
    if (parse_u64(s, &secs) == 0) {
        if (secs > 253402300799ull)
            return -1;
        *out = (int64_t)secs * 1000000;
        return 0;
    }
    struct tm tm = {0};
    const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!end)
        return -1;
    long frac = 0;
    int digits = 0;
    if (*end == '.')
        for (end++; *end >= '0' && *end <= '9'; end++)
            if (digits < 6) {
                frac = frac * 10 + (*end - '0');
                digits++;
            }
    for (; digits < 6; digits++)
        frac *= 10;
    if (strcmp(end, "Z") != 0)
        return -1;
    *out = (int64_t)timegm(&tm) * 1000000 + frac;
    return 0;
}

int cli_events(int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "dump") != 0) {
        fprintf(stderr, "caisse: usage: caisse events dump [--data DIR] [--merchant ID] [--type T] [--from SEQ] [--to SEQ] [--since TIME] [--until TIME]\n");
        return 2;
    }
    argc--, argv++;
    static const char *const with_value[] = {"--data", "--merchant", "--type", "--from", "--to",
                                             "--since", "--until", NULL};
    static const char *const flags[] = {NULL};
    if (check_opts(argc, argv, with_value, flags))
        return 2;
    struct dump_filter f = {.merchant_id = opt(argc, argv, "--merchant"), .type = opt(argc, argv, "--type"),
                            .from_seq = 0, .to_seq = UINT64_MAX, .from_us = 0, .to_us = INT64_MAX};
    if ((opt(argc, argv, "--from") && parse_u64(opt(argc, argv, "--from"), &f.from_seq)) ||
        (opt(argc, argv, "--to") && parse_u64(opt(argc, argv, "--to"), &f.to_seq))) {
        fprintf(stderr, "caisse: --from and --to are event sequence numbers\n");
        return 2;
    }
    if ((opt(argc, argv, "--since") && parse_time_us(opt(argc, argv, "--since"), &f.from_us)) ||
        (opt(argc, argv, "--until") && parse_time_us(opt(argc, argv, "--until"), &f.to_us))) {
        fprintf(stderr, "caisse: --since and --until are Unix seconds or RFC 3339 UTC times\n");
        return 2;
    }
    struct store *s = open_store(data_dir(argc, argv), 1);
    if (!s)
        return 1;
    uint64_t count = 0;
    int rc = store_events_dump(s, &f, stdout, &count);
    store_close(s);
    if (rc != 0) {
        fprintf(stderr, "caisse: events dump failed: %s\n", cs_err_code(rc));
        return 1;
    }
    return 0;
}

/* caisse idempotency purge: the server's hourly sweep, at once. Safe while
 * the server runs (LMDB serialises the two writers); short transactions. */
int cli_idempotency(int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "purge") != 0) {
        fprintf(stderr, "caisse: usage: caisse idempotency purge [--data DIR]\n");
        return 2;
    }
    int status;
    struct store *s = open_data_only(argc - 1, argv + 1, 0, &status);
    if (!s)
        return status;
    struct idem_sweep sw = {0};
    int64_t now = clock_now_us();
    int rc = 0;
    while (!sw.done && rc == 0) {
        struct store_txn t;
        struct idem_sweep next = sw;   /* kept only once committed */
        rc = store_write_begin(s, &t);
        if (rc == 0)
            rc = store_idem_purge(&t, now, (int64_t)CS_IDEMPOTENCY_TTL_S * 1000000, CS_IDEMPOTENCY_SWEEP_STEP,
                                  &next);
        if (rc == 0)
            rc = store_commit(&t, NULL);
        else
            store_abort(&t);
        if (rc == 0)
            sw = next;
    }
    store_close(s);
    if (rc != 0) {
        fprintf(stderr, "caisse: idempotency purge failed after %llu records: %s\n",
                (unsigned long long)sw.visited, cs_err_code(rc));
        return 1;
    }
    printf("{\"visited\":%llu,\"purged\":%llu,\"ttl_seconds\":%d}\n", (unsigned long long)sw.visited,
           (unsigned long long)sw.purged, CS_IDEMPOTENCY_TTL_S);
    return 0;
}
