/* `diorama load` text report, laid out like wrk's so it reads familiar:
 *
 *   Running 30s test @ GET http://127.0.0.1:8080/          (the duration asked for)
 *     4 threads and 12 connections (at most 64), open loop at 1000.00 req/s
 *     Thread Stats   Avg      Stdev     Max   +/- Stdev
 *       Latency     1.20ms  350.00us  12.50ms   85.00%
 *     Latency Distribution (from the intended send time)
 *        50%    1.10ms
 *       ...
 *
 * Latency statistics walk the histogram's counters in index order: counter i covers the value
 * range [lowest_equiv, highest_equiv] and the next counter starts right after it, so the walk
 * needs only core's public hdr API. Cost: one pass over ~17 k counters per statistic. */
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include "report/report.h"

/* "850us", "1.20ms", "2.50s" (wrk's units). */
static void fmt_us(double us, char *out, size_t n)
{
    if (us < 1000)
        snprintf(out, n, "%.0fus", us);
    else if (us < 1e6)
        snprintf(out, n, "%.2fms", us / 1e3);
    else
        snprintf(out, n, "%.2fs", us / 1e6);
}

static void fmt_bytes(double v, char *out, size_t n)
{
    static const char *unit[] = {"B", "KB", "MB", "GB", "TB"};
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    snprintf(out, n, u ? "%.2f%s" : "%.0f%s", v, unit[u]);
}

/* Calls fn(ctx, midpoint, count) for every non-zero counter. */
static void hdr_walk(const struct core_hdr *h, void (*fn)(void *, double, int64_t), void *ctx)
{
    int64_t v = 0;
    for (int i = 0; i < h->counts_len; i++) {
        int64_t hi = core_hdr_highest_equiv(h, v);
        if (h->counts[i])
            fn(ctx, ((double)v + (double)hi) / 2.0, h->counts[i]);
        v = hi + 1;
    }
}

struct moments {
    double mean, sq, lo, hi;
    int64_t within;
};

static void add_sq(void *ctx, double mid, int64_t n)
{
    struct moments *m = ctx;
    m->sq += (double)n * (mid - m->mean) * (mid - m->mean);
}

static void add_within(void *ctx, double mid, int64_t n)
{
    struct moments *m = ctx;
    if (mid >= m->lo && mid <= m->hi)
        m->within += n;
}

/* Standard deviation, and the share of samples within one of the mean (wrk's "+/- Stdev"). */
static void hdr_stdev(const struct core_hdr *h, double *stdev, double *within_pct)
{
    struct moments m = {.mean = core_hdr_mean(h)};
    *stdev = *within_pct = 0;
    if (h->total == 0)
        return;
    hdr_walk(h, add_sq, &m);
    *stdev = sqrt(m.sq / (double)h->total);
    m.lo = m.mean - *stdev;
    m.hi = m.mean + *stdev;
    hdr_walk(h, add_within, &m);
    *within_pct = 100.0 * (double)m.within / (double)h->total;
}

/* The header says what was asked (like wrk: the duration before the run starts); what was
 * measured follows in the body. */
static void text_header(const struct report_load *r, struct core_buf *b)
{
    char dur[32];
    double want = r->planned_s > 0 ? r->planned_s : r->duration_s;
    core_format_duration((uint64_t)llround(want * 1e9), dur, sizeof dur);
    if (r->scenario)
        core_buf_printf(b, "Running %s test @ scenario %s routes under %s\n", dur, r->scenario,
                        r->url ? r->url : "?");
    else
        core_buf_printf(b, "Running %s test @ %s %s\n", dur, r->method ? r->method : "GET",
                        r->url ? r->url : "?");
    if (r->connections_open > 0)
        core_buf_printf(b, "  %d threads and %d connections (at most %d), ", r->threads,
                        r->connections_open, r->connections);
    else
        core_buf_printf(b, "  %d threads and at most %d connections, ", r->threads, r->connections);
    if (r->closed_loop)
        core_buf_puts(b, "closed loop (--rate max)");
    else
        core_buf_printf(b, "open loop at %.2f req/s", r->target_rate);
    if (r->mode && *r->mode)
        core_buf_printf(b, ", mode %s", r->mode);
    core_buf_putc(b, '\n');
}

