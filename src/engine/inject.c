/* Real requests into the simulated stream: a server answering the scenario's routes in the
 * same process (run/up --serve) plans each request with the world's one request walk, then
 * hands the plan here so that its spans, logs and metrics leave through the same emission and
 * export path as the simulated ones, under the same names.
 *
 * Producers are the server's worker threads; the consumer is the engine's thread. The queue is
 * a bounded ring of slots claimed with one compare-and-swap (Vyukov's bounded MPMC queue, used
 * with one consumer): no lock, and a full ring refuses the plan at once, so a flood of real
 * requests costs them their telemetry (counted dropped), never the world's pace.
 *
 * Calls (engine_call): a real request that changes the world's state (a connection pool's)
 * is planned on the engine's thread, the state's one owner, between two events, like a
 * command at a tick boundary. A second ring of the same kind carries pointers to calls that
 * live on their callers' stacks; a semaphore wakes the engine from its pacing sleep, and each
 * caller waits on its call's own semaphore. The engine takes no lock; per event it reads one
 * more sequence number. */
#include <errno.h>
#include <semaphore.h>
#include <string.h>
#include <time.h>

#include "engine/engine_int.h"

#define CALL_SLOTS 1024 /* each caller waits on its call: more than a server's threads */
/* A waiting caller looks this often whether the engine stopped. */
#define CALL_POLL_NS 10000000ULL

struct engine_call {
    void (*fn)(void *arg);
    void *arg;
    sem_t done;     /* posted once fn returned */
    atomic_int ran; /* set before done is posted */
};

struct engine_call_slot {
    _Atomic uint64_t seq; /* first, as in engine_inject_slot (claim) */
    struct engine_call *c;
};

struct engine_inject_slot {
    _Atomic uint64_t seq;
    int16_t model;
    uint16_t n;
    struct world_span spans[ENGINE_INJECT_SPANS];
};

struct engine_inject {
    struct engine_inject_slot *slots;
    uint64_t mask;
    _Atomic uint64_t head; /* next slot a producer claims */
    uint64_t tail;         /* next slot the engine reads (engine's thread only) */
    _Atomic uint64_t dropped_spans;
    struct engine_call_slot *calls; /* [CALL_SLOTS] */
    _Atomic uint64_t call_head;
    uint64_t call_tail; /* engine's thread only */
    sem_t wake;         /* posted by engine_call: ends a pacing sleep */
    atomic_int closed;  /* engine_run ended: calls are refused (engine__calls_close) */
};

void engine__inject_init(struct engine *e)
{
    struct engine_inject *q = core_calloc(1, sizeof *q);
    q->slots = core_calloc(ENGINE_INJECT_SLOTS, sizeof *q->slots);
    q->mask = ENGINE_INJECT_SLOTS - 1;
    for (uint64_t i = 0; i < ENGINE_INJECT_SLOTS; i++)
        atomic_init(&q->slots[i].seq, i);
    q->calls = core_calloc(CALL_SLOTS, sizeof *q->calls);
    for (uint64_t i = 0; i < CALL_SLOTS; i++)
        atomic_init(&q->calls[i].seq, i);
    sem_init(&q->wake, 0, 0);
    e->inject = q;
}

void engine__inject_free(struct engine *e)
{
    if (!e->inject)
        return;
    core_free(e->inject->slots);
    core_free(e->inject->calls);
    sem_destroy(&e->inject->wake);
    core_free(e->inject);
    e->inject = NULL;
}

/* Claims the next free slot of a ring (slots of `size` bytes, each starting with its sequence
 * number), or NULL when the ring is full. */
