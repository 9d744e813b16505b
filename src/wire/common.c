/* Pieces the wire encoders share: stable grouping by resource, float formatting. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/wire.h"

int wire__groups_init(struct wire__groups *g, const struct rec_batch *b)
{
    g->nres = b->nresources;
    g->idx = core_malloc(((size_t)b->n + g->nres + 1) * sizeof(uint32_t));
    g->start = g->idx + b->n;
    memset(g->start, 0, (g->nres + 1) * sizeof(uint32_t));
    /* Every record type has `res` at a different place: found once, not per record. */
    const char *rec = !b->n                      ? NULL
                      : b->signal == REC_SPANS   ? (const char *)&b->r.spans[0].res
                      : b->signal == REC_METRICS ? (const char *)&b->r.points[0].res
                                                 : (const char *)&b->r.logs[0].res;
    size_t stride = b->signal == REC_SPANS     ? sizeof *b->r.spans
                    : b->signal == REC_METRICS ? sizeof *b->r.points
                                               : sizeof *b->r.logs;
#define RES_OF(i) (*(const uint16_t *)(rec + (size_t)(i)*stride))
    for (uint32_t i = 0; i < b->n; i++) {
        uint32_t r = RES_OF(i);
        if (r >= g->nres)
            return DIO_EINVAL;
        g->start[r + 1]++;
    }
    for (uint32_t r = 0; r < g->nres; r++)
        g->start[r + 1] += g->start[r];
    /* Fill positions using start[r] as a cursor, then shift the cursors back. */
    for (uint32_t i = 0; i < b->n; i++)
        g->idx[g->start[RES_OF(i)]++] = i;
#undef RES_OF
    for (uint32_t r = g->nres; r > 0; r--)
        g->start[r] = g->start[r - 1];
    g->start[0] = 0;
    return 0;
}

void wire__groups_free(struct wire__groups *g)
{
    core_free(g->idx);
    g->idx = g->start = NULL;
}

/* Shortest round-trip digits: the 15-digit rendering with trailing zeros removed when that
 * reads back exactly (then it is the shortest, since a shorter exact rendering pads to it with
 * zeros), else 16 or 17 digits. Subnormals have fewer significant digits, so for them the
 * search starts at 1. Layout follows Go's strconv 'g' with precision -1: exponent form when
 * the decimal exponent is < -4 or >= 6 (e.g. "7.3485576e+07"), else fixed. */
size_t wire__fmt_double(char *out, double v)
{
    if (isnan(v))
        return (size_t)sprintf(out, "NaN");
    if (isinf(v))
        return (size_t)sprintf(out, v > 0 ? "+Inf" : "-Inf");
    if (v == 0)
        return (size_t)sprintf(out, signbit(v) ? "-0" : "0");
    if (fabs(v) < 1e6 && v == (double)(int32_t)v) { /* small integers: counts, bounds */
        char tmp[12], *e = tmp + sizeof tmp, *p = e;
        uint32_t u = (uint32_t)(v < 0 ? -v : v);
        do
            *--p = (char)('0' + u % 10);
        while (u /= 10);
        if (v < 0)
            *--p = '-';
        memcpy(out, p, (size_t)(e - p));
        out[e - p] = 0;
        return (size_t)(e - p);
    }
    char e[40];
    /* Subnormals carry fewer digits than 15, so the shortcut does not hold: search up. */
    int prec = fabs(v) < DBL_MIN ? 1 : 15;
    for (; prec < 17; prec++) {
        snprintf(e, sizeof e, "%.*e", prec - 1, v);
        if (strtod(e, NULL) == v)
            break;
    }
    if (prec == 17)
        snprintf(e, sizeof e, "%.16e", v);
    /* e = [-]d.ddddde[+-]XX: count significant digits without trailing zeros. */
    char *ep = strchr(e, 'e');
    int exp = atoi(ep + 1);
    char *last = ep - 1;
    while (*last == '0')
        last--;
    int digits = 0;
    for (char *c = e; c <= last; c++)
        digits += *c >= '0' && *c <= '9';
    if (exp < -4 || exp >= 6)
        return (size_t)sprintf(out, "%.*e", digits - 1, v);
    int frac = digits - 1 - exp;
    return (size_t)sprintf(out, "%.*f", frac > 0 ? frac : 0, v);
}

size_t wire__utf8_len(const uint8_t *s, size_t n)
{
    uint8_t c = s[0], lo = 0x80, hi = 0xBF;
    size_t len;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return len;
}

size_t wire__utf8_sanitized_len(const char *str, size_t n)
{
    const uint8_t *s = (const uint8_t *)str;
    size_t out = 0;
    for (size_t i = 0; i < n;) {
        size_t len = wire__utf8_len(s + i, n - i);
        out += len ? len : 3;
        i += len ? len : 1;
    }
    return out;
}

uint8_t *wire__utf8_copy_sanitized(uint8_t *dst, const char *str, size_t n)
{
    const uint8_t *s = (const uint8_t *)str;
    for (size_t i = 0; i < n;) {
        size_t len = wire__utf8_len(s + i, n - i);
        if (len) {
            memcpy(dst, s + i, len);
            dst += len;
            i += len;
        } else {
            memcpy(dst, "\xEF\xBF\xBD", 3);
            dst += 3;
            i++;
        }
    }
    return dst;
}
