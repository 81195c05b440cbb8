#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "core/clock.h"

int64_t clock_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void clock_format_rfc3339(int64_t us, char *buf, size_t cap)
{
    time_t s = (time_t)(us / 1000000);
    long frac = (long)(us % 1000000);
    if (frac < 0) { frac += 1000000; s -= 1; }
    struct tm tm;
    gmtime_r(&s, &tm);
    snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

void clock_format_date(int64_t us, char *buf, size_t cap)
{
    time_t s = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    snprintf(buf, cap, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

int clock_days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

int clock_parse_date(const char *s, int *y, int *m, int *d)
{
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return -1;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return -1;
    int yy = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    int mm = (s[5] - '0') * 10 + (s[6] - '0');
    int dd = (s[8] - '0') * 10 + (s[9] - '0');
    if (yy < 1900 || mm < 1 || mm > 12 || dd < 1 || dd > clock_days_in_month(yy, mm))
        return -1;
    *y = yy; *m = mm; *d = dd;
    return 0;
}

int64_t clock_parse_rfc3339(const char *s)
{
    int y, mo, d, h, mi, sec, n = 0;
    char frac[8];
    if (!s || strlen(s) != 27 ||
        sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%6[0-9]Z%n", &y, &mo, &d, &h, &mi, &sec, frac, &n) != 7 || n != 27 ||
        strlen(frac) != 6 || mo < 1 || mo > 12 || d < 1 || d > clock_days_in_month(y, mo) || h > 23 || mi > 59 ||
        sec > 59)
        return -1;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = sec};
    return (int64_t)timegm(&tm) * 1000000 + atoi(frac);
}
