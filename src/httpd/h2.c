/* HTTP/2 cleartext (h2c with prior knowledge) on libnghttp2: the base's second protocol, for
 * listeners that must speak HTTP/2 (the sink's OTLP/gRPC). The workers, the accept loop with the
 * connection cap, the header deadline and idle timeout sweep, stop and the stats are loop.c's,
 * shared with h1.c (h2_proto at the end of this file plugs this protocol in); the same address
 * parser and listening socket (addr.c) and config; plus a body cap per request and a budget of body
 * bytes held by all streams together.
 *
 * Threads: cfg.threads I/O workers (loop.c; a connection's state is its worker's alone). Handlers
 * do not run there: a complete request goes to a pool of as many handler threads through one
 * queue, and the answer comes back to the stream's worker through its done list and eventfd. gRPC
 * clients send everything on one connection, so without the pool one connection would be one core
 * (the sink's decode ran at half the HTTP/1.1 listener's rate). While a handler has a stream, the
 * stream is "busy": the worker never frees it, only marks it orphaned when its connection or
 * stream ends, and frees it when the handler hands it back. A connection with H2_CONN_BUSY
 * requests in the pool is not read (TCP pushes back) until some come back.
 *
 * Held answers (rs.delay_ns, the sink's --delay): the stream waits in its connection's list with a
 * due time; no thread waits. Stopping the listener answers them at once and gives the answers a
 * moment (H2_STOP_NS) to go out.
 *
 * Caps, as docs/listeners.md says for HTTP/1.1:
 *   - over max_connections: the connection gets our SETTINGS and a GOAWAY (REFUSED_STREAM, "too
 *     many open connections (--max-connections)") and is closed at once;
 *   - header deadline: a connection must complete a request's header block within header_timeout
 *     of opening, or of its last stream ending (so an idle connection lives at most that long);
 *     else it gets a GOAWAY and is closed. A deadline, not an inactivity timer: HEADERS trickled
 *     in CONTINUATION frames do not extend it;
 *   - idle timeout: nothing read or written for idle_timeout: closed;
 *   - a request body over max_body, or over what is left of max_buffered, is read to its end and
 *     dropped; the handler is told (refused 413 / 503) and answers without it.
 * Memory per connection: nghttp2's session (our SETTINGS cap concurrent streams at
 * H2_MAX_STREAMS and header lists at H2_MAX_HEADERS bytes) and the write buffer. */
#include <errno.h>
#include <netinet/in.h>
#include <nghttp2/nghttp2.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "httpd/internal.h"

#define H2_MAX_STREAMS 128
#define H2_MAX_HEADERS 16384 /* header list bytes per request (SETTINGS_MAX_HEADER_LIST_SIZE) */
#define H2_MAX_FIELDS 32     /* header fields kept per request; more are ignored     \ */
#define H2_WINDOW (1 << 20)  /* per stream; the connection gets 16x */
#define H2_FRAME (1 << 20)   /* SETTINGS_MAX_FRAME_SIZE: a body in few DATA frames */
#define H2_OUT_CHUNK 65536
#define H2_CONN_BUSY 8 /* requests of one connection in the handler pool before it is not read */
#define H2_STOP_NS 1000000000ULL /* at stop: at most this for handlers and held answers */
#define H2_SPARE 8               /* body buffers a worker keeps for reuse ... */
#define H2_SPARE_MAX (4u << 20)  /* ... each at most this big */
#define OVER_CAP_MSG "too many open connections (--max-connections)"

struct h2_worker;

struct h2_stream {
    struct h2_stream *prev, *next; /* the connection's open streams */
    struct h2_stream *qnext;       /* the pool's queue or a worker's done list */
    struct h2_conn *c;             /* NULL once orphaned */
    struct h2_worker *w;
    int32_t id;
    int busy;     /* a handler has it: only the handler's hand-back frees it */
    uint64_t due; /* the answer is held until then (mono ns); 0 = not held */
    struct httpd_h2_request rq;
    struct httpd_h2_field fields[H2_MAX_FIELDS];
    int nfields;
    char hbuf[H2_MAX_HEADERS]; /* the kept fields' bytes */
    size_t hlen;
    struct core_buf body;
    size_t held; /* bytes counted in the server's budget */
    struct httpd_h2_response rs;
    size_t roff;
    int answered;
};

