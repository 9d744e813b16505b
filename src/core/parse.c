#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

struct unit {
    const char *name;
    double ns;
};

/* Longest names first so "ms" is not read as "m". */
static const struct unit duration_units[] = {
    {"ns", 1},   {"us", 1e3},   {"\xc2\xb5s", 1e3}, {"ms", 1e6}, {"s", 1e9},
    {"m", 60e9}, {"h", 3600e9}, {"d", 86400e9},     {NULL, 0},
};

/* Reads a non-negative decimal number without locale or exponent surprises. */
static int read_number(const char **sp, double *out)
{
    const char *s = *sp;
    double v = 0;
    int digits = 0;
    while (isdigit((unsigned char)*s)) {
        v = v * 10 + (*s++ - '0');
        digits++;
    }
    if (*s == '.') {
        s++;
        for (double scale = 0.1; isdigit((unsigned char)*s); scale /= 10, digits++)
            v += (*s++ - '0') * scale;
    }
    if (!digits || v > 1e18)
        return DIO_EPARSE;
    *sp = s;
    *out = v;
    return 0;
}

static const struct unit *read_unit(const char **sp, const struct unit *units)
{
    for (const struct unit *u = units; u->name; u++) {
        size_t n = strlen(u->name);
        if (strncmp(*sp, u->name, n) == 0 && !isalpha((unsigned char)(*sp)[n])) {
            *sp += n;
            return u;
        }
    }
    return NULL;
}

int core_parse_duration(const char *s, uint64_t *ns)
{
    if (!s)
        return DIO_EPARSE;
    while (isspace((unsigned char)*s))
        s++;
    double total = 0, v;
    if (read_number(&s, &v))
        return DIO_EPARSE;
    if (*s == '\0' || isspace((unsigned char)*s)) {
        total = v * 1e9; /* a bare number is seconds, as in wrk and the seeds' scripts */
    } else {
        for (;;) {
            const struct unit *u = read_unit(&s, duration_units);
            if (!u)
                return DIO_EPARSE;
            total += v * u->ns;
            if (*s == '\0' || isspace((unsigned char)*s))
                break;
            if (read_number(&s, &v))
                return DIO_EPARSE;
        }
    }
    while (isspace((unsigned char)*s))
        s++;
    if (*s)
        return DIO_EPARSE;
    if (total > 1e18 * 9.2)
        return DIO_ERANGE;
    *ns = (uint64_t)llround(total);
    return 0;
}

/* The one integer reader behind flags (cli_parse_u64), so that a flag and the same value in a
 * file agree on what is too large instead of one clamping and the other refusing. */
int core_parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s || strspn(s, "0123456789") != strlen(s))
        return DIO_EPARSE;
    uint64_t v = 0;
    for (; *s; s++) {
        uint64_t d = (uint64_t)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return DIO_ERANGE;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int core_parse_rate(const char *s, double *per_sec)
{
    static const struct unit per[] = {{"s", 1},    {"sec", 1},  {"m", 60},
                                      {"min", 60}, {"h", 3600}, {NULL, 0}};
    if (!s)
        return DIO_EPARSE;
    while (isspace((unsigned char)*s))
        s++;
    double v;
    if (read_number(&s, &v))
        return DIO_EPARSE;
    double div = 1;
    if (*s == '/') {
        s++;
        const struct unit *u = read_unit(&s, per);
        if (!u)
            return DIO_EPARSE;
        div = u->ns;
    }
    while (isspace((unsigned char)*s))
        s++;
    if (*s)
        return DIO_EPARSE;
    *per_sec = v / div;
    return 0;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Copies [s, s+n) trimmed and percent-decoded into a new string. NULL on a bad escape. */
static char *decode_part(const char *s, size_t n)
{
    while (n && isspace((unsigned char)*s))
        s++, n--;
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    char *out = core_malloc(n + 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            *o++ = s[i];
            continue;
        }
        int hi = i + 2 < n ? hexval((unsigned char)s[i + 1]) : -1;
        int lo = hi >= 0 ? hexval((unsigned char)s[i + 2]) : -1;
        if (lo < 0) {
            core_free(out);
            return NULL;
        }
        *o++ = (char)(hi * 16 + lo);
        i += 2;
    }
    *o = '\0';
    return out;
}

int core_parse_kv_list(const char *s, int (*fn)(void *ctx, const char *k, const char *v), void *ctx)
{
    while (*s) {
        const char *end = strchr(s, ',');
        size_t n = end ? (size_t)(end - s) : strlen(s);
        const char *eq = memchr(s, '=', n);
        if (!eq && strspn(s, " \t") < n)
            return DIO_EPARSE;
        if (!eq) { /* an empty item, as in "a=1,,b=2" or a trailing comma */
            if (!end)
                break;
            s = end + 1;
            continue;
        }
        char *k = decode_part(s, (size_t)(eq - s));
        char *v = decode_part(eq + 1, n - (size_t)(eq - s) - 1);
        int rc = (!k || !v || !*k) ? DIO_EPARSE : fn(ctx, k, v);
        core_free(k);
        core_free(v);
        if (rc)
            return rc;
        if (!end)
            break;
        s = end + 1;
    }
    return 0;
}

/* Three significant digits in the largest unit that keeps the number below 1000 after
 * rounding (so 999.99 ms prints as "1s", never "1e+03ms"): the output always parses back. */
void core_format_duration(uint64_t ns, char *out, size_t n)
{
    static const struct unit units[] = {{"us", 1e3}, {"ms", 1e6}, {"s", 1e9}};
    if (ns < 1000) {
        snprintf(out, n, "%uns", (unsigned)ns);
        return;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        double v = (double)ns / units[i].ns;
        if (v < (units[i].ns < 1e9 ? 999.5 : 59.95)) { /* past 60 s: minutes */
            snprintf(out, n, "%.3g%s", v, units[i].name);
            return;
        }
    }
    uint64_t s = (ns + 500000000ULL) / 1000000000ULL;
    if (s < 3600)
        snprintf(out, n, "%um%us", (unsigned)(s / 60), (unsigned)(s % 60));
    else
        snprintf(out, n, "%uh%um", (unsigned)(s / 3600), (unsigned)(s / 60 % 60));
}