static void text_latency(const struct report_load *r, struct core_buf *b)
{
    static const double pct[] = {50, 90, 95, 99, 99.9};
    static const char *name[] = {"50%", "90%", "95%", "99%", "99.9%"};
    const struct core_hdr *h = r->latency;
    if (!h || h->total == 0) {
        core_buf_puts(b, "  Latency: no responses\n");
        return;
    }
    double sd, within;
    char avg[24], sdev[24], max[24], v[24];
    hdr_stdev(h, &sd, &within);
    fmt_us(core_hdr_mean(h), avg, sizeof avg);
    fmt_us(sd, sdev, sizeof sdev);
    fmt_us((double)core_hdr_value_at(h, 100), max, sizeof max);
    core_buf_puts(b, "  Thread Stats   Avg      Stdev     Max   +/- Stdev\n");
    core_buf_printf(b, "    Latency   %8s  %8s  %8s  %7.2f%%\n", avg, sdev, max, within);
    core_buf_puts(b, "  Latency Distribution (from the intended send time)\n");
    for (size_t i = 0; i < sizeof pct / sizeof pct[0]; i++) {
        fmt_us((double)core_hdr_value_at(h, pct[i]), v, sizeof v);
        core_buf_printf(b, "  %7s  %8s\n", name[i], v);
    }
    core_buf_printf(b, "  %7s  %8s\n", "max", max);
}

/* When requests were late because every connection was busy, say why and what to change:
 * at rate R with all C connections held, each was held C/R or longer (Little's law). */
static void text_starved(const struct report_load *r, struct core_buf *b)
{
    if (r->closed_loop || !r->conn_waits || r->target_rate <= 0 || r->late + r->dropped == 0)
        return;
    char hold[32];
    fmt_us(1e6 * r->connections / r->target_rate, hold, sizeof hold);
    core_buf_printf(b,
                    "  All %d connections were busy when %llu requests were due: at %.0f req/s "
                    "the target\n  held each for more than %s on average. Raise -c or lower "
                    "--rate.\n",
                    r->connections, (unsigned long long)r->conn_waits, r->target_rate, hold);
}

/* "N requests in 10.2s: R responses, T timed out, ...": every request that went out (or
 * failed to connect) is in N and in exactly one of the parts; the time is as measured. */
static void text_count(const struct report_load *r, struct core_buf *b)
{
    uint64_t other = r->connect_errors + r->read_errors + r->write_errors;
    uint64_t total = r->requests + r->timeouts + other + r->unfinished;
    char dur[32];
    snprintf(dur, sizeof dur, "%.2fs", r->duration_s);
    core_buf_printf(b, "  %llu requests in %s: %llu responses", (unsigned long long)total, dur,
                    (unsigned long long)r->requests);
    if (r->timeouts)
        core_buf_printf(b, ", %llu timed out", (unsigned long long)r->timeouts);
    if (other)
        core_buf_printf(b, ", %llu failed (connect %llu, read %llu, write %llu)",
                        (unsigned long long)other, (unsigned long long)r->connect_errors,
                        (unsigned long long)r->read_errors, (unsigned long long)r->write_errors);
    if (r->unfinished)
        core_buf_printf(b, ", %llu unanswered at the stop", (unsigned long long)r->unfinished);
    core_buf_putc(b, '\n');
}

static void text_volume(const struct report_load *r, struct core_buf *b)
{
    char rd[24], wr[24], per_s[24];
    fmt_bytes((double)r->bytes_read, rd, sizeof rd);
    fmt_bytes((double)r->bytes_written, wr, sizeof wr);
    fmt_bytes(r->duration_s > 0 ? (double)r->bytes_read / r->duration_s : 0, per_s, sizeof per_s);
    text_count(r, b);
    core_buf_printf(b, "  %s read, %s written\n", rd, wr);
    if (r->closed_loop)
        core_buf_printf(b, "Requests/sec: %10.2f (closed loop)\n", r->achieved_rate);
    else
        core_buf_printf(b, "Requests/sec: %10.2f (target %.2f, %.1f%%)\n", r->achieved_rate,
                        r->target_rate,
                        r->target_rate > 0 ? 100.0 * r->achieved_rate / r->target_rate : 0.0);
    core_buf_printf(b, "Transfer/sec: %10s\n", per_s);
    core_buf_printf(b,
                    "  Late (sent after their intended time): %llu, dropped (never sent): %llu\n",
                    (unsigned long long)r->late, (unsigned long long)r->dropped);
    text_starved(r, b);
}

static void text_status(const struct report_load *r, struct core_buf *b)
{
    core_buf_puts(b, "  Status classes:");
    for (int c = 1; c <= 5; c++)
        if (r->status[c])
            core_buf_printf(b, " %dxx=%llu", c, (unsigned long long)r->status[c]);
    core_buf_puts(b, "\n  Status codes:  ");
    int any = 0;
    for (int c = 100; c < 600; c++) {
        if (r->status_codes[c]) {
            core_buf_printf(b, " %d=%llu", c, (unsigned long long)r->status_codes[c]);
            any = 1;
        }
    }
    core_buf_puts(b, any ? "\n" : " none\n");
}

