/* The base's HTTP/1.1 server. Why our own and not libmicrohttpd (Debian 12 has 0.9.75 only): that
 * library answered `Content-Length: -1` with its header block written twice, waited forever for a
 * chunk of 2^64-1 bytes, took the first of two Content-Length fields, let Transfer-Encoding
 * override Content-Length silently, and at its own connection limit stopped noticing closed
 * connections (docs/listeners.md). The syntax is in h1_parse.c (pure, fuzzed); this file is the
 * protocol's side of a connection; the workers, the accept loop with the connection cap, the header
 * deadline and idle timeout, stop and stats are loop.c's (shared with h2.c), reached through
 * h1_proto at the end of this file.
 *
 * A connection's state is its worker's alone. The only cross-thread paths are a deferred answer's
 * resume and httpd_h1_wake / httpd_h1_release: a list under the worker's mutex and its eventfd.
 *
 * A connection goes HEAD (reading a header block: the header deadline runs) -> BODY (a length or
 * chunked) -> the handler -> an answer queued (or DEFERRED, HELD, STREAM) -> HEAD again
 * (keep-alive, pipelining: the next request is parsed once the answer is queued) or CLOSING (the
 * answer is written, the write side shut, input read and dropped for up to H1_LINGER_NS so that
 * unread request bytes do not turn the close into a reset that destroys the answer). Every refusal
 * is answered once, with Connection: close. */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "httpd/internal.h"

#define H1_READ 16384 /* bytes read at once */
#define H1_IN_MAX (HTTPD_H1_MAX_HEADER + H1_READ)
#define H1_LINGER_NS 2000000000ULL
#define H1_COPY_MAX 16384            /* bodies up to this are copied behind their headers */
#define H1_PIPELINE_OUT (256u << 10) /* answers queued before the next request is read */
#define H1_MAX_ARGS 32
#define H1_DEFAULT_BODY ((size_t)64 << 20)

enum { ST_HEAD, ST_BODY, ST_DEFERRED, ST_HELD, ST_STREAM, ST_CLOSING, ST_LINGER };

struct h1_worker;

struct h1_conn {
    struct httpd__conn b; /* b.gone: taken out of epoll while deferred/held (hung up): freed when
                             answered */
    int state;
    int eof; /* the client closed its side */
    uint64_t linger_until, stall_since;
    struct core_buf in; /* input; in.p[in_off..in.len) is unread */
    size_t in_off;
    struct core_buf out; /* answer bytes; out.p[out_off..) unsent */
    size_t out_off;
    struct core_buf tail_own; /* a large body sent after out, without a copy */
    const uint8_t *tail;
    size_t tail_len, tail_off;
    /* the request in progress */
    struct core_buf hbuf; /* a copy of its header block, parsed in place */
    struct h1__head head;
    struct httpd_h1_request rq;
    struct httpd_h1_response rs;
    struct core_buf body;
    size_t held; /* body bytes counted in the server's budget */
    uint64_t body_left;
    struct h1__chunked ck;
    int keep_alive, close_after, deferred, is_head, got_request;
    char *args[H1_MAX_ARGS][2];
    int nargs;
    char *argbuf;
    struct h1_conn *ready_next; /* on the worker's resumed list */
    struct core_buf sbuf;       /* a stream's pulled bytes */
};

struct h1_worker {
    struct httpd__worker b;
    int nheld;
    struct h1_conn *ready; /* resumed, under b.mu */
    time_t date_at;
    char date[40];
    unsigned wake_seen;
    uint64_t next_due; /* the earliest held answer's time (mono ns) */
};

struct httpd_h1 {
    struct httpd__listener b;
    struct httpd_h1_handlers hd;
    atomic_int releasing;
    atomic_uint wake_gen; /* httpd_h1_wake: streams are pulled when it changes */
    _Atomic int64_t held;
    _Atomic size_t buffered;
};

static struct h1_worker *wk(const struct h1_conn *c)
{
    return (struct h1_worker *)c->b.w;
}

static struct httpd_h1 *srv(const struct h1_conn *c)
{
    return (struct httpd_h1 *)c->b.w->srv;
}

static const char over_cap_answer[] = "HTTP/1.1 503 Service Unavailable\r\n"
                                      "Content-Type: text/plain\r\n"
                                      "Retry-After: 1\r\n"
                                      "Connection: close\r\n"
                                      "Content-Length: 47\r\n\r\n"
                                      "too many open connections (--max-connections)\n";

