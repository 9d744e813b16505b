/* OTLP/gRPC output: unary Export calls over HTTP/2, on libnghttp2: cleartext with prior
 * knowledge (h2c) for http://, or TLS (OpenSSL, ALPN "h2", the server's certificate verified
 * against the system's CAs or OTEL_EXPORTER_OTLP_CERTIFICATE) for https://. One thread per output
 * runs a poll loop over its connections and an eventfd the hub's wake writes to.
 *
 * Slots work as in otlp_http.c: per signal cfg.max_concurrent of them; a slot takes a batch,
 * encodes it into its own body (5-byte gRPC prefix + the Export*ServiceRequest, gzip when
 * asked: grpc-encoding gzip) and gives the batch back at once; the body is kept for retries.
 * Every active slot is one stream.
 *
 * Connections: one per distinct authority and slot index ("lane"), so slot i of every signal
 * shares lane i's connection (normally cfg.max_concurrent connections for all signals). Why
 * not one connection for all: HTTP/2 flow control. A server that keeps the default 64 KiB
 * connection window (grpc-js does, and sends no SETTINGS to raise it) lets at most 64 KiB be
 * in flight per connection over all its streams, so a 200 KiB request took about four round
 * trips of WINDOW_UPDATE through the server's event loop while every other stream waited too:
 * measured with strace, ~40 KiB per send, then a wait for the peer's WINDOW_UPDATE. A lane per
 * in-flight slot multiplies the windows, as OTLP/HTTP's connection per in-flight request does;
 * a server with large windows (diorama sink, a Go collector's BDP-grown ones) loses nothing.
 *
 * Connections are opened when a slot needs one (non-blocking connect) and dropped on any error
 * or GOAWAY; the next attempt reconnects. A failed connect fails the slots that waited
 * for it as a transport failure, so reconnecting is paced by the slots' retry backoff.
 *
 * Outcomes follow the OTLP/gRPC spec: grpc-status 0 delivered (minus partial_success
 * rejected, counted dropped(rejected)); the retryable codes (export_grpc_policy) retried with
 * backoff or the server's RetryInfo until cfg.retry_budget_ns is used up (dropped(retries));
 * other codes dropped(rejected). A call whose request went out in full (END_STREAM sent) and
 * that got no status (reset, connection lost, deadline) may have been processed: given up,
 * it is counted timed_out, never dropped. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "export/internal.h"
#include "wire/wire.h"

#define RESP_MAX 65536  /* response message bytes kept (partial_success) */
#define OUT_CHUNK 65536 /* bytes gathered from nghttp2 before one write() */
#define GZIP_LEVEL 1
#define DIGEST_NS (5ULL * 1000000000ULL)
#define WINDOW (16 << 20) /* our receive windows: responses are small, but do not stall */

enum { SLOT_IDLE, SLOT_CONNECT, SLOT_ACTIVE, SLOT_WAITING };
enum { CONN_DOWN, CONN_CONNECTING, CONN_HANDSHAKE, CONN_UP };
enum { IO_AGAIN = -1, IO_ERR = -2 }; /* io_recv / io_send besides a byte count (0: closed) */

static const char *const svc_path[REC_NSIGNALS] = {
    "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
    "/opentelemetry.proto.collector.logs.v1.LogsService/Export"};

struct grpc;

struct slot {
    struct grpc *x;
    int signal, conn;
    int state;
    int attempt;
    int32_t stream;
    struct core_buf body; /* prefix + message, kept for retries */
    size_t off;           /* bytes of body handed to nghttp2 in this attempt */
    struct core_buf resp; /* response DATA (one gRPC message) */
    uint64_t n;
    int maybe_sent, body_sent;
    uint64_t first_ns, attempt_ns, due_ns;
    /* this attempt's answer */
    int http_status, grpc_status, has_retry_info;
    uint64_t retry_info_ns;
    char message[160];
};

struct conn {
    int lane;       /* the slot index this connection carries */
    int tls;        /* https:// */
    SSL *ssl;       /* while a TLS connection is open */
    int want_write; /* TLS: the last call needs the socket writable (else readable) */
    char host[256];
    char port[8];
    char authority[270];
    int state;
    int fd;
    nghttp2_session *h2;
    struct core_buf out; /* serialized frames not yet written */
    char why[160];       /* why it went down (for the slots' messages) */
};

struct grpc {
    struct export_output o; /* first: the hub sees this */
    struct export_otlp_http_cfg cfg;
    /* [REC_NSIGNALS * cfg.max_concurrent] at most: one per authority and lane */
    struct conn *conns;
    int nconns;
    struct pollfd *pfd; /* [nconns + 1]: the eventfd, then the connections */
    int *pmap;          /* pfd index -> connection index */
    SSL_CTX *tls;       /* when a URL is https:// */
    char tls_why[200];  /* why tls could not be set up (every TLS connect then fails with it) */
    struct slot *slots[REC_NSIGNALS];
    nghttp2_nv *nv[REC_NSIGNALS]; /* request headers per signal */
    size_t nnv[REC_NSIGNALS];
    char **hdr_store; /* lower-cased user headers: name\0value pairs */
    char timeout[24]; /* grpc-timeout value */
    struct core_buf enc;
    struct core_rng rng;
    int evfd;
    pthread_t thread;
    int started;
    uint64_t dg_open, dg_events, dg_dropped; /* log digest (see note) */
    char dg_last[400];
};

/* ---- logging: the first problem after a quiet interval at once, then one line per 5 s ---- */

static void note(struct grpc *x, uint64_t now, uint64_t dropped, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void note(struct grpc *x, uint64_t now, uint64_t dropped, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->dg_last, sizeof x->dg_last, fmt, ap);
    va_end(ap);
    if (!x->dg_open) {
        core_warn("%s: %s", x->o.name, x->dg_last);
        x->dg_open = now ? now : 1;
        return;
    }
    x->dg_events++;
    x->dg_dropped += dropped;
}

