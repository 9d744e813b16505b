/* The hub: batch pools, per-output queues, reference counts and delivery accounting.
 *
 * Layout. Per signal there is one pool of at most cfg.queue_batches batches, allocated lazily
 * (a run that never fills its queues never pays for them) and then recycled for the whole
 * run. A batch the engine submits gets one reference per threaded output and is pushed on each
 * of their rings; the last output to release it resets it and puts it back on the free stack.
 * Inline outputs (null) see the batch during export_hub_submit, before any thread can touch
 * it. Every ring can hold the whole pool, so a push never fails and submit never blocks:
 * back-pressure happens in export_hub_batch, when the pool is empty.
 *
 * Full pool. With block_when_full the engine waits there for a batch to come back. Without
 * it the hub first drops the oldest batch still queued (not yet picked up) for the output
 * with the longest queue, counted as dropped(queue_full) for that output only, so one stalled
 * output does not starve the others; only when nothing can be reclaimed that way does the
 * engine get NULL (and counts its records with export_hub_drop for every output).
 *
 * Batch timeouts are the engine's job: it submits partial batches when they are older than
 * cfg.batch_timeout_ns (rec_batch.created_ns); the hub has no timer.
 *
 * Locking. One mutex guards pools, rings and the stopping flag; it is held for a few pointer
 * moves per batch (a batch is ~1000 records), never while encoding or sending. Counters are
 * atomics: `generated` is bumped before a batch becomes visible to an output, and outcomes
 * (delivered, dropped, timed_out) use release order, so export_hub_stats reads outcomes first
 * and `generated` last and derives in_flight = generated - delivered - dropped - timed_out >= 0. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "export/internal.h"

const char *const export_drop_reason_names[EXPORT_DROP_NREASONS] = {
    "queue_full", "rejected", "retries", "shutdown", "encode", "io",
};

static const uint32_t default_batch_size[REC_NSIGNALS] = {1024, 4096, 1024};

struct pool {
    struct rec_batch **all; /* [cap]; NULL until first needed */
    uint32_t *refs;         /* outputs still holding each slot */
    uint32_t *free;         /* stack of free slots */
    uint32_t nfree, nalloc, cap;
};

struct export_hub {
    struct export_hub_cfg cfg;
    struct export_output **outs;
    size_t nouts;
    pthread_mutex_t mu;
    pthread_cond_t pool_cv; /* a batch came back to a pool, or stopping */
    pthread_cond_t work_cv; /* something was queued, or stopping (export__wait) */
    struct pool pool[REC_NSIGNALS];
    uint64_t seq;
    int started;
    int stopping;
    int shut;
    uint64_t deadline_ns;
};

/* ---- outputs' common part ------------------------------------------------------------------ */

void export__output_init(struct export_output *o, const struct export_output_ops *ops,
                         int verify_attrs)
{
    o->ops = ops;
    snprintf(o->name, sizeof o->name, "%s", ops->kind);
    o->verify_attrs = verify_attrs;
    o->signals = (1u << REC_NSIGNALS) - 1;
    pthread_mutex_init(&o->lat_mu, NULL);
    for (int s = 0; s < REC_NSIGNALS; s++) {
        /* 1 us .. 10 min: requests slower than that are clamped, not lost. */
        if (core_hdr_init(&o->lat[s], 1, 600LL * 1000 * 1000, 3) != 0)
            core_error("export: cannot set up the latency histogram");
    }
}

void export__output_fini(struct export_output *o)
{
    for (int s = 0; s < REC_NSIGNALS; s++) {
        core_hdr_free(&o->lat[s]);
        core_free(o->q[s].v);
    }
    pthread_mutex_destroy(&o->lat_mu);
}

const char *export_output_name(const struct export_output *o)
{
    return o->name;
}

unsigned export_output_signals(const struct export_output *o)
{
    return o->signals;
}

void export_output_free(struct export_output *o)
{
    if (o)
        o->ops->destroy(o);
}

void export__latency(struct export_output *o, int s, uint64_t ns)
{
    int64_t us = (int64_t)(ns / 1000);
    pthread_mutex_lock(&o->lat_mu);
    core_hdr_record(&o->lat[s], us < 1 ? 1 : us);
    pthread_mutex_unlock(&o->lat_mu);
}

int export__thread_create(pthread_t *t, void *(*fn)(void *), void *arg)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(t, NULL, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc == 0 ? 0 : DIO_ENOMEM;
}

/* ---- rings and pools (hub mutex held) ------------------------------------------------------ */

static void ring_push(struct export__ring *r, const struct export__item *it)
{
    r->v[(r->head + r->len) % r->cap] = *it;
    r->len++;
}

static struct export__item ring_pop(struct export__ring *r)
{
    struct export__item it = r->v[r->head];
    r->head = (r->head + 1) % r->cap;
    r->len--;
    return it;
}

