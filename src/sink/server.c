/* The HTTP side: a listener of the httpd base's HTTP/1.1 server (epoll workers, --threads).
 * The base decides the address syntax, the connection cap and the timeouts
 * (docs/listeners.md), and hands over whole requests.
 *
 * Bodies: the base caps a request's body at max_request and all bodies held at once at
 * max_buffered; a declared Content-Length over the cap is answered 413 before any byte is
 * read; a body that grows past either while arriving (chunked) is read to its end and
 * discarded, then answered 413 / 503. So a connection holds at most max_request bytes of body
 * (plus the decompressed copy in handle.c).
 *
 * --delay: the answer is held by the base until its time (no thread waits); stopping sends the
 * held answers at once (httpd_h1_release).
 *
 * Down windows (--down-for D@T): at T the daemon is quiesced and its listening socket closed,
 * so new connections are refused; requests arriving on connections that were already open are
 * dropped (connection closed) before their body is counted. At T+D the old daemon is stopped
 * and a new one listens on the same port. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sink/internal.h"

struct sink__server {
    struct httpd_h1 *h;
    struct httpd_h2 *h2;    /* --grpc-listen: OTLP/gRPC on the base's HTTP/2 listener */
    struct httpd_addr addr; /* the port is the one bound first */
    struct httpd_addr gaddr;
    atomic_int down;
    int window; /* index of the down window in effect, -1 = none */
    uint64_t t0;
    int done[SINK_MAX_DOWN];
};

/* The sink's answer into the base's; the body moves, no copy. */
static void put_answer(struct sink_response *src, struct httpd_h1_response *rs)
{
    rs->status = src->status;
    rs->content_type = src->content_type;
    core_buf_free(&rs->body);
    rs->body = src->body;
    core_buf_init(&src->body, 0);
    static const char *const written[3] = {"X-Prometheus-Remote-Write-Samples-Written",
                                           "X-Prometheus-Remote-Write-Histograms-Written",
                                           "X-Prometheus-Remote-Write-Exemplars-Written"};
    char v[32];
    for (int i = 0; i < 3 && src->rw_written[0] >= 0; i++) {
        snprintf(v, sizeof v, "%lld", (long long)src->rw_written[i]);
        httpd_h1_add_header(rs, written[i], v);
    }
    if (src->retry_after >= 0) {
        snprintf(v, sizeof v, "%lld", (long long)src->retry_after);
        httpd_h1_add_header(rs, "Retry-After", v);
    }
}

static void on_request(void *cls, struct httpd_h1_request *r, struct httpd_h1_response *rs)
{
    struct sink *s = cls;
    if (atomic_load(&s->srv->down)) {
        atomic_fetch_add(&s->refused, 1);
        rs->status = 0; /* closes the connection: the client retries elsewhere or later */
        return;
    }
    struct sink_request rq;
    struct sink_response out;
    memset(&rq, 0, sizeof rq);
    rq.method = r->method;
    rq.path = r->path;
    rq.content_type = httpd_h1_header(r, "Content-Type");
    rq.content_encoding = httpd_h1_header(r, "Content-Encoding");
    rq.body = r->body;
    rq.len = r->len;
    core_buf_init(&out.body, (size_t)16 << 20); /* /status can be long */
    if (r->refused)
        sink_refuse(s, &rq, r->refused, &out);
    else
        sink_handle(s, &rq, &out);
    put_answer(&out, rs);
    core_buf_free(&out.body);
    if (s->cfg.delay_ns && !r->refused) /* --delay; cut short when the sink stops */
        rs->hold_until_ns = core_mono_ns() + s->cfg.delay_ns;
}

static struct httpd_config http_config(const struct sink *s)
{
    struct httpd_config c = s->cfg.http;
    c.threads = s->cfg.threads;
    return c;
}

static int start_daemon(struct sink *s, char *err, size_t errlen)
{
    struct httpd_config c = http_config(s);
    struct httpd_h1_handlers hd = {
        on_request, s, "sink", s->cfg.max_request, s->cfg.max_buffered, (size_t)16 << 20};
    return httpd_h1_start(&s->srv->h, &s->srv->addr, &c, &hd, err, errlen);
}

static int start_grpc(struct sink *s, char *err, size_t errlen)
{
    struct httpd_config c = http_config(s);
    struct httpd_h2_handlers hd = {sink__grpc_request, s, s->cfg.max_request + WIRE_GRPC_PREFIX,
                                   s->cfg.max_buffered};
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
    httpd_addr_set_port(&sv->addr, httpd_h1_port(sv->h)); /* a restart after a down window
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
    httpd_h1_quiesce(sv->h);
    httpd_h2_quiesce(sv->h2);
    sv->window = i;
    core_info("sink: down (refusing connections)");
}

static void go_up(struct sink *s)
{
    struct sink__server *sv = s->srv;
    sv->done[sv->window] = 1;
    sv->window = -1;
    httpd_h1_release(sv->h); /* answers held by --delay go now */
    httpd_h1_stop(sv->h);
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
    httpd_h1_release(sv->h); /* answers held by --delay go now, not after it */
    httpd_h1_stop(sv->h);
    httpd_h2_stop(sv->h2);
    core_free(sv);
    s->srv = NULL;
}