static void digest_tick(struct grpc *x, uint64_t now, int force)
{
    if (!x->dg_open || (!force && now - x->dg_open < DIGEST_NS))
        return;
    if (x->dg_events)
        core_warn("%s: %llu more problems in the last 5s, %llu records dropped; last: %s",
                  x->o.name, (unsigned long long)x->dg_events, (unsigned long long)x->dg_dropped,
                  x->dg_last);
    x->dg_open = x->dg_events && !force ? now : 0;
    x->dg_events = x->dg_dropped = 0;
}

/* ---- connections ------------------------------------------------------------------------ */

static void slot_answer(struct grpc *x, struct slot *sl, int code, const char *why);

/* Fails every slot that is on c (in a stream or waiting for the connect): transport failure. */
static void conn_fail_slots(struct grpc *x, int ci)
{
    for (int s = 0; s < REC_NSIGNALS; s++) {
        for (int i = 0; x->slots[s] && i < x->cfg.max_concurrent; i++) {
            struct slot *sl = &x->slots[s][i];
            if (sl->conn == ci && (sl->state == SLOT_ACTIVE || sl->state == SLOT_CONNECT)) {
                if (sl->state == SLOT_ACTIVE && sl->body_sent)
                    sl->maybe_sent = 1;
                slot_answer(x, sl, -1, x->conns[ci].why);
            }
        }
    }
}

static void conn_close(struct grpc *x, int ci, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void conn_close(struct grpc *x, int ci, const char *fmt, ...)
{
    struct conn *c = &x->conns[ci];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->why, sizeof c->why, fmt, ap);
    va_end(ap);
    nghttp2_session *h2 = c->h2;
    c->h2 = NULL; /* callbacks of the deleted session must not touch slots */
    if (h2)
        nghttp2_session_del(h2);
    SSL_free(c->ssl); /* no close_notify: the connection is failing or the run is ending */
    c->ssl = NULL;
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->state = CONN_DOWN;
    core_buf_reset(&c->out);
    conn_fail_slots(x, ci);
}

static int set_sock_opts(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    return 0;
}

/* Starts a non-blocking connect. The name is resolved now (getaddrinfo blocks, but only when
 * a connection is (re)opened, and loopback or /etc/hosts answer at once). */
static void conn_open(struct grpc *x, int ci)
{
    struct conn *c = &x->conns[ci];
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_socktype = SOCK_STREAM;
    int e = getaddrinfo(c->host, c->port, &hints, &ai);
    if (e) {
        conn_close(x, ci, "cannot resolve %s: %s", c->host, gai_strerror(e));
        return;
    }
    c->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0 || (connect(c->fd, ai->ai_addr, ai->ai_addrlen) && errno != EINPROGRESS)) {
        int err = errno;
        freeaddrinfo(ai);
        conn_close(x, ci, "cannot connect to %s: %s", c->authority, strerror(err));
        return;
    }
    freeaddrinfo(ai);
    set_sock_opts(c->fd);
    c->state = CONN_CONNECTING;
}

/* ---- transport: TCP or TLS under the same two calls ------------------------------------ */

/* An SSL call's result r <= 0 as IO_AGAIN (noting which way the socket must be ready), 0
 * (the peer closed) or IO_ERR. */
static int tls_result(struct conn *c, int r)
{
    switch (SSL_get_error(c->ssl, r)) {
    case SSL_ERROR_WANT_READ:
        c->want_write = 0;
        return IO_AGAIN;
    case SSL_ERROR_WANT_WRITE:
        c->want_write = 1;
        return IO_AGAIN;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    default:
        return IO_ERR;
    }
}

static ssize_t io_recv(struct conn *c, void *buf, size_t n)
{
    if (c->ssl) {
        int r = SSL_read(c->ssl, buf, n > INT_MAX ? INT_MAX : (int)n);
        return r > 0 ? r : tls_result(c, r);
    }
    ssize_t r = recv(c->fd, buf, n, 0);
    return r >= 0 ? r : (errno == EAGAIN || errno == EINTR) ? IO_AGAIN : IO_ERR;
}

static ssize_t io_send(struct conn *c, const void *p, size_t n)
{
    if (c->ssl) {
        int w = SSL_write(c->ssl, p, n > INT_MAX ? INT_MAX : (int)n);
        return w > 0 ? w : tls_result(c, w);
    }
    ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
    return w >= 0 ? w : (errno == EAGAIN || errno == EINTR) ? IO_AGAIN : IO_ERR;
}

/* Why the last IO_ERR happened: the certificate check, OpenSSL's error queue, or errno. */
static const char *io_why(struct conn *c, char *buf, size_t n)
{
    int err = errno;
    long v = c->ssl ? SSL_get_verify_result(c->ssl) : X509_V_OK;
    unsigned long e = c->ssl ? ERR_get_error() : 0;
    if (v != X509_V_OK)
        snprintf(buf, n, "certificate verify failed: %s", X509_verify_cert_error_string(v));
    else if (e)
        ERR_error_string_n(e, buf, n);
    else
        snprintf(buf, n, "%s", strerror(err));
    ERR_clear_error();
    return buf;
}

/* The client context for https:// URLs: TLS 1.2+, ALPN h2 (gRPC requires it), the server's
 * certificate verified against cfg.certificate or the system's CAs. A failure is kept in
 * tls_why and fails each TLS connect (a clear message, exit 4), not the start. */