struct h2_conn {
    struct httpd__conn b; /* b.deadline: 0 while a stream is open */
    nghttp2_session *h2;
    struct core_buf out;
    struct h2_stream *streams;
    int nstreams;
    int busy;        /* streams in the handler pool */
    int dirty;       /* answers queued since the last flush */
    int got_request; /* any request header block completed */
};

struct h2_worker {
    struct httpd__worker b;
    int busy, held;         /* streams in the pool; streams with a held answer */
    uint64_t next_due;      /* earliest held answer */
    struct h2_stream *done; /* handed back by the handlers, under b.mu */
    /* Request body buffers of finished streams, reused: a fresh 200 KiB buffer is fresh pages,
     * and their page faults cost as much as the copy into them. */
    struct core_buf spare[H2_SPARE];
    int nspare;
};

struct h2_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct h2_stream *head, *tail;
    pthread_t *t;
    unsigned n;
    int stop;
};

struct httpd_h2 {
    struct httpd__listener b;
    struct httpd_h2_handlers hd;
    struct h2_pool pool;
    _Atomic size_t buffered;
};

static struct h2_worker *wk(const struct h2_conn *c)
{
    return (struct h2_worker *)c->b.w;
}

static struct httpd_h2 *srv_of(const struct h2_worker *w)
{
    return (struct httpd_h2 *)w->b.srv;
}

static struct httpd_h2 *srv(const struct h2_conn *c)
{
    return srv_of(wk(c));
}

/* ---- requests ----------------------------------------------------------------------------- */

static void stream_release(struct httpd_h2 *s, struct h2_stream *st)
{
    atomic_fetch_sub(&s->buffered, st->held);
    st->held = 0;
    core_buf_free(&st->body);
    core_buf_init(&st->body, 0);
}

/* The body's buffer, to the worker's spares (worker thread only) or freed. */
static void body_recycle(struct h2_worker *w, struct h2_stream *st)
{
    if (st->body.cap >= 65536 && st->body.cap <= H2_SPARE_MAX && w->nspare < H2_SPARE) {
        w->spare[w->nspare++] = st->body;
        core_buf_init(&st->body, 0);
    }
}

static void body_init(struct h2_worker *w, struct h2_stream *st)
{
    if (w->nspare) {
        st->body = w->spare[--w->nspare];
        core_buf_reset(&st->body);
        st->body.max = srv_of(w)->hd.max_body;
    } else {
        core_buf_init(&st->body, srv_of(w)->hd.max_body);
    }
}

static void stream_destroy(struct httpd_h2 *s, struct h2_stream *st)
{
    stream_release(s, st);
    core_buf_free(&st->rs.body);
    core_free(st);
}

/* The stream leaves its connection; a busy one stays alive, orphaned, for its handler. */
static void stream_free(struct httpd_h2 *s, struct h2_conn *c, struct h2_stream *st)
{
    if (st->prev)
        st->prev->next = st->next;
    else
        c->streams = st->next;
    if (st->next)
        st->next->prev = st->prev;
    c->nstreams--;
    if (st->due)
        st->w->held--;
    if (st->busy)
        c->busy--;
    st->c = NULL;
    if (!st->busy)
        stream_destroy(s, st);
}

const char *httpd_h2_header(const struct httpd_h2_request *rq, const char *name)
{
    const struct h2_stream *st =
        (const struct h2_stream *)((const char *)rq - offsetof(struct h2_stream, rq));
    for (int i = 0; i < st->nfields; i++)
        if (!strcmp(st->fields[i].name, name))
            return st->fields[i].value;
    return NULL;
}

/* Keeps name and value (both NUL-terminated) in the stream's header bytes. */
static void keep_field(struct h2_stream *st, const uint8_t *name, size_t nl, const uint8_t *value,
                       size_t vl)
{
    if (st->nfields >= H2_MAX_FIELDS || st->hlen + nl + vl + 2 > sizeof st->hbuf)
        return;
    char *n = st->hbuf + st->hlen;
    memcpy(n, name, nl);
    n[nl] = 0;
    char *v = n + nl + 1;
    memcpy(v, value, vl);
    v[vl] = 0;
    st->hlen += nl + vl + 2;
    st->fields[st->nfields++] = (struct httpd_h2_field){n, v};
    if (!strcmp(n, ":method"))
        st->rq.method = v;
    else if (!strcmp(n, ":path"))
        st->rq.path = v;
    else if (!strcmp(n, "content-type"))
        st->rq.content_type = v;
}