static void *claim(_Atomic uint64_t *head, void *slots, size_t size, uint64_t mask)
{
    uint64_t pos = atomic_load_explicit(head, memory_order_relaxed);
    for (;;) {
        _Atomic uint64_t *s = (_Atomic uint64_t *)((char *)slots + (pos & mask) * size);
        uint64_t seq = atomic_load_explicit(s, memory_order_acquire);
        int64_t dif = (int64_t)(seq - pos);
        if (dif < 0)
            return NULL;
        if (dif == 0 && atomic_compare_exchange_weak_explicit(
                            head, &pos, pos + 1, memory_order_relaxed, memory_order_relaxed))
            return s;
        if (dif > 0)
            pos = atomic_load_explicit(head, memory_order_relaxed);
    }
}

int engine_inject(struct engine *e, const struct world_span *spans, uint32_t n, int model)
{
    struct engine_inject *q = e->inject;
    struct engine_inject_slot *s =
        n && n <= ENGINE_INJECT_SPANS ? claim(&q->head, q->slots, sizeof *q->slots, q->mask) : NULL;
    if (!s) {
        atomic_fetch_add_explicit(&q->dropped_spans, n, memory_order_relaxed);
        return -1;
    }
    memcpy(s->spans, spans, n * sizeof *spans);
    s->n = (uint16_t)n;
    s->model = (int16_t)model;
    uint64_t pos = atomic_load_explicit(&s->seq, memory_order_relaxed);
    atomic_store_explicit(&s->seq, pos + 1, memory_order_release);
    return 0;
}

void engine__publish_clock(struct engine *e)
{
    atomic_fetch_add_explicit(&e->p_clock_seq, 1, memory_order_acq_rel);
    atomic_store_explicit(&e->p_mono0, e->mono0, memory_order_relaxed);
    atomic_store_explicit(&e->p_tbase, e->t_base, memory_order_relaxed);
    atomic_store_explicit(&e->p_speed, e->o.speed, memory_order_relaxed);
    atomic_fetch_add_explicit(&e->p_clock_seq, 1, memory_order_release);
}

uint64_t engine_sim_now(const struct engine *e)
{
    struct engine *m = (struct engine *)e; /* atomics are read-only here */
    uint64_t seq, mono0, tbase;
    double speed;
    do {
        seq = atomic_load_explicit(&m->p_clock_seq, memory_order_acquire);
        mono0 = atomic_load_explicit(&m->p_mono0, memory_order_relaxed);
        tbase = atomic_load_explicit(&m->p_tbase, memory_order_relaxed);
        speed = atomic_load_explicit(&m->p_speed, memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire);
    } while ((seq & 1) || seq != atomic_load_explicit(&m->p_clock_seq, memory_order_relaxed));
    if (speed > 0 && seq)
        return tbase + (uint64_t)((double)(core_mono_ns() - mono0) * speed);
    return atomic_load_explicit(&m->p_offset, memory_order_relaxed);
}

/* One injected plan becomes a pending trace like a simulated one: ids from the engine's id
 * stream, in flight until its root ends (or at once, if that is already past). */
static void adopt(struct engine *e, const struct engine_inject_slot *s)
{
    struct ptrace *tr = e->free;
    if (tr)
        e->free = tr->next_free;
    else
        tr = core_malloc(e->trace_bytes);
    tr->model = -1;  /* not one of the model's simulated arrivals: no in-flight count */
    tr->more = NULL; /* a real request's faults past a span's first are not carried */
    tr->nmore = 0;
    tr->order = e->arrivals++;
    uint64_t hi = core_rng_u64(&e->ids), lo = core_rng_u64(&e->ids) | 1;
    memcpy(tr->trace_id, &hi, 8);
    memcpy(tr->trace_id + 8, &lo, 8);
    memcpy(tr->spans, s->spans, s->n * sizeof *s->spans);
    tr->nspans = s->n;
    for (uint32_t i = 0; i < s->n; i++) {
        struct world_span *sp = &tr->spans[i];
        uint64_t v;
        do
            v = core_rng_u64(&e->ids);
        while (v == 0);
        memcpy(sp->span_id, &v, 8);
        engine__span_begin(e, sp);
    }
    tr->end = tr->spans[0].end > e->now ? tr->spans[0].end : e->now;
    engine__heap_push(e, tr);
}

