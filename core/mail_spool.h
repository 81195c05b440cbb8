#ifndef CAISSE_MAIL_SPOOL_H
#define CAISSE_MAIL_SPOOL_H
/* Delivers the mail outbox to a Maildir-style spool, <data>/mail-spool:
 * each message is written to tmp/ then renamed into new/ (so a reader never
 * sees half a file), then removed from the outbox through the writer. A crash
 * between the two writes the same file again: delivery is at least once, and
 * the file name (the outbox key) makes a repeat harmless. */
#include "core/app.h"

struct mail_spool;

int mail_spool_start(struct app *app, const char *data_dir, struct mail_spool **out);
void mail_spool_stop(struct mail_spool *m);

#endif
