/* The job kinds of the scheduler besides the orders' (core/scheduler.h). */
#include <stddef.h>
#include "core/scheduler.h"
#include "core/api_payments.h"

const struct job_kind job_kinds[] = {
    {"payment.expire", NULL, payment_job_expire},
    {"payment.charge", payment_job_charge_prepare, payment_job_charge},
    {NULL, NULL, NULL},
};
