/* Prometheus pull listener (a listener of the httpd base: address syntax, connection cap and
 * timeouts are decided there, docs/listeners.md).
 *
 * GET /metrics serves the last body the engine published plus diorama's self-metrics,
 * rendered from the hub's counters at scrape time. Publishing never waits for a scrape: the
 * engine renders without any lock, export_prom_publish copies the text into a new
 * reference-counted body and swaps one pointer under `body_mu`; a scrape takes a reference
 * under the same mutex and reads the body with no lock held. `hub_mu` only keeps the hub
 * pointer valid while a scrape reads its counters (export_prom_set_hub(p, NULL) waits for
 * such a scrape to finish, so the hub can be freed after it).
 *
 * Size: an answer is at most max_bytes (EXPORT_PROM_MAX_BYTES unless --prom-max-bytes). A
 * scrape that would be larger is answered 503 with the sizes in the body, logged (the first
 * time, then at most once a minute) and counted in diorama_prom_scrapes_too_large_total:
 * Prometheus must see a failed scrape, never a 200 that silently lacks the world's series. */
#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "export/export.h"

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define SELF_MAX ((size_t)16 << 20) /* self-metrics: outputs x signals x families, small */
#define LOG_EVERY_NS 60000000000ULL

struct body {
    atomic_int refs;
    size_t len;
    char text[];
};

struct export_prom {
    struct httpd_h1 *h;
    size_t max_bytes;
    _Atomic uint64_t too_large; /* scrapes answered 503: over max_bytes */
    _Atomic uint64_t logged_ns; /* when the last too-large line was logged (mono) */
    pthread_mutex_t body_mu;
    struct body *body;
    pthread_mutex_t hub_mu;
    const struct export_hub *hub;
    int port;
    atomic_uint_least64_t scrapes; /* GET /metrics answered: the run's status line shows it */
};

static void body_unref(struct body *b)
{
    if (b && atomic_fetch_sub(&b->refs, 1) == 1)
        core_free(b);
}

void export_prom_publish(struct export_prom *p, const void *text, size_t len)
{
    struct body *b = core_malloc(sizeof *b + len + 1);
    atomic_init(&b->refs, 1);
    memcpy(b->text, text, len);
    b->len = len;
    pthread_mutex_lock(&p->body_mu);
    struct body *old = p->body;
    p->body = b;
    pthread_mutex_unlock(&p->body_mu);
    body_unref(old);
}

void export_prom_set_hub(struct export_prom *p, const struct export_hub *h)
{
    pthread_mutex_lock(&p->hub_mu);
    p->hub = h;
    pthread_mutex_unlock(&p->hub_mu);
}

int export_prom_port(const struct export_prom *p)
{
    return p->port;
}

uint64_t export_prom_scrapes(const struct export_prom *p)
{
    return atomic_load_explicit(&p->scrapes, memory_order_relaxed);
}

/* ---- self-metrics ------------------------------------------------------------------------- */

enum {
    F_GENERATED,
    F_DELIVERED,
    F_DROPPED,
    F_IN_FLIGHT,
    F_TIMED_OUT,
    F_REQUESTS,
    F_RETRIES,
    F_FAILED,
    F_BYTES,
    F_N
};

static const struct family {
    const char *name, *type, *help;
} families[F_N] = {
    {"diorama_records_generated_total", "counter", "Records handed to an output."},
    {"diorama_records_delivered_total", "counter", "Records the output's peer accepted."},
    {"diorama_records_dropped_total", "counter", "Records given up on, by reason."},
    {"diorama_records_in_flight", "gauge", "Records queued, being sent or waiting for a retry."},
    {"diorama_records_timed_out_total", "counter",
     "Records given up on after a request with them was sent and not answered: may have arrived."},
    {"diorama_export_requests_total", "counter", "Export requests attempted, retries included."},
    {"diorama_export_retries_total", "counter", "Records sent again after a retryable failure."},
    {"diorama_export_failed_requests_total", "counter", "Export requests that did not succeed."},
    {"diorama_export_bytes_total", "counter", "Payload bytes sent, after compression."},
};

