/* driver: a run — starting the threads, the shared timeline, progress, results.
 *
 * The timeline is by intended send time: second s holds the requests due in [s, s+1),
 * however late they went out or finished. Each thread keeps a ring of nbuckets open seconds
 * and hands second s in once nothing due in it can still finish (s + 1 s + hold_ns: twice
 * --timeout, for the wait for a connection and the response, plus --client-delay). The run
 * gathers the hand-ins in a ring of nring slots, and the polling thread takes a second once
 * every thread has handed it in or returned. Memory stays bounded whatever the run's length:
 * the timeline keeps at most TIMELINE_CAP entries and halves its resolution (merging
 * neighbours) when full; nbuckets is capped at MAX_BUCKETS (a response later than that is
 * charted in the oldest second still open). Progress figures (r->cum) are by completion time,
 * merged by the threads once a wall second. */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

#include "driver/internal.h"

#define TIMELINE_CAP 1200
#define MAX_BUCKETS 64
#define HDR_INIT(h) core_hdr_init((h), 1, DRV_HDR_MAX_US, 3)
/* per route and per timeline second: 2 significant digits keep 64 routes x many threads and
 * nbuckets x threads small (~26 KB each) */
#define HDR_INIT_SMALL(h) core_hdr_init((h), 1, DRV_HDR_MAX_US, 2)
#define HDR_INIT_ROUTE(h) HDR_INIT_SMALL(h)

static struct driver_route_result *routes_new(int n)
{
    if (n <= 0)
        return NULL;
    struct driver_route_result *rr = core_calloc((size_t)n, sizeof *rr);
    for (int i = 0; i < n; i++)
        HDR_INIT_ROUTE(&rr[i].latency);
    return rr;
}

static void routes_free(struct driver_route_result *rr, int n)
{
    for (int i = 0; rr && i < n; i++)
        core_hdr_free(&rr[i].latency);
    core_free(rr);
}

/* Sums the threads' per-route results into res->routes. */
static void routes_merge(struct driver_run *r, struct driver_result *res)
{
    res->nroutes = r->o.nroutes;
    res->routes = routes_new(r->o.nroutes);
    for (int i = 0; i < r->nthreads; i++)
        for (int k = 0; k < res->nroutes; k++) {
            const struct driver_route_result *s = &r->threads[i].rst[k];
            res->routes[k].requests += s->requests;
            res->routes[k].errors += s->errors;
            core_hdr_merge(&res->routes[k].latency, &s->latency);
        }
}

static void bucket_reset(struct drv__bucket *b)
{
    core_hdr_reset(&b->h);
    b->sent = b->done = b->errors = b->late = 0;
}

static void bucket_merge(struct drv__bucket *d, const struct drv__bucket *s)
{
    core_hdr_merge(&d->h, &s->h);
    d->sent += s->sent, d->done += s->done, d->errors += s->errors, d->late += s->late;
}

struct drv__bucket *drv__bucket_of(struct drv__thread *t, uint64_t intended)
{
    const struct driver_run *r = t->run;
    uint64_t s = intended > r->start_ns ? (intended - r->start_ns) / 1000000000ULL : 0;
    if (s < t->sec) /* finished later than the hold: the oldest open second takes it */
        s = t->sec;
    if (s >= t->sec + (uint64_t)r->nbuckets) /* cannot happen: due times are in the past */
        s = t->sec + (uint64_t)r->nbuckets - 1;
    if (s > t->sec_max)
        t->sec_max = s;
    return &t->tb[s % (uint64_t)r->nbuckets];
}

void drv__record_latency(struct drv__thread *t, uint64_t intended, int64_t us)
{
    core_hdr_record(&t->lat, us);
    core_hdr_record(&t->live, us);
    struct drv__bucket *b = drv__bucket_of(t, intended);
    core_hdr_record(&b->h, us);
    b->done++;
}

void drv__flush_second(struct drv__thread *t)
{
    struct driver_run *r = t->run;
    struct drv__bucket *b = &t->tb[t->sec % (uint64_t)r->nbuckets];
    pthread_mutex_lock(&r->mu);
    struct drv__slot *s = &r->ring[t->sec % (uint64_t)r->nring];
    if (!s->flushed)
        s->sec = t->sec;
    /* A slot still holding an older second means the poller fell nring seconds behind;
     * the data is merged into it rather than lost (it shows in a later second). */
    bucket_merge(&s->b, b);
    s->flushed++;
    r->tsec[t->id] = ++t->sec;
    pthread_mutex_unlock(&r->mu);
    bucket_reset(b);
}

