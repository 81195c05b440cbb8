#ifndef CAISSE_SERVER_H
#define CAISSE_SERVER_H
#include <stdint.h>

struct serve_options {
    const char *data_dir;
    const char *host;
    int port;
    const char *policy_dir;          /* override policies; NULL: built-ins only */
    const char *operator_token;      /* NULL: operator API off */
    uint64_t map_bytes_max;          /* 0: default */
    int unsafe_nosync;               /* benchmark only: MDB_NOSYNC */
    const char *smtp_relay;          /* "smtp://host:port" or NULL: e-mails to the spool dir */
    unsigned header_timeout_ms, body_timeout_ms, idle_timeout_ms; /* 0: limits.h */
    const char *webhook_ca_file;     /* PEM bundle for HTTPS webhooks; NULL: the system's */
    double webhook_backoff_scale;    /* test knob: multiplies the retry schedule; 0: 1.0 */
    const char *plugin_dir;          /* Lua plugins (docs/plugins.md); NULL: none */
    const char *public_url;          /* base of payment links' URLs (checked); NULL: http://HOST:PORT bound */
};

/* Runs the server until SIGTERM/SIGINT; returns the process exit status. */
int server_run(const struct serve_options *o);

#endif
