/* driver: the user-facing syntaxes of `diorama load` — URL, rate stages, thresholds. All are
 * pure functions over a string so the fuzzer can call them (fuzz/fuzz_load_parse.c). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver/driver.h"

static int fail(char *err, size_t errn, const char *msg, const char *what)
{
    if (err && errn)
        snprintf(err, errn, "%s: '%.80s'", msg, what);
    return DIO_EPARSE;
}

/* ---- url ------------------------------------------------------------------------------- */

static int url_host_port(const char *hp, size_t n, struct driver_url *u)
{
    const char *colon = NULL;
    if (n && hp[0] == '[') { /* [v6]:port */
        const char *rb = memchr(hp, ']', n);
        if (!rb || rb == hp + 1)
            return -1;
        if ((size_t)(rb - hp - 1) >= sizeof u->host)
            return -1;
        memcpy(u->host, hp + 1, (size_t)(rb - hp - 1));
        u->host[rb - hp - 1] = '\0';
        if (rb + 1 < hp + n && rb[1] != ':')
            return -1;
        colon = rb + 1 < hp + n ? rb + 1 : NULL;
    } else {
        colon = memchr(hp, ':', n);
        size_t hl = colon ? (size_t)(colon - hp) : n;
        if (hl == 0 || hl >= sizeof u->host)
            return -1;
        memcpy(u->host, hp, hl);
        u->host[hl] = '\0';
        for (size_t i = 0; i < hl; i++)
            if (!isalnum((unsigned char)hp[i]) && !strchr(".-_", hp[i]))
                return -1;
    }
    if (!colon)
        return 0;
    size_t pl = (size_t)(hp + n - colon - 1);
    if (pl == 0 || pl > 5)
        return -1;
    long port = 0;
    for (size_t i = 0; i < pl; i++) {
        if (!isdigit((unsigned char)colon[1 + i]))
            return -1;
        port = port * 10 + (colon[1 + i] - '0');
    }
    if (port < 1 || port > 65535)
        return -1;
    snprintf(u->port, sizeof u->port, "%ld", port);
    return 0;
}

int driver_url_parse(const char *s, struct driver_url *u, char *err, size_t errn)
{
    memset(u, 0, sizeof *u);
    const char *p;
    if (!strncasecmp(s, "http://", 7)) {
        p = s + 7;
    } else if (!strncasecmp(s, "https://", 8)) {
        p = s + 8;
        u->tls = 1;
    } else {
        return fail(err, errn, "URL must start with http:// or https://", s);
    }
    strcpy(u->port, u->tls ? "443" : "80");
    size_t hn = strcspn(p, "/?#");
    if (memchr(p, '@', hn))
        return fail(err, errn, "URL user info is not supported", s);
    if (url_host_port(p, hn, u))
        return fail(err, errn, "invalid host or port in URL", s);
    const char *path = p + hn;
    size_t pn = strcspn(path, "#");
    for (size_t i = 0; i < pn; i++)
        if ((unsigned char)path[i] <= ' ' || path[i] == 0x7f)
            return fail(err, errn, "URL contains a space or control character", s);
    if (pn + 2 > sizeof u->path)
        return fail(err, errn, "URL path too long", s);
    if (pn == 0 || path[0] == '?')
        u->path[0] = '/';
    strncat(u->path, path, pn);
    return 0;
}

int driver_header_ok(const char *h)
{
    const char *colon = strchr(h, ':');
    if (!colon || colon == h || strpbrk(h, "\r\n"))
        return 0;
    for (const char *p = h; p < colon; p++) /* RFC 9110 token characters */
        if (!isalnum((unsigned char)*p) && !strchr("!#$%&'*+-.^_`|~", *p))
            return 0;
    return 1;
}

/* ---- schedule -------------------------------------------------------------------------- */

/* A rate as "100", "100/s", "6000/m"; >= 0 and finite. */
static int parse_rate(const char *s, size_t n, double *r)
{
    char tmp[64];
    if (n == 0 || n >= sizeof tmp)
        return -1;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    if (core_parse_rate(tmp, r) || !isfinite(*r) || *r < 0 || *r > 1e8)
        return -1;
    return 0;
}

