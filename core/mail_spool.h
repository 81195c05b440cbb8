#ifndef CAISSE_MAIL_SPOOL_H
#define CAISSE_MAIL_SPOOL_H
/* Delivers the mail outbox to a Maildir-style spool, <data>/mail-spool:
 * each message is written to tmp/ then renamed into new/ (so a reader never
 * sees half a file), then removed from the outbox through the writer. A crash
 * between the two writes the same file again: delivery is at least once, and
 * the file name (the outbox key) makes a repeat harmless. With a relay the
 * messages go over SMTP instead. */
#include "core/app.h"

struct mail_spool;

/* relay: "smtp://host:port" to send through an SMTP relay (libcurl, on a
 * worker thread) instead of writing the spool; NULL or "" for the spool. A
 * message the relay refuses stays in the outbox and is tried again. */
int mail_spool_start(struct app *app, const char *data_dir, const char *relay, struct mail_spool **out);
void mail_spool_stop(struct mail_spool *m);

#endif