static ssize_t read_answer(nghttp2_session *h2, int32_t id, uint8_t *buf, size_t len,
                           uint32_t *flags, nghttp2_data_source *src, void *ud)
{
    struct h2_stream *st = src->ptr;
    size_t left = st->rs.body.len - st->roff, n = left < len ? left : len;
    if (n) /* an empty answer (an error status) may have no buffer at all */
        memcpy(buf, st->rs.body.p + st->roff, n);
    st->roff += n;
    if (st->roff == st->rs.body.len) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        if (st->rs.ntrailers) {
            nghttp2_nv nv[HTTPD_H2_MAX_TRAILERS];
            for (int i = 0; i < st->rs.ntrailers; i++)
                nv[i] = (nghttp2_nv){(uint8_t *)st->rs.trailers[i].name,
                                     (uint8_t *)st->rs.trailers[i].value,
                                     strlen(st->rs.trailers[i].name),
                                     strlen(st->rs.trailers[i].value), NGHTTP2_NV_FLAG_NONE};
            *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
            nghttp2_submit_trailer(h2, id, nv, (size_t)st->rs.ntrailers);
        }
    }
    return (ssize_t)n;
}

/* The handler's answer goes to nghttp2 (written by the next flush). */
static void respond(struct h2_conn *c, struct h2_stream *st)
{
    char status[8];
    snprintf(status, sizeof status, "%u", st->rs.status);
    nghttp2_nv nv[1 + HTTPD_H2_MAX_HEADERS];
    size_t k = 0;
    nv[k++] = (nghttp2_nv){(uint8_t *)":status", (uint8_t *)status, 7, strlen(status), 0};
    for (int i = 0; i < st->rs.nheaders && i < HTTPD_H2_MAX_HEADERS; i++)
        nv[k++] = (nghttp2_nv){(uint8_t *)st->rs.headers[i].name,
                               (uint8_t *)st->rs.headers[i].value, strlen(st->rs.headers[i].name),
                               strlen(st->rs.headers[i].value), NGHTTP2_NV_FLAG_NONE};
    nghttp2_data_provider dp = {.source.ptr = st, .read_callback = read_answer};
    nghttp2_submit_response(c->h2, st->id, nv, k, &dp);
    c->dirty = 1;
}

/* ---- the handler pool ------------------------------------------------------------------ */

