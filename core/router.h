#ifndef CAISSE_ROUTER_H
#define CAISSE_ROUTER_H
/* Routes are a table (core/routes.c). Flags drive the generic work done
 * before a handler runs: authentication and the body's media type. */
#include "core/app.h"

enum route_flags {
    ROUTE_PUBLIC     = 0,
    ROUTE_MERCHANT   = 1 << 0,   /* Bearer secret key of a merchant: sets merchant_id/livemode */
    ROUTE_OPERATOR   = 1 << 1,   /* Bearer operator token */
    ROUTE_WRITE      = 1 << 2,   /* goes through the writer (durable before answered) */
    ROUTE_IDEMPOTENT = 1 << 3,   /* honours Idempotency-Key */
    ROUTE_JSON_BODY  = 1 << 4,   /* a non-empty body must be application/json */
    ROUTE_SHOPPER    = 1 << 5,   /* Bearer session token of a shopper (cst_…): sets customer_id */
};

typedef void (*route_fn)(struct req_ctx *rc);

struct route {
    const char *method;
    const char *pattern;         /* "/v1/orders/{id}/confirm" */
    route_fn fn;
    unsigned flags;
    const char *operation_id;    /* as in the OpenAPI document */
};

extern const struct route routes[];   /* ends with method == NULL */

/* The http_handler_fn of the server: matches, authenticates, dispatches.
 * ctx is the struct app. */
void router_handle(struct http_request *req, void *ctx);

/* Handlers. */
void api_healthz(struct req_ctx *rc);
void api_metrics(struct req_ctx *rc);
void api_openapi(struct req_ctx *rc);
void api_orders_create(struct req_ctx *rc);
void api_orders_get(struct req_ctx *rc);
void api_orders_list(struct req_ctx *rc);
void api_orders_export(struct req_ctx *rc);
void api_orders_confirm(struct req_ctx *rc);
void api_orders_cancel(struct req_ctx *rc);
void api_orders_ship(struct req_ctx *rc);
void api_orders_activity(struct req_ctx *rc);
void api_orders_edit_cart(struct req_ctx *rc);
void api_orders_return(struct req_ctx *rc);
/* payments */
void api_payments_create(struct req_ctx *rc);
void api_payments_get(struct req_ctx *rc);
void api_payments_update(struct req_ctx *rc);
void api_payments_capture(struct req_ctx *rc);
void api_payments_cancel(struct req_ctx *rc);
void api_payments_duplicate(struct req_ctx *rc);
/* refunds */
void api_refunds_create(struct req_ctx *rc);
void api_refunds_list(struct req_ctx *rc);
void api_refunds_get(struct req_ctx *rc);
/* disputes */
void api_disputes_list(struct req_ctx *rc);
void api_disputes_get(struct req_ctx *rc);
void api_disputes_evidence(struct req_ctx *rc);
void api_disputes_evidence_file(struct req_ctx *rc);
void api_disputes_submit(struct req_ctx *rc);
void api_disputes_accept(struct req_ctx *rc);
void api_test_disputes_create(struct req_ctx *rc);
void api_test_disputes_resolve(struct req_ctx *rc);
/* payment links */
void api_payment_links_create(struct req_ctx *rc);
void api_payment_links_list(struct req_ctx *rc);
void api_payment_links_get(struct req_ctx *rc);
void api_payment_links_deactivate(struct req_ctx *rc);
void api_pay_page(struct req_ctx *rc);
void api_pay_submit(struct req_ctx *rc);
/* balance */
void api_balance_get(struct req_ctx *rc);
void api_balance_transactions(struct req_ctx *rc);
/* bank account */
void api_bank_account_get(struct req_ctx *rc);
void api_bank_account_set(struct req_ctx *rc);
/* payouts */
void api_payouts_create(struct req_ctx *rc);
void api_payouts_list(struct req_ctx *rc);
void api_payouts_get(struct req_ctx *rc);
void api_payouts_transfer_file(struct req_ctx *rc);
/* payout reports and the fee invoice */
void api_payout_report_pdf(struct req_ctx *rc);
void api_payout_report_xlsx(struct req_ctx *rc);
void api_reports_fees_pdf(struct req_ctx *rc);
/* disbursement reports, the yearly summary, the daily sales (core/api_disbursement_reports.c,
 * core/api_summary_reports.c) */
void api_disbursement_report_pdf(struct req_ctx *rc);
void api_disbursement_report_xlsx(struct req_ctx *rc);
void api_reports_yearly_pdf(struct req_ctx *rc);
void api_reports_yearly_xlsx(struct req_ctx *rc);
void api_reports_daily_sales_pdf(struct req_ctx *rc);
void api_reports_daily_sales_xlsx(struct req_ctx *rc);
void api_reports_daily_sales_csv(struct req_ctx *rc);
void api_payout_schedule_get(struct req_ctx *rc);
/* disbursements (core/api_disbursements.c) */
void api_disbursements_list(struct req_ctx *rc);
void api_disbursements_get(struct req_ctx *rc);
/* payment terminals (core/api_terminals.c) */
void api_terminals_create(struct req_ctx *rc);
void api_terminals_list(struct req_ctx *rc);
void api_terminals_get(struct req_ctx *rc);
void api_terminals_update(struct req_ctx *rc);
/* reconciliation (core/api_reconciliation.c) */
void api_reconciliation_get(struct req_ctx *rc);
void api_reconciliation_export(struct req_ctx *rc);
void api_reconciliation_findings_csv(struct req_ctx *rc);
/* risk settings and reports */
void api_risk_settings_get(struct req_ctx *rc);
void api_risk_settings_update(struct req_ctx *rc);
void api_reports_efficiency(struct req_ctx *rc);
void api_payments_list(struct req_ctx *rc);
void api_payments_export(struct req_ctx *rc);
void api_customers_list(struct req_ctx *rc);
void api_customers_get(struct req_ctx *rc);
void api_events_list(struct req_ctx *rc);
void api_test_clock_get(struct req_ctx *rc);
void api_portal_otp(struct req_ctx *rc);
void api_portal_session(struct req_ctx *rc);
void api_portal_orders(struct req_ctx *rc);
void api_portal_payoff(struct req_ctx *rc);
void api_portal_card(struct req_ctx *rc);
void api_test_clock_advance(struct req_ctx *rc);
void api_admin_reload(struct req_ctx *rc);
void api_plugins_list(struct req_ctx *rc);
void api_admin_plugins_reload(struct req_ctx *rc);
void api_admin_early_payment(struct req_ctx *rc);
void api_admin_due_day(struct req_ctx *rc);
void api_webhooks_create(struct req_ctx *rc);
void api_webhooks_list(struct req_ctx *rc);
void api_webhooks_get(struct req_ctx *rc);
void api_webhooks_update(struct req_ctx *rc);
void api_webhooks_delete(struct req_ctx *rc);
void api_webhooks_rotate(struct req_ctx *rc);
void api_webhooks_deliveries(struct req_ctx *rc);
void api_webhooks_redeliver(struct req_ctx *rc);

#endif