static struct h1_conn *conn_of(const struct httpd_h1_request *rq)
{
    return (struct h1_conn *)((char *)(uintptr_t)rq - offsetof(struct h1_conn, rq));
}

/* ---- the API the handler sees ------------------------------------------------------------ */

const char *httpd_h1_header(const struct httpd_h1_request *rq, const char *name)
{
    const struct h1_conn *c = conn_of(rq);
    for (int i = 0; i < c->head.nfields; i++)
        if (!strcasecmp(c->head.fields[i].name, name))
            return c->head.fields[i].value;
    return NULL;
}

/* The query split into decoded key/value pairs, the first time an argument is asked for. */
static void split_args(struct h1_conn *c)
{
    c->argbuf = core_strndup(c->rq.query, strlen(c->rq.query));
    for (char *save = NULL, *kv = strtok_r(c->argbuf, "&", &save); kv && c->nargs < H1_MAX_ARGS;
         kv = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(kv, '=');
        if (eq)
            *eq++ = 0;
        h1__form_decode(kv);
        if (eq)
            h1__form_decode(eq);
        c->args[c->nargs][0] = kv;
        c->args[c->nargs++][1] = eq ? eq : "";
    }
}

const char *httpd_h1_arg(struct httpd_h1_request *rq, const char *key)
{
    struct h1_conn *c = conn_of(rq);
    if (!c->argbuf)
        split_args(c);
    for (int i = 0; i < c->nargs; i++)
        if (!strcmp(c->args[i][0], key))
            return c->args[i][1];
    return NULL;
}

int httpd_h1_add_header(struct httpd_h1_response *rs, const char *name, const char *value)
{
    size_t nl = strlen(name) + 1, vl = strlen(value) + 1;
    if (rs->nheaders >= HTTPD_H1_MAX_ANSWER_HEADERS || rs->slen + nl + vl > sizeof rs->strings)
        return -1;
    char *n = rs->strings + rs->slen;
    memcpy(n, name, nl);
    memcpy(n + nl, value, vl);
    rs->slen += nl + vl;
    rs->headers[rs->nheaders++] = (struct httpd_h1_field){n, n + nl};
    return 0;
}

struct httpd_h1_pending *httpd_h1_defer(struct httpd_h1_request *rq)
{
    struct h1_conn *c = conn_of(rq);
    c->deferred = 1;
    return (struct httpd_h1_pending *)c;
}

void httpd_h1_resume(struct httpd_h1_pending *p)
{
    struct h1_conn *c = (struct h1_conn *)p;
    struct h1_worker *w = wk(c);
    pthread_mutex_lock(&w->b.mu);
    c->ready_next = w->ready;
    w->ready = c;
    pthread_mutex_unlock(&w->b.mu);
    httpd__wake(&w->b);
}

void httpd_h1_wake(struct httpd_h1 *s)
{
    if (!s)
        return;
    atomic_fetch_add(&s->wake_gen, 1);
    httpd__wake_all(&s->b);
}

void httpd_h1_release(struct httpd_h1 *s)
{
    if (!s)
        return;
    atomic_store(&s->releasing, 1);
    httpd_h1_wake(s);
    uint64_t until = core_mono_ns() + 1000000000ULL;
    int had = atomic_load(&s->held) > 0;
    while (atomic_load(&s->held) > 0 && core_mono_ns() < until)
        core_sleep_until_ns(core_mono_ns() + 5000000ULL);
    if (had) /* and a moment for them to be written (loopback: microseconds) */
        core_sleep_until_ns(core_mono_ns() + 100000000ULL);
}

/* ---- answers ----------------------------------------------------------------------------- */