static void pool_push(struct h2_pool *p, struct h2_stream *st)
{
    st->qnext = NULL;
    pthread_mutex_lock(&p->mu);
    if (p->tail)
        p->tail->qnext = st;
    else
        p->head = st;
    p->tail = st;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

/* The next request, or NULL once stopped with the queue empty. */
static struct h2_stream *pool_pop(struct h2_pool *p)
{
    pthread_mutex_lock(&p->mu);
    while (!p->head && !p->stop)
        pthread_cond_wait(&p->cv, &p->mu);
    struct h2_stream *st = p->head;
    if (st && !(p->head = st->qnext))
        p->tail = NULL;
    pthread_mutex_unlock(&p->mu);
    return st;
}

/* A handler thread: runs on_request and hands the stream back to its worker. */
static void *handler_main(void *arg)
{
    struct httpd_h2 *s = arg;
    struct h2_stream *st;
    while ((st = pool_pop(&s->pool)) != NULL) {
        s->hd.on_request(s->hd.cls, &st->rq, &st->rs);
        atomic_fetch_sub(&s->buffered, st->held); /* the body goes back to its worker */
        st->held = 0;
        struct h2_worker *w = st->w;
        pthread_mutex_lock(&w->b.mu);
        st->qnext = w->done;
        w->done = st;
        pthread_mutex_unlock(&w->b.mu);
        httpd__wake(&w->b);
    }
    return NULL;
}

/* The request is complete: to the handler pool. */
static void answer(struct h2_conn *c, struct h2_stream *st)
{
    st->answered = 1;
    st->rq.body = st->body.p;
    st->rq.len = st->body.len;
    if (!st->rq.method)
        st->rq.method = "";
    if (!st->rq.path)
        st->rq.path = "";
    core_buf_init(&st->rs.body, (size_t)16 << 20);
    st->rs.status = 200;
    st->busy = 1;
    c->busy++;
    wk(c)->busy++;
    pool_push(&srv(c)->pool, st);
}

/* ---- nghttp2 callbacks ---------------------------------------------------------------- */

static int on_begin_headers(nghttp2_session *h2, const nghttp2_frame *f, void *ud)
{
    struct h2_conn *c = ud;
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    struct h2_stream *st = core_calloc(1, sizeof *st);
    st->id = f->hd.stream_id;
    st->c = c;
    st->w = wk(c);
    body_init(wk(c), st);
    nghttp2_session_set_stream_user_data(h2, st->id, st);
    st->next = c->streams;
    if (c->streams)
        c->streams->prev = st;
    c->streams = st;
    c->nstreams++;
    return 0;
}

static int on_header(nghttp2_session *h2, const nghttp2_frame *f, const uint8_t *name, size_t nl,
                     const uint8_t *value, size_t vl, uint8_t flags, void *ud)
{
    struct h2_stream *st = nghttp2_session_get_stream_user_data(h2, f->hd.stream_id);
    if (st && f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST)
        keep_field(st, name, nl, value, vl);
    return 0;
}

/* A gRPC body starts with its message's length (5-byte prefix): the buffer is sized once
 * instead of growing by doubling (a copy per step, fresh pages each time: a fifth of the
 * sink's CPU with 200 KiB bodies). Over max_body: the append fails as it would. */
static int body_reserve(struct h2_stream *st, const uint8_t *data, size_t len)
{
    if (st->body.len || len < 5 || !st->rq.content_type ||
        strncmp(st->rq.content_type, "application/grpc", 16))
        return 0;
    size_t m = (size_t)data[1] << 24 | (size_t)data[2] << 16 | (size_t)data[3] << 8 | data[4];
    return m + 5 <= st->body.max ? core_buf_reserve(&st->body, m + 5) : 0;
}

static int on_data(nghttp2_session *h2, uint8_t flags, int32_t id, const uint8_t *data, size_t len,
                   void *ud)
{
    struct h2_conn *c = ud;
    struct httpd_h2 *s = srv(c);
    struct h2_stream *st = nghttp2_session_get_stream_user_data(h2, id);
    if (!st || st->rq.refused)
        return 0;
    size_t was = atomic_fetch_add(&s->buffered, len);
    st->held += len;
    if (was + len > s->hd.max_buffered)
        st->rq.refused = 503;
    else if (body_reserve(st, data, len) || core_buf_append(&st->body, data, len))
        st->rq.refused = 413;
    if (st->rq.refused)
        stream_release(s, st); /* read the rest, keep none of it */
    return 0;
}

static int on_frame_recv(nghttp2_session *h2, const nghttp2_frame *f, void *ud)
{
    struct h2_conn *c = ud;
    if (f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA)
        return 0;
    struct h2_stream *st = nghttp2_session_get_stream_user_data(h2, f->hd.stream_id);
    if (!st)
        return 0;
    if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST) {
        c->got_request = 1;
        c->b.deadline = 0; /* a header block came in time */
    }
    if ((f->hd.flags & NGHTTP2_FLAG_END_STREAM) && !st->answered)
        answer(c, st);
    return 0;
}

static int on_stream_close(nghttp2_session *h2, int32_t id, uint32_t error_code, void *ud)
{
    struct h2_conn *c = ud;
    struct h2_stream *st = nghttp2_session_get_stream_user_data(h2, id);
    if (!st)
        return 0;
    nghttp2_session_set_stream_user_data(h2, id, NULL);
    stream_free(srv(c), c, st);
    if (c->nstreams == 0)
        c->b.deadline = core_mono_ns() + srv(c)->b.cfg.header_timeout_ns;
    return 0;
}

static int on_invalid(nghttp2_session *h2, const nghttp2_frame *f, int lib_error, void *ud)
{
    struct h2_conn *c = ud;
    atomic_fetch_add(&srv(c)->b.bad_framing, 1);
    return 0;
}

