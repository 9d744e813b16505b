/* `diorama load --html`: one self-contained page, nothing fetched from the network.
 *
 *   <head>   uPlot's CSS and ours, inlined
 *   <body>   summary tables rendered here (they read without JavaScript), four chart holders:
 *            latency, rate and errors over time (by the second requests were due), and the
 *            latency distribution
 *   <script type="application/json" id="load-data">  the --json document (load_json.c)
 *   <script> uPlot (web/node_modules/uplot/dist/uPlot.iife.min.js), then web/load_report.js
 *
 * Nothing inlined may end its <script> early: the JSON writer escapes every '<' inside strings
 * (and JSON has none outside them), and inlined scripts have "</" and "<!--" rewritten as
 * "<\/" and "<\!--", which mean the same inside JavaScript strings and regexes. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "report/assets.h"
#include "report/report.h"

#define UPLOT_JS "node_modules/uplot/dist/uPlot.iife.min.js"
#define UPLOT_CSS "node_modules/uplot/dist/uPlot.min.css"
#define REPORT_JS "load_report.js"

static const char page_css[] =
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px auto;"
    "max-width:1140px;padding:0 16px;color:#212529;background:#fff}"
    "h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px}"
    ".sub{color:#495057;margin:0 0 16px;word-break:break-all}"
    ".grid{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}"
    "table{border-collapse:collapse}td,th{padding:3px 12px 3px 0;text-align:left}"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}"
    "th{color:#495057;font-weight:600;border-bottom:1px solid #dee2e6}"
    ".ok{color:#2b8a3e}.bad{color:#c92a2a;font-weight:600}"
    ".chart{margin:16px 0;min-height:40px}.chart.empty{color:#868e96}";

static void put_html(struct core_buf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<':
            core_buf_puts(b, "&lt;");
            break;
        case '>':
            core_buf_puts(b, "&gt;");
            break;
        case '&':
            core_buf_puts(b, "&amp;");
            break;
        case '"':
            core_buf_puts(b, "&quot;");
            break;
        default:
            core_buf_putc(b, *s);
        }
    }
}

/* Script or JSON text with "</" and "<!--" neutralised (see the header comment). */
static void put_script(struct core_buf *b, const char *s, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        if (s[i] != '<' || (s[i + 1] != '/' && s[i + 1] != '!'))
            continue;
        core_buf_append(b, s + start, i + 1 - start);
        core_buf_putc(b, '\\');
        start = i + 1;
    }
    core_buf_append(b, s + start, n - start);
}

static void fmt_ms(int64_t us, char *out, size_t n)
{
    if (us < 1000)
        snprintf(out, n, "%lld us", (long long)us);
    else
        snprintf(out, n, "%.2f ms", (double)us / 1e3);
}

static void row_u64(struct core_buf *b, const char *id, const char *label, uint64_t v)
{
    core_buf_printf(b, "<tr><td>%s</td><td class=n id=\"%s\">%llu</td></tr>", label, id,
                    (unsigned long long)v);
}

static void row_str(struct core_buf *b, const char *id, const char *label, const char *v)
{
    core_buf_printf(b, "<tr><td>%s</td><td class=n id=\"%s\">", label, id);
    put_html(b, v);
    core_buf_puts(b, "</td></tr>");
}

static void html_head(const struct report_load *r, struct core_buf *b,
                      const struct report_asset *css)
{
    core_buf_puts(b, "<!doctype html>\n<html lang=en><head><meta charset=\"utf-8\">"
                     "<meta name=viewport content=\"width=device-width,initial-scale=1\">"
                     "<title>diorama load: ");
    put_html(b, r->url);
    core_buf_puts(b, "</title>\n<style>");
    put_script(b, (const char *)css->data, css->len);
    core_buf_printf(b,
                    "</style>\n<style>%s</style>\n</head>\n<body>\n<h1>diorama load</h1>"
                    "<p class=sub>",
                    page_css);
    if (r->scenario) {
        core_buf_puts(b, "scenario ");
        put_html(b, r->scenario);
        core_buf_puts(b, " routes under ");
    } else {
        put_html(b, r->method ? r->method : "GET");
        core_buf_putc(b, ' ');
    }
    put_html(b, r->url);
    if (r->connections_open > 0)
        core_buf_printf(b, " &middot; %d threads, %d connections (at most %d)", r->threads,
                        r->connections_open, r->connections);
    else
        core_buf_printf(b, " &middot; %d threads, at most %d connections", r->threads,
                        r->connections);
    if (r->mode && *r->mode) {
        core_buf_puts(b, " &middot; mode ");
        put_html(b, r->mode);
    }
    core_buf_puts(b, "</p>\n");
}

