/* caisse: the payments back office in one binary. */
#include <stdio.h>
#include <string.h>
#include "core/cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage:\n"
            "  caisse serve   [--data DIR] [--listen 127.0.0.1:8080] [--config FILE] [--policy-dir DIR]\n"
            "                 [--plugin-dir DIR] [--public-url URL (payment links; default http://LISTEN)]\n"
            "                 [--operator-token-file FILE] [--map-max-bytes N]\n"
            "                 [--webhook-ca-file PEM] [--webhook-backoff-scale X (tests)]\n"
            "  caisse merchant create --name NAME --country CC [--email ADDRESS] [--setup-fee MINOR]\n"
            "                         [--credit-intermediary] [--data DIR]\n"
            "  caisse replay  [--data DIR]\n"
            "  caisse projections rebuild [--data DIR]   (replay, then replace the projections that differ;\n"
            "                 the server must be stopped)\n"
            "  caisse audit verify|ledger [--data DIR]\n"
            "  caisse events dump [--data DIR] [--merchant ID] [--type T] [--from SEQ] [--to SEQ]\n"
            "                     [--since TIME] [--until TIME]   (Unix seconds or RFC 3339 UTC)\n"
            "  caisse idempotency purge [--data DIR]   (deletes expired Idempotency-Key records; the server\n"
            "                 also sweeps them hourly)\n"
            "  caisse plugin test DIR   (runs the plugin's tests/*.lua against an in-memory host)\n"
            "  caisse sepa transfer-file --merchant ID [--live] [--amount MINOR] [--out FILE] [--data DIR] ...\n"
            "                 (a pain.001 credit-transfer file paying the merchant's bank account; records nothing)\n"
            "--data defaults to $CAISSE_DATA, then ./data\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "serve") == 0) return cli_serve(argc - 2, argv + 2);
    if (strcmp(cmd, "merchant") == 0) return cli_merchant(argc - 2, argv + 2);
    if (strcmp(cmd, "replay") == 0) return cli_replay(argc - 2, argv + 2);
    if (strcmp(cmd, "audit") == 0) return cli_audit(argc - 2, argv + 2);
    if (strcmp(cmd, "events") == 0) return cli_events(argc - 2, argv + 2);
    if (strcmp(cmd, "idempotency") == 0) return cli_idempotency(argc - 2, argv + 2);
    if (strcmp(cmd, "projections") == 0) return cli_projections(argc - 2, argv + 2);
    if (strcmp(cmd, "plugin") == 0) return cli_plugin(argc - 2, argv + 2);
    if (strcmp(cmd, "sepa") == 0) return cli_sepa(argc - 2, argv + 2);
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "caisse: unknown command %s\n", cmd);
    usage(stderr);
    return 2;
}