static nghttp2_session *new_session(struct h2_conn *c)
{
    nghttp2_session_callbacks *cb;
    nghttp2_session *h2 = NULL;
    if (nghttp2_session_callbacks_new(&cb))
        return NULL;
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
    nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(cb, on_invalid);
    nghttp2_option *opt;
    nghttp2_option_new(&opt);
    nghttp2_option_set_max_outbound_ack(opt, 1000); /* SETTINGS/PING floods end the session */
    int rc = nghttp2_session_server_new2(&h2, cb, c, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cb);
    if (rc)
        return NULL;
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, H2_MAX_STREAMS},
                                   {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, H2_WINDOW},
                                   {NGHTTP2_SETTINGS_MAX_FRAME_SIZE, H2_FRAME},
                                   {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, H2_MAX_HEADERS}};
    nghttp2_submit_settings(h2, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof *iv);
    nghttp2_session_set_local_window_size(h2, NGHTTP2_FLAG_NONE, 0, 16 * H2_WINDOW);
    return h2;
}

/* ---- connections ---------------------------------------------------------------------- */

/* The protocol's part of closing c (loop.c closes the socket and frees c). */
static void h2_free(struct httpd__conn *bc)
{
    struct h2_conn *c = (struct h2_conn *)bc;
    while (c->streams) /* nghttp2_session_del does not call back for open streams */
        stream_free(srv(c), c, c->streams);
    if (c->h2)
        nghttp2_session_del(c->h2);
    core_buf_free(&c->out);
}

/* Frames from nghttp2 to the socket until it would block. -1: the connection is done. */
static int conn_flush(struct h2_conn *c)
{
    for (;;) {
        while (c->h2 && c->out.len < H2_OUT_CHUNK) {
            const uint8_t *d;
            ssize_t n = nghttp2_session_mem_send(c->h2, &d);
            if (n < 0)
                return -1;
            if (n == 0)
                break;
            if (core_buf_append(&c->out, d, (size_t)n))
                return -1;
        }
        if (!c->out.len)
            return 0;
        ssize_t w = send(c->b.fd, c->out.p, c->out.len, MSG_NOSIGNAL);
        if (w < 0)
            return errno == EAGAIN || errno == EINTR ? 0 : -1;
        c->b.last_io = core_mono_ns();
        memmove(c->out.p, c->out.p + w, c->out.len - (size_t)w);
        c->out.len -= (size_t)w;
    }
}

static int conn_read(struct h2_conn *c)
{
    uint8_t buf[65536];
    while (c->busy < H2_CONN_BUSY) { /* else the rest waits: the pool is behind */
        ssize_t n = recv(c->b.fd, buf, sizeof buf, 0);
        if (n < 0)
            return errno == EAGAIN || errno == EINTR ? 0 : -1;
        if (n == 0)
            return -1;
        c->b.last_io = core_mono_ns();
        ssize_t r = nghttp2_session_mem_recv(c->h2, buf, (size_t)n);
        if (r < 0) {
            atomic_fetch_add(&srv(c)->b.bad_framing, 1);
            conn_flush(c); /* nghttp2 queued a GOAWAY saying why */
            return -1;
        }
    }
    return 0;
}

/* Sends what it can and closes: SETTINGS + GOAWAY(code, msg) on a fresh or live session. */
static void conn_goaway(struct h2_conn *c, uint32_t code, const char *msg)
{
    nghttp2_submit_goaway(c->h2, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(c->h2),
                          code, (const uint8_t *)msg, strlen(msg));
    conn_flush(c);
}

static void conn_done(struct h2_conn *c)
{
    httpd__close(&c->b);
}

/* Asks for EPOLLOUT only while there is something to write; one epoll_ctl per change, not per
 * event (a syscall saved on every read of a busy connection). */
static void conn_update(struct h2_conn *c)
{
    uint32_t ev = c->busy < H2_CONN_BUSY ? EPOLLIN : 0;
    if (c->out.len || nghttp2_session_want_write(c->h2))
        ev |= EPOLLOUT;
    httpd__watch(&c->b, ev);
}

static void conn_event(struct h2_conn *c, uint32_t ev)
{
    int bad = 0;
    c->dirty = 0;
    if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP))
        bad = conn_read(c) != 0;
    if (!bad)
        bad = conn_flush(c) != 0;
    if (bad ||
        (!nghttp2_session_want_read(c->h2) && !nghttp2_session_want_write(c->h2) && !c->out.len)) {
        conn_done(c);
        return;
    }
    conn_update(c);
}

