/* The SEPA character set, amounts without floating point, and the
 * pain.001.001.03 writer: a file of three transfers read back by libxml2's
 * parser (values, counts, control sum) and validated against the subset
 * schema written for the tests (tests/e2e/sepa/pain.001.001.03-subset.xsd);
 * every bad input refused naming it. */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>
#include <libxml/xmlschemas.h>
#include "core/sepa.h"
#include "tests/unit/tap.h"

static void text_ok(const char *in, const char *want)
{
    char out[SEPA_REMITTANCE_CHARS_MAX + 1];
    const char *why = "";
    int rc = sepa_text(in, out, sizeof out, SEPA_NAME_CHARS_MAX, &why);
    OK(rc == 0, "converted: \"%s\" (%s)", in, why);
    if (rc == 0)
        EQ_STR(out, want, in);
}

static void text_bad(const char *in, const char *why_part, const char *what)
{
    char out[SEPA_REMITTANCE_CHARS_MAX + 1];
    const char *why = "";
    OK(sepa_text(in, out, sizeof out, SEPA_NAME_CHARS_MAX, &why) == -1, "refused: %s", what);
    OK(strstr(why, why_part) != NULL, "%s: \"%s\" says \"%s\"", what, why, why_part);
}

static void test_text(void)
{
    text_ok("Café Dupont & Fils", "Cafe Dupont + Fils");
    text_ok("  Boulangerie   du  Port  ", "Boulangerie du Port");
    text_ok("Straße Ærø Þór", "Strasse AEro THor");
    text_ok("Œuvres d’art", "OEuvres d'art");
    text_bad("«Bio»", "cannot carry", "guillemets");
    text_ok("Łódź Żółć Šťastný Čížek", "Lodz Zolc Stastny Cizek");
    text_ok("José Ñúñez — Peña", "Jose Nunez - Pena");
    text_ok("L\xc2\xa0" "Atelier \"Bio\" (SARL) 12/3 ?:.,'+-", "L Atelier 'Bio' (SARL) 12/3 ?:.,'+-");
    text_ok("Ĳssel ŒIL", "IJssel OEIL");
    text_bad("a\tb", "control character", "a tab");
    text_bad("a\nb", "control character", "a line break");
    text_bad("\xe6\x9d\xb1\xe4\xba\xac", "cannot carry", "CJK");
    text_bad("a@b.fr", "cannot carry", "an at sign");
    text_bad("100 \xe2\x82\xac", "cannot carry", "the euro sign");
    text_bad("5 \xc3\x97 3", "cannot carry", "a multiplication sign");
    text_bad("a_b", "cannot carry", "an underscore");
    text_bad("\xc3\x28", "not valid UTF-8", "a broken sequence");
    text_bad("\xc0\xaf", "not valid UTF-8", "an overlong slash");
    text_bad("\xed\xa0\x80", "not valid UTF-8", "a surrogate");
    text_bad("\xf4\x90\x80\x80", "not valid UTF-8", "beyond U+10FFFF");
    text_bad("   ", "empty", "only spaces");
    text_bad("", "empty", "nothing");
    /* 70 characters is the limit of the converted text */
    char s[200];
    memset(s, 'a', 70);
    s[70] = 0;
    text_ok(s, s);
    strcpy(s + 70, "   ");
    char want[71];
    memset(want, 'a', 70);
    want[70] = 0;
    text_ok(s, want);
    s[70] = 'b';
    s[71] = 0;
    text_bad(s, "too long", "71 characters");
    memset(s, 'a', 69);
    strcpy(s + 69, "\xc3\x9f");   /* ß: two letters, 71 */
    text_bad(s, "too long", "69 characters and a sharp s");
}

static void test_ids_amounts(void)
{
    OK(sepa_id_valid("CAISSE-01M834885QTQ25T05FQDY3GPQN"), "caisse's ids");
    OK(sepa_id_valid("A/B") && sepa_id_valid("x") && sepa_id_valid("(1).2:3?4+5,6'7"), "the SEPA set");
    OK(sepa_id_valid("12345678901234567890123456789012345"), "35 characters");
    OK(!sepa_id_valid("123456789012345678901234567890123456"), "36 characters");
    OK(!sepa_id_valid(""), "empty");
    OK(!sepa_id_valid("/A") && !sepa_id_valid("A/") && !sepa_id_valid("A//B"), "the slash rules");
    OK(!sepa_id_valid("A B"), "a space");
    OK(!sepa_id_valid("po_01M834885QTQ25T05FQDY3GPQN"), "an underscore");
    OK(!sepa_id_valid("caf\xc3\xa9"), "an accent");
    char a[SEPA_AMOUNT_TEXT_BYTES];
    static const struct { int64_t minor; const char *text; } amounts[] = {
        {0, "0.00"}, {5, "0.05"}, {10, "0.10"}, {100, "1.00"}, {123456, "1234.56"},
        {SEPA_AMOUNT_MAX, "999999999.99"}, {-5, "-0.05"}, {INT64_MAX, "92233720368547758.07"},
        {INT64_MIN, "-92233720368547758.08"},
    };
    for (size_t i = 0; i < sizeof amounts / sizeof *amounts; i++) {
        sepa_amount_format(amounts[i].minor, a);
        EQ_STR(a, amounts[i].text, amounts[i].text);
    }
}