static const char *reason(unsigned st)
{
    static const struct {
        unsigned st;
        const char *r;
    } t[] = {{100, "Continue"},
             {200, "OK"},
             {201, "Created"},
             {202, "Accepted"},
             {204, "No Content"},
             {206, "Partial Content"},
             {301, "Moved Permanently"},
             {302, "Found"},
             {304, "Not Modified"},
             {400, "Bad Request"},
             {401, "Unauthorized"},
             {403, "Forbidden"},
             {404, "Not Found"},
             {405, "Method Not Allowed"},
             {408, "Request Timeout"},
             {409, "Conflict"},
             {413, "Content Too Large"},
             {414, "URI Too Long"},
             {415, "Unsupported Media Type"},
             {417, "Expectation Failed"},
             {422, "Unprocessable Content"},
             {429, "Too Many Requests"},
             {431, "Request Header Fields Too Large"},
             {500, "Internal Server Error"},
             {501, "Not Implemented"},
             {502, "Bad Gateway"},
             {503, "Service Unavailable"},
             {504, "Gateway Timeout"},
             {505, "HTTP Version Not Supported"}};
    for (size_t i = 0; i < sizeof t / sizeof *t; i++)
        if (t[i].st == st)
            return t[i].r;
    return "Status";
}

static const char *date(struct h1_worker *w)
{
    time_t now = time(NULL);
    if (now != w->date_at) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(w->date, sizeof w->date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        w->date_at = now;
    }
    return w->date;
}

static int has_header(const struct httpd_h1_response *rs, const char *name)
{
    for (int i = 0; i < rs->nheaders; i++)
        if (!strcasecmp(rs->headers[i].name, name))
            return 1;
    return 0;
}

/* Status line and header fields into c->out; body length `len` (streams: chunked or none). */
static void put_head(struct h1_conn *c, const struct httpd_h1_response *rs, size_t len, int keep)
{
    struct core_buf *o = &c->out;
    core_buf_printf(o, "HTTP/1.1 %u %s\r\nDate: %s\r\n", rs->status, reason(rs->status),
                    date(wk(c)));
    if (rs->content_type)
        core_buf_printf(o, "Content-Type: %s\r\n", rs->content_type);
    for (int i = 0; i < rs->nheaders; i++)
        core_buf_printf(o, "%s: %s\r\n", rs->headers[i].name, rs->headers[i].value);
    if (rs->stream && !c->rq.http10)
        core_buf_puts(o, "Transfer-Encoding: chunked\r\n");
    else if (!rs->stream && rs->status != 304 && rs->status != 204 &&
             !has_header(rs, "Content-Length"))
        core_buf_printf(o, "Content-Length: %zu\r\n", len);
    if (!keep)
        core_buf_puts(o, "Connection: close\r\n");
    else if (c->rq.http10)
        core_buf_puts(o, "Connection: keep-alive\r\n");
    core_buf_puts(o, "\r\n");
}

/* The request is over (its answer queued): the next one may start. */
static void request_reset(struct h1_conn *c)
{
    struct httpd_h1 *s = srv(c);
    atomic_fetch_sub(&s->buffered, c->held);
    c->held = 0;
    core_buf_free(&c->body);
    core_buf_free(&c->rs.body);
    core_free(c->argbuf);
    c->argbuf = NULL;
    c->nargs = 0;
    c->deferred = 0;
    memset(&c->rs, 0, sizeof c->rs);
    memset(&c->ck, 0, sizeof c->ck);
}

static void after_answer(struct h1_conn *c, int keep)
{
    request_reset(c);
    if (keep) {
        c->state = ST_HEAD;
        c->b.deadline = core_mono_ns() + srv(c)->b.cfg.header_timeout_ns;
    } else {
        c->state = ST_CLOSING;
    }
}

/* A whole answer (or a stream's head) from c->rs. */
static void write_answer(struct h1_conn *c)
{
    struct httpd_h1_response *rs = &c->rs;
    int keep = c->keep_alive && !c->close_after && !rs->close &&
               !atomic_load(&srv(c)->b.stopping) && !(rs->stream && c->rq.http10);
    const uint8_t *b = rs->static_body ? rs->static_body : rs->body.p;
    size_t len = rs->static_body ? rs->static_len : rs->body.len;
    put_head(c, rs, len, keep);
    if (rs->stream) {
        c->state = ST_STREAM;
        c->keep_alive = keep;
        c->stall_since = 0;
        core_buf_init(&c->sbuf, (size_t)16 << 20);
        return;
    }
    if (c->is_head || rs->status == 304 || rs->status == 204 || !len) {
    } else if (len <= H1_COPY_MAX) {
        core_buf_append(&c->out, b, len);
    } else if (rs->static_body) {
        c->tail = b;
        c->tail_len = len;
        c->tail_off = 0;
    } else {
        c->tail_own = rs->body; /* sent without a copy */
        core_buf_init(&rs->body, 0);
        c->tail = c->tail_own.p;
        c->tail_len = len;
        c->tail_off = 0;
    }
    after_answer(c, keep);
}

