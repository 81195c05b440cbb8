/* `caisse sepa transfer-file`: a SEPA credit-transfer file (pain.001.001.03)
 * paying one amount to a merchant's bank account, for operators to check a
 * bank's acceptance of caisse's files and for tests (docs/bank_account.md
 * "The transfer file from the command line"). It reads the store and
 * records nothing: the payout runs will build their files with the same
 * sepa_pain001_build(). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/cli.h"
#include "core/bank_account.h"
#include "core/clock.h"
#include "core/iban.h"
#include "core/ids.h"
#include "core/objects.h"
#include "core/sepa.h"
#include "store/store.h"

enum { O_DATA, O_MERCHANT, O_AMOUNT, O_DATE, O_REFERENCE, O_REMITTANCE, O_OUT, O_DNAME, O_DIBAN, O_DBIC, O_LIVE,
       O_COUNT };

static const struct {
    const char *name;
    int has_value;
} options[O_COUNT] = {
    [O_DATA] = {"--data", 1},           [O_MERCHANT] = {"--merchant", 1},
    [O_AMOUNT] = {"--amount", 1},       [O_DATE] = {"--execution-date", 1},
    [O_REFERENCE] = {"--reference", 1}, [O_REMITTANCE] = {"--remittance", 1},
    [O_OUT] = {"--out", 1},             [O_DNAME] = {"--debtor-name", 1},
    [O_DIBAN] = {"--debtor-iban", 1},   [O_DBIC] = {"--debtor-bic", 1},
    [O_LIVE] = {"--live", 0},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: caisse sepa transfer-file --merchant ID [--live] [--amount MINOR (default 100)]\n"
               "         [--execution-date YYYY-MM-DD (default today, UTC)] [--reference END-TO-END-ID]\n"
               "         [--remittance TEXT] [--out FILE (default stdout)]\n"
               "         [--debtor-name NAME --debtor-iban IBAN --debtor-bic BIC (required with --live)] [--data DIR]\n"
               "  writes a pain.001.001.03 file paying the merchant's bank account of that mode; records nothing\n");
}

/* val[i]: the option's value ("" for a flag), NULL if absent. Every
 * argument must be a known option, each at most once; a value that starts
 * with "--" is taken as a forgotten value, unless given as --name=value. */
static int parse(int argc, char **argv, const char *val[O_COUNT])
{
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int k = 0;
        size_t n = 0;
        for (; k < O_COUNT; k++) {
            n = strlen(options[k].name);
            if (strncmp(a, options[k].name, n) == 0 && (a[n] == 0 || (a[n] == '=' && options[k].has_value)))
                break;
        }
        if (k == O_COUNT) {
            fprintf(stderr, "caisse: %s %s\n", strncmp(a, "--", 2) == 0 ? "unknown option" : "unexpected argument",
                    a);
            return -1;
        }
        if (val[k]) {
            fprintf(stderr, "caisse: %s is given twice\n", options[k].name);
            return -1;
        }
        if (!options[k].has_value)
            val[k] = "";
        else if (a[n] == '=')
            val[k] = a + n + 1;
        else if (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0)   /* "--x=--y" for such a value */
            val[k] = argv[++i];
        else {
            fprintf(stderr, "caisse: %s needs a value\n", options[k].name);
            return -1;
        }
    }
    return 0;
}

/* Writes `len` bytes to `path` through a temporary file renamed over it:
 * a bank never receives half a file. */
