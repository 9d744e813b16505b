/* The HTTP side: a listener of the httpd base's HTTP/1.1 server (epoll worker threads,
 * --threads; the base decides the address syntax, connection cap and timeouts, and hands over
 * whole requests, the body capped at max_body: over it the request comes marked and is
 * answered 413 -- before its body is read when a Content-Length said so).
 *
 * server__handle decides the answer and how long to hold it. A hold goes to the timer: the
 * answer is deferred (no thread waits, the connection stays with its worker) and the timer
 * thread completes it at the deadline (httpd_h1_resume). The hold counts from the arrival of
 * the headers, so reading a slow body is part of it.
 *
 * Stopping: the listening socket is quiesced (no new connections), requests in progress get a
 * grace period, then held answers still waiting are completed early with 503, and the
 * listener stops. Every deferred answer must be resumed before the listener stops;
 * timer_add refuses new holds once the drain began, so none can be left behind. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/internal.h"

struct server__http {
    struct httpd_h1 *d;
};

/* A request in progress: on the stack, or on the heap while the timer holds its answer. */
struct conn {
    struct server *s;
    struct httpd_h1_request *rq;
    struct httpd_h1_response *rs;
    struct httpd_h1_pending *pending;
    uint64_t t0;
    struct server__answer a;
};

/* The answer into the base's response (the body moves), counted; k's answer is freed. */
static void send_answer(struct conn *k)
{
    struct server__answer *a = &k->a;
    struct httpd_h1_response *rs = k->rs;
    rs->status = (unsigned)a->status;
    rs->content_type = a->content_type;
    core_buf_free(&rs->body);
    rs->body = a->body;
    core_buf_init(&a->body, 0);
    if (a->status == 405)
        httpd_h1_add_header(rs, "Allow", a->allow);
    if (atomic_load(&k->s->stopping))
        rs->close = 1;
    server__count(k->s, a, core_mono_ns() - k->t0);
    server__answer_free(a);
    atomic_fetch_sub(&k->s->m.inflight, 1);
}

static void defer(void *item)
{
    struct conn *k = item;
    k->pending = httpd_h1_defer(k->rq);
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

/* Timer thread (cut = 0) or the stopping thread (cut = 1). */
static void fire(void *item, int cut)
{
    struct conn *k = item;
    if (cut)
        cut_short(k);
    struct httpd_h1_pending *p = k->pending;
    send_answer(k);
    core_free(k);
    httpd_h1_resume(p);
}

static void on_request(void *cls, struct httpd_h1_request *r, struct httpd_h1_response *rs)
{
    struct server *s = cls;
    atomic_fetch_add(&s->m.inflight, 1);
    struct conn k0 = {.s = s, .rq = r, .rs = rs, .t0 = r->t_head_ns};
    server__answer_init(&k0.a);
    struct server__request rq = {.method = r->method,
                                 .path = r->path,
                                 .content_type = httpd_h1_header(r, "Content-Type"),
                                 .delay = httpd_h1_header(r, "X-Diorama-Delay"),
                                 .traffic = httpd_h1_header(r, "X-Traffic-Type"),
                                 .body = r->body,
                                 .len = r->len,
                                 .body_over = r->refused != 0};
    server__handle(s, &rq, &k0.a);
    uint64_t at = k0.t0 + k0.a.wait_ns;
    if (k0.a.wait_ns && at > core_mono_ns()) {
        struct conn *k = core_malloc(sizeof *k);
        *k = k0;
        if (server__timer_add(&s->timer, at, k, defer) == 0)
            return;
        k0 = *k;
        core_free(k);
        cut_short(&k0); /* stopping: no new holds */
    }
    send_answer(&k0);
}

static int start_daemon(struct server *s, struct server__http *h, char *err, size_t errlen)
{
    struct httpd_addr a;
    if (httpd_addr_parse(s->cfg.listen, &a, err, errlen))
        return DIO_EINVAL;
    struct httpd_config c = s->cfg.http;
    c.threads = s->cfg.threads;
    struct httpd_h1_handlers hd = {on_request, s, "serve", s->cfg.max_body, 0, 0};
    int rc = httpd_h1_start(&h->d, &a, &c, &hd, err, errlen);
    if (!rc)
        s->port = httpd_h1_port(h->d);
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
    httpd_h1_quiesce(h->d);
    wait_idle(s, core_mono_ns() + grace_ns);
    server__timer_drain(&s->timer);
    wait_idle(s, core_mono_ns() + 500000000ULL);
    core_sleep_until_ns(core_mono_ns() + 20000000ULL); /* the workers write the drain's 503s */
    httpd_h1_stop(h->d);
    server__timer_stop(&s->timer);
    core_free(h);
    s->http = NULL;
}
