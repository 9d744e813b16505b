/* `diorama load --json`: schema "diorama.load.report/v1", documented field by field in
 * docs/load-json.md. Stable: fields may be added, never renamed or removed.
 *
 * Always valid JSON: strings are escaped and invalid UTF-8 becomes U+FFFD; '<', U+2028 and
 * U+2029 are written as \u escapes so the same text can be inlined into an HTML <script>
 * (load_html.c) unchanged; numbers that are not finite become null. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report.h"

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when it is invalid. */
static int utf8_len(const unsigned char *s)
{
    if (s[0] < 0x80)
        return 1;
    int n = s[0] >= 0xf0 && s[0] <= 0xf4  ? 4
            : s[0] >= 0xe0                ? 3
            : s[0] >= 0xc2 && s[0] < 0xe0 ? 2
                                          : 0;
    for (int i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if (n == 3 && ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0)))
        return 0; /* overlong, surrogate */
    if (n == 4 && ((s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90)))
        return 0; /* overlong, above U+10FFFF */
    return n;
}

static void put_str(struct core_buf *b, const char *str)
{
    const unsigned char *s = (const unsigned char *)(str ? str : "");
    core_buf_putc(b, '"');
    while (*s) {
        int n = utf8_len(s);
        if (n == 0) {
            core_buf_puts(b, "\\ufffd");
            s++;
        } else if (n == 3 && s[0] == 0xe2 && s[1] == 0x80 && (s[2] == 0xa8 || s[2] == 0xa9)) {
            core_buf_printf(b, "\\u%04x", 0x2000 + (s[2] - 0x80)); /* U+2028, U+2029 */
            s += 3;
        } else if (n > 1) {
            core_buf_append(b, s, (size_t)n);
            s += n;
        } else if (*s == '"' || *s == '\\') {
            core_buf_printf(b, "\\%c", *s++);
        } else if (*s < 0x20 || *s == '<' || *s == 0x7f) {
            core_buf_printf(b, "\\u%04x", *s++);
        } else {
            core_buf_putc(b, (char)*s++);
        }
    }
    core_buf_putc(b, '"');
}

/* The shortest of %.15g / %.17g that reads back as the same double; null when not finite. */
static void put_num(struct core_buf *b, double v)
{
    char s[40];
    if (!isfinite(v)) {
        core_buf_puts(b, "null");
        return;
    }
    snprintf(s, sizeof s, "%.15g", v);
    if (strtod(s, NULL) != v)
        snprintf(s, sizeof s, "%.17g", v);
    core_buf_puts(b, s);
}

static void put_u64(struct core_buf *b, const char *key, uint64_t v)
{
    core_buf_printf(b, "\"%s\":%llu", key, (unsigned long long)v);
}

static void json_run(const struct report_load *r, struct core_buf *b)
{
    core_buf_puts(b, "{\"schema\":\"diorama.load.report/v1\",\"version\":\"" DIORAMA_VERSION
                     "\",\"url\":");
    put_str(b, r->url);
    core_buf_puts(b, ",\"scenario\":");
    if (r->scenario)
        put_str(b, r->scenario);
    else
        core_buf_puts(b, "null");
    core_buf_puts(b, ",\"method\":");
    put_str(b, r->method ? r->method : "GET");
    core_buf_puts(b, ",\"mode\":");
    put_str(b, r->mode);
    core_buf_printf(b,
                    ",\"threads\":%d,\"connections\":%d,\"connections_open\":%d,"
                    "\"closed_loop\":%s,\"duration_s\":",
                    r->threads, r->connections, r->connections_open,
                    r->closed_loop ? "true" : "false");
    put_num(b, r->duration_s);
    core_buf_puts(b, ",\"planned_duration_s\":");
    put_num(b, r->planned_s > 0 ? r->planned_s : r->duration_s);
    core_buf_puts(b, ",\"target_rate\":");
    put_num(b, r->closed_loop ? NAN : r->target_rate);
    core_buf_puts(b, ",\"achieved_rate\":");
    put_num(b, r->achieved_rate);
    core_buf_putc(b, ',');
    put_u64(b, "sent", r->sent);
    core_buf_putc(b, ',');
    put_u64(b, "unfinished", r->unfinished);
    core_buf_putc(b, ',');
    put_u64(b, "requests", r->requests);
    core_buf_putc(b, ',');
    put_u64(b, "errors", r->errors);
    core_buf_putc(b, ',');
    put_u64(b, "late", r->late);
    core_buf_putc(b, ',');
    put_u64(b, "dropped", r->dropped);
    core_buf_putc(b, ',');
    put_u64(b, "injected", r->injected);
    core_buf_putc(b, ',');
    put_u64(b, "bytes_read", r->bytes_read);
    core_buf_putc(b, ',');
    put_u64(b, "bytes_written", r->bytes_written);
}