static uint64_t value(const struct export_signal_stats *st, int f)
{
    switch (f) {
    case F_GENERATED:
        return st->generated;
    case F_DELIVERED:
        return st->delivered;
    case F_IN_FLIGHT:
        return st->in_flight;
    case F_TIMED_OUT:
        return st->timed_out;
    case F_REQUESTS:
        return st->requests;
    case F_RETRIES:
        return st->retried;
    case F_FAILED:
        return st->failed_requests;
    default:
        return st->bytes;
    }
}

/* Output names are [a-z0-9_] (export_output_name), so they need no label escaping. */
static void render_family(struct core_buf *out, const struct export_hub *h,
                          const struct export_stats *st, int f)
{
    const struct family *fam = &families[f];
    core_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", fam->name, fam->help, fam->name,
                    fam->type);
    for (size_t i = 0; i < export_hub_noutputs(h); i++) {
        const char *o = export_output_name(export_hub_output(h, i));
        for (int s = 0; s < REC_NSIGNALS; s++) {
            const struct export_signal_stats *ss = &st[i].s[s];
            if (f != F_DROPPED) {
                core_buf_printf(out, "%s{signal=\"%s\",output=\"%s\"} %llu\n", fam->name,
                                rec_signal_names[s], o, (unsigned long long)value(ss, f));
                continue;
            }
            for (int r = 0; r < EXPORT_DROP_NREASONS; r++)
                core_buf_printf(out, "%s{signal=\"%s\",output=\"%s\",reason=\"%s\"} %llu\n",
                                fam->name, rec_signal_names[s], o, export_drop_reason_names[r],
                                (unsigned long long)ss->dropped[r]);
        }
    }
}

static void render_self(struct export_prom *p, struct core_buf *out)
{
    pthread_mutex_lock(&p->hub_mu);
    const struct export_hub *h = p->hub;
    if (h) {
        size_t n = export_hub_noutputs(h);
        struct export_stats *st = core_calloc(n ? n : 1, sizeof *st);
        for (size_t i = 0; i < n; i++)
            export_hub_stats(h, i, &st[i]);
        for (int f = 0; f < F_N; f++)
            render_family(out, h, st, f);
        core_free(st);
    }
    pthread_mutex_unlock(&p->hub_mu);
    core_buf_printf(out,
                    "# HELP diorama_prom_scrapes_too_large_total Scrapes of /metrics answered 503 "
                    "because the answer would exceed diorama_prom_max_bytes.\n"
                    "# TYPE diorama_prom_scrapes_too_large_total counter\n"
                    "diorama_prom_scrapes_too_large_total %llu\n"
                    "# HELP diorama_prom_max_bytes The largest /metrics answer served "
                    "(--prom-max-bytes).\n"
                    "# TYPE diorama_prom_max_bytes gauge\n"
                    "diorama_prom_max_bytes %llu\n",
                    (unsigned long long)atomic_load(&p->too_large),
                    (unsigned long long)p->max_bytes);
    core_buf_printf(out,
                    "# HELP diorama_build_info The diorama version that serves these metrics.\n"
                    "# TYPE diorama_build_info gauge\n"
                    "diorama_build_info{version=\"%s\"} 1\n",
                    DIORAMA_VERSION);
}

/* ---- HTTP --------------------------------------------------------------------------------- */

/* The answer to GET /metrics into out: 0, or the size it would have had when that is over
 * max_bytes (out is then left empty). */
static size_t scrape(struct export_prom *p, struct core_buf *out)
{
    struct core_buf self;
    core_buf_init(&self, SELF_MAX);
    render_self(p, &self);
    pthread_mutex_lock(&p->body_mu);
    struct body *b = p->body;
    if (b)
        atomic_fetch_add(&b->refs, 1);
    pthread_mutex_unlock(&p->body_mu);
    size_t len = b ? b->len : 0;
    int nl = len > 0 && b->text[len - 1] != '\n';
    size_t need = len + (size_t)nl + self.len;
    if (need <= p->max_bytes) {
        if (b)
            core_buf_append(out, b->text, len);
        if (nl)
            core_buf_putc(out, '\n');
        core_buf_append(out, self.p, self.len);
        need = 0;
    }
    body_unref(b);
    core_buf_free(&self);
    return need;
}

