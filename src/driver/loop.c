/* driver: one worker thread — an epoll loop over non-blocking connections, the open-loop
 * scheduler and the accounting of every request.
 *
 * Each iteration: send what is due, wait in epoll_pwait2 (ns timeout, timer slack 1 ns) until
 * just before the next intended send time and poll from there, or until the 10 ms
 * housekeeping tick; handle the events.
 * A request whose turn came while every connection was busy waits for a free one (or a new
 * one, up to this thread's share of -c) and is sent late; its latency still counts from the
 * intended time. Each thread owns everything it touches; it meets the others only under the
 * run's mutex, once per tick, to publish counters and hand in finished seconds. */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "driver/internal.h"

#define TICK_NS 10000000ULL
/* The loop wakes this long before a send time and polls until it: waking from a sleep
 * overshoots by ~50 us (p99 ~1 ms) on the VMs we measured, polling by a few us. The cost is
 * up to SPIN_NS of CPU per send: 10% of a core at 1,000/s per thread, all of it from
 * 10,000/s per thread, where the thread is busy anyway. */
#define SPIN_NS 100000ULL
#define MAX_EVENTS 256

static const struct drv__sock *sock_of(const struct drv__thread *t)
{
    return t->run->ssl ? &drv__sock_tls : &drv__sock_plain;
}

static void set_events(struct drv__conn *c, uint32_t ev)
{
    if (c->events == ev)
        return;
    struct epoll_event e = {.events = ev, .data.ptr = c};
    epoll_ctl(c->t->ep, EPOLL_CTL_MOD, c->fd, &e);
    c->events = ev;
}

static void idle_remove(struct drv__thread *t, struct drv__conn *c)
{
    int idx = (int)(c - t->conns);
    for (int i = t->nidle - 1; i >= 0; i--)
        if (t->idle[i] == idx) {
            t->idle[i] = t->idle[--t->nidle];
            return;
        }
}

static void conn_close(struct drv__conn *c)
{
    struct drv__thread *t = c->t;
    if (c->state == C_CLOSED)
        return;
    if (c->state == C_IDLE)
        idle_remove(t, c);
    sock_of(t)->close(c);
    c->state = C_CLOSED;
    c->served = 0;
    t->nopen--;
}

static void detach(struct drv__conn *c)
{
    if (c->req) {
        c->req = NULL;
        c->t->nbusy--;
    }
}

static void make_idle(struct drv__conn *c)
{
    c->state = C_IDLE;
    set_events(c, EPOLLIN);
    c->t->idle[c->t->nidle++] = (int)(c - c->t->conns);
}

/* The request on c failed (counter says how). */
static void count_error(struct drv__conn *c, uint64_t *counter)
{
    struct drv__thread *t = c->t;
    (*counter)++;
    t->st.errors++;
    drv__bucket_of(t, c->intended)->errors++;
    if (t->rst)
        t->rst[c->req->route].errors++;
}

/* The request on c failed (counter says how); the connection is gone. */
static void fail(struct drv__conn *c, uint64_t *counter)
{
    if (c->req)
        count_error(c, counter);
    detach(c);
    conn_close(c);
}

/* Once a wall second: this second's latencies go to the run's progress figures. And every
 * timeline second whose requests can no longer finish is handed in. */
static void roll_seconds(struct drv__thread *t, uint64_t now)
{
    struct driver_run *r = t->run;
    uint64_t s = now > r->start_ns ? (now - r->start_ns) / 1000000000ULL : 0;
    if (s != t->live_sec && t->live.total) {
        pthread_mutex_lock(&r->mu);
        core_hdr_merge(&r->cum, &t->live);
        pthread_mutex_unlock(&r->mu);
        core_hdr_reset(&t->live);
    }
    t->live_sec = s;
    while (now >= r->start_ns + (t->sec + 1) * 1000000000ULL + r->hold_ns)
        drv__flush_second(t);
}

/* Records the latency (us, at least 1) of a response to a request due at `intended`, measured
 * from `from`, and returns it. */
static int64_t record(struct drv__thread *t, uint64_t now, uint64_t intended, uint64_t from)
{
    int64_t us = now > from ? (int64_t)((now - from) / 1000) : 0;
    us = us < 1 ? 1 : us;
    drv__record_latency(t, intended, us);
    return us;
}