static void json_errors(const struct report_load *r, struct core_buf *b)
{
    core_buf_printf(b,
                    ",\"errors_by_kind\":{\"connect\":%llu,\"timeout\":%llu,\"read\":%llu,"
                    "\"write\":%llu,\"status_4xx\":%llu,\"status_5xx\":%llu}",
                    (unsigned long long)r->connect_errors, (unsigned long long)r->timeouts,
                    (unsigned long long)r->read_errors, (unsigned long long)r->write_errors,
                    (unsigned long long)r->status[4], (unsigned long long)r->status[5]);
    core_buf_puts(b, ",\"status_classes\":{");
    for (int c = 1; c <= 5; c++)
        core_buf_printf(b, "%s\"%dxx\":%llu", c > 1 ? "," : "", c,
                        (unsigned long long)r->status[c]);
    core_buf_puts(b, "},\"status_codes\":{");
    const char *sep = "";
    for (int c = 0; c < 600; c++) {
        if (r->status_codes[c]) {
            core_buf_printf(b, "%s\"%d\":%llu", sep, c, (unsigned long long)r->status_codes[c]);
            sep = ",";
        }
    }
    core_buf_putc(b, '}');
}

static void json_latency(const struct report_load *r, struct core_buf *b)
{
    static const double pct[] = {50, 90, 95, 99, 99.9};
    static const char *name[] = {"p50", "p90", "p95", "p99", "p999"};
    const struct core_hdr *h = r->latency;
    int64_t total = h ? h->total : 0;
    core_buf_printf(b, ",\"latency_us\":{\"count\":%lld,\"min\":%lld", (long long)total,
                    (long long)(total ? h->min : 0));
    for (size_t i = 0; i < sizeof pct / sizeof pct[0]; i++)
        core_buf_printf(b, ",\"%s\":%lld", name[i],
                        (long long)(total ? core_hdr_value_at(h, pct[i]) : 0));
    core_buf_printf(b,
                    ",\"max\":%lld,\"mean\":", (long long)(total ? core_hdr_value_at(h, 100) : 0));
    put_num(b, total ? core_hdr_mean(h) : 0);
    core_buf_putc(b, '}');
}

/* "name":{"count":..,"p50":..,"p99":..,"p999":..,"max":..}: a send-time histogram (us). */
static void json_send_hist(struct core_buf *b, const char *name, const struct core_hdr *h)
{
    int64_t n = h ? h->total : 0;
    core_buf_printf(b,
                    ",\"%s\":{\"count\":%lld,\"p50\":%lld,\"p99\":%lld,\"p999\":%lld,\"max\":%lld}",
                    name, (long long)n, (long long)(n ? core_hdr_value_at(h, 50) : 0),
                    (long long)(n ? core_hdr_value_at(h, 99) : 0),
                    (long long)(n ? core_hdr_value_at(h, 99.9) : 0), (long long)(n ? h->max : 0));
}

static void json_routes(const struct report_load *r, struct core_buf *b)
{
    core_buf_puts(b, ",\"routes\":[");
    for (size_t i = 0; i < r->nroutes; i++) {
        const struct report_route *rt = &r->routes[i];
        const struct core_hdr *h = rt->latency;
        int64_t n = h ? h->total : 0;
        core_buf_puts(b, i ? ",{\"method\":" : "{\"method\":");
        put_str(b, rt->method);
        core_buf_puts(b, ",\"path\":");
        put_str(b, rt->path);
        core_buf_puts(b, ",\"share\":");
        put_num(b, rt->share);
        core_buf_printf(b,
                        ",\"requests\":%llu,\"errors\":%llu,\"latency_us\":{\"p50\":%lld,"
                        "\"p90\":%lld,\"p99\":%lld,\"max\":%lld}}",
                        (unsigned long long)rt->requests, (unsigned long long)rt->errors,
                        (long long)(n ? core_hdr_value_at(h, 50) : 0),
                        (long long)(n ? core_hdr_value_at(h, 90) : 0),
                        (long long)(n ? core_hdr_value_at(h, 99) : 0), (long long)(n ? h->max : 0));
    }
    core_buf_putc(b, ']');
}