static void tls_init(struct grpc *x)
{
    static const unsigned char alpn[] = {2, 'h', '2'};
    const char *ca = x->cfg.certificate;
    x->tls = SSL_CTX_new(TLS_client_method());
    if (!x->tls) {
        snprintf(x->tls_why, sizeof x->tls_why, "cannot create a TLS context");
        return;
    }
    SSL_CTX_set_min_proto_version(x->tls, TLS1_2_VERSION);
    SSL_CTX_set_verify(x->tls, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_mode(x->tls, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (SSL_CTX_set_alpn_protos(x->tls, alpn, sizeof alpn) != 0)
        snprintf(x->tls_why, sizeof x->tls_why, "cannot set ALPN h2");
    else if (ca[0] && SSL_CTX_load_verify_locations(x->tls, ca, NULL) != 1)
        snprintf(
            x->tls_why, sizeof x->tls_why,
            "cannot load OTEL_EXPORTER_OTLP_CERTIFICATE %.100s (a PEM file of CA certificates)",
            ca);
    else if (!ca[0] && SSL_CTX_set_default_verify_paths(x->tls) != 1)
        snprintf(x->tls_why, sizeof x->tls_why, "cannot load the system's CA certificates");
    ERR_clear_error();
}

/* ---- nghttp2 callbacks ---------------------------------------------------------------- */

/* The slot whose current attempt is stream id of session h2; NULL for a stream the slot has
 * given up on (cancelled at its deadline) or a session being deleted. */
static struct slot *stream_slot(nghttp2_session *h2, int32_t id)
{
    struct slot *sl = nghttp2_session_get_stream_user_data(h2, id);
    if (!sl || sl->stream != id || sl->state != SLOT_ACTIVE || sl->x->conns[sl->conn].h2 != h2)
        return NULL;
    return sl;
}

static int on_header(nghttp2_session *h2, const nghttp2_frame *f, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags, void *ud)
{
    struct slot *sl = stream_slot(h2, f->hd.stream_id);
    if (!sl || f->hd.type != NGHTTP2_HEADERS)
        return 0;
    char v[128];
    snprintf(v, sizeof v, "%.*s", (int)(valuelen < 127 ? valuelen : 127), (const char *)value);
    if (namelen == 7 && !memcmp(name, ":status", 7))
        sl->http_status = atoi(v);
    else if (namelen == 11 && !memcmp(name, "grpc-status", 11))
        sl->grpc_status = (valuelen && valuelen < 4 && v[0] >= '0' && v[0] <= '9') ? atoi(v) : 2;
    else if (namelen == 12 && !memcmp(name, "grpc-message", 12))
        snprintf(sl->message, sizeof sl->message, "%.*s", (int)valuelen, (const char *)value);
    else if (namelen == 23 && !memcmp(name, "grpc-status-details-bin", 23))
        export_grpc_status_details((const char *)value, valuelen, &sl->has_retry_info,
                                   &sl->retry_info_ns, NULL, 0);
    return 0;
}

static int on_data(nghttp2_session *h2, uint8_t flags, int32_t id, const uint8_t *data, size_t len,
                   void *ud)
{
    struct slot *sl = stream_slot(h2, id);
    if (sl) {
        size_t room = sl->resp.max - sl->resp.len;
        core_buf_append(&sl->resp, data, len < room ? len : room);
    }
    return 0;
}

static int on_frame_send(nghttp2_session *h2, const nghttp2_frame *f, void *ud)
{
    struct slot *sl = stream_slot(h2, f->hd.stream_id);
    if (sl && (f->hd.flags & NGHTTP2_FLAG_END_STREAM))
        sl->body_sent = 1;
    return 0;
}

/* HTTP status to gRPC code when a response has no grpc-status (gRPC's http-grpc-status
 * mapping): a proxy or a plain HTTP server answered. */
static int http_to_grpc(int status)
{
    switch (status) {
    case 400:
        return 13; /* INTERNAL */
    case 401:
        return 16;
    case 403:
        return 7;
    case 404:
        return 12; /* UNIMPLEMENTED */
    case 429:
    case 502:
    case 503:
    case 504:
        return 14; /* UNAVAILABLE */
    default:
        return 2; /* UNKNOWN */
    }
}

static int on_stream_close(nghttp2_session *h2, int32_t id, uint32_t error_code, void *ud)
{
    struct grpc *x = ud;
    struct slot *sl = stream_slot(h2, id);
    if (!sl)
        return 0;
    sl->stream = 0;
    char why[96];
    if (sl->grpc_status >= 0) {
        slot_answer(x, sl, sl->grpc_status, NULL);
    } else if (sl->http_status && sl->http_status != 200) {
        snprintf(why, sizeof why, "HTTP %d without grpc-status", sl->http_status);
        slot_answer(x, sl, http_to_grpc(sl->http_status), why);
    } else {
        if (sl->body_sent && error_code != NGHTTP2_REFUSED_STREAM)
            sl->maybe_sent = 1; /* REFUSED_STREAM: the peer guarantees it did not process it */
        snprintf(why, sizeof why, "stream closed without a status (%s)",
                 nghttp2_http2_strerror(error_code));
        slot_answer(x, sl, -1, why);
    }
    return 0;
}

static ssize_t read_body(nghttp2_session *h2, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                         nghttp2_data_source *src, void *ud)
{
    struct slot *sl = src->ptr;
    size_t left = sl->body.len - sl->off;
    size_t n = left < len ? left : len;
    memcpy(buf, sl->body.p + sl->off, n);
    sl->off += n;
    if (sl->off == sl->body.len)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

/* DATA frames as large as the peer allows (SETTINGS_MAX_FRAME_SIZE) and the windows hold: a
 * 16 KiB default would cut a 300 KiB body into 19 frames, each a callback and a copy on both
 * sides. */
static ssize_t frame_len(nghttp2_session *h2, uint8_t type, int32_t id, int32_t conn_window,
                         int32_t stream_window, uint32_t max_frame, void *ud)
{
    int32_t n = conn_window < stream_window ? conn_window : stream_window;
    return n < (int32_t)max_frame ? n : (ssize_t)max_frame;
}

static nghttp2_session_callbacks *callbacks(void)
{
    nghttp2_session_callbacks *cb;
    if (nghttp2_session_callbacks_new(&cb))
        abort();
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
    nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
    nghttp2_session_callbacks_set_data_source_read_length_callback(cb, frame_len);
    return cb;
}

/* The socket is connected (and TLS up): an HTTP/2 session with our SETTINGS (no push, big
 * windows). */
static void conn_up(struct grpc *x, int ci)
{
    struct conn *c = &x->conns[ci];
    nghttp2_session_callbacks *cb = callbacks();
    nghttp2_option *opt;
    nghttp2_option_new(&opt);
    nghttp2_option_set_peer_max_concurrent_streams(opt, 100);
    nghttp2_session_client_new2(&c->h2, cb, x, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cb);
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
                                   {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, WINDOW}};
    nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, 2);
    nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0, WINDOW);
    c->state = CONN_UP;
}