static void html_run_table(const struct report_load *r, struct core_buf *b)
{
    char s[64];
    core_buf_puts(b, "<table id=summary><tr><th colspan=2>Run</th></tr>");
    if (r->planned_s > 0) {
        snprintf(s, sizeof s, "%.1f s", r->planned_s);
        row_str(b, "s-planned", "Duration asked", s);
    }
    snprintf(s, sizeof s, "%.1f s", r->duration_s);
    row_str(b, "s-duration", "Duration (measured)", s);
    row_u64(b, "s-sent", "Sent", r->sent);
    row_u64(b, "s-requests", "Responses", r->requests);
    if (r->closed_loop)
        snprintf(s, sizeof s, "closed loop");
    else
        snprintf(s, sizeof s, "%.2f/s", r->target_rate);
    row_str(b, "s-target", "Target rate", s);
    snprintf(s, sizeof s, "%.2f/s", r->achieved_rate);
    row_str(b, "s-achieved", "Achieved rate", s);
    row_u64(b, "s-errors", "Errors", r->errors);
    row_u64(b, "s-late", "Late", r->late);
    row_u64(b, "s-dropped", "Dropped", r->dropped);
    row_u64(b, "s-injected", "Injected", r->injected);
    report_si((double)r->bytes_read, s, sizeof s);
    row_str(b, "s-read", "Bytes read", s);
    report_si((double)r->bytes_written, s, sizeof s);
    row_str(b, "s-written", "Bytes written", s);
    core_buf_puts(b, "</table>\n");
}

static void html_latency_table(const struct report_load *r, struct core_buf *b)
{
    static const double pct[] = {50, 90, 95, 99, 99.9, 100};
    static const char *name[] = {"p50", "p90", "p95", "p99", "p99.9", "max"};
    static const char *id[] = {"l-p50", "l-p90", "l-p95", "l-p99", "l-p999", "l-max"};
    const struct core_hdr *h = r->latency;
    char s[64];
    core_buf_puts(b, "<table id=latency><tr><th colspan=2>Latency</th></tr>");
    for (size_t i = 0; i < sizeof pct / sizeof pct[0]; i++) {
        fmt_ms(h && h->total ? core_hdr_value_at(h, pct[i]) : 0, s, sizeof s);
        row_str(b, id[i], name[i], s);
    }
    fmt_ms(h && h->total ? (int64_t)llround(core_hdr_mean(h)) : 0, s, sizeof s);
    row_str(b, "l-mean", "mean", s);
    core_buf_puts(b, "</table>\n");
}

static void html_errors_table(const struct report_load *r, struct core_buf *b)
{
    core_buf_puts(b, "<table id=errors><tr><th colspan=2>Errors and status</th></tr>");
    row_u64(b, "e-connect", "connect", r->connect_errors);
    row_u64(b, "e-timeout", "timeout", r->timeouts);
    row_u64(b, "e-read", "read", r->read_errors);
    row_u64(b, "e-write", "write", r->write_errors);
    for (int c = 1; c <= 5; c++)
        if (r->status[c])
            core_buf_printf(b, "<tr><td>%dxx</td><td class=n>%llu</td></tr>", c,
                            (unsigned long long)r->status[c]);
    for (int c = 100; c < 600; c++)
        if (r->status_codes[c])
            core_buf_printf(b, "<tr><td>&nbsp;&nbsp;%d</td><td class=n>%llu</td></tr>", c,
                            (unsigned long long)r->status_codes[c]);
    core_buf_puts(b, "</table>\n");
}