static void json_sending(const struct report_load *r, struct core_buf *b)
{
    json_send_hist(b, "scheduler_jitter_us", r->jitter);
    json_send_hist(b, "send_delay_us", r->send_delay);
    core_buf_printf(b, ",\"connection_waits\":%llu", (unsigned long long)r->conn_waits);
}

/* The percentile spectrum as HdrHistogram prints it: percentile 100*(1 - 2^(-k/5)), five steps
 * per halving of the tail, until the tail holds less than one sample, then 100. */
static void json_distribution(const struct report_load *r, struct core_buf *b)
{
    const struct core_hdr *h = r->latency;
    core_buf_puts(b, ",\"latency_distribution\":[");
    if (h && h->total) {
        for (int k = 0; k < 5 * 62; k++) {
            double tail = pow(2.0, -k / 5.0);
            if (tail * (double)h->total < 1.0)
                break;
            double p = 100.0 * (1.0 - tail);
            core_buf_printf(b, "%s[%.6f,%lld]", k ? "," : "", p,
                            (long long)core_hdr_value_at(h, p));
        }
        core_buf_printf(b, ",[100,%lld]", (long long)core_hdr_value_at(h, 100));
    }
    core_buf_putc(b, ']');
}

static void put_quantile(struct core_buf *b, const char *key, int64_t v, double done)
{
    core_buf_printf(b, ",\"%s\":", key);
    if (done > 0 && v >= 0)
        core_buf_printf(b, "%lld", (long long)v);
    else
        core_buf_puts(b, "null");
}

static void json_timeline(const struct report_load *r, struct core_buf *b)
{
    core_buf_puts(b, ",\"timeline\":[");
    for (size_t i = 0; r->timeline && i < r->ntimeline; i++) {
        const struct report_load_second *s = &r->timeline[i];
        core_buf_puts(b, i ? ",{\"t_s\":" : "{\"t_s\":");
        put_num(b, s->t_s);
        core_buf_puts(b, ",\"sent\":");
        put_num(b, s->sent);
        core_buf_puts(b, ",\"done\":");
        put_num(b, s->done);
        core_buf_printf(b, ",\"errors\":%llu,\"late\":%llu", (unsigned long long)s->errors,
                        (unsigned long long)s->late);
        core_buf_puts(b, ",\"width_s\":");
        put_num(b, s->width_s > 0 ? s->width_s : 1);
        put_quantile(b, "p50_us", s->p50_us, s->done);
        put_quantile(b, "p90_us", s->p90_us, s->done);
        put_quantile(b, "p99_us", s->p99_us, s->done);
        put_quantile(b, "max_us", s->max_us, s->done);
        core_buf_putc(b, '}');
    }
    core_buf_putc(b, ']');
}

static void json_thresholds(const struct report_load *r, struct core_buf *b)
{
    int passed = 1;
    core_buf_puts(b, ",\"thresholds\":[");
    for (size_t i = 0; r->thresholds && i < r->nthresholds; i++) {
        const struct report_threshold *t = &r->thresholds[i];
        core_buf_puts(b, i ? ",{\"expr\":" : "{\"expr\":");
        put_str(b, t->expr);
        core_buf_puts(b, ",\"actual\":");
        put_num(b, t->actual);
        core_buf_puts(b, ",\"unit\":");
        put_str(b, t->unit ? t->unit : "");
        core_buf_printf(b, ",\"passed\":%s}", t->passed ? "true" : "false");
        passed &= !!t->passed;
    }
    core_buf_printf(b, "],\"passed\":%s", passed ? "true" : "false");
}

int report_load_json(const struct report_load *r, const char *hdr_b64, struct core_buf *out)
{
    if (!r || !out)
        return DIO_EINVAL;
    /* Built in a staging buffer (bounded by the configuration: run length, status codes,
     * thresholds), then appended once, so out's cap is checked in one place. */
    struct core_buf t;
    core_buf_init(&t, SIZE_MAX / 2);
    json_run(r, &t);
    json_errors(r, &t);
    json_latency(r, &t);
    json_sending(r, &t);
    json_routes(r, &t);
    json_distribution(r, &t);
    json_timeline(r, &t);
    json_thresholds(r, &t);
    core_buf_puts(&t, ",\"hdr\":");
    if (hdr_b64)
        put_str(&t, hdr_b64);
    else
        core_buf_puts(&t, "null");
    core_buf_puts(&t, "}\n");
    int rc = core_buf_append(out, t.p, t.len);
    core_buf_free(&t);
    return rc;
}