/* ---- slots ---------------------------------------------------------------------------- */

static int slot_gzip(const struct grpc *x, int s)
{
    return x->cfg.signal_gzip[s] ? x->cfg.signal_gzip[s] > 0 : x->cfg.gzip;
}

/* Submits the slot's call on its (up) connection. */
static void slot_submit(struct grpc *x, struct slot *sl)
{
    struct conn *c = &x->conns[sl->conn];
    nghttp2_data_provider dp = {.source.ptr = sl, .read_callback = read_body};
    sl->off = 0;
    sl->body_sent = 0;
    sl->http_status = 0;
    sl->grpc_status = -1;
    sl->has_retry_info = 0;
    sl->message[0] = 0;
    core_buf_reset(&sl->resp);
    int32_t id =
        nghttp2_submit_request(c->h2, NULL, x->nv[sl->signal], x->nnv[sl->signal], &dp, sl);
    sl->state = SLOT_ACTIVE;
    if (id < 0) {
        slot_answer(x, sl, -1, nghttp2_strerror(id));
        return;
    }
    sl->stream = id;
}

/* One attempt: counted now; sent as soon as the connection is up. */
static void slot_send(struct grpc *x, struct slot *sl, uint64_t now)
{
    struct export__counters *c = &x->o.c[sl->signal];
    export__count(&c->requests, 1);
    export__count(&c->bytes, sl->body.len);
    if (sl->attempt > 0)
        export__count(&c->retried, sl->n);
    sl->attempt_ns = now;
    struct conn *k = &x->conns[sl->conn];
    if (k->state == CONN_DOWN)
        conn_open(x, sl->conn);
    if (k->state == CONN_UP)
        slot_submit(x, sl);
    else if (k->state == CONN_CONNECTING || k->state == CONN_HANDSHAKE)
        sl->state = SLOT_CONNECT; /* submitted by conn_ready */
    else
        slot_answer(x, sl, -1, k->why); /* conn_open failed at once */
}

/* Encodes the batch as one gRPC message into the slot's body. 0 or DIO_EFULL. */
static int slot_fill(struct grpc *x, struct slot *sl, struct export__item *it)
{
    struct wire_otlp_opts opts = {x->o.verify_attrs};
    int gz = slot_gzip(x, sl->signal);
    sl->n = it->b->n;
    core_buf_reset(&sl->body);
    core_buf_reset(&x->enc);
    int rc = core_buf_append(&sl->body, "\0\0\0\0\0", WIRE_GRPC_PREFIX);
    if (rc == 0)
        rc = wire_otlp_pb_encode(gz ? &x->enc : &sl->body, it->b, &opts);
    export__release(&x->o, it);
    if (rc == 0 && gz)
        rc = wire_gzip(&sl->body, x->enc.p, x->enc.len, GZIP_LEVEL);
    size_t m = sl->body.len - WIRE_GRPC_PREFIX;
    if (rc == 0 && m > 0xffffffffu)
        rc = DIO_EFULL;
    if (rc == 0) {
        uint8_t *p = sl->body.p;
        p[0] = (uint8_t)gz, p[1] = (uint8_t)(m >> 24), p[2] = (uint8_t)(m >> 16);
        p[3] = (uint8_t)(m >> 8), p[4] = (uint8_t)m;
    }
    if (x->enc.cap > (4u << 20) && x->enc.len < (1u << 20)) {
        core_buf_free(&x->enc); /* one huge batch should not pin its buffer for the run */
        core_buf_init(&x->enc, EXPORT__MAX_BODY);
    }
    return rc;
}

static int fill(struct grpc *x, uint64_t now)
{
    int progress = 0;
    for (int s = 0; s < REC_NSIGNALS; s++) {
        for (int i = 0; x->slots[s] && i < x->cfg.max_concurrent; i++) {
            struct slot *sl = &x->slots[s][i];
            struct export__item it;
            if (sl->state != SLOT_IDLE || !export__take(&x->o, s, &it))
                continue;
            progress = 1;
            if (slot_fill(x, sl, &it) != 0) {
                export__dropped(&x->o, s, sl->n, EXPORT_DROP_ENCODE);
                note(x, now, sl->n, "a batch of %llu %s is too large to encode; dropped",
                     (unsigned long long)sl->n, rec_signal_names[s]);
                continue;
            }
            sl->attempt = 0;
            sl->maybe_sent = 0;
            sl->first_ns = now;
            slot_send(x, sl, now);
        }
    }
    return progress;
}

static void give_up(struct grpc *x, struct slot *sl, int reason)
{
    if (sl->maybe_sent)
        export__timed_out(&x->o, sl->signal, sl->n);
    else
        export__dropped(&x->o, sl->signal, sl->n, reason);
    sl->state = SLOT_IDLE;
}