static void complete(struct drv__conn *c, uint64_t now)
{
    struct drv__thread *t = c->t;
    int code = c->http.status;
    t->st.requests++;
    t->st.status[code / 100]++;
    t->st.status_codes[code]++;
    if (code >= 400) {
        t->st.errors++;
        drv__bucket_of(t, c->intended)->errors++;
    }
    int64_t us = record(t, now, c->intended, t->run->o.closed_loop ? c->sent_at : c->intended);
    if (t->rst) {
        struct driver_route_result *rr = &t->rst[c->req->route];
        rr->requests++;
        rr->errors += code >= 400;
        core_hdr_record(&rr->latency, us);
    }
    c->served++;
    int unsent = c->woff < c->req->len; /* answered before our body went out (413 ...) */
    detach(c);
    if (c->http.close || unsent)
        conn_close(c);
    else
        make_idle(c);
}

static void write_some(struct drv__conn *c)
{
    const struct driver_req *r = c->req;
    while (c->woff < r->len) {
        size_t n = 0;
        int rc = sock_of(c->t)->write(c, r->buf + c->woff, r->len - c->woff, &n);
        if (rc == DRV_IO_OK) {
            c->woff += n;
            c->t->st.bytes_written += n;
            continue;
        }
        if (rc == DRV_IO_AGAIN_WRITE || rc == DRV_IO_AGAIN_READ) {
            set_events(c, rc == DRV_IO_AGAIN_WRITE ? EPOLLIN | EPOLLOUT : EPOLLIN);
            return;
        }
        fail(c, &c->t->st.write_errors);
        return;
    }
    set_events(c, EPOLLIN);
}

static uint64_t since_due(const struct drv__conn *c, uint64_t now)
{
    uint64_t due = c->intended + c->hold_ns;
    return now > due ? now - due : 0;
}

static void record_us(struct core_hdr *h, uint64_t ns)
{
    core_hdr_record(h, ns / 1000 ? (int64_t)(ns / 1000) : 1);
}

static void start_write(struct drv__conn *c, uint64_t now)
{
    struct drv__thread *t = c->t;
    if (!c->retried) {
        struct drv__bucket *b = drv__bucket_of(t, c->intended);
        t->st.sent++;
        b->sent++;
        t->st.injected += (uint64_t)c->req->injected;
        if (!t->run->o.closed_loop) {
            uint64_t d = since_due(c, now);
            record_us(&t->sdel, d);
            t->st.late += d > t->run->o.late_ns;
            b->late += d > t->run->o.late_ns;
        }
    }
    c->sent_at = now;
    t->last_send_ns = now;
    c->state = C_BUSY;
    c->woff = 0;
    c->got = 0;
    driver_http_reset(&c->http, c->req->head);
    write_some(c);
}

/* Opens slot c; with a request attached it is sent once connected. */
static void conn_open(struct drv__conn *c, uint64_t now)
{
    struct drv__thread *t = c->t;
    int bad = drv__connect(c, t->run->ai) < 0;
    if (!bad && t->run->ssl && !(c->ssl = drv__tls_new(t->run->ssl, c->fd, t->run->o.url.host))) {
        drv__sock_plain.close(c);
        bad = 1;
    }
    if (bad) {
        if (c->req)
            count_error(c, &t->st.connect_errors);
        detach(c);
        return;
    }
    c->state = C_CONNECTING;
    c->events = EPOLLIN | EPOLLOUT;
    c->sent_at = now; /* the connect timeout runs from here */
    struct epoll_event e = {.events = c->events, .data.ptr = c};
    epoll_ctl(t->ep, EPOLL_CTL_ADD, c->fd, &e);
    if (++t->nopen > t->st.max_open)
        t->st.max_open = t->nopen;
}

static void on_connect(struct drv__conn *c, uint64_t now)
{
    int rc = sock_of(c->t)->handshake(c);
    if (rc == DRV_IO_OK) {
        if (c->req)
            start_write(c, now);
        else
            make_idle(c);
        return;
    }
    if (rc == DRV_IO_AGAIN_READ || rc == DRV_IO_AGAIN_WRITE) {
        c->state = C_HANDSHAKE;
        set_events(c, rc == DRV_IO_AGAIN_READ ? EPOLLIN : EPOLLOUT);
        return;
    }
    /* Only a request's failure counts: a spare connection that failed costs nobody a
     * response (the next request through this slot will meet the same error and count). */
    if (c->req)
        count_error(c, &c->t->st.connect_errors);
    detach(c);
    conn_close(c);
}

/* A kept-alive connection the server closed before answering: send again on a new one, once
 * (not an error: every HTTP client does this). */
static int try_resend(struct drv__conn *c, uint64_t now)
{
    if (!c->req || !c->served || c->got || c->retried)
        return 0;
    conn_close(c);
    c->retried = 1;
    conn_open(c, now);
    return 1;
}