/* ---- the file ---------------------------------------------------------------------- */

static const struct sepa_transfer transfers3[] = {
    {{"Café Dupont & Fils", "FR7630006000011234567890189", "AGRIFRPP"}, 123456, "EUR", "PO-0001",
     "Versement du 23/11 - commandes 1 a 42"},
    {{"Müller GmbH", "DE89370400440532013000", "COBADEFFXXX"}, 5, "EUR", "PO-0002", NULL},
    {{"Peña y Hermanos", "ES9121000418450200051332", "CAIXESBB"}, SEPA_AMOUNT_MAX, "EUR", "PO-0003", "Pago"},
};

static struct sepa_batch batch(const struct sepa_transfer *t, size_t n)
{
    struct sepa_batch b = {
        .message_id = "CAISSE-01M834885QTQ25T05FQDY3GPQN", .payment_info_id = "CAISSE-01M834885QTQ25T05FQDY3GPQN-1",
        .created_us = 1795424400123456LL,   /* 2026-11-23T09:00:00.123456Z */
        .execution_date = "2026-11-24", .initiating_party = NULL,
        .debtor = {"caisse SAS", "FR7699999000010000000000115", "CAISFRP0"},
        .batch_booking = 1, .transfers = t, .count = n,
    };
    return b;
}

static char *xpath_text(xmlXPathContextPtr ctx, const char *expr)
{
    xmlXPathObjectPtr o = xmlXPathEvalExpression(BAD_CAST expr, ctx);
    char *s = NULL;
    if (o && o->nodesetval && o->nodesetval->nodeNr == 1)
        s = (char *)xmlNodeGetContent(o->nodesetval->nodeTab[0]);
    xmlXPathFreeObject(o);
    return s;
}

static int xpath_count(xmlXPathContextPtr ctx, const char *expr)
{
    xmlXPathObjectPtr o = xmlXPathEvalExpression(BAD_CAST expr, ctx);
    int n = o && o->nodesetval ? o->nodesetval->nodeNr : -1;
    xmlXPathFreeObject(o);
    return n;
}

static void expect(xmlXPathContextPtr ctx, const char *expr, const char *want)
{
    char *got = xpath_text(ctx, expr);
    EQ_STR(got ? got : "(none)", want, expr);
    xmlFree(got);
}

/* The schema beside the e2e tests, found from this file's path. */
static int schema_valid(xmlDocPtr doc, char *err, size_t cap)
{
    char here[4096], path[4200];
    snprintf(here, sizeof here, "%s", __FILE__);
    snprintf(path, sizeof path, "%s/../../e2e/sepa/pain.001.001.03-subset.xsd", dirname(here));
    xmlSchemaParserCtxtPtr pc = xmlSchemaNewParserCtxt(path);
    xmlSchemaPtr schema = pc ? xmlSchemaParse(pc) : NULL;
    xmlSchemaValidCtxtPtr vc = schema ? xmlSchemaNewValidCtxt(schema) : NULL;
    int rc = vc ? xmlSchemaValidateDoc(vc, doc) : -1;
    if (!schema)
        snprintf(err, cap, "the schema %.400s does not load", path);
    else if (rc != 0)
        snprintf(err, cap, "%s", xmlGetLastError() ? xmlGetLastError()->message : "invalid");
    xmlSchemaFreeValidCtxt(vc);
    xmlSchemaFree(schema);
    xmlSchemaFreeParserCtxt(pc);
    return rc == 0;
}

