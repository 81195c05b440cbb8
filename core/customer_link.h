#ifndef CAISSE_CUSTOMER_LINK_H
#define CAISSE_CUSTOMER_LINK_H
/* The customer of a card payment (DOMAIN.md "Customer"): the merchant's
 * customer named by `customer_id`, or the one with the payment's e-mail
 * (ASCII case ignored) or else its phone, or a new customer made from the
 * payment's customer details (customer.created, without an ID document).
 * A payment without customer details has none. Writer thread. */
#include <jansson.h>
#include "core/command.h"

/* Sets draft.customer_id (a customer of the command's merchant and mode) or
 * leaves it null; appends customer.created for a new customer. CS_EPARAM
 * (param customer_id) if the given id is not one of the merchant's. */
int customer_link_payment(struct store_txn *t, struct command *c, json_t *draft);

#endif