static void on_eof(struct drv__conn *c, uint64_t now)
{
    if (c->state == C_BUSY && c->woff == c->req->len && driver_http_eof(&c->http)) {
        complete(c, now);
        return;
    }
    if (c->state == C_BUSY && try_resend(c, now))
        return;
    fail(c, &c->t->st.read_errors);
}

static void on_readable(struct drv__conn *c, uint64_t now)
{
    struct drv__thread *t = c->t;
    do {
        size_t n = 0, used = 0;
        int rc = sock_of(t)->read(c, t->rbuf, sizeof t->rbuf, &n);
        if (rc == DRV_IO_AGAIN_READ || rc == DRV_IO_AGAIN_WRITE)
            return;
        if (rc == DRV_IO_EOF)
            return on_eof(c, now);
        if (rc == DRV_IO_ERROR)
            return try_resend(c, now) ? (void)0 : fail(c, &t->st.read_errors);
        t->st.bytes_read += n;
        if (c->state != C_BUSY) /* bytes nobody asked for: drop the connection */
            return fail(c, &t->st.read_errors);
        c->got += n;
        rc = driver_http_feed(&c->http, t->rbuf, n, &used);
        if (rc < 0 || (rc == 1 && used < n))
            return fail(c, &t->st.read_errors);
        if (rc == 1)
            return complete(c, core_mono_ns());
    } while (c->state == C_BUSY && sock_of(t)->readable(c));
}

static void on_event(struct drv__conn *c, uint32_t ev, uint64_t now)
{
    if (c->state == C_CONNECTING || c->state == C_HANDSHAKE) {
        on_connect(c, now);
        return;
    }
    if (c->state == C_BUSY && (ev & EPOLLOUT) && c->woff < c->req->len) {
        write_some(c);
        if (c->state != C_BUSY)
            return;
    }
    if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP))
        on_readable(c, now);
}

/* ---- scheduling ------------------------------------------------------------------------ */

static void sched_next(struct drv__thread *t)
{
    const struct driver_opts *o = &t->run->o;
    uint64_t off = driver_schedule_time(&o->sched, o->poisson ? t->u : (double)t->k);
    t->next_intended = off == UINT64_MAX ? UINT64_MAX : t->run->start_ns + off;
}

static void sched_advance(struct drv__thread *t)
{
    t->k += (uint64_t)t->run->nthreads;
    if (t->run->o.poisson)
        t->u += core_rng_exp(&t->rng, (double)t->run->nthreads);
    sched_next(t);
}

static struct drv__conn *free_conn(struct drv__thread *t)
{
    if (t->nidle)
        return &t->conns[t->idle[--t->nidle]];
    if (t->nopen >= t->cap)
        return NULL;
    for (int i = 0; i < t->cap; i++)
        if (t->conns[i].state == C_CLOSED)
            return &t->conns[i];
    return NULL;
}

static void dispatch(struct drv__conn *c, const struct driver_req *req, uint64_t k,
                     uint64_t intended, uint64_t now)
{
    struct drv__thread *t = c->t;
    c->req = req;
    c->k = k;
    c->intended = intended;
    c->hold_ns = (uint64_t)req->client_delay_ms * 1000000ULL;
    c->retried = 0;
    t->nbusy++;
    if (!t->run->o.closed_loop && t->starved)
        t->st.conn_waits++;
    else if (!t->run->o.closed_loop)
        record_us(&t->jit, since_due(c, now));
    if (c->state == C_IDLE)
        start_write(c, now);
    else
        conn_open(c, now);
}

#define HELD_CAP 65536

/* Held requests whose delay is over go first: they are the oldest. 0, or -1 when one is due
 * and no connection is free. */
static int send_held(struct drv__thread *t, uint64_t now)
{
    while (t->held_n) {
        struct drv__held *h = &t->held[t->held_head];
        if (h->intended + (uint64_t)h->req->client_delay_ms * 1000000ULL > now)
            return 0;
        struct drv__conn *c = free_conn(t);
        if (!c)
            return -1;
        dispatch(c, h->req, h->k, h->intended, now);
        t->held_head = (t->held_head + 1) % HELD_CAP;
        t->held_n--;
    }
    return 0;
}

static void hold(struct drv__thread *t, const struct driver_req *req)
{
    if (!t->held)
        t->held = core_malloc(HELD_CAP * sizeof *t->held);
    if (t->held_n == HELD_CAP) {
        t->st.dropped++;
        return;
    }
    t->held[(t->held_head + t->held_n++) % HELD_CAP] =
        (struct drv__held){t->k, t->next_intended, req};
}