static struct timespec ts_of(uint64_t ns)
{
    return (struct timespec){.tv_sec = (time_t)(ns / 1000000000ULL),
                             .tv_nsec = (long)(ns % 1000000000ULL)};
}

/* Waits for c to have run: 0, or -1 when the engine stopped without taking it (it never will:
 * engine__calls_close runs every call it can see before it closes). */
static int call_wait(struct engine_inject *q, struct engine_call *c)
{
    for (;;) {
        struct timespec ts = ts_of(core_mono_ns() + CALL_POLL_NS);
        if (sem_clockwait(&c->done, CLOCK_MONOTONIC, &ts) == 0)
            return 0;
        if (atomic_load_explicit(&q->closed, memory_order_acquire) &&
            !atomic_load_explicit(&c->ran, memory_order_acquire))
            return -1;
    }
}

int engine_call(struct engine *e, void (*fn)(void *arg), void *arg)
{
    struct engine_inject *q = e->inject;
    if (!q || atomic_load_explicit(&q->closed, memory_order_acquire))
        return -1;
    struct engine_call c = {.fn = fn, .arg = arg};
    atomic_init(&c.ran, 0);
    sem_init(&c.done, 0, 0);
    struct engine_call_slot *s;
    while (!(s = claim(&q->call_head, q->calls, sizeof *q->calls, CALL_SLOTS - 1))) {
        if (atomic_load_explicit(&q->closed, memory_order_acquire)) { /* full and stopped */
            sem_destroy(&c.done);
            return -1;
        }
        core_sleep_until_ns(core_mono_ns() + 1000000); /* more callers than slots: rare */
    }
    s->c = &c;
    uint64_t pos = atomic_load_explicit(&s->seq, memory_order_relaxed);
    atomic_store_explicit(&s->seq, pos + 1, memory_order_release);
    sem_post(&q->wake);
    int rc = call_wait(q, &c);
    sem_destroy(&c.done);
    return rc;
}

void engine__calls_run(struct engine *e)
{
    struct engine_inject *q = e->inject;
    for (;;) {
        struct engine_call_slot *s = &q->calls[q->call_tail & (CALL_SLOTS - 1)];
        if (atomic_load_explicit(&s->seq, memory_order_acquire) != q->call_tail + 1)
            break;
        struct engine_call *c = s->c;
        atomic_store_explicit(&s->seq, q->call_tail + CALL_SLOTS, memory_order_release);
        q->call_tail++;
        c->fn(c->arg);
        atomic_store_explicit(&c->ran, 1, memory_order_release);
        sem_post(&c->done); /* c may be gone once this returns */
    }
}

void engine__calls_close(struct engine *e)
{
    if (!e->inject)
        return;
    engine__calls_run(e);
    atomic_store_explicit(&e->inject->closed, 1, memory_order_release);
}

void engine__sleep_until(struct engine *e, uint64_t deadline_ns)
{
    if (!e->inject) {
        core_sleep_until_ns(deadline_ns);
        return;
    }
    struct timespec ts = ts_of(deadline_ns);
    while (sem_clockwait(&e->inject->wake, CLOCK_MONOTONIC, &ts) && errno == EINTR)
        ;
}

void engine__inject_drain(struct engine *e)
{
    struct engine_inject *q = e->inject;
    engine__calls_run(e);
    for (;;) {
        struct engine_inject_slot *s = &q->slots[q->tail & q->mask];
        uint64_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);
        if (seq != q->tail + 1)
            break;
        adopt(e, s);
        atomic_store_explicit(&s->seq, q->tail + ENGINE_INJECT_SLOTS, memory_order_release);
        q->tail++;
    }
    uint64_t lost = atomic_exchange_explicit(&q->dropped_spans, 0, memory_order_relaxed);
    if (lost) {
        atomic_fetch_add_explicit(&e->p_generated[REC_SPANS], lost, memory_order_relaxed);
        e->out.drop(e->out.ctx, REC_SPANS, lost);
    }
}
