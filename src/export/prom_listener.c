/* Prometheus pull listener (libmicrohttpd, its own polling thread).
 *
 * GET /metrics serves the last body the engine published plus diorama's self-metrics,
 * rendered from the hub's counters at scrape time. Publishing never waits for a scrape: the
 * engine renders without any lock, export_prom_publish copies the text into a new
 * reference-counted body and swaps one pointer under `body_mu`; a scrape takes a reference
 * under the same mutex and reads the body with no lock held. `hub_mu` only keeps the hub
 * pointer valid while a scrape reads its counters (export_prom_set_hub(p, NULL) waits for
 * such a scrape to finish, so the hub can be freed after it). */
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "export/export.h"

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define SCRAPE_MAX ((size_t)64 << 20)

struct body {
    atomic_int refs;
    size_t len;
    char text[];
};

struct export_prom {
    struct MHD_Daemon *d;
    pthread_mutex_t body_mu;
    struct body *body;
    pthread_mutex_t hub_mu;
    const struct export_hub *hub;
    int port;
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

/* ---- self-metrics ------------------------------------------------------------------------- */

enum {
    F_GENERATED,
    F_DELIVERED,
    F_DROPPED,
    F_IN_FLIGHT,
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
                    "# HELP diorama_build_info The diorama version that serves these metrics.\n"
                    "# TYPE diorama_build_info gauge\n"
                    "diorama_build_info{version=\"%s\"} 1\n",
                    DIORAMA_VERSION);
}

/* ---- HTTP --------------------------------------------------------------------------------- */

static void free_bytes(void *p)
{
    core_free(p);
}

/* Sends b and takes its bytes (b is left empty). */
static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *ctype,
                             struct core_buf *b)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer_with_free_callback(b->len, b->p, free_bytes);
    if (!r)
        return MHD_NO;
    b->p = NULL;
    b->len = b->cap = 0;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

static void scrape(struct export_prom *p, struct core_buf *out)
{
    pthread_mutex_lock(&p->body_mu);
    struct body *b = p->body;
    if (b)
        atomic_fetch_add(&b->refs, 1);
    pthread_mutex_unlock(&p->body_mu);
    if (b) {
        core_buf_append(out, b->text, b->len);
        if (b->len > 0 && b->text[b->len - 1] != '\n')
            core_buf_putc(out, '\n');
        body_unref(b);
    }
    render_self(p, out);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_len, void **state)
{
    struct export_prom *p = cls;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        struct core_buf b;
        core_buf_init(&b, 256);
        core_buf_puts(&b, "method not allowed\n");
        enum MHD_Result r = reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", &b);
        core_buf_free(&b);
        return r;
    }
    struct core_buf b;
    core_buf_init(&b, SCRAPE_MAX);
    unsigned code = MHD_HTTP_OK;
    const char *ctype = "text/plain; charset=utf-8";
    if (strcmp(url, "/metrics") == 0) {
        scrape(p, &b);
        ctype = CONTENT_TYPE;
    } else if (strcmp(url, "/") == 0) {
        core_buf_puts(&b, "diorama " DIORAMA_VERSION "\n\n/metrics  Prometheus metrics: the "
                          "simulated world and diorama's own delivery accounting\n");
    } else {
        code = MHD_HTTP_NOT_FOUND;
        core_buf_puts(&b, "not found; try /metrics\n");
    }
    enum MHD_Result r = reply(c, code, ctype, &b);
    core_buf_free(&b);
    return r;
}

static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    core_vlog_from(CORE_LOG_DEBUG, "prometheus listener", fmt, ap);
}

/* "127.0.0.1:9464", ":9464", "9464", "[::1]:9464", "localhost:9464". */
static int resolve_addr(const char *addr, struct addrinfo **res, char *err, size_t errlen)
{
    char host[256] = "", port[16];
    const char *colon = strrchr(addr, ':');
    const char *ps = colon ? colon + 1 : addr;
    size_t hl = colon ? (size_t)(colon - addr) : 0;
    if (hl >= 2 && addr[0] == '[' && addr[hl - 1] == ']') {
        addr++;
        hl -= 2;
    }
    if (hl >= sizeof host || strlen(ps) == 0 || strlen(ps) >= sizeof port ||
        strspn(ps, "0123456789") != strlen(ps) || atoi(ps) > 65535) {
        snprintf(err, errlen, "bad listen address \"%s\" (want host:port, :port or port)", addr);
        return DIO_EINVAL;
    }
    memcpy(host, addr, hl);
    host[hl] = 0;
    snprintf(port, sizeof port, "%s", ps);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    int rc = getaddrinfo(hl ? host : NULL, port, &hints, res);
    if (rc != 0) {
        snprintf(err, errlen, "listen address \"%s\": %s", addr, gai_strerror(rc));
        return DIO_EINVAL;
    }
    return 0;
}

struct export_prom *export_prom_start(const char *addr, char *err, size_t errlen)
{
    struct addrinfo *ai = NULL;
    if (resolve_addr(addr, &ai, err, errlen) != 0)
        return NULL;
    struct export_prom *p = core_calloc(1, sizeof *p);
    pthread_mutex_init(&p->body_mu, NULL);
    pthread_mutex_init(&p->hub_mu, NULL);
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    p->d =
        MHD_start_daemon(flags, 0, NULL, NULL, on_request, p, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                         MHD_OPTION_CONNECTION_LIMIT, (unsigned)64, MHD_OPTION_CONNECTION_TIMEOUT,
                         (unsigned)30, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, p, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!p->d) {
        snprintf(err, errlen, "cannot listen on %s (address in use or not local?)", addr);
        export_prom_stop(p);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(p->d, MHD_DAEMON_INFO_BIND_PORT);
    p->port = info ? info->port : 0;
    return p;
}

void export_prom_stop(struct export_prom *p)
{
    if (!p)
        return;
    if (p->d)
        MHD_stop_daemon(p->d);
    body_unref(p->body);
    pthread_mutex_destroy(&p->body_mu);
    pthread_mutex_destroy(&p->hub_mu);
    core_free(p);
}
