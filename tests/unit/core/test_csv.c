/* CSV fields (core/csv.h): RFC 4180 quoting and the formula guard. */
#include <string.h>
#include "core/csv.h"
#include "tests/unit/tap.h"

static void row(const char *const *fields, const char *want, const char *what)
{
    struct csv_buf c = {0};
    for (size_t i = 0; fields[i]; i++)
        csv_text(&c, fields[i], fields[i + 1] == NULL);
    EQ_STR(c.out, want, what);
    csv_free(&c);
}

int main(void)
{
    row((const char *[]){"a", "b", NULL}, "a,b\r\n", "plain fields");
    row((const char *[]){"a,b", "c", NULL}, "\"a,b\",c\r\n", "a comma is quoted");
    row((const char *[]){"say \"hi\"", NULL}, "\"say \"\"hi\"\"\"\r\n", "quotes are doubled inside quotes");
    row((const char *[]){"two\nlines", "x\ry", NULL}, "\"two\nlines\",\"x\ry\"\r\n", "line breaks are quoted");
    row((const char *[]){"=1+2", "+33", "-5", "@SUM(A1)", "\tx", "a=b", NULL},
        "'=1+2,'+33,'-5,'@SUM(A1),'\tx,a=b\r\n", "formulas get a leading quote mark");
    row((const char *[]){"=HYPERLINK(\"x\",\"y\")", NULL}, "\"'=HYPERLINK(\"\"x\"\",\"\"y\"\")\"\r\n",
        "guarded and quoted");
    row((const char *[]){"", "é", NULL}, ",é\r\n", "empty and UTF-8 fields");
    struct csv_buf c = {0};
    csv_text(&c, NULL, 0);
    csv_int(&c, -42, 0);
    csv_int(&c, 100000000000LL, 1);
    EQ_STR(c.out, ",-42,100000000000\r\n", "NULL is empty, numbers are not guarded");
    csv_free(&c);
    return tap_done();
}