static void send_due(struct drv__thread *t, uint64_t now)
{
    const struct driver_run *r = t->run;
    if (r->o.closed_loop) {
        while (t->nidle) {
            struct drv__conn *c = &t->conns[t->idle[--t->nidle]];
            dispatch(c, drv__reqs_pick(&r->reqs, r->o.seed, t->k), t->k, now, now);
            t->k += (uint64_t)r->nthreads;
        }
        return;
    }
    int held_starved = send_held(t, now) < 0;
    while (t->next_intended <= now) {
        const struct driver_req *req = drv__reqs_pick(&r->reqs, r->o.seed, t->k);
        struct drv__conn *c = NULL;
        if (req->client_delay_ms)
            hold(t, req);
        else if ((c = free_conn(t)))
            dispatch(c, req, t->k, t->next_intended, now);
        else {
            t->starved = 1; /* until the backlog is gone, sends wait for the target */
            return;
        }
        sched_advance(t);
        now = core_mono_ns();
    }
    t->starved = held_starved;
}

/* Closed loop: keep every slot open (failed connects retry once per tick, not in a spin). */
static void refill(struct drv__thread *t, uint64_t now)
{
    for (int i = 0; i < t->cap && t->run->o.closed_loop; i++)
        if (t->conns[i].state == C_CLOSED)
            conn_open(&t->conns[i], now);
}

/* The sending phase is over: whatever was due and not sent is dropped. After a stop signal
 * only what was due by now counts; the rest of the schedule never happened. Held requests
 * are counted by abandon(). */
static void end_sending(struct drv__thread *t, uint64_t now, int stopped)
{
    if (t->run->o.closed_loop)
        return;
    uint64_t until = stopped ? now : t->end_ns;
    while (t->next_intended < until) {
        t->st.dropped++;
        sched_advance(t);
    }
}

static void check_timeouts(struct drv__thread *t, uint64_t now)
{
    uint64_t to = t->run->o.timeout_ns;
    for (int i = 0; i < t->cap; i++) {
        struct drv__conn *c = &t->conns[i];
        if ((c->req || c->state == C_CONNECTING || c->state == C_HANDSHAKE) &&
            now > c->sent_at + to)
            fail(c, c->req ? &t->st.timeouts : &t->st.connect_errors);
    }
}

static void publish(struct drv__thread *t)
{
    pthread_mutex_lock(&t->run->mu);
    t->run->pub[t->id] = t->st;
    pthread_mutex_unlock(&t->run->mu);
}

static void tick(struct drv__thread *t, uint64_t now)
{
    if (now < t->next_tick)
        return;
    check_timeouts(t, now);
    roll_seconds(t, now);
    publish(t);
    t->next_tick = now + TICK_NS;
}

/* The next moment a request must leave: the schedule's next one or the oldest held one, if a
 * connection can take it (otherwise a response will wake us). UINT64_MAX if none. */
static uint64_t next_send(const struct drv__thread *t, int sending)
{
    uint64_t at = UINT64_MAX;
    if (!(t->nidle || t->nopen < t->cap))
        return at;
    if (sending)
        at = t->next_intended;
    if (t->held_n) {
        const struct drv__held *h = &t->held[t->held_head];
        uint64_t due = h->intended + (uint64_t)h->req->client_delay_ms * 1000000ULL;
        at = due < at ? due : at;
    }
    if (t->run->start_ns > at)
        at = t->run->start_ns;
    return at;
}

/* Sleeps until SPIN_NS before the next send, then polls until it is due: a sleep overshoots
 * by tens of microseconds on a VM, the poll by a few. */
static int wait_events(struct drv__thread *t, struct epoll_event *ev, int sending, uint64_t now)
{
    uint64_t wake = t->next_tick, at = next_send(t, sending);
    if (at != UINT64_MAX && at - (at > SPIN_NS ? SPIN_NS : at) < wake)
        wake = at > SPIN_NS ? at - SPIN_NS : 0;
    if (t->end_ns > now && t->end_ns < wake)
        wake = t->end_ns;
    if (now < t->run->start_ns && t->run->start_ns - SPIN_NS < wake)
        wake = t->run->start_ns - SPIN_NS;
    uint64_t d = wake > now ? wake - now : 0;
    struct timespec ts = {(time_t)(d / 1000000000ULL), (long)(d % 1000000000ULL)};
    int n = epoll_pwait2(t->ep, ev, MAX_EVENTS, &ts, NULL);
    return n < 0 ? 0 : n;
}