static void on_ok(struct grpc *x, struct slot *sl, uint64_t now)
{
    int s = sl->signal;
    int64_t rejected = 0;
    char msg[256] = "";
    struct core_buf scratch;
    const void *m = NULL;
    size_t mlen = 0;
    core_buf_init(&scratch, RESP_MAX);
    export__latency(&x->o, s, now - sl->attempt_ns);
    if (sl->resp.len && (wire_grpc_unframe(sl->resp.p, sl->resp.len, 1, &scratch, &m, &mlen) ||
                         export_otlp_partial_success(m, mlen, &rejected, msg, sizeof msg)))
        rejected = 0; /* unreadable: taken as full success, as the HTTP output does */
    core_buf_free(&scratch);
    if (rejected < 0)
        rejected = 0;
    if ((uint64_t)rejected > sl->n)
        rejected = (int64_t)sl->n;
    export__delivered(&x->o, s, sl->n - (uint64_t)rejected);
    if (rejected > 0) {
        export__dropped(&x->o, s, (uint64_t)rejected, EXPORT_DROP_REJECTED);
        note(x, now, (uint64_t)rejected, "collector rejected %lld of %llu %s (partial success): %s",
             (long long)rejected, (unsigned long long)sl->n, rec_signal_names[s],
             msg[0] ? msg : "(no message)");
    }
    sl->state = SLOT_IDLE;
}

/* The attempt ended: code is the gRPC status, -1 a transport failure (why says what). */
static void slot_answer(struct grpc *x, struct slot *sl, int code, const char *why)
{
    uint64_t now = core_mono_ns(), deadline, delay = 0;
    int stopping = export__stopping(&x->o, &deadline);
    int s = sl->signal;
    sl->stream = 0;
    int v = export_grpc_policy(code, sl->has_retry_info, sl->retry_info_ns, sl->attempt + 1,
                               x->cfg.retry_initial_ns, x->cfg.retry_max_ns, &x->rng, &delay);
    if (v == EXPORT_OK) {
        on_ok(x, sl, now);
        return;
    }
    export__count(&x->o.c[s].failed_requests, 1);
    char what[256];
    if (code >= 0)
        snprintf(what, sizeof what, "%s%s%s", export_grpc_code_name(code),
                 sl->message[0] || why ? ": " : "",
                 sl->message[0] ? sl->message
                 : why          ? why
                                : "");
    else
        snprintf(what, sizeof what, "%s", why ? why : "transport failure");
    const char *path = svc_path[s];
    sl->state = SLOT_IDLE;
    if (v == EXPORT_FAIL) {
        export__dropped(&x->o, s, sl->n, EXPORT_DROP_REJECTED);
        note(x, now, sl->n, "%s: %s; %llu %s dropped (not retryable)", path, what,
             (unsigned long long)sl->n, rec_signal_names[s]);
    } else if (now + delay > sl->first_ns + x->cfg.retry_budget_ns) {
        give_up(x, sl, EXPORT_DROP_RETRIES);
        note(x, now, sl->maybe_sent ? 0 : sl->n, "%s: %s; retry budget used up, %llu %s %s", path,
             what, (unsigned long long)sl->n, rec_signal_names[s],
             sl->maybe_sent ? "timed out (may have arrived)" : "dropped");
    } else if (stopping && now + delay >= deadline) {
        give_up(x, sl, EXPORT_DROP_SHUTDOWN);
    } else {
        char d[32];
        core_format_duration(delay, d, sizeof d);
        note(x, now, 0, "%s: %s; retrying in %s", path, what, d);
        sl->attempt++;
        sl->due_ns = now + delay;
        sl->state = SLOT_WAITING;
    }
}

/* Retries due now; calls past their deadline cancelled (DEADLINE_EXCEEDED, retryable). */
static void kick_due(struct grpc *x, uint64_t now, int stopping, uint64_t deadline)
{
    for (int s = 0; s < REC_NSIGNALS; s++) {
        for (int i = 0; x->slots[s] && i < x->cfg.max_concurrent; i++) {
            struct slot *sl = &x->slots[s][i];
            if (sl->state == SLOT_WAITING && stopping && sl->due_ns >= deadline)
                give_up(x, sl, EXPORT_DROP_SHUTDOWN);
            else if (sl->state == SLOT_WAITING && sl->due_ns <= now)
                slot_send(x, sl, now);
            else if ((sl->state == SLOT_ACTIVE || sl->state == SLOT_CONNECT) &&
                     now - sl->attempt_ns >= x->cfg.timeout_ns) {
                struct conn *c = &x->conns[sl->conn];
                if (sl->stream && c->h2)
                    nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, sl->stream, NGHTTP2_CANCEL);
                if (sl->body_sent)
                    sl->maybe_sent = 1;
                sl->state = SLOT_ACTIVE; /* slot_answer ignores the stream's later close */
                slot_answer(x, sl, 4, "no answer within the timeout");
            }
        }
    }
}

/* ---- I/O ------------------------------------------------------------------------------ */

/* Moves frames from nghttp2 to the socket until it would block. */
static void conn_write(struct grpc *x, int ci)
{
    struct conn *c = &x->conns[ci];
    for (;;) {
        while (c->h2 && c->out.len < OUT_CHUNK) {
            const uint8_t *d;
            ssize_t n = nghttp2_session_mem_send(c->h2, &d);
            if (n < 0) {
                conn_close(x, ci, "HTTP/2: %s", nghttp2_strerror((int)n));
                return;
            }
            if (n == 0)
                break;
            core_buf_append(&c->out, d, (size_t)n);
        }
        if (!c->out.len)
            return;
        ssize_t w = io_send(c, c->out.p, c->out.len);
        if (w == IO_AGAIN)
            return;
        if (w <= 0) {
            char why[200];
            conn_close(x, ci, "connection to %s lost: %s", c->authority,
                       w ? io_why(c, why, sizeof why) : "closed by the peer");
            return;
        }
        memmove(c->out.p, c->out.p + w, c->out.len - (size_t)w);
        c->out.len -= (size_t)w;
    }
}

static void conn_read(struct grpc *x, int ci)
{
    struct conn *c = &x->conns[ci];
    uint8_t buf[65536];
    for (;;) {
        ssize_t n = io_recv(c, buf, sizeof buf);
        if (n == IO_AGAIN)
            return;
        if (n <= 0) {
            char why[200];
            conn_close(x, ci, "connection to %s %s", c->authority,
                       n == 0 ? "closed by the peer" : io_why(c, why, sizeof why));
            return;
        }
        ssize_t r = nghttp2_session_mem_recv(c->h2, buf, (size_t)n);
        if (r < 0) {
            conn_close(x, ci, "HTTP/2 from %s: %s", c->authority, nghttp2_strerror((int)r));
            return;
        }
    }
}

