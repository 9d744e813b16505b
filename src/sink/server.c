/* The HTTP side: a listener of the httpd base (epoll, internal thread pool; one thread per
 * connection when --delay holds responses, so a held response does not hold others). The
 * base decides the address syntax, the connection cap and the timeouts (docs/listeners.md).
 *
 * Bodies: a request's body is accumulated into a core_buf capped at max_request; a declared
 * Content-Length over the cap is answered 413 before any byte is read; a body that grows past
 * the cap while arriving (chunked) is read to its end and discarded, then answered 413. So a
 * connection holds at most max_request bytes of body (plus the decompressed copy in handle.c).
 *
 * Down windows (--down-for D@T): at T the daemon is quiesced and its listening socket closed,
 * so new connections are refused; requests arriving on connections that were already open are
 * dropped (connection closed) before their body is counted. At T+D the old daemon is stopped
 * and a new one listens on the same port. */
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sink/internal.h"

struct sink__server {
    struct httpd *h;
    struct httpd_h2 *h2;    /* --grpc-listen: OTLP/gRPC on the base's HTTP/2 listener */
    struct httpd_addr addr; /* the port is the one bound first */
    struct httpd_addr gaddr;
    atomic_int down;
    int window; /* index of the down window in effect, -1 = none */
    uint64_t t0;
    int done[SINK_MAX_DOWN];
};

struct conn {
    struct core_buf body;
    size_t held;     /* bytes counted in s->buffered */
    unsigned refuse; /* 0, or 413 / 503: the body is read to its end and dropped */
};

static void free_bytes(void *p)
{
    core_free(p);
}

static enum MHD_Result queue(struct sink *s, struct MHD_Connection *c, struct sink_response *rs)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer_with_free_callback(rs->body.len, rs->body.p, free_bytes);
    if (!r)
        return MHD_NO;
    rs->body.p = NULL; /* the response owns the bytes now */
    rs->body.len = rs->body.cap = 0;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, rs->content_type);
    static const char *const written[3] = {"X-Prometheus-Remote-Write-Samples-Written",
                                           "X-Prometheus-Remote-Write-Histograms-Written",
                                           "X-Prometheus-Remote-Write-Exemplars-Written"};
    for (int i = 0; i < 3 && rs->rw_written[0] >= 0; i++) {
        char v[32];
        snprintf(v, sizeof v, "%lld", (long long)rs->rw_written[i]);
        MHD_add_response_header(r, written[i], v);
    }
    if (rs->retry_after >= 0) {
        char v[32];
        snprintf(v, sizeof v, "%lld", (long long)rs->retry_after);
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, v);
    }
    enum MHD_Result ret = MHD_queue_response(c, rs->status, r);
    MHD_destroy_response(r);
    return ret;
}

static void fill_request(struct MHD_Connection *c, const char *url, const char *method,
                         struct sink_request *rq)
{
    memset(rq, 0, sizeof *rq);
    rq->method = method;
    rq->path = url;
    rq->content_type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    rq->content_encoding = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Encoding");
}

/* First call for a request: headers only. */
static enum MHD_Result begin(struct sink *s, struct MHD_Connection *c, const char *url,
                             const char *method, void **state)
{
    if (atomic_load(&s->srv->down)) {
        atomic_fetch_add(&s->refused, 1);
        return MHD_NO; /* closes the connection: the client retries elsewhere or later */
    }
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    if (cl && strtoull(cl, NULL, 10) > s->cfg.max_request) {
        struct sink_request rq;
        struct sink_response rs;
        fill_request(c, url, method, &rq);
        core_buf_init(&rs.body, 4096);
        sink_refuse(s, &rq, 413, &rs);
        enum MHD_Result r = queue(s, c, &rs);
        core_buf_free(&rs.body);
        return r;
    }
    struct conn *k = core_calloc(1, sizeof *k);
    core_buf_init(&k->body, s->cfg.max_request);
    *state = k;
    return MHD_YES;
}

static void release(struct sink *s, struct conn *k)
{
    atomic_fetch_sub(&s->buffered, k->held);
    k->held = 0;
    core_buf_free(&k->body);
    core_buf_init(&k->body, 0);
}

/* Appends a piece of the body, within this request's cap and the budget of all connections. */
static void take_upload(struct sink *s, struct conn *k, const char *data, size_t n)
{
    if (k->refuse)
        return;
    size_t was = atomic_fetch_add(&s->buffered, n);
    k->held += n;
    if (was + n > s->cfg.max_buffered)
        k->refuse = 503;
    else if (core_buf_append(&k->body, data, n))
        k->refuse = 413;
    if (k->refuse)
        release(s, k); /* read the rest, keep none of it */
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_len, void **state)
{
    struct sink *s = cls;
    struct conn *k = *state;
    if (!k)
        return begin(s, c, url, method, state);
    if (*upload_len) {
        take_upload(s, k, upload, *upload_len);
        *upload_len = 0;
        return MHD_YES;
    }
    struct sink_request rq;
    struct sink_response rs;
    fill_request(c, url, method, &rq);
    rq.body = k->body.p;
    rq.len = k->body.len;
    core_buf_init(&rs.body, (size_t)16 << 20); /* /status can be long */
    if (k->refuse)
        sink_refuse(s, &rq, k->refuse, &rs);
    else
        sink_handle(s, &rq, &rs);
    release(s, k);
    sink__hold(&s->holds, s->cfg.delay_ns); /* --delay; cut short when the sink stops */
    enum MHD_Result r = queue(s, c, &rs);
    core_buf_free(&rs.body);
    return r;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **state,
                         enum MHD_RequestTerminationCode toe)
{
    struct conn *k = *state;
    if (k) {
        release(cls, k);
        core_free(k);
        *state = NULL;
    }
}