static int write_file(const char *path, const char *text, size_t len)
{
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= sizeof tmp) {
        fprintf(stderr, "caisse: --out %s: the path is too long\n", path);
        return -1;
    }
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        fprintf(stderr, "caisse: cannot write %s: %s\n", tmp, strerror(errno));
        return -1;
    }
    int ok = fwrite(text, 1, len, f) == len && fflush(f) == 0 && fsync(fileno(f)) == 0;
    int saved = errno;
    if (fclose(f) != 0 && ok) {
        ok = 0;
        saved = errno;
    }
    if (!ok || rename(tmp, path) != 0) {
        if (ok)
            saved = errno;
        fprintf(stderr, "caisse: cannot write %s: %s\n", path, strerror(saved));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* The merchant's bank account of the mode; 1 (message printed) if the
 * merchant or the account is missing or the store fails. */
static int load_account(const char *dir, const char *merchant_id, int livemode, json_t **doc)
{
    struct store *s = NULL;
    struct cs_diag d = {0};
    struct store_options so = {.read_only = 1};
    if (store_open(&s, dir, &so, &d) != 0) {
        fprintf(stderr, "caisse: cannot open the store in %s: %s\n", dir, d.message);
        return 1;
    }
    struct store_txn t;
    int rc = store_read_begin(s, &t), begun = rc == 0;
    MDB_val m;
    if (rc == 0)
        rc = store_merchant_get(&t, merchant_id, &m);
    if (rc == CS_ENOENT) {
        fprintf(stderr, "caisse: no such merchant: %s\n", merchant_id);
    } else if (rc == 0) {
        char id[CS_ID_BYTES_MAX];
        bank_account_id(merchant_id, livemode, id);
        rc = object_load_own(&t, id, merchant_id, livemode, doc);
        if (rc == CS_ENOENT)
            fprintf(stderr,
                    "caisse: merchant %s has no bank account in %s mode: it sets one with POST /v1/bank_account\n",
                    merchant_id, livemode ? "live" : "test");
    }
    if (rc && rc != CS_ENOENT)
        fprintf(stderr, "caisse: the store could not be read: %s\n", cs_err_code(rc));
    if (begun)
        store_abort(&t);
    store_close(s);
    return rc ? 1 : 0;
}

/* "CAISSE-" and the 26 characters of a new id: sortable, unique, and of
 * the SEPA character set (an id's "_" is not). */
static int sepa_new_id(int64_t now_us, char out[SEPA_ID_CHARS_MAX + 1])
{
    char id[CS_ID_BYTES_MAX];
    if (id_new("x", now_us, id, sizeof id) != 0)
        return -1;
    snprintf(out, SEPA_ID_CHARS_MAX + 1, "CAISSE-%.26s", id + 2);
    return 0;
}

static int transfer_file(int argc, char **argv)
{
    const char *val[O_COUNT] = {0};
    if (parse(argc, argv, val))
        return 2;
    const char *merchant = val[O_MERCHANT];
    if (!merchant || !id_valid(merchant, "mer")) {
        fprintf(stderr, "caisse: --merchant must be a merchant id (mer_…)\n");
        return 2;
    }
    int livemode = val[O_LIVE] != NULL;
    long long amount = 100;
    if (val[O_AMOUNT]) {
        char *end;
        errno = 0;
        amount = strtoll(val[O_AMOUNT], &end, 10);
        if (!*val[O_AMOUNT] || *end || errno || amount < 1 || amount > SEPA_AMOUNT_MAX) {
            fprintf(stderr, "caisse: --amount must be minor units of EUR from 1 to %lld\n",
                    (long long)SEPA_AMOUNT_MAX);
            return 2;
        }
    }
    if (livemode && (!val[O_DNAME] || !val[O_DIBAN] || !val[O_DBIC])) {
        fprintf(stderr, "caisse: --live needs the debtor account: --debtor-name, --debtor-iban and --debtor-bic\n");
        return 2;
    }
    /* Without --debtor-*, test mode's debtor (core/sepa.h): it can never move money. */
    char debtor_iban[IBAN_TEXT_BYTES], debtor_bic[BIC_TEXT_BYTES];
    struct cs_diag d = {0};
    if (iban_parse(val[O_DIBAN] ? val[O_DIBAN] : SEPA_TEST_DEBTOR_IBAN, "--debtor-iban", debtor_iban, &d) ||
        bic_parse(val[O_DBIC] ? val[O_DBIC] : SEPA_TEST_DEBTOR_BIC, "--debtor-bic", debtor_bic, &d)) {
        fprintf(stderr, "caisse: %s\n", d.message);
        return 2;
    }
    if (livemode && bic_is_test(debtor_bic)) {
        fprintf(stderr, "caisse: --debtor-bic %s is a test BIC: a live file needs the bank's own BIC\n", debtor_bic);
        return 2;
    }
    const char *dir = val[O_DATA] ? val[O_DATA] : getenv("CAISSE_DATA");
    if (!dir || !*dir)
        dir = "./data";

    json_t *account = NULL;
    if (load_account(dir, merchant, livemode, &account))
        return 1;
    int64_t now = clock_now_us();
    char msg_id[SEPA_ID_CHARS_MAX + 1], pmt_id[SEPA_ID_CHARS_MAX + 1], e2e[SEPA_ID_CHARS_MAX + 1], date[16];
    if (sepa_new_id(now, msg_id) || sepa_new_id(now, e2e)) {
        fprintf(stderr, "caisse: the random generator failed\n");
        json_decref(account);
        return 1;
    }
    snprintf(pmt_id, sizeof pmt_id, "%.33s-1", msg_id);
    clock_format_date(now, date, sizeof date);
    struct sepa_transfer tr = {
        .creditor = {.name = json_string_value(json_object_get(account, "account_holder_name")),
                     .iban = json_string_value(json_object_get(account, "iban")),
                     .bic = json_string_value(json_object_get(account, "bic"))},
        .amount = amount, .currency = "EUR",
        .end_to_end_id = val[O_REFERENCE] ? val[O_REFERENCE] : e2e,
        .remittance = val[O_REMITTANCE],
    };
    struct sepa_batch b = {
        .message_id = msg_id, .payment_info_id = pmt_id, .created_us = now,
        .execution_date = val[O_DATE] ? val[O_DATE] : date,
        .debtor = {.name = val[O_DNAME] ? val[O_DNAME] : SEPA_TEST_DEBTOR_NAME, .iban = debtor_iban, .bic = debtor_bic},
        .batch_booking = 1, .transfers = &tr, .count = 1,
    };
    char *xml = NULL;
    size_t len = 0;
    int64_t sum = 0;
    int rc = sepa_pain001_build(&b, &xml, &len, &sum, &d);
    if (rc) {
        /* The inputs of this command by their option names. */
        const char *opt = strcmp(d.param, "execution_date") == 0 ? "--execution-date"
                        : strcmp(d.param, "transfers[0].end_to_end_id") == 0 ? "--reference"
                        : strcmp(d.param, "transfers[0].remittance") == 0 ? "--remittance"
                        : strncmp(d.param, "debtor.", 7) == 0 ? "the debtor account"
                        : strncmp(d.param, "transfers[0].creditor", 21) == 0 ? "the merchant's bank account"
                        : d.param;
        fprintf(stderr, "caisse: %s: %s\n", opt, d.message);
        json_decref(account);
        return rc == CS_ENOMEM || rc == CS_EINTERNAL ? 1 : 2;
    }
    int status = 0;
    if (!val[O_OUT]) {
        status = fwrite(xml, 1, len, stdout) == len && fflush(stdout) == 0 ? 0 : 1;
    } else if (write_file(val[O_OUT], xml, len) != 0) {
        status = 1;
    } else {
        char masked[IBAN_MASKED_BYTES];
        iban_mask(tr.creditor.iban, masked);
        json_t *summary = json_pack("{s:s,s:s,s:s,s:i,s:I,s:s,s:s,s:s}", "file", val[O_OUT], "message_id", msg_id,
                                    "end_to_end_id", tr.end_to_end_id, "number_of_transactions", 1, "control_sum",
                                    (json_int_t)sum, "currency", "EUR", "execution_date", b.execution_date,
                                    "creditor_iban", masked);
        char *text = summary ? json_dumps(summary, JSON_COMPACT) : NULL;
        if (text)
            printf("%s\n", text);
        free(text);
        json_decref(summary);
    }
    free(xml);
    json_decref(account);
    return status;
}

int cli_sepa(int argc, char **argv)
{
    if (argc >= 1 && strcmp(argv[0], "transfer-file") == 0)
        return transfer_file(argc - 1, argv + 1);
    usage(stderr);
    return 2;
}