/* Requests still out when the loop ends: sent ones are unfinished, others never left. */
static void abandon(struct drv__thread *t)
{
    t->st.dropped += t->held_n;
    t->held_n = 0;
    core_free(t->held);
    for (int i = 0; i < t->cap; i++) {
        struct drv__conn *c = &t->conns[i];
        if (c->req)
            (*(c->state == C_BUSY ? &t->st.unfinished : &t->st.dropped))++;
        detach(c);
        conn_close(c);
    }
}

static void thread_init(struct drv__thread *t)
{
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    t->ep = epoll_create1(EPOLL_CLOEXEC);
    t->conns = core_calloc((size_t)t->cap, sizeof *t->conns);
    t->idle = core_calloc((size_t)t->cap, sizeof *t->idle);
    for (int i = 0; i < t->cap; i++) {
        t->conns[i].fd = -1;
        t->conns[i].t = t;
    }
    core_rng_init(&t->rng, t->run->o.seed, (uint64_t)t->id, 0x10ad);
    t->k = (uint64_t)t->id;
    if (t->run->o.poisson)
        t->u = core_rng_exp(&t->rng, (double)t->run->nthreads);
    t->next_intended = UINT64_MAX;
}

/* Connections opened before the start so the first requests do not pay for the connect:
 * open loop min(cap, what the peak rate needs at 2 ms per request), closed loop all. */
static void preopen(struct drv__thread *t, uint64_t now)
{
    const struct driver_opts *o = &t->run->o;
    double need =
        o->closed_loop ? t->cap : 1 + driver_schedule_peak(&o->sched) / t->run->nthreads * 0.002;
    for (int i = 0; i < t->cap && i < (int)need; i++)
        conn_open(&t->conns[i], now);
}

/* Done when the schedule is exhausted and nothing is out or held. Requests due before the
 * end but still waiting for a connection go out late rather than being dropped, until
 * --timeout after the end; then what is left is dropped, and what is out gets its own
 * timeout to finish. A stop signal ends at once (what is out is "unfinished"). */
static int finished(struct drv__thread *t, uint64_t now, int stop)
{
    const struct driver_opts *o = &t->run->o;
    if (stop) {
        end_sending(t, now, 1);
        return 1;
    }
    if (now < t->end_ns)
        return 0;
    if (!t->closing && now >= t->end_ns + o->timeout_ns + o->client_delay_ns) {
        end_sending(t, now, 0);
        t->st.dropped += t->held_n;
        t->held_n = 0;
        t->closing = 1;
    }
    return t->nbusy == 0 && t->held_n == 0 && (o->closed_loop || t->next_intended == UINT64_MAX);
}

static void loop(struct drv__thread *t)
{
    struct driver_run *r = t->run;
    struct epoll_event ev[MAX_EVENTS];
    for (;;) {
        uint64_t now = core_mono_ns();
        if (finished(t, now, *r->o.stop != 0))
            return;
        int sending = r->o.closed_loop ? now < t->end_ns : !t->closing;
        if (sending && now >= r->start_ns)
            send_due(t, now);
        int n = wait_events(t, ev, sending, now);
        now = core_mono_ns();
        for (int i = 0; i < n; i++)
            on_event(ev[i].data.ptr, ev[i].events, now);
        if (sending)
            refill(t, now);
        tick(t, now);
    }
}

void *drv__thread_main(void *arg)
{
    struct drv__thread *t = arg;
    struct driver_run *r = t->run;
    thread_init(t);
    t->end_ns = r->start_ns + (r->o.closed_loop ? r->o.duration_ns : r->o.sched.total_ns);
    if (!r->o.closed_loop)
        sched_next(t);
    t->next_tick = core_mono_ns() + TICK_NS;
    preopen(t, core_mono_ns());
    loop(t);
    abandon(t);
    uint64_t now = core_mono_ns();
    roll_seconds(t, now);
    pthread_mutex_lock(&r->mu);
    core_hdr_merge(&r->cum, &t->live);
    pthread_mutex_unlock(&r->mu);
    while (t->sec <= t->sec_max) /* the seconds still open, the last one maybe partial */
        drv__flush_second(t);
    pthread_mutex_lock(&r->mu);
    r->pub[t->id] = t->st;
    r->finished++;
    r->tfin[t->id] = 1;
    /* the sending phase: the schedule's length, or longer when late requests went out after
     * it (so the achieved rate is what the target really got), or shorter after a stop */
    uint64_t send_end = now < t->end_ns ? now : t->end_ns;
    if (t->last_send_ns > send_end)
        send_end = t->last_send_ns;
    if (send_end > r->send_end_ns)
        r->send_end_ns = send_end;
    pthread_mutex_unlock(&r->mu);
    close(t->ep);
    core_free(t->conns);
    core_free(t->idle);
    return NULL;
}