/* A connection that just came up takes the slots that waited for it. */
static void conn_ready(struct grpc *x, int ci)
{
    conn_up(x, ci);
    for (int s = 0; x->conns[ci].state == CONN_UP && s < REC_NSIGNALS; s++)
        for (int i = 0; x->slots[s] && i < x->cfg.max_concurrent; i++)
            if (x->slots[s][i].conn == ci && x->slots[s][i].state == SLOT_CONNECT)
                slot_submit(x, &x->slots[s][i]);
}

/* TLS: one step of the handshake; when done, h2 must have been agreed (ALPN). */
static void tls_handshake(struct grpc *x, int ci)
{
    struct conn *c = &x->conns[ci];
    int r = SSL_do_handshake(c->ssl);
    if (r != 1) {
        char why[200];
        if (tls_result(c, r) != IO_AGAIN)
            conn_close(x, ci, "TLS handshake with %s failed: %s", c->authority,
                       io_why(c, why, sizeof why));
        return;
    }
    const unsigned char *p = NULL;
    unsigned len = 0;
    SSL_get0_alpn_selected(c->ssl, &p, &len);
    if (len != 2 || memcmp(p, "h2", 2) != 0) {
        conn_close(x, ci, "%s did not agree to HTTP/2 over TLS (ALPN h2)", c->authority);
        return;
    }
    conn_ready(x, ci);
}

/* The server's name (SNI, and the name its certificate must carry) or its IP address. */
static int tls_name(SSL *ssl, const char *host)
{
    unsigned char a[16];
    if (inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1)
        return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) == 1;
    return SSL_set1_host(ssl, host) == 1 && SSL_set_tlsext_host_name(ssl, host) == 1;
}

/* The TCP connect finished: h2c goes straight to HTTP/2, https:// first to a TLS handshake. */
static void conn_connected(struct grpc *x, int ci)
{
    struct conn *c = &x->conns[ci];
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) || err) {
        conn_close(x, ci, "cannot connect to %s: %s", c->authority, strerror(err));
        return;
    }
    if (!c->tls) {
        conn_ready(x, ci);
        return;
    }
    if (x->tls_why[0]) {
        conn_close(x, ci, "TLS to %s: %s", c->authority, x->tls_why);
        return;
    }
    c->ssl = SSL_new(x->tls);
    if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1 || !tls_name(c->ssl, c->host)) {
        conn_close(x, ci, "TLS to %s: cannot set up the session", c->authority);
        return;
    }
    SSL_set_connect_state(c->ssl);
    c->state = CONN_HANDSHAKE;
    tls_handshake(x, ci);
}

static void conn_event(struct grpc *x, int ci, short re)
{
    struct conn *c = &x->conns[ci];
    if (c->state == CONN_CONNECTING && (re & (POLLOUT | POLLERR | POLLHUP)))
        conn_connected(x, ci);
    else if (c->state == CONN_HANDSHAKE)
        tls_handshake(x, ci);
    else if (c->state == CONN_UP && (re & (POLLIN | POLLERR | POLLHUP)))
        conn_read(x, ci);
    if (c->state == CONN_UP)
        conn_write(x, ci);
    if (c->state == CONN_UP && !nghttp2_session_want_read(c->h2) &&
        !nghttp2_session_want_write(c->h2) && !c->out.len)
        conn_close(x, ci, "connection to %s ended (GOAWAY)", c->authority);
}

/* ---- the thread ----------------------------------------------------------------------- */

static int all_idle(const struct grpc *x)
{
    for (int s = 0; s < REC_NSIGNALS; s++)
        for (int i = 0; x->slots[s] && i < x->cfg.max_concurrent; i++)
            if (x->slots[s][i].state != SLOT_IDLE)
                return 0;
    return 1;
}

/* Until the next retry, call deadline or shutdown deadline; at most 1 s. */
static int poll_ms(const struct grpc *x, uint64_t now, int stopping, uint64_t deadline)
{
    uint64_t until = now + 1000000000ULL;
    if (stopping && deadline < until)
        until = deadline;
    for (int s = 0; s < REC_NSIGNALS; s++) {
        for (int i = 0; x->slots[s] && i < x->cfg.max_concurrent; i++) {
            const struct slot *sl = &x->slots[s][i];
            uint64_t t = sl->state == SLOT_WAITING ? sl->due_ns
                         : sl->state != SLOT_IDLE  ? sl->attempt_ns + x->cfg.timeout_ns
                                                   : UINT64_MAX;
            if (t < until)
                until = t;
        }
    }
    return until <= now ? 0 : (int)((until - now + 999999) / 1000000);
}

static void wait_events(struct grpc *x, int ms)
{
    struct pollfd *p = x->pfd;
    int *map = x->pmap, n = 0;
    p[n] = (struct pollfd){.fd = x->evfd, .events = POLLIN};
    map[n++] = -1;
    for (int i = 0; i < x->nconns; i++) {
        struct conn *c = &x->conns[i];
        if (c->state == CONN_DOWN)
            continue;
        short ev = c->state == CONN_CONNECTING                   ? POLLOUT
                   : c->state == CONN_HANDSHAKE && c->want_write ? POLLOUT
                                                                 : POLLIN;
        if (c->state == CONN_UP && (c->out.len || nghttp2_session_want_write(c->h2)))
            ev |= POLLOUT;
        p[n] = (struct pollfd){.fd = c->fd, .events = ev};
        map[n++] = i;
    }
    if (poll(p, (nfds_t)n, ms) <= 0)
        return;
    uint64_t v;
    if (p[0].revents && read(x->evfd, &v, sizeof v) < 0)
        v = 0;
    for (int i = 1; i < n; i++)
        if (p[i].revents)
            conn_event(x, map[i], p[i].revents);
}