/* Writes what answers queued on each connection. */
static void flush_dirty(struct h2_worker *w)
{
    struct httpd__conn *next;
    for (struct httpd__conn *c = w->b.conns; c; c = next) {
        next = c->next;
        if (((struct h2_conn *)c)->dirty)
            conn_event((struct h2_conn *)c, 0);
    }
}

/* Held answers due by now (all: every one) are answered. */
static void release_due(struct h2_worker *w, uint64_t now, int all)
{
    if (!w->held || (!all && now < w->next_due))
        return;
    w->next_due = UINT64_MAX;
    for (struct httpd__conn *bc = w->b.conns; bc; bc = bc->next) {
        struct h2_conn *c = (struct h2_conn *)bc;
        for (struct h2_stream *st = c->streams; st; st = st->next) {
            if (!st->due)
                continue;
            if (all || st->due <= now) {
                st->due = 0;
                w->held--;
                respond(c, st);
            } else if (st->due < w->next_due) {
                w->next_due = st->due;
            }
        }
    }
    flush_dirty(w);
}

/* The streams the handlers handed back: answered now, held, or freed (orphans). */
static void take_done(struct h2_worker *w, uint64_t now)
{
    pthread_mutex_lock(&w->b.mu);
    struct h2_stream *st = w->done, *next;
    w->done = NULL;
    pthread_mutex_unlock(&w->b.mu);
    int stopping = atomic_load(&w->b.srv->stopping);
    for (; st; st = next) {
        next = st->qnext;
        st->busy = 0;
        w->busy--;
        body_recycle(w, st);
        stream_release(srv_of(w), st);
        if (!st->c) {
            stream_destroy(srv_of(w), st);
            continue;
        }
        st->c->busy--;
        st->c->dirty = 1; /* reading may go on */
        if (st->rs.delay_ns && !stopping) {
            st->due = now + st->rs.delay_ns;
            if (!w->held++ || st->due < w->next_due)
                w->next_due = st->due;
        } else {
            respond(st->c, st);
        }
    }
    flush_dirty(w);
}

/* ---- the hooks loop.c calls ------------------------------------------------------------- */

static uint32_t h2_accept(struct httpd__conn *bc)
{
    struct h2_conn *c = (struct h2_conn *)bc;
    core_buf_init(&c->out, (size_t)64 << 20);
    c->h2 = new_session(c);
    return c->h2 ? EPOLLIN | EPOLLOUT : 0;
}

static void h2_over_cap(struct httpd__conn *c)
{
    conn_goaway((struct h2_conn *)c, NGHTTP2_REFUSED_STREAM, OVER_CAP_MSG);
}

static void h2_event(struct httpd__conn *c, uint32_t ev)
{
    conn_event((struct h2_conn *)c, ev);
}

static void h2_wake(struct httpd__worker *w, uint64_t now)
{
    take_done((struct h2_worker *)w, now);
}

static void h2_turn(struct httpd__worker *w, uint64_t now, int tick)
{
    release_due((struct h2_worker *)w, now, 0);
}

static uint64_t h2_next_due(struct httpd__worker *bw)
{
    const struct h2_worker *w = (const struct h2_worker *)bw;
    return w->held ? w->next_due : UINT64_MAX;
}

static int h2_sweep(struct httpd__conn *c, uint64_t now, int pull)
{
    return HTTPD__SWEEP_TIMERS;
}

/* Only a connection that never completed a request counts as a header timeout; an idle kept-alive
 * one gets a polite goodbye. */
static void h2_expire(struct httpd__conn *bc, int why)
{
    struct h2_conn *c = (struct h2_conn *)bc;
    if (why == HTTPD__HEADER_LATE && !c->got_request)
        atomic_fetch_add(&bc->w->srv->header_timeouts, 1);
    else if (why == HTTPD__HEADER_LATE)
        conn_goaway(c, NGHTTP2_NO_ERROR, "idle");
    conn_done(c);
}

