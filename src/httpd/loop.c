/* The listener base's connection machinery, shared by both protocols (HTTP/1.1 in h1.c, HTTP/2 in
 * h2.c): the worker threads and their epoll loop, the accept loop with the connection cap, the
 * sweep for the header deadline and the idle timeout, quiesce, stop and the stats. The caps and
 * timeouts are decided here once, so every listener keeps them the same way (docs/listeners.md);
 * what a protocol does with its bytes comes through struct httpd__proto.
 *
 * Threads: each worker has its own epoll set and eventfd; the listening socket is in every set
 * with EPOLLEXCLUSIVE, so a connection is accepted, served and closed by one worker and its state
 * is that worker's alone. Other threads reach a worker only through its eventfd (httpd__wake) and
 * whatever list the protocol keeps under the worker's mutex.
 *
 * Over max_connections a connection gets the protocol's refusal (on_over_cap), its write side is
 * shut and its input drained (unread input would turn the close into a reset that loses the
 * refusal), and it is closed at once. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "httpd/internal.h"

#define LOOP_EVENTS 64  /* events taken per epoll_wait */
#define LOOP_ACCEPTS 64 /* accepted per turn at most: the open connections get served too */

struct httpd__worker *httpd__worker(const struct httpd__listener *l, unsigned i)
{
    return (struct httpd__worker *)(l->workers + (size_t)i * l->p->worker_size);
}

unsigned httpd__nworkers(const struct httpd_config *c)
{
    if (c->threads)
        return c->threads;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 && n < 64 ? (unsigned)n : 2;
}

void httpd__wake(struct httpd__worker *w)
{
    uint64_t one = 1;
    if (write(w->ev, &one, sizeof one) < 0)
        return; /* the counter is full: the worker is woken anyway */
}

void httpd__wake_all(struct httpd__listener *l)
{
    for (unsigned i = 0; i < l->nworkers; i++)
        httpd__wake(httpd__worker(l, i));
}

/* ---- connections ------------------------------------------------------------------------- */

void httpd__watch(struct httpd__conn *c, uint32_t ev)
{
    struct epoll_event e = {.events = ev, .data.ptr = c};
    if (!c->gone && ev != c->events && !epoll_ctl(c->w->ep, EPOLL_CTL_MOD, c->fd, &e))
        c->events = ev;
}

void httpd__unwatch(struct httpd__conn *c)
{
    if (!c->gone)
        epoll_ctl(c->w->ep, EPOLL_CTL_DEL, c->fd, NULL);
    c->gone = 1;
}

void httpd__close(struct httpd__conn *c)
{
    struct httpd__worker *w = c->w;
    w->srv->p->free(c);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    w->nconns--;
    /* out of the epoll set before the close: a process forked meanwhile (system(), a test's
     * promtool) holds a copy of the descriptor, and while it does the close alone would leave
     * the registration, and its events would name freed memory */
    httpd__unwatch(c);
    close(c->fd);
    atomic_fetch_sub(&w->srv->open, 1);
    core_free(c);
}

static void refuse_over_cap(struct httpd__conn *c)
{
    struct httpd__listener *l = c->w->srv;
    atomic_fetch_add(&l->over_cap, 1);
    l->p->on_over_cap(c);
    shutdown(c->fd, SHUT_WR);
    char drain[4096];
    while (recv(c->fd, drain, sizeof drain, 0) > 0)
        ;
    httpd__close(c);
}

static void accept_one(struct httpd__worker *w, int fd)
{
    struct httpd__listener *l = w->srv;
    atomic_fetch_add(&l->accepted, 1);
    int64_t open = atomic_fetch_add(&l->open, 1) + 1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct httpd__conn *c = core_calloc(1, l->p->conn_size);
    c->w = w;
    c->fd = fd;
    c->gone = 1; /* until it is added below */
    c->last_io = core_mono_ns();
    c->deadline = c->last_io + l->cfg.header_timeout_ns;
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    w->nconns++;
    uint32_t events = l->p->on_accept(c);
    if (!events) {
        httpd__close(c);
        return;
    }
    if (open > (int64_t)l->cfg.max_connections) {
        refuse_over_cap(c);
        return;
    }
    struct epoll_event ev = {.events = events, .data.ptr = c};
    if (!epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev)) {
        c->events = events;
        c->gone = 0;
    }
}