/* A refusal of the base's own: text/plain saying why, Connection: close. */
static void refuse(struct h1_conn *c, unsigned status, const char *why)
{
    if (status != 413 && status != 414 && status != 431)
        atomic_fetch_add(&srv(c)->b.bad_framing, 1);
    struct httpd_h1_response rs;
    memset(&rs, 0, sizeof rs);
    rs.status = status;
    rs.content_type = "text/plain";
    char body[256];
    int n = snprintf(body, sizeof body, "%u: %s\n", status, why);
    c->rq.http10 = 0;
    put_head(c, &rs, (size_t)n, 0);
    core_buf_append(&c->out, body, (size_t)n);
    request_reset(c);
    c->b.deadline = 0;
    c->state = ST_CLOSING;
}

/* The handler's answer is ready (on the worker): now, or held until its time. */
static void answer_ready(struct h1_conn *c)
{
    struct httpd_h1 *s = srv(c);
    if (c->rs.status == 0) { /* the listener wants the connection cut, unanswered */
        request_reset(c);
        c->state = ST_LINGER;
        c->linger_until = 0;
        return;
    }
    if (c->rs.hold_until_ns > core_mono_ns() && !atomic_load(&s->releasing)) {
        c->state = ST_HELD;
        wk(c)->nheld++;
        atomic_fetch_add(&s->held, 1);
        return;
    }
    write_answer(c);
}

static void dispatch(struct h1_conn *c)
{
    struct httpd_h1 *s = srv(c);
    c->rq.body = c->body.p;
    c->rq.len = c->body.len;
    c->rs.status = 200;
    core_buf_init(&c->rs.body, s->hd.max_answer);
    s->hd.on_request(s->hd.cls, &c->rq, &c->rs);
    if (c->deferred) {
        c->state = ST_DEFERRED;
        return;
    }
    answer_ready(c);
}

/* ---- requests ---------------------------------------------------------------------------- */

/* Body bytes: kept within the request's cap and the budget of all connections, or dropped. */
static void take_body(struct h1_conn *c, const uint8_t *d, size_t n)
{
    struct httpd_h1 *s = srv(c);
    if (c->rq.refused || !n)
        return;
    size_t was = atomic_fetch_add(&s->buffered, n);
    c->held += n;
    if (s->hd.max_buffered && was + n > s->hd.max_buffered)
        c->rq.refused = 503;
    else if (core_buf_append(&c->body, d, n))
        c->rq.refused = 413;
    if (c->rq.refused) { /* read the rest, keep none of it */
        atomic_fetch_sub(&s->buffered, c->held);
        c->held = 0;
        core_buf_free(&c->body);
    }
}

