/* The libmicrohttpd side: a listener of the httpd base (epoll worker threads, --threads; the
 * base decides the address syntax, connection cap and timeouts), suspend/resume for held
 * answers.
 *
 * A request goes through up to three calls of on_request:
 *   1. headers: state allocated; a declared Content-Length over max_body is answered 413 at
 *      once (the body is never read);
 *   2. body pieces: appended to a core_buf capped at max_body; past the cap the rest is read
 *      and dropped, and the answer is 413 (so a chunked body is never buffered beyond the cap);
 *   3. end of body: server__handle decides the answer and how long to hold it. A hold goes to
 *      the timer: the connection is suspended (no thread waits) and resumed at the deadline,
 *      which calls on_request a last time to send the answer.
 * The hold counts from the arrival of the headers, so reading a slow body is part of it.
 *
 * Stopping: the listening socket is quiesced (no new connections), requests in progress get a
 * grace period, then held answers still waiting are resumed early and answered 503, and the
 * daemon stops. libmicrohttpd forbids stopping with suspended connections; timer_add refuses
 * new holds once the drain began, so none can be left behind. */
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/internal.h"

enum { READING, HELD };

struct server__http {
    struct httpd *d;
};

struct conn {
    struct server *s;
    struct MHD_Connection *c;
    uint64_t t0;
    struct core_buf body;
    int over, phase, cut;
    struct server__answer a;
};

static const char *header(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

static void fill(struct conn *k, const char *url, const char *method, struct server__request *rq)
{
    memset(rq, 0, sizeof *rq);
    rq->method = method;
    rq->path = url;
    rq->content_type = header(k->c, MHD_HTTP_HEADER_CONTENT_TYPE);
    rq->delay = header(k->c, "X-Diorama-Delay");
    rq->traffic = header(k->c, "X-Traffic-Type");
    rq->body = k->body.p;
    rq->len = k->body.len;
    rq->body_over = k->over;
}

static enum MHD_Result send_answer(struct conn *k)
{
    struct server__answer *a = &k->a;
    struct MHD_Response *r =
        MHD_create_response_from_buffer(a->body.len, a->body.p, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, a->content_type);
    if (a->status == 405)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, a->allow);
    if (atomic_load(&k->s->stopping))
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ret = MHD_queue_response(k->c, (unsigned)a->status, r);
    MHD_destroy_response(r);
    server__count(k->s, a, core_mono_ns() - k->t0);
    return ret;
}

static void suspend(void *item)
{
    MHD_suspend_connection(((struct conn *)item)->c);
}

/* Timer thread (cut = 0) or the stopping thread (cut = 1). */
static void fire(void *item, int cut)
{
    struct conn *k = item;
    k->cut = cut;
    MHD_resume_connection(k->c);
}

/* A held answer resumed before its time by a stop: 503, counted without its tokens. */
static void cut_short(struct conn *k)
{
    server__answer_error(&k->a, 503, "the server is stopping: the answer was cut short");
    k->a.delayed = 0;
    k->a.tokens_in = k->a.tokens_out = 0;
    memset(k->a.faults, 0, sizeof k->a.faults);
    atomic_fetch_add(&k->s->m.cut, 1);
}

static enum MHD_Result finish(struct conn *k, const char *url, const char *method)
{
    struct server__request rq;
    fill(k, url, method, &rq);
    server__handle(k->s, &rq, &k->a);
    core_buf_free(&k->body); /* not needed any more: held connections keep no body */
    core_buf_init(&k->body, 0);
    uint64_t at = k->t0 + k->a.wait_ns;
    if (k->a.wait_ns && at > core_mono_ns()) {
        k->phase = HELD;
        if (server__timer_add(&k->s->timer, at, k, suspend) == 0)
            return MHD_YES;
        cut_short(k); /* stopping: no new holds */
    }
    return send_answer(k);
}

static enum MHD_Result begin(struct server *s, struct MHD_Connection *c, const char *url,
                             const char *method, void **state)
{
    struct conn *k = core_calloc(1, sizeof *k);
    k->s = s;
    k->c = c;
    k->t0 = core_mono_ns();
    core_buf_init(&k->body, s->cfg.max_body);
    server__answer_init(&k->a);
    *state = k;
    atomic_fetch_add(&s->m.inflight, 1);
    const char *cl = header(c, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoull(cl, NULL, 10) > s->cfg.max_body) {
        k->over = 1;
        return finish(k, url, method); /* 413 before reading the body */
    }
    return MHD_YES;
}

static void take(struct conn *k, const char *data, size_t n)
{
    if (k->over)
        return;
    if (core_buf_append(&k->body, data, n)) {
        k->over = 1; /* read the rest, keep none of it */
        core_buf_free(&k->body);
        core_buf_init(&k->body, 0);
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_len, void **state)
{
    struct conn *k = *state;
    if (!k)
        return begin(cls, c, url, method, state);
    if (k->phase == HELD) { /* resumed */
        if (k->cut)
            cut_short(k);
        return send_answer(k);
    }
    if (*upload_len) {
        take(k, upload, *upload_len);
        *upload_len = 0;
        return MHD_YES;
    }
    return finish(k, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **state,
                         enum MHD_RequestTerminationCode toe)
{
    struct conn *k = *state;
    if (!k)
        return;
    atomic_fetch_sub(&k->s->m.inflight, 1);
    core_buf_free(&k->body);
    server__answer_free(&k->a);
    core_free(k);
    *state = NULL;
}

static int start_daemon(struct server *s, struct server__http *h, char *err, size_t errlen)
{
    struct httpd_addr a;
    if (httpd_addr_parse(s->cfg.listen, &a, err, errlen))
        return DIO_EINVAL;
    struct httpd_config c = s->cfg.http;
    c.threads = s->cfg.threads;
    c.suspend_resume = 1; /* held answers wait suspended, see timer.c */
    struct httpd_handlers hd = {on_request, on_completed, s, "serve"};
    int rc = httpd_start(&h->d, &a, &c, &hd, err, errlen);
    if (!rc)
        s->port = httpd_port(h->d);
    return rc;
}

int server__http_start(struct server *s, char *err, size_t errlen)
{
    struct server__http *h = core_calloc(1, sizeof *h);
    int rc = server__timer_start(&s->timer, (size_t)s->cfg.http.max_connections + 1, fire);
    if (rc)
        snprintf(err, errlen, "cannot start the timer thread");
    else
        rc = start_daemon(s, h, err, errlen);
    if (rc) {
        server__timer_stop(&s->timer);
        core_free(h);
        return rc == DIO_EINVAL ? DIO_EINVAL : DIO_EIO;
    }
    s->http = h;
    return 0;
}

/* Polls until nothing is in progress or the deadline passed. */
static void wait_idle(struct server *s, uint64_t deadline)
{
    while (atomic_load(&s->m.inflight) > 0 && core_mono_ns() < deadline)
        core_sleep_until_ns(core_mono_ns() + 5000000ULL);
}

void server__http_stop(struct server *s, uint64_t grace_ns)
{
    struct server__http *h = s->http;
    if (!h)
        return;
    atomic_store(&s->stopping, 1);
    httpd_quiesce(h->d);
    wait_idle(s, core_mono_ns() + grace_ns);
    server__timer_drain(&s->timer);
    wait_idle(s, core_mono_ns() + 500000000ULL); /* the 503s of the drain go out */
    httpd_stop(h->d);
    server__timer_stop(&s->timer);
    core_free(h);
    s->http = NULL;
}
