/* The job kinds of the scheduler besides the orders' (core/scheduler.h). */
#include <stddef.h>
#include "core/scheduler.h"
#include "core/api_payments.h"
#include "core/api_payment_links.h"
#include "core/api_disputes.h"
#include "core/api_refunds.h"
#include "core/api_payouts.h"
#include "core/api_disbursements.h"
#include "core/api_terminals.h"

const struct job_kind job_kinds[] = {
    {"payment.expire", NULL, payment_job_expire},
    {"payment.charge", payment_job_charge_prepare, payment_job_charge},
    {"payment_link.expire", NULL, payment_link_job_expire},
    {"refund.send", NULL, refund_job_send},
    {"refund.settle", NULL, refund_job_settle},
    {"dispute.simulate", dispute_job_simulate_prepare, dispute_job_simulate},
    {"dispute.advance", NULL, dispute_job_advance},
    {"dispute.expire", NULL, dispute_job_expire},
    {"payout.run", payout_job_run_prepare, payout_job_run},
    {"payout.advance", NULL, payout_job_advance},
    {"disbursement.run", disbursement_job_run_prepare, disbursement_job_run},
    {"terminal.bill", terminal_job_bill_prepare, terminal_job_bill},
    {NULL, NULL, NULL},
};