static void accept_all(struct httpd__worker *w)
{
    for (int i = 0; i < LOOP_ACCEPTS; i++) {
        int fd = accept4(w->srv->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        accept_one(w, fd);
    }
}

/* The protocol's timers first: what it leaves to the base is checked against the header deadline (a
 * deadline, not an inactivity timer) and then the idle timeout. */
void httpd__sweep(struct httpd__worker *w, uint64_t now, int pull)
{
    const struct httpd__proto *p = w->srv->p;
    uint64_t idle = w->srv->cfg.idle_timeout_ns;
    struct httpd__conn *next;
    for (struct httpd__conn *c = w->conns; c; c = next) {
        next = c->next;
        int r = p->on_sweep(c, now, pull);
        if (r == HTTPD__SWEEP_TIMERS && c->deadline && now >= c->deadline)
            p->on_expire(c, HTTPD__HEADER_LATE);
        else if (r != HTTPD__SWEEP_DONE && now - c->last_io >= idle)
            p->on_expire(c, HTTPD__IDLE);
    }
}

/* ---- workers ----------------------------------------------------------------------------- */

/* How long epoll may wait: until the protocol's next due time, at most a tick while connections are
 * open (the sweep), forever while none are. */
static int wait_ms(struct httpd__worker *w, uint64_t now)
{
    if (!w->nconns)
        return -1;
    uint64_t due = w->srv->p->next_due(w);
    if (due >= now + HTTPD__TICK_MS * 1000000ULL)
        return HTTPD__TICK_MS;
    return due <= now ? 0 : (int)((due - now + 999999) / 1000000);
}

static void take_wake(struct httpd__worker *w)
{
    uint64_t n;
    if (read(w->ev, &n, sizeof n) < 0 && errno != EAGAIN)
        return;
    w->srv->p->on_wake(w, core_mono_ns());
}

static void *worker_main(void *arg)
{
    struct httpd__worker *w = arg;
    struct httpd__listener *l = w->srv;
    const struct httpd__proto *p = l->p;
    struct epoll_event evs[LOOP_EVENTS];
    uint64_t last_sweep = core_mono_ns();
    while (!atomic_load(&l->stopping)) {
        int n = epoll_wait(w->ep, evs, LOOP_EVENTS, wait_ms(w, core_mono_ns()));
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == &l->fd)
                accept_all(w);
            else if (evs[i].data.ptr == &w->ev)
                take_wake(w);
            else
                p->on_event(evs[i].data.ptr, evs[i].events);
        }
        uint64_t now = core_mono_ns(); /* after the events: one accepted now is not idle */
        int tick = now - last_sweep >= HTTPD__TICK_MS * 1000000ULL;
        p->on_turn(w, now, tick);
        if (tick) {
            httpd__sweep(w, now, 1);
            last_sweep = now;
        }
    }
    if (p->on_stop)
        p->on_stop(w);
    while (w->conns)
        httpd__close(w->conns);
    return NULL;
}

/* ---- life cycle -------------------------------------------------------------------------- */

static int start_workers(struct httpd__listener *l)
{
    unsigned n = httpd__nworkers(&l->cfg);
    l->workers = core_calloc(n, l->p->worker_size);
    for (unsigned i = 0; i < n; i++) {
        struct httpd__worker *w = httpd__worker(l, i);
        w->srv = l;
        pthread_mutex_init(&w->mu, NULL);
        w->ep = epoll_create1(EPOLL_CLOEXEC);
        w->ev = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        l->nworkers = i + 1; /* closed by httpd__free from here on */
        struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = &l->fd};
        struct epoll_event wake = {.events = EPOLLIN, .data.ptr = &w->ev};
        if (w->ep < 0 || w->ev < 0 || epoll_ctl(w->ep, EPOLL_CTL_ADD, l->fd, &ev) ||
            epoll_ctl(w->ep, EPOLL_CTL_ADD, w->ev, &wake) ||
            pthread_create(&w->t, NULL, worker_main, w))
            return DIO_EIO;
        w->running = 1;
    }
    return 0;
}

int httpd__start(struct httpd__listener *l, const struct httpd_addr *a,
                 const struct httpd_config *c, char *err, size_t errlen)
{
    l->fd = -1;
    l->cfg = *c;
    if (httpd__config_check(&l->cfg, err, errlen))
        return DIO_EINVAL;
    httpd__raise_fd_limit(l->cfg.max_connections);
    int rc = httpd__listen(a, l->cfg.max_connections, &l->fd, &l->port, err, errlen);
    if (rc)
        return rc;
    if (start_workers(l)) {
        snprintf(err, errlen, "cannot start the %s listener's threads", l->p->what);
        httpd__stop_workers(l);
        httpd__free(l);
        return DIO_EIO;
    }
    return 0;
}

void httpd__quiesce(struct httpd__listener *l)
{
    if (!l || l->fd < 0)
        return;
    for (unsigned i = 0; i < l->nworkers; i++)
        epoll_ctl(httpd__worker(l, i)->ep, EPOLL_CTL_DEL, l->fd, NULL);
    close(l->fd);
    l->fd = -1;
}

void httpd__stop_workers(struct httpd__listener *l)
{
    atomic_store(&l->stopping, 1);
    httpd__wake_all(l);
    for (unsigned i = 0; i < l->nworkers; i++) {
        struct httpd__worker *w = httpd__worker(l, i);
        if (w->running)
            pthread_join(w->t, NULL);
        w->running = 0;
    }
}

void httpd__free(struct httpd__listener *l)
{
    for (unsigned i = 0; i < l->nworkers; i++) {
        struct httpd__worker *w = httpd__worker(l, i);
        if (w->ep >= 0)
            close(w->ep);
        if (w->ev >= 0)
            close(w->ev);
        pthread_mutex_destroy(&w->mu);
    }
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
    l->nworkers = 0;
    core_free(l->workers);
    l->workers = NULL;
}

void httpd__stats(const struct httpd__listener *l, struct httpd_stats *o)
{
    memset(o, 0, sizeof *o);
    if (!l)
        return;
    o->open = atomic_load(&l->open);
    o->accepted = atomic_load(&l->accepted);
    o->over_cap = atomic_load(&l->over_cap);
    o->header_timeouts = atomic_load(&l->header_timeouts);
    o->bad_framing = atomic_load(&l->bad_framing);
}