/* The header block is parsed: how its body is read. */
static void begin_body(struct h1_conn *c)
{
    struct httpd_h1 *s = srv(c);
    struct h1__head *h = &c->head;
    memset(&c->rq, 0, sizeof c->rq);
    c->rq.method = h->method;
    c->rq.path = h->path;
    c->rq.query = h->query;
    c->rq.http10 = h->http10;
    c->rq.t_head_ns = core_mono_ns();
    c->is_head = !strcmp(h->method, "HEAD");
    c->keep_alive = h->keep_alive;
    c->close_after = 0;
    c->body_left = h->has_length ? h->length : 0;
    core_buf_init(&c->body, s->hd.max_body);
    c->state = ST_BODY;
    int has_body = h->chunked || c->body_left;
    if (h->has_length && h->length > s->hd.max_body) {
        c->rq.refused = 413; /* answered unread: the connection closes after */
        c->close_after = 1;
        c->body_left = 0;
        return;
    }
    if (h->expect_continue && has_body)
        core_buf_puts(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
}

/* Reads the header block if it is all in. 1: parsed (state BODY or CLOSING), 0: need more. */
static int read_head(struct h1_conn *c)
{
    const char *in = (const char *)c->in.p + c->in_off;
    size_t avail = c->in.len - c->in_off, skip;
    long end = h1__head_end(in, avail, &skip);
    if (end == 0)
        return 0;
    if (end < 0) {
        refuse(c, (unsigned)-end, end == -414 ? "request line too long" : "header block too large");
        return 1;
    }
    core_buf_reset(&c->hbuf);
    if (core_buf_reserve(&c->hbuf, (size_t)end + 1)) {
        refuse(c, 431, "header block too large");
        return 1;
    }
    memcpy(c->hbuf.p, in + skip, (size_t)end);
    c->in_off += skip + (size_t)end;
    c->got_request = 1;
    c->b.deadline = 0;
    const char *why = "";
    unsigned st = h1__parse_head((char *)c->hbuf.p, (size_t)end, &c->head, &why);
    if (st) {
        c->rq.http10 = 0;
        refuse(c, st, why);
        return 1;
    }
    begin_body(c);
    return 1;
}

/* Reads body bytes. 1: the body is complete, 0: need more, -1: refused (state CLOSING). */
static int read_body(struct h1_conn *c)
{
    struct httpd_h1 *s = srv(c);
    const uint8_t *in = c->in.p + c->in_off;
    size_t avail = c->in.len - c->in_off;
    if (!c->head.chunked) {
        size_t n = avail < c->body_left ? avail : (size_t)c->body_left;
        take_body(c, in, n);
        c->in_off += n;
        c->body_left -= n;
        return c->body_left == 0;
    }
    while (avail && !h1__chunked_done(&c->ck)) {
        size_t doff, dlen;
        const char *why = "";
        long used = h1__chunked(&c->ck, in, avail, s->hd.max_body, &doff, &dlen, &why);
        if (used < 0) {
            refuse(c, (unsigned)-used, why);
            return -1;
        }
        take_body(c, in + doff, dlen);
        in += used;
        avail -= (size_t)used;
        c->in_off += (size_t)used;
    }
    return h1__chunked_done(&c->ck);
}

/* Parses and answers what the input holds, as far as the state allows. */
static void process(struct h1_conn *c)
{
    for (;;) {
        if (c->state == ST_HEAD) {
            if (c->tail || c->out.len - c->out_off > H1_PIPELINE_OUT)
                return; /* the answers so far go out first */
            if (!read_head(c))
                return;
        } else if (c->state == ST_BODY) {
            int r = read_body(c);
            if (r <= 0)
                return;
            dispatch(c);
        } else {
            return;
        }
    }
}

/* ---- connections ------------------------------------------------------------------------- */

/* The protocol's part of closing c (loop.c closes the socket and frees c). */
static void h1_free(struct httpd__conn *bc)
{
    struct h1_conn *c = (struct h1_conn *)bc;
    if (c->state == ST_HELD) {
        wk(c)->nheld--;
        atomic_fetch_sub(&srv(c)->held, 1);
    }
    if (c->state == ST_STREAM && c->rs.stream)
        c->rs.stream->done(c->rs.stream_cls, HTTPD_H1_STREAM_GONE);
    request_reset(c);
    core_buf_free(&c->in);
    core_buf_free(&c->out);
    core_buf_free(&c->tail_own);
    core_buf_free(&c->hbuf);
    core_buf_free(&c->sbuf);
}

static void conn_free(struct h1_conn *c)
{
    httpd__close(&c->b);
}

/* A deferred answer is never freed under its resumer: it waits for the resume. */
static void conn_done(struct h1_conn *c)
{
    if (c->state == ST_DEFERRED) {
        httpd__unwatch(&c->b);
        return;
    }
    conn_free(c);
}

/* Sends what is queued until it would block. -1: the connection is broken. */
static int conn_flush(struct h1_conn *c)
{
    while (c->out.len > c->out_off || c->tail) {
        struct iovec iov[2];
        int n = 0;
        if (c->out.len > c->out_off)
            iov[n++] = (struct iovec){c->out.p + c->out_off, c->out.len - c->out_off};
        if (c->tail)
            iov[n++] = (struct iovec){(void *)(uintptr_t)(c->tail + c->tail_off),
                                      c->tail_len - c->tail_off};
        struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)n};
        ssize_t wr = sendmsg(c->b.fd, &m, MSG_NOSIGNAL);
        if (wr < 0)
            return errno == EAGAIN || errno == EINTR ? 0 : -1;
        c->b.last_io = core_mono_ns();
        c->stall_since = 0;
        size_t left = (size_t)wr, o = c->out.len - c->out_off;
        size_t k = left < o ? left : o;
        c->out_off += k;
        left -= k;
        if (c->out_off == c->out.len)
            c->out.len = c->out_off = 0;
        if (c->tail && left) {
            c->tail_off += left;
            if (c->tail_off == c->tail_len) {
                c->tail = NULL;
                core_buf_free(&c->tail_own);
            }
        }
        /* all written: the next header block is due from now (a long answer to a slow
         * reader must not eat the deadline), unless one is already arriving */
        if (c->state == ST_HEAD && c->out.len == 0 && !c->tail && c->in.len == c->in_off)
            c->b.deadline = c->b.last_io + srv(c)->b.cfg.header_timeout_ns;
    }
    return 0;
}