static void test_build(void)
{
    struct sepa_batch b = batch(transfers3, 3);
    char *xml = NULL;
    size_t len = 0;
    int64_t sum = -1;
    struct cs_diag d = {0};
    int rc = sepa_pain001_build(&b, &xml, &len, &sum, &d);
    OK(rc == 0 && xml && len == strlen(xml), "built (%s)", d.message);
    if (rc)
        return;
    EQ_INT(sum, 123456 + 5 + SEPA_AMOUNT_MAX, "the control sum in minor units");
    OK(strncmp(xml, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>", 38) == 0, "the XML declaration");

    xmlDocPtr doc = xmlReadMemory(xml, (int)len, "pain.001.xml", NULL, XML_PARSE_NONET | XML_PARSE_NOBLANKS);
    OK(doc != NULL, "well-formed");
    if (!doc) {
        free(xml);
        return;
    }
    char err[512] = "";
    OK(schema_valid(doc, err, sizeof err), "valid against the subset schema: %s", err);
    xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
    xmlXPathRegisterNs(ctx, BAD_CAST "p", BAD_CAST SEPA_PAIN001_NS);
    const char *g = "/p:Document/p:CstmrCdtTrfInitn/p:GrpHdr/", *p = "/p:Document/p:CstmrCdtTrfInitn/p:PmtInf/";
    char e[256];
#define AT(base, rest) (snprintf(e, sizeof e, "%s%s", base, rest), e)
    expect(ctx, AT(g, "p:MsgId"), "CAISSE-01M834885QTQ25T05FQDY3GPQN");
    expect(ctx, AT(g, "p:CreDtTm"), "2026-11-23T09:00:00Z");
    expect(ctx, AT(g, "p:NbOfTxs"), "3");
    expect(ctx, AT(g, "p:CtrlSum"), "1000001234.60");
    expect(ctx, AT(g, "p:InitgPty/p:Nm"), "caisse SAS");
    expect(ctx, AT(p, "p:PmtInfId"), "CAISSE-01M834885QTQ25T05FQDY3GPQN-1");
    expect(ctx, AT(p, "p:PmtMtd"), "TRF");
    expect(ctx, AT(p, "p:BtchBookg"), "true");
    expect(ctx, AT(p, "p:NbOfTxs"), "3");
    expect(ctx, AT(p, "p:CtrlSum"), "1000001234.60");
    expect(ctx, AT(p, "p:PmtTpInf/p:SvcLvl/p:Cd"), "SEPA");
    expect(ctx, AT(p, "p:ReqdExctnDt"), "2026-11-24");
    expect(ctx, AT(p, "p:Dbtr/p:Nm"), "caisse SAS");
    expect(ctx, AT(p, "p:DbtrAcct/p:Id/p:IBAN"), "FR7699999000010000000000115");
    expect(ctx, AT(p, "p:DbtrAgt/p:FinInstnId/p:BIC"), "CAISFRP0");
    expect(ctx, AT(p, "p:ChrgBr"), "SLEV");
    EQ_INT(xpath_count(ctx, AT(p, "p:CdtTrfTxInf")), 3, "one CdtTrfTxInf per transfer");
    expect(ctx, AT(p, "p:CdtTrfTxInf[1]/p:PmtId/p:EndToEndId"), "PO-0001");
    expect(ctx, AT(p, "p:CdtTrfTxInf[1]/p:Amt/p:InstdAmt"), "1234.56");
    expect(ctx, AT(p, "p:CdtTrfTxInf[1]/p:Amt/p:InstdAmt/@Ccy"), "EUR");
    expect(ctx, AT(p, "p:CdtTrfTxInf[1]/p:CdtrAgt/p:FinInstnId/p:BIC"), "AGRIFRPP");
    expect(ctx, AT(p, "p:CdtTrfTxInf[1]/p:Cdtr/p:Nm"), "Cafe Dupont + Fils");
    expect(ctx, AT(p, "p:CdtTrfTxInf[1]/p:CdtrAcct/p:Id/p:IBAN"), "FR7630006000011234567890189");
    expect(ctx, AT(p, "p:CdtTrfTxInf[1]/p:RmtInf/p:Ustrd"), "Versement du 23/11 - commandes 1 a 42");
    expect(ctx, AT(p, "p:CdtTrfTxInf[2]/p:Amt/p:InstdAmt"), "0.05");
    expect(ctx, AT(p, "p:CdtTrfTxInf[2]/p:Cdtr/p:Nm"), "Muller GmbH");
    EQ_INT(xpath_count(ctx, AT(p, "p:CdtTrfTxInf[2]/p:RmtInf")), 0, "no remittance information when none");
    expect(ctx, AT(p, "p:CdtTrfTxInf[3]/p:Amt/p:InstdAmt"), "999999999.99");
    expect(ctx, AT(p, "p:CdtTrfTxInf[3]/p:Cdtr/p:Nm"), "Pena y Hermanos");
#undef AT
    xmlXPathFreeContext(ctx);
    xmlFreeDoc(doc);
    free(xml);

    /* one-by-one booking, an initiating party of its own */
    b.batch_booking = 0;
    b.initiating_party = "Plateforme caisse";
    b.count = 1;
    rc = sepa_pain001_build(&b, &xml, &len, NULL, &d);
    OK(rc == 0, "built without a control sum out");
    if (rc == 0) {
        OK(strstr(xml, "<BtchBookg>false</BtchBookg>") && strstr(xml, "<Nm>Plateforme caisse</Nm>") &&
               strstr(xml, "<CtrlSum>1234.56</CtrlSum>"),
           "booking, party and sum as given");
        free(xml);
    }
}

static void bad(struct sepa_batch b, int err, const char *param, const char *what)
{
    char *xml = (char *)"untouched";
    size_t len = 0;
    struct cs_diag d = {0};
    int rc = sepa_pain001_build(&b, &xml, &len, NULL, &d);
    OK(rc == err, "refused (%d): %s", rc, what);
    EQ_STR(d.param, param, what);
    OK(strcmp(xml, "untouched") == 0 && len == 0, "nothing out: %s", what);
}

static void good(struct sepa_batch b, const char *what)
{
    char *xml = NULL;
    size_t len = 0;
    struct cs_diag d = {0};
    OK(sepa_pain001_build(&b, &xml, &len, NULL, &d) == 0 && xml, "accepted: %s (%s)", what, d.message);
    free(xml);
}

static void test_refusals(void)
{
    struct sepa_transfer t[3];
    memcpy(t, transfers3, sizeof t);
    struct sepa_batch b = batch(t, 3);
    struct sepa_batch x;

    x = b; x.message_id = "msg_01";                 bad(x, CS_EPARAM, "message_id", "an id with an underscore");
    x = b; x.payment_info_id = "";                  bad(x, CS_EPARAM, "payment_info_id", "an empty id");
    x = b; x.execution_date = "2026-02-30";         bad(x, CS_EPARAM, "execution_date", "no such day");
    x = b; x.execution_date = "2026-11-22";         bad(x, CS_EPARAM, "execution_date", "before the file");
    x = b; x.execution_date = "2026-11-23";         good(x, "the file's own day");
    x = b; x.initiating_party = "\xe6\x9d\xb1";     bad(x, CS_EPARAM, "initiating_party", "a party of CJK");
    x = b; x.debtor.iban = "FR7699999000010000000000116"; bad(x, CS_EPARAM, "debtor.iban", "a debtor IBAN typo");
    x = b; x.debtor.bic = "CAISFR";                 bad(x, CS_EPARAM, "debtor.bic", "a short debtor BIC");
    x = b; x.debtor.name = NULL;                    bad(x, CS_EPARAM, "debtor.name", "no debtor name");
    x = b; x.count = 0;                             bad(x, CS_EPARAM, "transfers", "no transfer");
    x = b; x.count = SEPA_TRANSFERS_MAX + 1;        bad(x, CS_EPARAM, "transfers", "too many");

    t[1].creditor.bic = "cobadeff";                 bad(b, CS_EPARAM, "transfers[1].creditor.bic", "a lower-case BIC");
    t[1] = transfers3[1];
    t[2].creditor.iban = "ES91 2100 0418 4502 0005 1332";
    bad(b, CS_EPARAM, "transfers[2].creditor.iban", "an IBAN that is not normalised");
    t[2] = transfers3[2];
    t[0].creditor.name = "\xe6\x9d\xb1\xe4\xba\xac"; bad(b, CS_EPARAM, "transfers[0].creditor.name", "a CJK name");
    t[0] = transfers3[0];
    t[1].amount = 0;                                bad(b, CS_EAMOUNT, "transfers[1].amount", "a zero amount");
    t[1].amount = -5;                               bad(b, CS_EAMOUNT, "transfers[1].amount", "a negative amount");
    t[1].amount = SEPA_AMOUNT_MAX + 1;              bad(b, CS_EAMOUNT, "transfers[1].amount", "over the scheme's maximum");
    t[1] = transfers3[1];
    t[2].currency = "USD";                          bad(b, CS_ECURRENCY, "transfers[2].currency", "dollars");
    t[2].currency = NULL;                           bad(b, CS_ECURRENCY, "transfers[2].currency", "no currency");
    t[2] = transfers3[2];
    t[0].end_to_end_id = "PO 1";                    bad(b, CS_EPARAM, "transfers[0].end_to_end_id", "a space in an id");
    t[0].end_to_end_id = "123456789012345678901234567890123456";
    bad(b, CS_EPARAM, "transfers[0].end_to_end_id", "36 characters");
    t[0] = transfers3[0];
    t[2].remittance = "ligne 1\nligne 2";           bad(b, CS_EPARAM, "transfers[2].remittance", "a line break");
    t[2] = transfers3[2];
    char long_text[160];
    memset(long_text, 'r', 141);
    long_text[141] = 0;
    t[2].remittance = long_text;                    bad(b, CS_EPARAM, "transfers[2].remittance", "141 characters");
    long_text[140] = 0;
    t[2].remittance = long_text;                    good(b, "140 characters");
}

int main(void)
{
    test_text();
    test_ids_amounts();
    test_build();
    test_refusals();
    return tap_done();
}