static struct httpd_config http_config(const struct sink *s)
{
    struct httpd_config c = s->cfg.http;
    c.threads = s->cfg.threads;
    c.thread_per_connection = s->cfg.delay_ns > 0; /* a held response holds only its thread */
    return c;
}

static int start_daemon(struct sink *s, char *err, size_t errlen)
{
    struct httpd_config c = http_config(s);
    struct httpd_handlers hd = {on_request, on_completed, s, "sink"};
    return httpd_start(&s->srv->h, &s->srv->addr, &c, &hd, err, errlen);
}

static int start_grpc(struct sink *s, char *err, size_t errlen)
{
    struct httpd_config c = http_config(s);
    struct httpd_h2_handlers hd = {sink__grpc_request, s, s->cfg.max_request + WIRE_GRPC_PREFIX,
                                   s->cfg.max_buffered};
    c.thread_per_connection = 0;
    return httpd_h2_start(&s->srv->h2, &s->srv->gaddr, &c, &hd, err, errlen);
}

/* --grpc-listen: the HTTP/2 listener, on the port it bound first ever after. */
static int grpc_server_start(struct sink *s, char *err, size_t errlen)
{
    struct sink__server *sv = s->srv;
    if (!s->cfg.grpc_listen)
        return 0;
    if (httpd_addr_parse(s->cfg.grpc_listen, &sv->gaddr, err, errlen))
        return DIO_EINVAL;
    char why[256];
    int rc = start_grpc(s, why, sizeof why);
    if (rc == 0)
        httpd_addr_set_port(&sv->gaddr, httpd_h2_port(sv->h2));
    else
        snprintf(err, errlen, "--grpc-listen %s: %s", s->cfg.grpc_listen, why);
    return rc;
}

int sink__server_grpc_port(const struct sink *s)
{
    return s->srv && s->srv->h2 ? s->srv->gaddr.port : 0;
}

int sink__server_down(const struct sink *s)
{
    return s->srv && atomic_load(&s->srv->down);
}

int sink__server_start(struct sink *s, char *err, size_t errlen)
{
    if (s->srv)
        return DIO_EINVAL;
    struct sink__server *sv = core_calloc(1, sizeof *sv);
    sv->window = -1;
    s->srv = sv;
    if (httpd_addr_parse(s->cfg.listen ? s->cfg.listen : "127.0.0.1:4318", &sv->addr, err, errlen))
        return DIO_EINVAL;
    int rc = start_daemon(s, err, errlen);
    if (rc)
        return rc;
    httpd_addr_set_port(&sv->addr, httpd_port(sv->h)); /* a restart after a down window
                                                           gets the same port */
    s->port = sv->addr.port;
    if ((rc = grpc_server_start(s, err, errlen)) != 0)
        return rc;
    sv->t0 = core_mono_ns();
    return 0;
}

int sink__server_port(const struct sink *s)
{
    return s->port;
}

static void go_down(struct sink *s, int i)
{
    struct sink__server *sv = s->srv;
    atomic_store(&sv->down, 1);
    httpd_quiesce(sv->h);
    httpd_h2_quiesce(sv->h2);
    sv->window = i;
    core_info("sink: down (refusing connections)");
}

static void go_up(struct sink *s)
{
    struct sink__server *sv = s->srv;
    sv->done[sv->window] = 1;
    sv->window = -1;
    httpd_stop(sv->h);
    sv->h = NULL;
    char err[256];
    if (start_daemon(s, err, sizeof err))
        core_error("sink: could not listen again after the down window: %s", err);
    httpd_h2_stop(sv->h2);
    sv->h2 = NULL;
    if (s->cfg.grpc_listen && start_grpc(s, err, sizeof err))
        core_error("sink: could not listen for gRPC again after the down window: %s", err);
    atomic_store(&sv->down, 0);
    core_info("sink: up again");
}

void sink__server_poll(struct sink *s)
{
    struct sink__server *sv = s->srv;
    if (!sv || !sv->h)
        return;
    uint64_t t = core_mono_ns() - sv->t0;
    if (sv->window >= 0) {
        const struct sink_window *w = &s->cfg.down[sv->window];
        if (t >= w->at_ns + w->for_ns)
            go_up(s);
        return;
    }
    for (int i = 0; i < s->cfg.ndown; i++) {
        const struct sink_window *w = &s->cfg.down[i];
        if (!sv->done[i] && t >= w->at_ns && t < w->at_ns + w->for_ns) {
            go_down(s, i);
            return;
        }
    }
}

void sink__server_stop(struct sink *s)
{
    struct sink__server *sv = s->srv;
    if (!sv)
        return;
    httpd_stop(sv->h);
    httpd_h2_stop(sv->h2);
    core_free(sv);
    s->srv = NULL;
}