/* Frames what a stream's pull gave as one chunk (HTTP/1.1) or as is (HTTP/1.0). 1: ended. */
static int stream_pull(struct h1_conn *c)
{
    if (c->out.len > c->out_off)
        return 0;
    core_buf_reset(&c->sbuf);
    int r = c->rs.stream->pull(c->rs.stream_cls, &c->sbuf);
    if (c->sbuf.len && c->rq.http10)
        core_buf_append(&c->out, c->sbuf.p, c->sbuf.len);
    else if (c->sbuf.len) {
        core_buf_printf(&c->out, "%zx\r\n", c->sbuf.len);
        core_buf_append(&c->out, c->sbuf.p, c->sbuf.len);
        core_buf_puts(&c->out, "\r\n");
    }
    if (r == 0)
        return 0;
    const struct httpd_h1_stream *st = c->rs.stream;
    void *cls = c->rs.stream_cls;
    c->rs.stream = NULL;
    st->done(cls, r > 0 ? HTTPD_H1_STREAM_ENDED : HTTPD_H1_STREAM_CUT);
    if (r > 0 && !c->rq.http10)
        core_buf_puts(&c->out, "0\r\n\r\n");
    after_answer(c, r > 0 && c->keep_alive);
    return 1;
}

/* Reads what the state wants. -1: the connection is over (error, or end of input mid-way). */
static int conn_read(struct h1_conn *c)
{
    if (c->state == ST_LINGER) {
        char drain[16384];
        ssize_t n;
        while ((n = recv(c->b.fd, drain, sizeof drain, 0)) > 0)
            ;
        return n == 0 || (errno != EAGAIN && errno != EINTR) ? -1 : 0;
    }
    if (c->state != ST_HEAD && c->state != ST_BODY)
        return 0;
    if (c->in_off) { /* what is left of the input moves to the front (usually nothing) */
        memmove(c->in.p, c->in.p + c->in_off, c->in.len - c->in_off);
        c->in.len -= c->in_off;
        c->in_off = 0;
    }
    while (c->in.len < H1_IN_MAX && !c->eof) {
        size_t room = H1_IN_MAX - c->in.len;
        room = room < H1_READ ? room : H1_READ;
        if (core_buf_reserve(&c->in, room))
            return -1;
        ssize_t n = recv(c->b.fd, c->in.p + c->in.len, room, 0);
        if (n < 0)
            return errno == EAGAIN || errno == EINTR ? 0 : -1;
        if (n == 0) {
            c->eof = 1;
            break;
        }
        c->b.last_io = core_mono_ns();
        c->in.len += (size_t)n;
        if ((size_t)n < room)
            break;
    }
    return 0;
}

static int wants_input(const struct h1_conn *c)
{
    return (c->state == ST_HEAD || c->state == ST_BODY) && !c->eof &&
           c->in.len - c->in_off < H1_IN_MAX;
}

/* One epoll_ctl per change of interest, not per event. */
static void conn_update(struct h1_conn *c)
{
    uint32_t ev = 0;
    if (wants_input(c) || c->state == ST_LINGER)
        ev |= EPOLLIN;
    if (c->state == ST_STREAM)
        ev |= EPOLLRDHUP;
    if (c->out.len > c->out_off || c->tail)
        ev |= EPOLLOUT;
    httpd__watch(&c->b, ev);
}