static int find_slot(const struct pool *p, const struct rec_batch *b, uint32_t *slot)
{
    for (uint32_t i = 0; i < p->nalloc; i++) {
        if (p->all[i] == b) {
            *slot = i;
            return 1;
        }
    }
    return 0;
}

static void recycle(struct export_hub *h, int s, uint32_t slot)
{
    struct pool *p = &h->pool[s];
    rec_batch_reset(p->all[slot]);
    p->free[p->nfree++] = slot;
    pthread_cond_signal(&h->pool_cv);
}

static void unref(struct export_hub *h, const struct export__item *it)
{
    int s = it->b->signal;
    if (--h->pool[s].refs[it->slot] == 0)
        recycle(h, s, it->slot);
}

/* Drop mode, pool empty: drop the oldest queued batch of the longest ring until one batch
 * returns to the pool. 1 if one did. */
static int reclaim(struct export_hub *h, int s)
{
    for (;;) {
        struct export_output *victim = NULL;
        for (size_t i = 0; i < h->nouts; i++) {
            struct export_output *o = h->outs[i];
            if (o->q[s].len > 0 && (!victim || o->q[s].len > victim->q[s].len))
                victim = o;
        }
        if (!victim)
            return 0;
        struct export__item it = ring_pop(&victim->q[s]);
        export__dropped(victim, s, it.b->n, EXPORT_DROP_QUEUE_FULL);
        unref(h, &it);
        if (h->pool[s].nfree > 0)
            return 1;
    }
}

static struct rec_batch *new_batch(const struct export_hub *h, int s)
{
    uint32_t cap = h->cfg.batch_size[s];
    uint32_t buckets = s == REC_METRICS ? 16 : 0;
    uint32_t strs = s == REC_METRICS ? 16 : 128;
    return rec_batch_new(s, cap, 16, buckets, strs);
}

/* ---- hub ------------------------------------------------------------------------------------ */

struct export_hub *export_hub_new(const struct export_hub_cfg *cfg, struct export_output **outs,
                                  size_t nouts)
{
    struct export_hub *h = core_calloc(1, sizeof *h);
    h->cfg = *cfg;
    if (h->cfg.queue_batches == 0)
        h->cfg.queue_batches = 64;
    if (h->cfg.batch_timeout_ns == 0)
        h->cfg.batch_timeout_ns = 1000000000ULL;
    for (int s = 0; s < REC_NSIGNALS; s++) {
        if (h->cfg.batch_size[s] == 0)
            h->cfg.batch_size[s] = default_batch_size[s];
        struct pool *p = &h->pool[s];
        p->cap = h->cfg.queue_batches;
        p->all = core_calloc(p->cap, sizeof *p->all);
        p->refs = core_calloc(p->cap, sizeof *p->refs);
        p->free = core_calloc(p->cap, sizeof *p->free);
    }
    pthread_mutex_init(&h->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->pool_cv, &ca);
    pthread_cond_init(&h->work_cv, &ca);
    pthread_condattr_destroy(&ca);

    h->outs = core_calloc(nouts ? nouts : 1, sizeof *h->outs);
    h->nouts = nouts;
    for (size_t i = 0; i < nouts; i++) {
        struct export_output *o = outs[i];
        h->outs[i] = o;
        o->hub = h;
        for (int s = 0; s < REC_NSIGNALS; s++) {
            o->q[s].cap = h->cfg.queue_batches;
            o->q[s].v = core_calloc(o->q[s].cap, sizeof *o->q[s].v);
        }
        /* Two outputs of one kind get distinct names ("otlp_http", "otlp_http_2"): the name
         * is the `output` label of the self-metrics. */
        int same = 1;
        for (size_t j = 0; j < i; j++)
            same += h->outs[j]->ops == o->ops;
        if (same > 1)
            snprintf(o->name, sizeof o->name, "%s_%d", o->ops->kind, same);
    }
    return h;
}

int export_hub_start(struct export_hub *h)
{
    for (size_t i = 0; i < h->nouts; i++) {
        struct export_output *o = h->outs[i];
        if (o->ops->start) {
            int rc = o->ops->start(o);
            if (rc != 0)
                return rc;
        }
    }
    h->started = 1;
    return 0;
}

