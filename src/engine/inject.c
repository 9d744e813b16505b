/* Real requests into the simulated stream: a server answering the scenario's routes in the
 * same process (run/up --serve) plans each request with the world's one request walk, then
 * hands the plan here so that its spans, logs and metrics leave through the same emission and
 * export path as the simulated ones, under the same names.
 *
 * Producers are the server's worker threads; the consumer is the engine's thread. The queue is
 * a bounded ring of slots claimed with one compare-and-swap (Vyukov's bounded MPMC queue, used
 * with one consumer): no lock, and a full ring refuses the plan at once, so a flood of real
 * requests costs them their telemetry (counted dropped), never the world's pace. */
#include <string.h>

#include "engine/engine_int.h"

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
};

void engine__inject_init(struct engine *e)
{
    struct engine_inject *q = core_calloc(1, sizeof *q);
    q->slots = core_calloc(ENGINE_INJECT_SLOTS, sizeof *q->slots);
    q->mask = ENGINE_INJECT_SLOTS - 1;
    for (uint64_t i = 0; i < ENGINE_INJECT_SLOTS; i++)
        atomic_init(&q->slots[i].seq, i);
    e->inject = q;
}

void engine__inject_free(struct engine *e)
{
    if (!e->inject)
        return;
    core_free(e->inject->slots);
    core_free(e->inject);
    e->inject = NULL;
}

/* Claims the next free slot, or NULL when the ring is full. */
static struct engine_inject_slot *claim(struct engine_inject *q)
{
    uint64_t pos = atomic_load_explicit(&q->head, memory_order_relaxed);
    for (;;) {
        struct engine_inject_slot *s = &q->slots[pos & q->mask];
        uint64_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);
        int64_t dif = (int64_t)(seq - pos);
        if (dif < 0)
            return NULL;
        if (dif == 0 && atomic_compare_exchange_weak_explicit(
                            &q->head, &pos, pos + 1, memory_order_relaxed, memory_order_relaxed))
            return s;
        if (dif > 0)
            pos = atomic_load_explicit(&q->head, memory_order_relaxed);
    }
}

int engine_inject(struct engine *e, const struct world_span *spans, uint32_t n, int model)
{
    struct engine_inject *q = e->inject;
    struct engine_inject_slot *s = n && n <= ENGINE_INJECT_SPANS ? claim(q) : NULL;
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

void engine__inject_drain(struct engine *e)
{
    struct engine_inject *q = e->inject;
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