/* After any event: parse, answer, write, and move on to lingering or the end. 0 or -1 (freed). */
static int conn_step(struct h1_conn *c)
{
    for (int i = 0; i < 16; i++) { /* until nothing moves */
        size_t in_off = c->in_off;
        int state = c->state, pulled = 0;
        process(c);
        if (conn_flush(c)) {
            conn_done(c);
            return -1;
        }
        if (c->state == ST_STREAM && c->out.len == c->out_off) {
            pulled = stream_pull(c) || c->out.len > c->out_off;
            if (conn_flush(c)) {
                conn_done(c);
                return -1;
            }
        }
        if (!pulled && c->in_off == in_off && c->state == state)
            break;
    }
    int pending = c->out.len > c->out_off || c->tail;
    if (c->state == ST_CLOSING && !pending) {
        shutdown(c->b.fd, SHUT_WR);
        c->state = ST_LINGER;
        c->linger_until = core_mono_ns() + H1_LINGER_NS;
    }
    if (c->state == ST_LINGER && (!c->linger_until || c->eof)) {
        conn_done(c);
        return -1;
    }
    if (c->eof && (c->state == ST_HEAD || c->state == ST_BODY) && !pending) {
        conn_done(c); /* the client is done: nothing more can come */
        return -1;
    }
    if (c->state == ST_STREAM && pending && !c->stall_since)
        c->stall_since = core_mono_ns();
    conn_update(c);
    return 0;
}

static void conn_event(struct h1_conn *c, uint32_t ev)
{
    if ((c->state == ST_DEFERRED || c->state == ST_HELD) && (ev & (EPOLLHUP | EPOLLERR))) {
        httpd__unwatch(&c->b); /* answered (and freed) later */
        return;
    }
    if (c->state == ST_STREAM && (ev & (EPOLLERR | EPOLLHUP | EPOLLRDHUP))) {
        conn_done(c); /* the client left */
        return;
    }
    if ((ev & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP)) && conn_read(c)) {
        conn_done(c);
        return;
    }
    conn_step(c);
}

/* A held or deferred answer goes out. */
static void conn_answer_late(struct h1_conn *c, int deferred)
{
    if (!deferred) {
        wk(c)->nheld--;
        atomic_fetch_sub(&srv(c)->held, 1);
        c->state = ST_BODY; /* not HELD any more */
        write_answer(c);
    } else {
        c->deferred = 0;
        c->rs.hold_until_ns = 0;
        c->rs.stream = NULL;
        c->state = ST_BODY;
        answer_ready(c);
    }
    if (c->b.gone) {
        c->state = ST_LINGER;
        conn_free(c);
        return;
    }
    conn_step(c);
}

/* ---- the hooks loop.c calls ------------------------------------------------------------- */

static uint32_t h1_accept(struct httpd__conn *bc)
{
    struct h1_conn *c = (struct h1_conn *)bc;
    core_buf_init(&c->in, H1_IN_MAX);
    core_buf_init(&c->out, SIZE_MAX);
    core_buf_init(&c->hbuf, HTTPD_H1_MAX_HEADER + 1);
    return EPOLLIN;
}