static void text_routes(const struct report_load *r, struct core_buf *b)
{
    if (!r->nroutes)
        return;
    int w = 6; /* the widest "METHOD /path", at most 60 */
    for (size_t i = 0; i < r->nroutes; i++) {
        int n = (int)(strlen(r->routes[i].method) + 1 + strlen(r->routes[i].path));
        w = n > w ? (n < 60 ? n : 60) : w;
    }
    core_buf_printf(b, "  %-*s    share  requests    errors       p50       p99       max\n", w + 2,
                    "Routes");
    for (size_t i = 0; i < r->nroutes; i++) {
        const struct report_route *rt = &r->routes[i];
        const struct core_hdr *h = rt->latency;
        char p50[16] = "-", p99[16] = "-", mx[16] = "-";
        if (h && h->total) {
            fmt_us((double)core_hdr_value_at(h, 50), p50, sizeof p50);
            fmt_us((double)core_hdr_value_at(h, 99), p99, sizeof p99);
            fmt_us((double)h->max, mx, sizeof mx);
        }
        char name[256];
        snprintf(name, sizeof name, "%s %s", rt->method, rt->path);
        core_buf_printf(b, "    %-*s %7.1f%% %9llu %9llu %9s %9s %9s\n", w, name, 100 * rt->share,
                        (unsigned long long)rt->requests, (unsigned long long)rt->errors, p50, p99,
                        mx);
    }
}

static void text_errors(const struct report_load *r, struct core_buf *b)
{
    if (r->errors == 0) {
        core_buf_puts(b, "  Errors: none\n");
        return;
    }
    core_buf_printf(b,
                    "  Errors: %llu (connect %llu, timeout %llu, read %llu, write %llu, "
                    "4xx %llu, 5xx %llu)\n",
                    (unsigned long long)r->errors, (unsigned long long)r->connect_errors,
                    (unsigned long long)r->timeouts, (unsigned long long)r->read_errors,
                    (unsigned long long)r->write_errors, (unsigned long long)r->status[4],
                    (unsigned long long)r->status[5]);
}

/* The failure the mode injected, so the errors above can be read against it. */
static void text_injected(const struct report_load *r, struct core_buf *b)
{
    if (!r->injected && (!r->mode || !strcmp(r->mode, "normal_traffic")))
        return;
    core_buf_printf(b, "  Injected (%s): %llu requests carried the mode's failure\n",
                    r->mode ? r->mode : "?", (unsigned long long)r->injected);
}

void report_threshold_format(const struct report_threshold *t, char *out, size_t n)
{
    const char *u = t->unit ? t->unit : "";
    if (!isfinite(t->actual))
        snprintf(out, n, "n/a");
    else if (!strcmp(u, "%"))
        snprintf(out, n, "%.3g%%", t->actual);
    else if (t->unit && !*u) /* an error share written as a fraction */
        snprintf(out, n, "%.4g (%.3g%%)", t->actual, 100 * t->actual);
    else if (!strcmp(u, "/s"))
        snprintf(out, n, "%.1f/s", t->actual);
    else
        snprintf(out, n, "%.4g%s", t->actual, u);
}

static void text_thresholds(const struct report_load *r, struct core_buf *b)
{
    if (r->nthresholds == 0)
        return;
    core_buf_puts(b, "Thresholds:\n");
    for (size_t i = 0; i < r->nthresholds; i++) {
        const struct report_threshold *t = &r->thresholds[i];
        char v[64];
        report_threshold_format(t, v, sizeof v);
        core_buf_printf(b, "  %s %-24s (actual %s)\n", t->passed ? "\u2713" : "\u2717",
                        t->expr ? t->expr : "?", v);
    }
}

int report_load_text(const struct report_load *r, struct core_buf *out)
{
    if (!r || !out)
        return DIO_EINVAL;
    /* Built whole in a staging buffer (its size is bounded by the configuration: 500 status
     * codes, the thresholds), then appended once: out's cap is checked in one place. */
    struct core_buf t;
    core_buf_init(&t, SIZE_MAX / 2);
    text_header(r, &t);
    text_latency(r, &t);
    text_volume(r, &t);
    text_status(r, &t);
    text_routes(r, &t);
    text_errors(r, &t);
    text_injected(r, &t);
    text_thresholds(r, &t);
    int rc = core_buf_append(out, t.p, t.len);
    core_buf_free(&t);
    return rc;
}
