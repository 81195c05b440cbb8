#ifndef CAISSE_CLI_H
#define CAISSE_CLI_H
/* The command line (DESIGN.md "The command line"): each returns the exit status. */
int cli_serve(int argc, char **argv);
int cli_merchant(int argc, char **argv);
int cli_replay(int argc, char **argv);
int cli_audit(int argc, char **argv);
int cli_events(int argc, char **argv);
int cli_idempotency(int argc, char **argv);
int cli_projections(int argc, char **argv);
int cli_plugin(int argc, char **argv);   /* core/cli_plugin.c */
int cli_sepa(int argc, char **argv);     /* core/cli_sepa.c */
#endif