static void h1_over_cap(struct httpd__conn *c)
{
    (void)send(c->fd, over_cap_answer, sizeof over_cap_answer - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
}

static void h1_event(struct httpd__conn *c, uint32_t ev)
{
    conn_event((struct h1_conn *)c, ev);
}

/* Resumed answers, taken from the list under the lock and answered without it; after httpd_h1_wake
 * / release, streams pulled and held answers looked at. */
static void h1_wake(struct httpd__worker *bw, uint64_t now)
{
    struct h1_worker *w = (struct h1_worker *)bw;
    pthread_mutex_lock(&bw->mu);
    struct h1_conn *r = w->ready;
    w->ready = NULL;
    pthread_mutex_unlock(&bw->mu);
    while (r) {
        struct h1_conn *next = r->ready_next;
        conn_answer_late(r, 1);
        r = next;
    }
    unsigned gen = atomic_load(&((struct httpd_h1 *)bw->srv)->wake_gen);
    if (gen != w->wake_seen) {
        w->wake_seen = gen;
        httpd__sweep(bw, now, 1);
    }
}

/* The earliest held answer's time. */
static uint64_t h1_next_due(struct httpd__worker *bw)
{
    struct h1_worker *w = (struct h1_worker *)bw;
    w->next_due = UINT64_MAX;
    if (w->nheld)
        for (struct httpd__conn *bc = bw->conns; bc; bc = bc->next) {
            struct h1_conn *c = (struct h1_conn *)bc;
            if (c->state == ST_HELD && c->rs.hold_until_ns < w->next_due)
                w->next_due = c->rs.hold_until_ns;
        }
    return w->next_due;
}

/* Between ticks, a held answer that is due is not left waiting for the next one. */
static void h1_turn(struct httpd__worker *bw, uint64_t now, int tick)
{
    struct h1_worker *w = (struct h1_worker *)bw;
    if (!tick && w->nheld && now >= w->next_due)
        httpd__sweep(bw, now, 0);
}

/* Held answers now due, linger timeouts, stalled streams, streams pulled; what waits on purpose is
 * not idle, and the header deadline waits while an answer is going out. */
static int h1_sweep(struct httpd__conn *bc, uint64_t now, int pull)
{
    struct h1_conn *c = (struct h1_conn *)bc;
    if (c->state == ST_HELD &&
        (bc->gone || atomic_load(&srv(c)->releasing) || now >= c->rs.hold_until_ns)) {
        conn_answer_late(c, 0);
        return HTTPD__SWEEP_DONE;
    }
    if (c->state == ST_HELD || c->state == ST_DEFERRED)
        return HTTPD__SWEEP_DONE;
    if (bc->deadline && now >= bc->deadline && c->out.len == c->out_off && !c->tail)
        return HTTPD__SWEEP_TIMERS;
    if (c->state == ST_LINGER && now >= c->linger_until) {
        conn_free(c);
        return HTTPD__SWEEP_DONE;
    }
    if (c->state == ST_STREAM) {
        if (c->stall_since && c->rs.stream_stall_ns &&
            now - c->stall_since >= c->rs.stream_stall_ns) {
            c->rs.stream->done(c->rs.stream_cls, HTTPD_H1_STREAM_STALLED);
            c->rs.stream = NULL;
            conn_free(c);
        } else if (pull) {
            conn_step(c);
        }
        return HTTPD__SWEEP_DONE;
    }
    return HTTPD__SWEEP_IDLE;
}

static void h1_expire(struct httpd__conn *c, int why)
{
    if (why == HTTPD__HEADER_LATE)
        atomic_fetch_add(&c->w->srv->header_timeouts, 1);
    conn_free((struct h1_conn *)c);
}

static const struct httpd__proto h1_proto = {
    .what = "HTTP",
    .worker_size = sizeof(struct h1_worker),
    .conn_size = sizeof(struct h1_conn),
    .on_accept = h1_accept,
    .on_over_cap = h1_over_cap,
    .on_event = h1_event,
    .on_wake = h1_wake,
    .on_turn = h1_turn,
    .next_due = h1_next_due,
    .on_sweep = h1_sweep,
    .on_expire = h1_expire,
    .free = h1_free,
};

/* ---- life cycle -------------------------------------------------------------------------- */

int httpd_h1_start(struct httpd_h1 **out, const struct httpd_addr *a, const struct httpd_config *c,
                   const struct httpd_h1_handlers *hd, char *err, size_t errlen)
{
    *out = NULL;
    struct httpd_h1 *s = core_calloc(1, sizeof *s);
    s->b.p = &h1_proto;
    s->hd = *hd;
    if (!s->hd.max_body)
        s->hd.max_body = H1_DEFAULT_BODY;
    if (!s->hd.max_answer)
        s->hd.max_answer = H1_DEFAULT_BODY;
    int rc = httpd__start(&s->b, a, c, err, errlen);
    if (rc) {
        core_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int httpd_h1_port(const struct httpd_h1 *s)
{
    return s->b.port;
}

void httpd_h1_quiesce(struct httpd_h1 *s)
{
    if (s)
        httpd__quiesce(&s->b);
}

void httpd_h1_stop(struct httpd_h1 *s)
{
    if (!s)
        return;
    atomic_fetch_add(&s->wake_gen, 1); /* streams are pulled once more */
    httpd__stop_workers(&s->b);
    httpd__free(&s->b);
    core_free(s);
}

void httpd_h1_stats(const struct httpd_h1 *s, struct httpd_stats *o)
{
    httpd__stats(s ? &s->b : NULL, o);
}