/* Over the limit: 503 with the sizes, counted, logged the first time and then once a minute. */
static void too_large(struct export_prom *p, size_t need, struct core_buf *out)
{
    uint64_t n = atomic_fetch_add(&p->too_large, 1) + 1;
    core_buf_printf(out,
                    "the /metrics answer would be %zu bytes, over the limit of %zu bytes "
                    "(--prom-max-bytes; docs/listeners.md)\n",
                    need, p->max_bytes);
    uint64_t now = core_mono_ns(), last = atomic_load(&p->logged_ns);
    if ((n == 1 || now - last >= LOG_EVERY_NS) &&
        atomic_compare_exchange_strong(&p->logged_ns, &last, now))
        core_warn("prometheus listener: scrape refused (503): the answer would be %zu bytes, "
                  "over the limit of %zu (--prom-max-bytes); %llu refused so far",
                  need, p->max_bytes, (unsigned long long)n);
}

static void on_request(void *cls, struct httpd_h1_request *rq, struct httpd_h1_response *rs)
{
    struct export_prom *p = cls;
    rs->content_type = "text/plain; charset=utf-8";
    if (strcmp(rq->method, "GET") != 0 && strcmp(rq->method, "HEAD") != 0) {
        rs->status = 405;
        httpd_h1_add_header(rs, "Allow", "GET, HEAD");
        core_buf_puts(&rs->body, "method not allowed\n");
        return;
    }
    size_t need;
    if (strcmp(rq->path, "/metrics") == 0 && (need = scrape(p, &rs->body)) != 0) {
        too_large(p, need, &rs->body);
        rs->status = 503;
    } else if (strcmp(rq->path, "/metrics") == 0) {
        rs->content_type = CONTENT_TYPE;
        atomic_fetch_add_explicit(&p->scrapes, 1, memory_order_relaxed);
    } else if (strcmp(rq->path, "/") == 0) {
        core_buf_puts(&rs->body, "diorama " DIORAMA_VERSION "\n\n/metrics  Prometheus metrics: the "
                                 "simulated world and diorama's own delivery accounting\n");
    } else {
        rs->status = 404;
        core_buf_puts(&rs->body, "not found; try /metrics\n");
    }
}

struct export_prom *export_prom_start(const struct export_prom_cfg *cfg, int *rc, char *err,
                                      size_t errlen)
{
    struct httpd_addr a;
    struct export_prom *p = NULL;
    int r = httpd_addr_parse(cfg->listen, &a, err, errlen);
    if (r == 0) {
        p = core_calloc(1, sizeof *p);
        pthread_mutex_init(&p->body_mu, NULL);
        pthread_mutex_init(&p->hub_mu, NULL);
        p->max_bytes = cfg->max_bytes ? cfg->max_bytes : EXPORT_PROM_MAX_BYTES;
        /* an answer is at most max_bytes (+ the 503's few lines); a scrape has no body */
        struct httpd_h1_handlers hd = {on_request, p, "prometheus listener",
                                       4096,       0, p->max_bytes + 4096};
        r = httpd_h1_start(&p->h, &a, &cfg->http, &hd, err, errlen);
    }
    if (rc)
        *rc = r;
    if (r) {
        export_prom_stop(p);
        return NULL;
    }
    p->port = httpd_h1_port(p->h);
    return p;
}

void export_prom_stop(struct export_prom *p)
{
    if (!p)
        return;
    httpd_h1_stop(p->h);
    body_unref(p->body);
    pthread_mutex_destroy(&p->body_mu);
    pthread_mutex_destroy(&p->hub_mu);
    core_free(p);
}