struct rec_batch *export_hub_batch(struct export_hub *h, int signal)
{
    struct pool *p = &h->pool[signal];
    pthread_mutex_lock(&h->mu);
    for (;;) {
        if (h->stopping)
            break;
        if (p->nfree > 0) {
            struct rec_batch *b = p->all[p->free[--p->nfree]];
            pthread_mutex_unlock(&h->mu);
            return b;
        }
        if (p->nalloc < p->cap) {
            /* Reserve the slot, allocate outside the lock (it may be megabytes). */
            uint32_t slot = p->nalloc++;
            pthread_mutex_unlock(&h->mu);
            struct rec_batch *b = new_batch(h, signal);
            pthread_mutex_lock(&h->mu);
            p->all[slot] = b;
            pthread_mutex_unlock(&h->mu);
            return b;
        }
        if (h->cfg.block_when_full)
            pthread_cond_wait(&h->pool_cv, &h->mu);
        else if (!reclaim(h, signal))
            break;
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

static void count_all(struct export_hub *h, int s, uint64_t n, int reason)
{
    for (size_t i = 0; i < h->nouts; i++) {
        if (!export__wants(h->outs[i], s))
            continue;
        export__count(&h->outs[i]->c[s].generated, n);
        export__dropped(h->outs[i], s, n, reason);
    }
}

void export_hub_submit(struct export_hub *h, struct rec_batch *b)
{
    int s = b->signal;
    uint64_t n = b->n;
    uint32_t slot;
    pthread_mutex_lock(&h->mu);
    int ok = find_slot(&h->pool[s], b, &slot);
    int stopping = h->stopping;
    pthread_mutex_unlock(&h->mu);
    if (!ok) {
        core_error("export: a batch that is not from this hub was submitted (ignored)");
        return;
    }
    /* Inline outputs first: once threaded outputs see the batch it may be recycled. */
    for (size_t i = 0; n > 0 && i < h->nouts; i++) {
        struct export_output *o = h->outs[i];
        if (!o->ops->consume || !export__wants(o, s))
            continue;
        export__count(&o->c[s].generated, n);
        if (stopping)
            export__dropped(o, s, n, EXPORT_DROP_SHUTDOWN);
        else
            o->ops->consume(o, b);
    }
    pthread_mutex_lock(&h->mu);
    struct export__item it = {b, h->seq++, slot};
    uint32_t refs = 0;
    for (size_t i = 0; n > 0 && i < h->nouts; i++) {
        struct export_output *o = h->outs[i];
        if (o->ops->consume || !export__wants(o, s))
            continue;
        export__count(&o->c[s].generated, n);
        if (h->stopping) {
            export__dropped(o, s, n, EXPORT_DROP_SHUTDOWN);
        } else {
            ring_push(&o->q[s], &it);
            refs++;
        }
    }
    h->pool[s].refs[slot] = refs;
    if (refs == 0)
        recycle(h, s, slot);
    else
        pthread_cond_broadcast(&h->work_cv);
    pthread_mutex_unlock(&h->mu);
    for (size_t i = 0; refs > 0 && i < h->nouts; i++) {
        if (h->outs[i]->ops->wake)
            h->outs[i]->ops->wake(h->outs[i]);
    }
}

void export_hub_drop(struct export_hub *h, int signal, uint64_t n, int reason)
{
    if (n > 0 && signal >= 0 && signal < REC_NSIGNALS && reason >= 0 &&
        reason < EXPORT_DROP_NREASONS)
        count_all(h, signal, n, reason);
}

void export_hub_shutdown(struct export_hub *h, uint64_t deadline_ns)
{
    pthread_mutex_lock(&h->mu);
    if (h->shut) {
        pthread_mutex_unlock(&h->mu);
        return;
    }
    h->stopping = 1;
    h->deadline_ns = deadline_ns;
    pthread_cond_broadcast(&h->pool_cv);
    pthread_cond_broadcast(&h->work_cv);
    pthread_mutex_unlock(&h->mu);
    for (size_t i = 0; i < h->nouts; i++) {
        struct export_output *o = h->outs[i];
        if (o->ops->wake)
            o->ops->wake(o);
    }
    for (size_t i = 0; i < h->nouts; i++) {
        struct export_output *o = h->outs[i];
        if (o->ops->join)
            o->ops->join(o);
        /* Whatever a thread left queued (or everything, if it never ran). */
        export__drain_dropped(o, EXPORT_DROP_SHUTDOWN);
    }
    pthread_mutex_lock(&h->mu);
    h->shut = 1;
    pthread_mutex_unlock(&h->mu);
}

size_t export_hub_noutputs(const struct export_hub *h)
{
    return h->nouts;
}

const struct export_output *export_hub_output(const struct export_hub *h, size_t i)
{
    return i < h->nouts ? h->outs[i] : NULL;
}

static uint64_t load(const atomic_uint_fast64_t *c)
{
    return atomic_load_explicit((atomic_uint_fast64_t *)c, memory_order_acquire);
}

void export_hub_stats(const struct export_hub *h, size_t output, struct export_stats *out)
{
    memset(out, 0, sizeof *out);
    if (output >= h->nouts)
        return;
    struct export_output *o = h->outs[output];
    for (int s = 0; s < REC_NSIGNALS; s++) {
        const struct export__counters *c = &o->c[s];
        struct export_signal_stats *st = &out->s[s];
        st->delivered = load(&c->delivered);
        for (int r = 0; r < EXPORT_DROP_NREASONS; r++)
            st->dropped[r] = load(&c->dropped[r]);
        st->timed_out = load(&c->timed_out);
        st->generated = load(&c->generated); /* last: see the comment at the top */
        uint64_t done = st->delivered + export_dropped_total(st) + st->timed_out;
        st->in_flight = st->generated > done ? st->generated - done : 0;
        st->retried = load(&c->retried);
        st->requests = load(&c->requests);
        st->failed_requests = load(&c->failed_requests);
        st->bytes = load(&c->bytes);
        pthread_mutex_lock(&o->lat_mu);
        if (o->lat[s].total > 0) {
            st->latency_p50_us = (uint64_t)core_hdr_value_at(&o->lat[s], 50.0);
            st->latency_p99_us = (uint64_t)core_hdr_value_at(&o->lat[s], 99.0);
            st->latency_max_us = (uint64_t)o->lat[s].max;
        }
        pthread_mutex_unlock(&o->lat_mu);
    }
}

void export_hub_free(struct export_hub *h)
{
    if (!h)
        return;
    export_hub_shutdown(h, core_mono_ns());
    for (size_t i = 0; i < h->nouts; i++)
        h->outs[i]->ops->destroy(h->outs[i]);
    for (int s = 0; s < REC_NSIGNALS; s++) {
        struct pool *p = &h->pool[s];
        for (uint32_t i = 0; i < p->nalloc; i++)
            rec_batch_free(p->all[i]);
        core_free(p->all);
        core_free(p->refs);
        core_free(p->free);
    }
    core_free(h->outs);
    pthread_cond_destroy(&h->pool_cv);
    pthread_cond_destroy(&h->work_cv);
    pthread_mutex_destroy(&h->mu);
    core_free(h);
}

/* ---- called by output threads ------------------------------------------------------------- */

int export__take(struct export_output *o, int signal, struct export__item *it)
{
    struct export_hub *h = o->hub;
    int got = 0;
    pthread_mutex_lock(&h->mu);
    int best = -1;
    for (int s = 0; s < REC_NSIGNALS; s++) {
        if ((signal >= 0 && s != signal) || o->q[s].len == 0)
            continue;
        if (best < 0 || o->q[s].v[o->q[s].head].seq < o->q[best].v[o->q[best].head].seq)
            best = s;
    }
    if (best >= 0) {
        *it = ring_pop(&o->q[best]);
        got = 1;
    }
    pthread_mutex_unlock(&h->mu);
    return got;
}

static int has_work(const struct export_output *o)
{
    for (int s = 0; s < REC_NSIGNALS; s++) {
        if (o->q[s].len > 0)
            return 1;
    }
    return 0;
}

void export__wait(struct export_output *o, uint64_t until_ns)
{
    struct export_hub *h = o->hub;
    pthread_mutex_lock(&h->mu);
    while (!has_work(o) && !h->stopping) {
        if (until_ns == 0) {
            pthread_cond_wait(&h->work_cv, &h->mu);
            continue;
        }
        uint64_t now = core_mono_ns();
        if (now >= until_ns)
            break;
        /* Relative to CLOCK_MONOTONIC, whatever clock core_mono_ns reads. */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t abs =
            (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec + (until_ns - now);
        ts.tv_sec = (time_t)(abs / 1000000000ULL);
        ts.tv_nsec = (long)(abs % 1000000000ULL);
        pthread_cond_timedwait(&h->work_cv, &h->mu, &ts);
    }
    pthread_mutex_unlock(&h->mu);
}

void export__release(struct export_output *o, struct export__item *it)
{
    struct export_hub *h = o->hub;
    pthread_mutex_lock(&h->mu);
    unref(h, it);
    pthread_mutex_unlock(&h->mu);
    it->b = NULL;
}

int export__stopping(struct export_output *o, uint64_t *deadline_ns)
{
    struct export_hub *h = o->hub;
    pthread_mutex_lock(&h->mu);
    int st = h->stopping;
    if (deadline_ns)
        *deadline_ns = h->deadline_ns;
    pthread_mutex_unlock(&h->mu);
    return st;
}

void export__drain_dropped(struct export_output *o, int reason)
{
    struct export_hub *h = o->hub;
    pthread_mutex_lock(&h->mu);
    for (int s = 0; s < REC_NSIGNALS; s++) {
        while (o->q[s].len > 0) {
            struct export__item it = ring_pop(&o->q[s]);
            export__dropped(o, s, it.b->n, reason);
            unref(h, &it);
        }
    }
    pthread_mutex_unlock(&h->mu);
}