static int resolve(struct driver_run *r, char *err, size_t errn)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    int rc = getaddrinfo(r->o.url.host, r->o.url.port, &hints, &r->ai);
    if (rc) {
        snprintf(err, errn, "%s: %s", r->o.url.host, gai_strerror(rc));
        return -1;
    }
    return 0;
}

static int tls_init(struct driver_run *r, char *err, size_t errn)
{
    if (!r->o.url.tls)
        return 0;
    r->ssl = SSL_CTX_new(TLS_client_method());
    if (!r->ssl) {
        snprintf(err, errn, "TLS: %s", ERR_reason_error_string(ERR_get_error()));
        return -1;
    }
    /* Like wrk: the certificate is not verified; a load test measures, it does not trust. */
    SSL_CTX_set_verify(r->ssl, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_mode(r->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_session_cache_mode(r->ssl, SSL_SESS_CACHE_OFF);
    return 0;
}

/* How long after its second a request due in it may still finish: --timeout waiting for a
 * connection after the schedule, --timeout for the response, the --client-delay hold. */
static void buckets_size(struct driver_run *r)
{
    r->hold_ns = 2 * r->o.timeout_ns + r->o.client_delay_ns;
    uint64_t n = r->hold_ns / 1000000000ULL + 3;
    r->nbuckets = n > MAX_BUCKETS ? MAX_BUCKETS : (int)n;
    r->nring = r->nbuckets + 8;
}

static void threads_init(struct driver_run *r)
{
    buckets_size(r);
    int n = r->nthreads = r->o.threads;
    r->threads = core_calloc((size_t)n, sizeof *r->threads);
    r->pub = core_calloc((size_t)n, sizeof *r->pub);
    r->tsec = core_calloc((size_t)n, sizeof *r->tsec);
    r->tfin = core_calloc((size_t)n, sizeof *r->tfin);
    for (int i = 0; i < n; i++) {
        struct drv__thread *t = &r->threads[i];
        t->run = r;
        t->id = i;
        t->cap = r->o.connections / n + (i < r->o.connections % n);
        HDR_INIT(&t->lat);
        HDR_INIT(&t->jit);
        HDR_INIT(&t->sdel);
        t->rst = routes_new(r->o.nroutes);
        HDR_INIT(&t->live);
        t->tb = core_calloc((size_t)r->nbuckets, sizeof *t->tb);
        for (int k = 0; k < r->nbuckets; k++)
            HDR_INIT_SMALL(&t->tb[k].h);
    }
    r->ring = core_calloc((size_t)r->nring, sizeof *r->ring);
    for (int i = 0; i < r->nring; i++)
        HDR_INIT_SMALL(&r->ring[i].b.h);
    HDR_INIT(&r->cum);
    HDR_INIT_SMALL(&r->acc);
    r->timeline = core_calloc(TIMELINE_CAP, sizeof *r->timeline);
    r->width = 1;
}

struct driver_run *driver_start(const struct driver_opts *o, char *err, size_t errn)
{
    struct driver_run *r = core_calloc(1, sizeof *r);
    r->o = *o;
    if (!r->o.corpus) {
        driver_corpus_builtin(&r->builtin);
        r->o.corpus = &r->builtin;
    }
    if (r->o.threads < 1 || r->o.connections < r->o.threads) {
        snprintf(err, errn, "need at least one connection per thread (-c >= -t)");
        goto fail;
    }
    if (resolve(r, err, errn) || tls_init(r, err, errn))
        goto fail;
    drv__reqs_build(&r->o, &r->reqs, err, errn);
    pthread_mutex_init(&r->mu, NULL);
    threads_init(r);
    r->start_ns = core_mono_ns() + 50000000ULL; /* time to open the first connections */
    for (int i = 0; i < r->nthreads; i++)
        pthread_create(&r->threads[i].th, NULL, drv__thread_main, &r->threads[i]);
    return r;
fail:
    if (r->ai)
        freeaddrinfo(r->ai);
    if (r->ssl)
        SSL_CTX_free(r->ssl);
    driver_corpus_free(&r->builtin);
    core_free(r);
    return NULL;
}

/* ---- timeline (polling thread only, with mu held) --------------------------------------- */

static void halve_timeline(struct driver_run *r)
{
    size_t n = r->ntimeline / 2;
    for (size_t i = 0; i < n; i++) {
        struct driver_second *a = &r->timeline[2 * i], *b = &r->timeline[2 * i + 1];
        struct driver_second m = *a;
        m.sent += b->sent, m.done += b->done, m.errors += b->errors, m.late += b->late;
        m.width += b->width;
        /* the exact percentiles of the pair are gone: keep the middle ones' mean and the
         * tail's worst, so a spike never disappears from the chart */
        m.p50 = (a->p50 + b->p50) / 2, m.p90 = (a->p90 + b->p90) / 2;
        m.p99 = a->p99 > b->p99 ? a->p99 : b->p99;
        m.max = a->max > b->max ? a->max : b->max;
        r->timeline[i] = m;
    }
    if (r->ntimeline % 2)
        r->timeline[n++] = r->timeline[r->ntimeline - 1];
    r->ntimeline = n;
    r->width *= 2;
}

static void emit(struct driver_run *r)
{
    if (r->ntimeline == TIMELINE_CAP)
        halve_timeline(r);
    struct driver_second *e = &r->timeline[r->ntimeline++];
    *e = r->accs;
    e->width = r->acc_n;
    e->p50 = core_hdr_value_at(&r->acc, 50);
    e->p90 = core_hdr_value_at(&r->acc, 90);
    e->p99 = core_hdr_value_at(&r->acc, 99);
    e->max = r->acc.total ? r->acc.max : 0;
    core_hdr_reset(&r->acc);
    memset(&r->accs, 0, sizeof r->accs);
    r->acc_n = 0;
}

static int second_ready(const struct driver_run *r, uint64_t sec)
{
    for (int i = 0; i < r->nthreads; i++)
        if (r->tsec[i] <= sec && !r->tfin[i])
            return 0;
    return 1;
}

static void take_seconds(struct driver_run *r)
{
    uint64_t last = 0;
    for (int i = 0; i < r->nthreads; i++)
        last = r->tsec[i] > last ? r->tsec[i] : last;
    while (r->next_sec < last && second_ready(r, r->next_sec)) {
        struct drv__slot *s = &r->ring[r->next_sec % (uint64_t)r->nring];
        if (r->acc_n == 0)
            r->accs.t_s = (double)r->next_sec;
        core_hdr_merge(&r->acc, &s->b.h);
        r->accs.sent += s->b.sent, r->accs.done += s->b.done;
        r->accs.errors += s->b.errors, r->accs.late += s->b.late;
        bucket_reset(&s->b);
        s->flushed = 0;
        r->next_sec++;
        if (++r->acc_n == r->width)
            emit(r);
    }
}

static void sum_stats(struct drv__stats *d, const struct drv__stats *s)
{
    const uint64_t *a = (const uint64_t *)s;
    uint64_t *b = (uint64_t *)d;
    /* every field but the trailing int max_open is a uint64_t counter */
    for (size_t i = 0; i < offsetof(struct drv__stats, max_open) / sizeof(uint64_t); i++)
        b[i] += a[i];
    d->max_open += s->max_open;
}

int driver_poll(struct driver_run *r, struct driver_progress *p)
{
    struct drv__stats tot = {0};
    pthread_mutex_lock(&r->mu);
    take_seconds(r);
    for (int i = 0; i < r->nthreads; i++)
        sum_stats(&tot, &r->pub[i]);
    int running = r->finished < r->nthreads;
    int64_t p50 = core_hdr_value_at(&r->cum, 50), p99 = core_hdr_value_at(&r->cum, 99);
    pthread_mutex_unlock(&r->mu);
    uint64_t now = core_mono_ns();
    memset(p, 0, sizeof *p);
    p->elapsed_s = now > r->start_ns ? (double)(now - r->start_ns) / 1e9 : 0;
    p->sent = tot.sent, p->done = tot.requests, p->errors = tot.errors, p->late = tot.late;
    p->p50_us = p50;
    p->p99_us = p99;
    p->connections = tot.max_open;
    return running;
}

static void fill_result(struct driver_run *r, struct driver_result *res)
{
    struct drv__stats tot = {0};
    memset(res, 0, sizeof *res);
    HDR_INIT(&res->latency);
    HDR_INIT(&res->jitter);
    HDR_INIT(&res->send_delay);
    for (int i = 0; i < r->nthreads; i++) {
        sum_stats(&tot, &r->pub[i]);
        core_hdr_merge(&res->latency, &r->threads[i].lat);
        core_hdr_merge(&res->jitter, &r->threads[i].jit);
        core_hdr_merge(&res->send_delay, &r->threads[i].sdel);
    }
    res->sent = tot.sent, res->requests = tot.requests, res->errors = tot.errors;
    res->late = tot.late, res->dropped = tot.dropped, res->unfinished = tot.unfinished;
    res->connect_errors = tot.connect_errors, res->timeouts = tot.timeouts;
    res->read_errors = tot.read_errors, res->write_errors = tot.write_errors;
    memcpy(res->status, tot.status, sizeof res->status);
    memcpy(res->status_codes, tot.status_codes, sizeof res->status_codes);
    res->bytes_read = tot.bytes_read, res->bytes_written = tot.bytes_written;
    res->injected = tot.injected, res->conn_waits = tot.conn_waits;
    routes_merge(r, res);
    res->max_connections = tot.max_open;
    uint64_t now = core_mono_ns();
    res->send_seconds =
        r->send_end_ns > r->start_ns ? (double)(r->send_end_ns - r->start_ns) / 1e9 : 0;
    res->wall_seconds = now > r->start_ns ? (double)(now - r->start_ns) / 1e9 : 0;
    res->stopped = *r->o.stop != 0;
}

/* The last entry covers only what was left of the schedule (a stop, or a length that is not
 * whole seconds): its width says so, so rates per second stay right. */
static void clip_timeline(const struct driver_run *r, struct driver_result *res)
{
    uint64_t planned = r->o.closed_loop ? r->o.duration_ns : r->o.sched.total_ns;
    double end_s = (double)planned / 1e9;
    if (res->stopped && res->send_seconds < end_s)
        end_s = res->send_seconds;
    for (size_t i = 0; i < res->ntimeline; i++) {
        struct driver_second *e = &res->timeline[i];
        if (e->t_s + e->width > end_s && end_s > e->t_s)
            e->width = end_s - e->t_s;
    }
}

void driver_finish(struct driver_run *r, struct driver_result *res)
{
    for (int i = 0; i < r->nthreads; i++)
        pthread_join(r->threads[i].th, NULL);
    pthread_mutex_lock(&r->mu);
    take_seconds(r);
    if (r->acc_n)
        emit(r);
    pthread_mutex_unlock(&r->mu);
    fill_result(r, res);
    res->timeline = r->timeline;
    res->ntimeline = r->ntimeline;
    clip_timeline(r, res);
    for (int i = 0; i < r->nthreads; i++) {
        core_hdr_free(&r->threads[i].lat);
        core_hdr_free(&r->threads[i].jit);
        core_hdr_free(&r->threads[i].sdel);
        routes_free(r->threads[i].rst, r->o.nroutes);
        core_hdr_free(&r->threads[i].live);
        for (int k = 0; k < r->nbuckets; k++)
            core_hdr_free(&r->threads[i].tb[k].h);
        core_free(r->threads[i].tb);
    }
    for (int i = 0; i < r->nring; i++)
        core_hdr_free(&r->ring[i].b.h);
    core_free(r->ring);
    core_hdr_free(&r->cum);
    core_hdr_free(&r->acc);
    pthread_mutex_destroy(&r->mu);
    drv__reqs_free(&r->reqs);
    driver_corpus_free(&r->builtin);
    freeaddrinfo(r->ai);
    if (r->ssl)
        SSL_CTX_free(r->ssl);
    core_free(r->threads), core_free(r->pub), core_free(r->tsec), core_free(r->tfin);
    core_free(r);
}

void driver_result_free(struct driver_result *res)
{
    core_hdr_free(&res->latency);
    core_hdr_free(&res->jitter);
    core_hdr_free(&res->send_delay);
    routes_free(res->routes, res->nroutes);
    res->routes = NULL;
    core_free(res->timeline);
    res->timeline = NULL;
}