static int parse_stage(const char *w, size_t n, uint64_t dflt_ns, struct driver_stage *st)
{
    const char *comma = memchr(w, ',', n);
    size_t rn = comma ? (size_t)(comma - w) : n;
    const char *colon = memchr(w, ':', rn);
    if (colon) {
        if (parse_rate(w, (size_t)(colon - w), &st->from) ||
            parse_rate(colon + 1, rn - (size_t)(colon - w) - 1, &st->to))
            return -1;
    } else {
        if (parse_rate(w, rn, &st->from))
            return -1;
        st->to = st->from;
    }
    if (!comma) {
        st->dur_ns = dflt_ns;
        return colon ? -1 : 0; /* a ramp needs its duration */
    }
    char d[64];
    size_t dn = n - rn - 1;
    if (dn == 0 || dn >= sizeof d)
        return -1;
    memcpy(d, comma + 1, dn);
    d[dn] = '\0';
    if (core_parse_duration(d, &st->dur_ns) || st->dur_ns < 1000000 ||
        st->dur_ns > 86400ULL * 365 * 1000000000ULL)
        return -1;
    return 0;
}

int driver_schedule_parse(const char *s, uint64_t dflt_ns, struct driver_schedule *sc, char *err,
                          size_t errn)
{
    memset(sc, 0, sizeof *sc);
    const char *p = s;
    int nodur = 0;
    for (;;) {
        while (isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        size_t n = strcspn(p, " \t\n");
        if (sc->n == DRIVER_MAX_STAGES)
            return fail(err, errn, "too many rate stages (64 at most)", s);
        struct driver_stage *st = &sc->st[sc->n];
        if (parse_stage(p, n, dflt_ns, st))
            return fail(err, errn,
                        "bad rate: expected N, 'N,DURATION' or 'FROM:TO,DURATION' per stage", s);
        nodur += !memchr(p, ',', n);
        sc->total += (st->from + st->to) / 2 * ((double)st->dur_ns / 1e9);
        sc->total_ns += st->dur_ns;
        sc->n++;
        p += n;
    }
    if (sc->n == 0)
        return fail(err, errn, "empty rate", s);
    if (sc->n > 1 && nodur)
        return fail(err, errn, "each of several stages needs a duration ('RATE,DURATION')", s);
    if (sc->total_ns == 0)
        return fail(err, errn, "the rate stages have no length", s);
    return 0;
}

static double stage_count(const struct driver_stage *st, double t)
{
    double d = (double)st->dur_ns / 1e9;
    return st->from * t + (st->to - st->from) * t * t / (2 * d);
}

double driver_schedule_count(const struct driver_schedule *sc, uint64_t t_ns)
{
    double c = 0;
    for (int i = 0; i < sc->n; i++) {
        const struct driver_stage *st = &sc->st[i];
        if (t_ns < st->dur_ns)
            return c + stage_count(st, (double)t_ns / 1e9);
        c += stage_count(st, (double)st->dur_ns / 1e9);
        t_ns -= st->dur_ns;
    }
    return c;
}

/* Solves from*t + (to-from)*t^2/(2d) = c for t in the stage; the form 2c/(a+sqrt(...)) stays
 * accurate when the ramp is flat and when it starts from 0. */
static double stage_time(const struct driver_stage *st, double c)
{
    double d = (double)st->dur_ns / 1e9, a = st->from;
    double disc = a * a + 2 * (st->to - a) * c / d;
    double den = a + sqrt(disc > 0 ? disc : 0);
    return den > 0 ? 2 * c / den : 0;
}

uint64_t driver_schedule_time(const struct driver_schedule *sc, double count)
{
    uint64_t base = 0;
    for (int i = 0; i < sc->n; i++) {
        const struct driver_stage *st = &sc->st[i];
        double in = stage_count(st, (double)st->dur_ns / 1e9);
        if (count < in) {
            uint64_t t = (uint64_t)(stage_time(st, count) * 1e9);
            return base + (t < st->dur_ns ? t : st->dur_ns - 1);
        }
        count -= in;
        base += st->dur_ns;
    }
    return UINT64_MAX;
}

double driver_schedule_peak(const struct driver_schedule *sc)
{
    double m = 0;
    for (int i = 0; i < sc->n; i++)
        m = fmax(m, fmax(sc->st[i].from, sc->st[i].to));
    return m;
}

/* ---- threshold ------------------------------------------------------------------------- */

static int th_metric(const char *m, size_t n, struct driver_threshold *t)
{
    char name[24];
    if (n == 0 || n >= sizeof name)
        return -1;
    memcpy(name, m, n);
    name[n] = '\0';
    if (!strcmp(name, "max"))
        return t->metric = DRV_M_MAX, 0;
    if (!strcmp(name, "mean") || !strcmp(name, "avg"))
        return t->metric = DRV_M_MEAN, 0;
    if (!strcmp(name, "errors") || !strcmp(name, "error_rate"))
        return t->metric = DRV_M_ERRORS, 0;
    if (!strcmp(name, "rate"))
        return t->metric = DRV_M_RATE, 0;
    if (name[0] != 'p' || !isdigit((unsigned char)name[1]))
        return -1;
    char *end;
    double v = strtod(name + 1, &end);
    if (*end)
        return -1;
    if (!strchr(name, '.') && strlen(name + 1) > 2 && !strncmp(name + 1, "99", 2))
        /* p999 = 99.9, p9999 = 99.99 */
        v = v / pow(10, (double)strlen(name + 1) - 2);
    if (!(v > 0 && v <= 100))
        return -1;
    t->metric = DRV_M_PCT;
    t->pct = v;
    return 0;
}

static int th_value(const char *v, struct driver_threshold *t)
{
    char *end;
    if (!isdigit((unsigned char)*v) && *v != '.')
        return -1;
    double x = strtod(v, &end);
    if (!isfinite(x) || x < 0)
        return -1;
    t->limit = x;
    if (t->metric == DRV_M_ERRORS) {
        t->unit = *end == '%' ? 100 : 1;
        return end[*end == '%'] ? -1 : 0;
    }
    if (t->metric == DRV_M_RATE)
        return (*end && strcmp(end, "/s")) ? -1 : (t->unit = 1, 0);
    static const struct {
        const char *s;
        double ns;
    } units[] = {{"", 1e6}, {"us", 1e3}, {"µs", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (!strcmp(end, units[i].s))
            return t->unit = units[i].ns, 0;
    return -1;
}

static int th_one(const char *s, size_t n, struct driver_threshold *t)
{
    memset(t, 0, sizeof *t);
    if (n >= sizeof t->expr)
        return -1;
    memcpy(t->expr, s, n);
    t->expr[n] = '\0';
    size_t m = strcspn(t->expr, "<>");
    if (!t->expr[m])
        return -1;
    const char *v = t->expr + m + 1;
    t->op = t->expr[m];
    if (*v == '=') {
        t->op = t->op == '<' ? 'l' : 'g';
        v++;
    }
    if (th_metric(t->expr, m, t))
        return -1;
    return th_value(v, t);
}

int driver_threshold_parse(const char *s, struct driver_threshold *t, int max, char *err,
                           size_t errn)
{
    int n = 0;
    const char *p = s;
    for (;;) {
        while (*p == ',' || isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        size_t len = strcspn(p, ", \t");
        if (n == max)
            return fail(err, errn, "too many thresholds", s);
        if (th_one(p, len, &t[n]))
            return fail(err, errn,
                        "bad threshold (e.g. p99<200ms, p999<=1s, max<2s, errors<0.1%, rate>990)",
                        s);
        n++;
        p += len;
    }
    if (n == 0)
        return fail(err, errn, "empty threshold", s);
    return n;
}

const char *driver_threshold_unit(const struct driver_threshold *t)
{
    static const struct {
        double ns;
        const char *name;
    } lat[] = {{1e3, "us"}, {1e6, "ms"}, {1e9, "s"}, {60e9, "m"}};
    if (t->metric == DRV_M_ERRORS)
        return t->unit == 100 ? "%" : "";
    if (t->metric == DRV_M_RATE)
        return "/s";
    for (size_t i = 0; i < sizeof lat / sizeof lat[0]; i++)
        if (t->unit == lat[i].ns)
            return lat[i].name;
    return "ms";
}

int driver_threshold_check(const struct driver_threshold *t, int n, const struct driver_result *r,
                           double target_rate, double *actual, int *passed)
{
    (void)target_rate;
    int failed = 0;
    uint64_t attempts = r->requests + r->connect_errors + r->timeouts + r->read_errors +
                        r->write_errors + r->dropped;
    for (int i = 0; i < n; i++) {
        double v = 0; /* in the expression's unit */
        switch (t[i].metric) {
        case DRV_M_PCT:
            v = (double)core_hdr_value_at(&r->latency, t[i].pct) * 1e3 / t[i].unit;
            break;
        case DRV_M_MAX:
            v = (double)(r->latency.total ? r->latency.max : 0) * 1e3 / t[i].unit;
            break;
        case DRV_M_MEAN:
            v = core_hdr_mean(&r->latency) * 1e3 / t[i].unit;
            break;
        case DRV_M_ERRORS:
            v = (attempts ? (double)(r->errors + r->dropped) / (double)attempts : 0) * t[i].unit;
            break;
        case DRV_M_RATE:
            v = r->send_seconds > 0 ? (double)r->requests / r->send_seconds : 0;
            break;
        }
        int ok = t[i].op == '<'   ? v < t[i].limit
                 : t[i].op == 'l' ? v <= t[i].limit
                 : t[i].op == '>' ? v > t[i].limit
                                  : v >= t[i].limit;
        actual[i] = v;
        passed[i] = ok;
        failed += !ok;
    }
    return failed;
}
