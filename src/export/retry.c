/* What to do with an OTLP/HTTP response: the retry policy, Retry-After, and the
 * partial_success of a 2xx body. Pure functions over bytes the peer chose, so every reader
 * here is bounded by its input length and fuzzed (fuzz/fuzz_export_*.c). */
#include <string.h>
#include <strings.h>

#include "export/export.h"

#define NS_PER_S 1000000000ULL
#define RETRY_AFTER_CAP_S 86400ULL /* a longer wait is as good as "never" for a batch */

/* ---- retry policy ------------------------------------------------------------------------- */

static int retryable(int status)
{
    /* OTLP/HTTP: only these are retryable; 0 = the transport failed (refused, reset, timeout). */
    return status == 0 || status == 429 || status == 502 || status == 503 || status == 504;
}

static uint64_t backoff(int attempt, uint64_t initial_ns, uint64_t max_ns, struct core_rng *rng)
{
    if (attempt < 1)
        attempt = 1;
    uint64_t d = max_ns;
    unsigned shift = (unsigned)(attempt - 1);
    if (shift < 63 && initial_ns <= (max_ns >> shift))
        d = initial_ns << shift;
    if (rng && d > 1)
        d -= core_rng_below(rng, d / 2 + 1); /* full jitter over [d/2, d] */
    return d;
}

uint64_t export_retry_backoff(int attempt, uint64_t initial_ns, uint64_t max_ns,
                              struct core_rng *rng)
{
    return backoff(attempt, initial_ns, max_ns, rng);
}

int export_retry_policy(int status, const char *retry_after, int attempt, uint64_t initial_ns,
                        uint64_t max_ns, uint64_t now_wall_ns, struct core_rng *rng,
                        uint64_t *delay_ns)
{
    if (status >= 200 && status <= 299)
        return EXPORT_OK;
    if (!retryable(status))
        return EXPORT_FAIL;
    uint64_t d;
    if (!retry_after || export_retry_after_parse(retry_after, now_wall_ns, &d) != 0)
        d = backoff(attempt, initial_ns, max_ns, rng);
    if (delay_ns)
        *delay_ns = d;
    return EXPORT_RETRY;
}

/* ---- Retry-After -------------------------------------------------------------------------- */

struct cur {
    const char *p, *end;
};

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int lit(struct cur *c, const char *s)
{
    size_t n = strlen(s);
    if ((size_t)(c->end - c->p) < n || strncasecmp(c->p, s, n) != 0)
        return 0;
    c->p += n;
    return 1;
}

/* Exactly n digits (n <= 4). */
static int num(struct cur *c, int n, int *out)
{
    if (c->end - c->p < n)
        return 0;
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!is_digit(c->p[i]))
            return 0;
        v = v * 10 + (c->p[i] - '0');
    }
    c->p += n;
    *out = v;
    return 1;
}

/* A day name: 3 to 9 letters (checking which day it claims adds nothing: the date decides). */
static int dayname(struct cur *c)
{
    int n = 0;
    while (c->p + n < c->end && is_alpha(c->p[n]) && n < 10)
        n++;
    if (n < 3 || n > 9)
        return 0;
    c->p += n;
    return 1;
}

static int month(struct cur *c, int *m)
{
    static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    if (c->end - c->p < 3)
        return 0;
    for (int i = 0; i < 12; i++) {
        if (strncasecmp(c->p, names + 3 * i, 3) == 0) {
            *m = i + 1;
            c->p += 3;
            return 1;
        }
    }
    return 0;
}

static int hms(struct cur *c, int *h, int *mi, int *s)
{
    return num(c, 2, h) && lit(c, ":") && num(c, 2, mi) && lit(c, ":") && num(c, 2, s);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int valid_date(int y, int mo, int d, int h, int mi, int s)
{
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1])
        return 0;
    if (mo == 2 && d == 29 && !leap)
        return 0;
    return h <= 23 && mi <= 59 && s <= 60;
}

/* IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", RFC 850 "Sunday, 06-Nov-94 08:49:37 GMT" or
 * asctime "Sun Nov  6 08:49:37 1994". Seconds since the epoch. */
static int http_date(struct cur *c, int64_t *secs)
{
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
    if (!dayname(c))
        return DIO_EPARSE;
    if (lit(c, ", ")) {
        struct cur save = *c;
        if (num(c, 2, &d) && lit(c, " ") && month(c, &mo) && lit(c, " ") && num(c, 4, &y) &&
            lit(c, " ") && hms(c, &h, &mi, &s) && lit(c, " GMT")) {
            /* IMF-fixdate */
        } else {
            *c = save;
            if (!(num(c, 2, &d) && lit(c, "-") && month(c, &mo) && lit(c, "-") && num(c, 2, &y) &&
                  lit(c, " ") && hms(c, &h, &mi, &s) && lit(c, " GMT")))
                return DIO_EPARSE;
            y += y < 70 ? 2000 : 1900; /* RFC 850 two-digit year */
        }
    } else {
        if (!(lit(c, " ") && month(c, &mo) && lit(c, " ")))
            return DIO_EPARSE;
        if (!(lit(c, " ") ? num(c, 1, &d) : num(c, 2, &d)))
            return DIO_EPARSE;
        if (!(lit(c, " ") && hms(c, &h, &mi, &s) && lit(c, " ") && num(c, 4, &y)))
            return DIO_EPARSE;
    }
    if (c->p != c->end || !valid_date(y, mo, d, h, mi, s))
        return DIO_EPARSE;
    *secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
    return 0;
}