/* At stop: the handlers' answers and every held one go out, within H2_STOP_NS. */
static void h2_stop(struct httpd__worker *bw)
{
    struct h2_worker *w = (struct h2_worker *)bw;
    uint64_t until = core_mono_ns() + H2_STOP_NS;
    struct epoll_event evs[64];
    for (;;) {
        uint64_t now = core_mono_ns(), v;
        if (read(bw->ev, &v, sizeof v) < 0)
            v = 0;
        take_done(w, now);
        release_due(w, now, 1);
        int pending = w->busy > 0;
        for (struct httpd__conn *c = bw->conns; c; c = c->next)
            pending |= ((struct h2_conn *)c)->out.len > 0 ||
                       nghttp2_session_want_write(((struct h2_conn *)c)->h2);
        if (!pending || now >= until)
            break;
        int n = epoll_wait(bw->ep, evs, 64, 10);
        for (int i = 0; i < n; i++)
            if (evs[i].data.ptr != &bw->srv->fd && evs[i].data.ptr != &bw->ev)
                conn_event(evs[i].data.ptr, evs[i].events);
    }
}

static const struct httpd__proto h2_proto = {
    .what = "HTTP/2",
    .worker_size = sizeof(struct h2_worker),
    .conn_size = sizeof(struct h2_conn),
    .on_accept = h2_accept,
    .on_over_cap = h2_over_cap,
    .on_event = h2_event,
    .on_wake = h2_wake,
    .on_turn = h2_turn,
    .next_due = h2_next_due,
    .on_sweep = h2_sweep,
    .on_expire = h2_expire,
    .on_stop = h2_stop,
    .free = h2_free,
};

/* ---- life cycle ----------------------------------------------------------------------- */

static int start_pool(struct httpd_h2 *s, unsigned n)
{
    struct h2_pool *p = &s->pool;
    p->t = core_calloc(n, sizeof *p->t);
    for (p->n = 0; p->n < n; p->n++)
        if (pthread_create(&p->t[p->n], NULL, handler_main, s))
            return DIO_EIO;
    return 0;
}

/* After the workers: the handlers finish what is queued; what they hand back is orphaned. */
static void stop_pool(struct httpd_h2 *s)
{
    struct h2_pool *p = &s->pool;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->n; i++)
        pthread_join(p->t[i], NULL);
    for (unsigned i = 0; i < s->b.nworkers; i++) {
        struct h2_worker *w = (struct h2_worker *)httpd__worker(&s->b, i);
        struct h2_stream *next;
        for (struct h2_stream *st = w->done; st; st = next) {
            next = st->qnext;
            stream_destroy(s, st);
        }
        w->done = NULL;
    }
    core_free(p->t);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
}

int httpd_h2_start(struct httpd_h2 **out, const struct httpd_addr *a, const struct httpd_config *c,
                   const struct httpd_h2_handlers *hd, char *err, size_t errlen)
{
    *out = NULL;
    struct httpd_h2 *s = core_calloc(1, sizeof *s);
    s->b.p = &h2_proto;
    s->hd = *hd;
    if (!s->hd.max_body)
        s->hd.max_body = (size_t)64 << 20;
    if (!s->hd.max_buffered)
        s->hd.max_buffered = 4 * s->hd.max_body;
    /* the queue is ready before a worker can push to it; its threads start below */
    pthread_mutex_init(&s->pool.mu, NULL);
    pthread_cond_init(&s->pool.cv, NULL);
    int rc = httpd__start(&s->b, a, c, err, errlen);
    if (rc) {
        stop_pool(s);
        core_free(s);
        return rc;
    }
    if (start_pool(s, httpd__nworkers(&s->b.cfg))) {
        snprintf(err, errlen, "cannot start the HTTP/2 listener's threads");
        httpd_h2_stop(s);
        return DIO_EIO;
    }
    *out = s;
    return 0;
}

int httpd_h2_port(const struct httpd_h2 *s)
{
    return s->b.port;
}

void httpd_h2_quiesce(struct httpd_h2 *s)
{
    if (s)
        httpd__quiesce(&s->b);
}

void httpd_h2_stop(struct httpd_h2 *s)
{
    if (!s)
        return;
    httpd__stop_workers(&s->b);
    stop_pool(s);
    for (unsigned i = 0; i < s->b.nworkers; i++) {
        struct h2_worker *w = (struct h2_worker *)httpd__worker(&s->b, i);
        for (int j = 0; j < w->nspare; j++)
            core_buf_free(&w->spare[j]);
    }
    httpd__free(&s->b);
    core_free(s);
}

void httpd_h2_stats(const struct httpd_h2 *s, struct httpd_stats *o)
{
    httpd__stats(s ? &s->b : NULL, o);
}