/* At the deadline: what is still held is dropped(shutdown), or timed_out when sent in full. */
static void abandon(struct grpc *x)
{
    uint64_t timed_out = 0;
    for (int s = 0; s < REC_NSIGNALS; s++) {
        for (int i = 0; x->slots[s] && i < x->cfg.max_concurrent; i++) {
            struct slot *sl = &x->slots[s][i];
            if (sl->state == SLOT_IDLE)
                continue;
            if (sl->state == SLOT_ACTIVE && sl->body_sent)
                sl->maybe_sent = 1;
            if (sl->maybe_sent)
                timed_out += sl->n;
            give_up(x, sl, EXPORT_DROP_SHUTDOWN);
        }
    }
    for (int i = 0; i < x->nconns; i++)
        if (x->conns[i].state != CONN_DOWN)
            conn_close(x, i, "shutting down");
    export__drain_dropped(&x->o, EXPORT_DROP_SHUTDOWN);
    digest_tick(x, core_mono_ns(), 1);
    if (timed_out)
        core_warn("%s: shutdown deadline: %llu records were sent but not answered in time "
                  "(timed out, may have arrived)",
                  x->o.name, (unsigned long long)timed_out);
}

static void *grpc_main(void *arg)
{
    struct grpc *x = arg;
    for (;;) {
        uint64_t deadline = 0, now = core_mono_ns();
        int stopping = export__stopping(&x->o, &deadline);
        if (stopping && now >= deadline)
            break;
        digest_tick(x, now, 0);
        int progress = fill(x, now);
        kick_due(x, now, stopping, deadline);
        for (int i = 0; i < x->nconns; i++)
            if (x->conns[i].state == CONN_UP)
                conn_write(x, i);
        if (stopping && all_idle(x) && !progress)
            break; /* fill found nothing queued and nothing is in flight: drained */
        if (progress)
            continue;
        wait_events(x, poll_ms(x, core_mono_ns(), stopping, deadline));
    }
    abandon(x);
    return NULL;
}

/* ---- life cycle ----------------------------------------------------------------------- */

static int grpc_start(struct export_output *o)
{
    struct grpc *x = (struct grpc *)o;
    if (export__thread_create(&x->thread, grpc_main, x) != 0)
        return DIO_ENOMEM;
    x->started = 1;
    return 0;
}

static void grpc_wake(struct export_output *o)
{
    uint64_t one = 1;
    if (write(((struct grpc *)o)->evfd, &one, sizeof one) < 0)
        return; /* the counter is full: the thread is awake anyway */
}

static void grpc_join(struct export_output *o)
{
    struct grpc *x = (struct grpc *)o;
    if (x->started) {
        grpc_wake(o);
        pthread_join(x->thread, NULL);
        x->started = 0;
    }
}

static void free_nv(struct grpc *x)
{
    for (int s = 0; s < REC_NSIGNALS; s++)
        core_free(x->nv[s]);
    for (char **h = x->hdr_store; h && *h; h++)
        core_free(*h);
    core_free(x->hdr_store);
}

static void grpc_destroy(struct export_output *o)
{
    struct grpc *x = (struct grpc *)o;
    grpc_join(o);
    for (int i = 0; i < x->nconns; i++) {
        if (x->conns[i].h2)
            nghttp2_session_del(x->conns[i].h2);
        if (x->conns[i].fd >= 0)
            close(x->conns[i].fd);
        core_buf_free(&x->conns[i].out);
    }
    for (int i = 0; i < x->nconns; i++)
        SSL_free(x->conns[i].ssl);
    SSL_CTX_free(x->tls);
    core_free(x->conns);
    core_free(x->pfd);
    core_free(x->pmap);
    for (int s = 0; s < REC_NSIGNALS; s++) {
        for (int i = 0; x->slots[s] && i < x->cfg.max_concurrent; i++) {
            core_buf_free(&x->slots[s][i].body);
            core_buf_free(&x->slots[s][i].resp);
        }
        core_free(x->slots[s]);
    }
    free_nv(x);
    close(x->evfd);
    core_buf_free(&x->enc);
    export_otlp_http_cfg_free(&x->cfg);
    export__output_fini(o);
    core_free(x);
}

static const struct export_output_ops grpc_ops = {
    .kind = "otlp_grpc",
    .start = grpc_start,
    .wake = grpc_wake,
    .join = grpc_join,
    .destroy = grpc_destroy,
};

/* "http://[user@]host[:port][/...]" -> host, port (default 4317), authority. */
static void parse_authority(const char *url, struct conn *c)
{
    const char *a = strstr(url, "://");
    a = a ? a + 3 : url;
    size_t n = strcspn(a, "/?#");
    const char *at = memchr(a, '@', n);
    if (at) {
        n -= (size_t)(at + 1 - a);
        a = at + 1;
    }
    const char *colon = NULL, *h = a;
    size_t hl = n;
    if (n && *a == '[') {
        const char *rb = memchr(a, ']', n);
        h = a + 1;
        hl = rb ? (size_t)(rb - h) : n - 1;
        colon = rb && rb + 1 < a + n && rb[1] == ':' ? rb + 1 : NULL;
    } else if ((colon = memchr(a, ':', n)) != NULL) {
        hl = (size_t)(colon - a);
    }
    snprintf(c->host, sizeof c->host, "%.*s", (int)hl, h);
    snprintf(c->port, sizeof c->port, "%.*s", colon ? (int)(a + n - colon - 1) : 4,
             colon ? colon + 1 : "4317");
    int v6 = strchr(c->host, ':') != NULL;
    snprintf(c->authority, sizeof c->authority, "%s%s%s:%s", v6 ? "[" : "", c->host, v6 ? "]" : "",
             c->port);
}