/* load --scenario: one row per route; cells r-<i>-requests etc. for the browser test. */
static void html_routes(const struct report_load *r, struct core_buf *b)
{
    if (!r->routes || r->nroutes == 0)
        return;
    core_buf_puts(b, "<table id=routes><tr><th colspan=6>Routes</th></tr>"
                     "<tr><td></td><td>share</td><td>requests</td><td>errors</td><td>p50</td>"
                     "<td>p99</td></tr>");
    for (size_t i = 0; i < r->nroutes; i++) {
        const struct report_route *rt = &r->routes[i];
        const struct core_hdr *h = rt->latency;
        char p50[32], p99[32];
        fmt_ms(h && h->total ? core_hdr_value_at(h, 50) : 0, p50, sizeof p50);
        fmt_ms(h && h->total ? core_hdr_value_at(h, 99) : 0, p99, sizeof p99);
        core_buf_printf(b, "<tr><td id=\"r-%zu-name\">", i);
        put_html(b, rt->method);
        core_buf_putc(b, ' ');
        put_html(b, rt->path);
        core_buf_printf(b,
                        "</td><td class=n>%.1f%%</td><td class=n id=\"r-%zu-requests\">%llu</td>"
                        "<td class=n id=\"r-%zu-errors\">%llu</td><td class=n id=\"r-%zu-p50\">%s"
                        "</td><td class=n id=\"r-%zu-p99\">%s</td></tr>",
                        100 * rt->share, i, (unsigned long long)rt->requests, i,
                        (unsigned long long)rt->errors, i, p50, i, p99);
    }
    core_buf_puts(b, "</table>\n");
}

static void html_thresholds(const struct report_load *r, struct core_buf *b)
{
    if (!r->thresholds || r->nthresholds == 0)
        return;
    core_buf_puts(b, "<table id=thresholds><tr><th colspan=3>Thresholds</th></tr>");
    for (size_t i = 0; i < r->nthresholds; i++) {
        const struct report_threshold *t = &r->thresholds[i];
        core_buf_printf(b, "<tr class=%s><td>%s</td><td>", t->passed ? "ok" : "bad",
                        t->passed ? "&#x2713;" : "&#x2717;");
        put_html(b, t->expr);
        char v[64];
        report_threshold_format(t, v, sizeof v);
        core_buf_puts(b, "</td><td class=n>");
        put_html(b, v);
        core_buf_puts(b, "</td></tr>");
    }
    core_buf_puts(b, "</table>\n");
}

static int html_body(const struct report_load *r, struct core_buf *b, const struct report_asset *js,
                     const struct report_asset *own)
{
    core_buf_puts(b, "<div class=grid>\n");
    html_run_table(r, b);
    html_latency_table(r, b);
    html_errors_table(r, b);
    html_routes(r, b);
    html_thresholds(r, b);
    core_buf_puts(b, "</div>\n<div class=chart id=chart-time></div>\n"
                     "<div class=chart id=chart-rate></div>\n"
                     "<div class=chart id=chart-errors></div>\n"
                     "<div class=chart id=chart-dist></div>\n"
                     "<script type=\"application/json\" id=load-data>");
    struct core_buf j;
    core_buf_init(&j, SIZE_MAX / 2);
    int rc = report_load_json(r, NULL, &j);
    if (rc == 0)
        put_script(b, (const char *)j.p, j.len);
    core_buf_free(&j);
    core_buf_puts(b, "</script>\n<script>");
    put_script(b, (const char *)js->data, js->len);
    core_buf_puts(b, "</script>\n<script>");
    put_script(b, (const char *)own->data, own->len);
    core_buf_puts(b, "</script>\n</body></html>\n");
    return rc;
}

int report_load_html(const struct report_load *r, struct core_buf *out)
{
    if (!r || !out)
        return DIO_EINVAL;
    const struct report_asset *js = report_asset_find(UPLOT_JS);
    const struct report_asset *css = report_asset_find(UPLOT_CSS);
    const struct report_asset *own = report_asset_find(REPORT_JS);
    if (!js || !css || !own)
        return DIO_ENOENT;
    /* Staged, then appended once (see load_text.c); about 70 KiB plus the data. */
    struct core_buf t;
    core_buf_init(&t, SIZE_MAX / 2);
    html_head(r, &t, css);
    int rc = html_body(r, &t, js, own);
    if (rc == 0)
        rc = core_buf_append(out, t.p, t.len);
    core_buf_free(&t);
    return rc;
}