int export_retry_after_parse(const char *v, uint64_t now_wall_ns, uint64_t *delay_ns)
{
    if (!v)
        return DIO_EPARSE;
    struct cur c = {v, v + strlen(v)};
    while (c.p < c.end && (*c.p == ' ' || *c.p == '\t'))
        c.p++;
    while (c.end > c.p && (c.end[-1] == ' ' || c.end[-1] == '\t'))
        c.end--;
    if (c.p == c.end)
        return DIO_EPARSE;
    uint64_t secs = 0;
    if (is_digit(*c.p)) {
        for (const char *p = c.p; p < c.end; p++) {
            if (!is_digit(*p))
                return DIO_EPARSE;
            secs = secs * 10 + (uint64_t)(*p - '0');
            if (secs > RETRY_AFTER_CAP_S)
                secs = RETRY_AFTER_CAP_S; /* saturate: no overflow however many digits */
        }
    } else {
        int64_t at;
        if (http_date(&c, &at) != 0)
            return DIO_EPARSE;
        uint64_t now_s = now_wall_ns / NS_PER_S;
        /* Round the wait up to whole seconds from now: never early. */
        secs = (uint64_t)at > now_s ? (uint64_t)at - now_s : 0;
        if (secs > RETRY_AFTER_CAP_S)
            secs = RETRY_AFTER_CAP_S;
    }
    *delay_ns = secs * NS_PER_S;
    return 0;
}

/* ---- partial_success ---------------------------------------------------------------------- */

struct pbr {
    const uint8_t *p, *end;
};

static int pb_varint(struct pbr *r, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (r->p >= r->end)
            return DIO_EPARSE;
        uint8_t b = *r->p++;
        if (shift == 63 && b > 1)
            return DIO_EPARSE; /* more than 64 bits */
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return DIO_EPARSE;
}

/* Next field: *field, *wt, and for LEN fields the payload in *sub. */
static int pb_field(struct pbr *r, uint32_t *field, int *wt, uint64_t *v, struct pbr *sub)
{
    uint64_t tag;
    if (pb_varint(r, &tag) != 0 || (tag >> 3) == 0 || (tag >> 3) > 0x1fffffff)
        return DIO_EPARSE;
    *field = (uint32_t)(tag >> 3);
    *wt = (int)(tag & 7);
    size_t fixed = 0;
    switch (*wt) {
    case 0:
        return pb_varint(r, v);
    case 1:
        fixed = 8;
        break;
    case 5:
        fixed = 4;
        break;
    case 2:
        if (pb_varint(r, v) != 0 || *v > (uint64_t)(r->end - r->p))
            return DIO_EPARSE;
        sub->p = r->p;
        sub->end = r->p + *v;
        r->p += *v;
        return 0;
    default:
        return DIO_EPARSE; /* groups (3, 4) are not used by OTLP; 6, 7 do not exist */
    }
    if ((size_t)(r->end - r->p) < fixed)
        return DIO_EPARSE;
    r->p += fixed;
    return 0;
}

static void copy_msg(char *msg, size_t msglen, const struct pbr *s)
{
    if (!msg || msglen == 0)
        return;
    size_t n = (size_t)(s->end - s->p);
    if (n > msglen - 1)
        n = msglen - 1;
    for (size_t i = 0; i < n; i++) {
        uint8_t ch = s->p[i];
        msg[i] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch; /* it ends up in a log line */
    }
    msg[n] = 0;
}

/* ExportPartialSuccess { int64 rejected_<items> = 1; string error_message = 2; } */
static int partial(struct pbr *r, int64_t *rejected, char *msg, size_t msglen)
{
    while (r->p < r->end) {
        uint32_t f;
        int wt;
        uint64_t v = 0;
        struct pbr sub = {0};
        if (pb_field(r, &f, &wt, &v, &sub) != 0)
            return DIO_EPARSE;
        if (f == 1 && wt == 0)
            *rejected = (int64_t)v;
        else if (f == 2 && wt == 2)
            copy_msg(msg, msglen, &sub);
        else if (f <= 2)
            return DIO_EPARSE; /* a known field with the wrong wire type */
    }
    return 0;
}

int export_otlp_partial_success(const void *body, size_t n, int64_t *rejected, char *msg,
                                size_t msglen)
{
    struct pbr r = {body, (const uint8_t *)body + n};
    *rejected = 0;
    if (msg && msglen)
        msg[0] = 0;
    if (!body)
        return n == 0 ? 0 : DIO_EPARSE;
    while (r.p < r.end) {
        uint32_t f;
        int wt;
        uint64_t v = 0;
        struct pbr sub = {0};
        if (pb_field(&r, &f, &wt, &v, &sub) != 0)
            return DIO_EPARSE;
        if (f == 1 && wt != 2)
            return DIO_EPARSE;
        /* Repeated occurrences of a message field merge, as protobuf parsers do. */
        if (f == 1 && partial(&sub, rejected, msg, msglen) != 0)
            return DIO_EPARSE;
    }
    return 0;
}