static int conn_for(struct grpc *x, const char *url, int lane)
{
    struct conn probe = {.lane = lane, .tls = strncmp(url, "https://", 8) == 0};
    parse_authority(url, &probe); /* probe is copied whole below: no session, no buffer yet */
    for (int i = 0; i < x->nconns; i++)
        if (x->conns[i].lane == lane && x->conns[i].tls == probe.tls &&
            !strcmp(x->conns[i].authority, probe.authority))
            return i;
    if (probe.tls && !x->tls && !x->tls_why[0])
        tls_init(x);
    struct conn *c = &x->conns[x->nconns];
    *c = probe;
    c->fd = -1;
    c->state = CONN_DOWN;
    core_buf_init(&c->out, (size_t)1 << 30);
    return x->nconns++;
}

static nghttp2_nv make_nv(const char *name, const char *value)
{
    return (nghttp2_nv){(uint8_t *)name, (uint8_t *)value, strlen(name), strlen(value),
                        NGHTTP2_NV_FLAG_NONE};
}

/* "Name: value" -> "name\0value" kept in hdr_store (HTTP/2 field names are lower case). */
static char *store_header(struct grpc *x, size_t *k, const char *h)
{
    size_t n = strlen(h), colon = strcspn(h, ":");
    char *d = core_malloc(n + 1);
    for (size_t i = 0; i < colon; i++)
        d[i] = (char)(h[i] >= 'A' && h[i] <= 'Z' ? h[i] + 32 : h[i]);
    d[colon] = 0;
    const char *v = h + colon + (colon < n);
    while (*v == ' ')
        v++;
    memmove(d + colon + 1, v, strlen(v) + 1);
    x->hdr_store = core_realloc(x->hdr_store, (*k + 2) * sizeof *x->hdr_store);
    x->hdr_store[(*k)++] = d;
    x->hdr_store[*k] = NULL;
    return d;
}

static void build_nv(struct grpc *x, int s, size_t *stored)
{
    size_t nuser = 0;
    for (char **h = x->cfg.headers; h && *h; h++)
        nuser++;
    for (char **h = x->cfg.signal_headers[s]; h && *h; h++)
        nuser++;
    nghttp2_nv *nv = core_calloc(10 + nuser, sizeof *nv);
    size_t k = 0;
    snprintf(x->timeout, sizeof x->timeout, "%llum",
             (unsigned long long)(x->cfg.timeout_ns / 1000000ULL));
    nv[k++] = make_nv(":method", "POST");
    nv[k++] = make_nv(":scheme", x->conns[x->slots[s][0].conn].tls ? "https" : "http");
    nv[k++] = make_nv(":path", svc_path[s]);
    nv[k++] = make_nv(":authority", x->conns[x->slots[s][0].conn].authority);
    nv[k++] = make_nv("content-type", "application/grpc");
    nv[k++] = make_nv("te", "trailers");
    nv[k++] = make_nv("user-agent", "grpc-c-diorama/" DIORAMA_VERSION);
    nv[k++] = make_nv("grpc-timeout", x->timeout);
    nv[k++] = make_nv("grpc-accept-encoding", "identity,gzip");
    if (slot_gzip(x, s))
        nv[k++] = make_nv("grpc-encoding", "gzip");
    for (int pass = 0; pass < 2; pass++) {
        for (char **h = pass ? x->cfg.signal_headers[s] : x->cfg.headers; h && *h; h++) {
            char *d = store_header(x, stored, *h);
            nv[k++] = make_nv(d, d + strlen(d) + 1);
        }
    }
    x->nv[s] = nv;
    x->nnv[s] = k;
}

static char **dup_headers(char **h)
{
    size_t n = 0;
    while (h && h[n])
        n++;
    if (n == 0)
        return NULL;
    char **d = core_calloc(n + 1, sizeof *d);
    for (size_t i = 0; i < n; i++)
        d[i] = core_strdup(h[i]);
    return d;
}

static void setup_signal(struct grpc *x, int s, size_t *stored)
{
    x->slots[s] = core_calloc((size_t)x->cfg.max_concurrent, sizeof *x->slots[s]);
    for (int i = 0; i < x->cfg.max_concurrent; i++) {
        struct slot *sl = &x->slots[s][i];
        sl->x = x;
        sl->signal = s;
        sl->conn = conn_for(x, x->cfg.url[s], i);
        core_buf_init(&sl->body, EXPORT__MAX_BODY);
        core_buf_init(&sl->resp, RESP_MAX);
    }
    build_nv(x, s, stored);
}

struct export_output *export_otlp_grpc_new(const struct export_otlp_http_cfg *cfg)
{
    struct grpc *x = core_calloc(1, sizeof *x);
    export__output_init(&x->o, &grpc_ops, cfg->verify_attrs);
    x->cfg = *cfg;
    x->cfg.headers = dup_headers(cfg->headers);
    if (x->cfg.max_concurrent <= 0)
        x->cfg.max_concurrent = 4;
    if (x->cfg.timeout_ns == 0)
        x->cfg.timeout_ns = 10ULL * 1000000000ULL;
    x->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (x->evfd < 0) {
        core_error("export: eventfd failed");
        abort();
    }
    core_buf_init(&x->enc, EXPORT__MAX_BODY);
    core_rng_init(&x->rng, cfg->seed, 0x67727063 /* "grpc" */, 1);
    size_t most = (size_t)REC_NSIGNALS * (size_t)x->cfg.max_concurrent;
    x->conns = core_calloc(most, sizeof *x->conns);
    x->pfd = core_calloc(most + 1, sizeof *x->pfd);
    x->pmap = core_calloc(most + 1, sizeof *x->pmap);
    size_t stored = 0;
    for (int s = 0; s < REC_NSIGNALS; s++) {
        x->cfg.url[s] = NULL;
        x->cfg.signal_headers[s] = dup_headers(cfg->signal_headers[s]);
        if (!cfg->url[s] || cfg->protocol[s] != EXPORT_OTLP_GRPC) {
            x->o.signals &= ~(1u << s);
            continue;
        }
        x->cfg.url[s] = core_strdup(cfg->url[s]);
        setup_signal(x, s, &stored);
    }
    return &x->o;
}
