/* The event loop: arrivals, completions (a min-heap of pending traces), metric ticks and
 * the world's due changes (timeline, fault windows), processed in simulated-time order and paced
 * against the monotonic clock. Ties go the world, then completions, then ticks, then arrivals, so a
 * tick at t counts every request that ended at or before t. */
#include <stdio.h>
#include <string.h>

#include "engine/engine_int.h"

#define PACE_SLACK_NS 200000ULL  /* events due within this are processed without sleeping */
#define MAX_SLEEP_NS 50000000ULL /* wake at least this often to see the stop flag */
#define DEFAULT_INTERVAL_NS 10000000000ULL

static int trace_before(const struct ptrace *a, const struct ptrace *b)
{
    return a->end != b->end ? a->end < b->end : a->order < b->order;
}

void engine__heap_push(struct engine *e, struct ptrace *t)
{
    if (e->nheap == e->heap_cap) {
        e->heap_cap = e->heap_cap ? e->heap_cap * 2 : 1024;
        e->heap = core_realloc(e->heap, e->heap_cap * sizeof *e->heap);
    }
    size_t i = e->nheap++;
    while (i > 0 && trace_before(t, e->heap[(i - 1) / 2])) {
        e->heap[i] = e->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    e->heap[i] = t;
}

static struct ptrace *heap_pop(struct engine *e)
{
    struct ptrace *top = e->heap[0], *last = e->heap[--e->nheap];
    size_t i = 0, n = e->nheap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && trace_before(e->heap[c + 1], e->heap[c]))
            c++;
        if (!trace_before(e->heap[c], last))
            break;
        e->heap[i] = e->heap[c];
        i = c;
    }
    if (n)
        e->heap[i] = last;
    return top;
}

/* Depth-first from an entry operation to the first inference operation it reaches. */
static int find_inference(const struct world *w, int svc, int op, int *osvc, int *oop)
{
    const struct scn_operation *so = w->svcs[svc].ops[op].scn;
    if (so->inference) {
        *osvc = svc;
        *oop = op;
        return 1;
    }
    for (int i = 0; i < so->ncalls; i++)
        if (find_inference(w, so->calls[i].svc, so->calls[i].op, osvc, oop))
            return 1;
    return 0;
}

static uint64_t key_of(const char *a, const char *b)
{
    char buf[512];
    int n = snprintf(buf, sizeof buf, "%s/%s", a, b ? b : "");
    return core_hash64(buf, n < (int)sizeof buf ? (size_t)n : sizeof buf - 1);
}

static uint32_t count_server(const struct world *w, int svc, int op)
{
    const struct scn_operation *so = w->svcs[svc].ops[op].scn;
    uint32_t n = so->kind != SCN_KIND_CLIENT;
    for (int i = 0; i < so->ncalls; i++)
        n += count_server(w, so->calls[i].svc, so->calls[i].op);
    return n;
}

/* The next arrival after t. A shaped source is a non-homogeneous process: Poisson arrivals
 * are thinned (candidates at the shape's maximum rate, each kept with probability
 * factor / max), constant ones are spaced by the rate at the time. A shape that stays at 0 for
 * a simulated week ends the source (UINT64_MAX). Unshaped sources draw as they always did. */
static uint64_t next_arrival(struct engine *e, struct source *s, uint64_t t)
{
    if (s->factor <= 0) /* paused, or a live rate of 0 */
        return UINT64_MAX;
    double mean = s->mean_gap_ns / s->factor; /* a live factor composes with the shape */
    if (!s->shape)
        return t + (uint64_t)(s->constant ? mean : core_rng_exp(&s->rng, mean));
    if (s->shape_max <= 0)
        return UINT64_MAX;
    double gap = mean / s->shape_max;
    for (uint64_t limit = t + 7 * 86400000000000ULL; t < limit;) {
        if (s->constant) {
            double f = world_shape_factor(s->shape, s->key, engine__unix(e, t), t);
            t += (uint64_t)(f > 0 ? mean / f : 60e9);
            if (f > 0)
                return t;
            continue;
        }
        t += (uint64_t)core_rng_exp(&s->rng, gap);
        double f = world_shape_factor(s->shape, s->key, engine__unix(e, t), t);
        if (core_rng_unit(&s->rng) * s->shape_max < f)
            return t;
    }
    return UINT64_MAX;
}

static void add_source(struct engine *e, double rate, int arrival, int svc, int op, int model,
                       uint64_t key, const struct scn_shape *shape)
{
    struct source *s = &e->src[e->nsrc++];
    s->shape = shape && shape->set ? shape : NULL;
    s->shape_max = s->shape ? world_shape_max(shape) : 1;
    s->key = key;
    s->nspans = (uint32_t)world_max_spans(e->w, svc, op);
    s->nserver = s->nspans <= WORLD_MAX_SPANS ? count_server(e->w, svc, op) : 0;
    core_rng_init(&s->rng, e->w->seed, key, 3);
    s->mean_gap_ns = 1e9 / rate;
    s->constant = arrival == SCN_CONSTANT;
    s->svc = svc;
    s->op = op;
    s->model = model;
    s->live = world_traffic_of(e->w, svc, op, model);
    s->factor = 1;
    s->next = s->shape      ? next_arrival(e, s, 0)
              : s->constant ? (uint64_t)s->mean_gap_ns
                            : (uint64_t)core_rng_exp(&s->rng, s->mean_gap_ns);
}

static void init_states(struct engine *e)
{
    const struct world *w = e->w;
    e->ops = core_calloc((size_t)(w->nsvcs ? w->nsvcs : 1), sizeof *e->ops);
    for (int s = 0; s < w->nsvcs; s++) {
        e->ops[s] = core_calloc((size_t)(w->svcs[s].nops ? w->svcs[s].nops : 1), sizeof **e->ops);
        for (int o = 0; o < w->svcs[s].nops; o++) {
            core_rng_init(&e->ops[s][o].rng, w->seed,
                          key_of(w->svcs[s].scn->name, w->svcs[s].ops[o].scn->name), 1);
            e->ops[s][o].live = world_traffic_of(w, s, o, -1);
            e->ops[s][o].inst = core_calloc((size_t)w->svcs[s].ninst, sizeof(struct op_inst));
        }
    }
    e->models = core_calloc((size_t)(w->nmodels ? w->nmodels : 1), sizeof *e->models);
    for (int m = 0; m < w->nmodels; m++) {
        const struct scn_model *sm = w->models[m].scn;
        struct model_state *ms = &e->models[m];
        core_rng_init(&ms->rng, w->seed, key_of("model", sm->name), 2);
        ms->live = world_traffic_of(w, -1, -1, m);
        if (!find_inference(w, sm->entry_svc, sm->entry_op, &ms->svc, &ms->op)) {
            ms->svc = sm->entry_svc; /* validated by scenario/, kept safe anyway */
            ms->op = sm->entry_op;
        }
        size_t n = strlen(sm->operation) + strlen(sm->name) + 2;
        ms->span_name = core_malloc(n);
        snprintf(ms->span_name, n, "%s %s", sm->operation, sm->name);
    }
    for (int c = 100; c < ENGINE_MAX_STATUS_CODE; c++)
        snprintf(e->status_str[c], sizeof e->status_str[c], "%d", c);
}

static int init_sources(struct engine *e, char *err, size_t errlen)
{
    const struct world *w = e->w;
    int n = w->nmodels;
    for (int s = 0; s < w->nsvcs; s++)
        n += w->svcs[s].nops;
    e->src = core_calloc((size_t)(n ? n : 1), sizeof *e->src);
    size_t max_spans = 1;
    for (int s = 0; s < w->nsvcs; s++) {
        for (int o = 0; o < w->svcs[s].nops; o++) {
            const struct scn_operation *so = w->svcs[s].ops[o].scn;
            if (so->rate <= 0)
                continue;
            add_source(e, so->rate, so->arrival, s, o, -1, key_of(w->svcs[s].scn->name, so->name),
                       &so->shape);
            size_t m = world_max_spans(w, s, o);
            max_spans = m > max_spans ? m : max_spans;
        }
    }
    for (int m = 0; m < w->nmodels; m++) {
        const struct scn_model *sm = w->models[m].scn;
        if (sm->rate <= 0)
            continue;
        add_source(e, sm->rate, sm->arrival, sm->entry_svc, sm->entry_op, m,
                   key_of("model", sm->name), &sm->shape);
        size_t k = world_max_spans(w, sm->entry_svc, sm->entry_op);
        max_spans = k > max_spans ? k : max_spans;
    }
    if (max_spans > WORLD_MAX_SPANS) {
        snprintf(err, errlen, "the call graph makes traces of more than %d spans", WORLD_MAX_SPANS);
        return DIO_ERANGE;
    }
    e->max_spans = (uint32_t)max_spans;
    e->trace_bytes = sizeof(struct ptrace) + max_spans * sizeof(struct world_span);
    return 0;
}

int engine_new(struct engine **out, struct world *w, const struct engine_opts *o,
               const struct engine_out *sink, char *err, size_t errlen)
{
    struct engine *e = core_calloc(1, sizeof *e);
    e->w = w;
    e->o = *o;
    e->out = *sink;
    if (!e->o.metric_interval_ns)
        e->o.metric_interval_ns =
            w->scn->metric_interval_ns ? w->scn->metric_interval_ns : DEFAULT_INTERVAL_NS;
    if (!e->o.batch_timeout_ns)
        e->o.batch_timeout_ns = 1000000000ULL;
    if (!e->o.signals)
        e->o.signals = (1 << REC_NSIGNALS) - 1;
    core_rng_init(&e->ids, w->seed, core_hash64("ids", 3), 0);
    init_states(e);
    int rc = init_sources(e, err, errlen);
    if (rc) {
        engine_free(e);
        return rc;
    }
    if (e->o.inject) { /* real requests' plans may be longer than any simulated trace */
        engine__inject_init(e);
        size_t inj = sizeof(struct ptrace) + ENGINE_INJECT_SPANS * sizeof(struct world_span);
        e->trace_bytes = inj > e->trace_bytes ? inj : e->trace_bytes;
    }
    engine__metrics_init(e);
    *out = e;
    return 0;
}

static void flush_stale(struct engine *e, uint64_t now)
{
    for (int s = 0; s < REC_NSIGNALS; s++) {
        struct rec_batch *b = e->cur[s];
        if (b && b->n && now - b->created_ns >= e->o.batch_timeout_ns)
            engine__flush(e, s);
    }
}

static int stopped(const struct engine *e)
{
    return e->o.stop && *e->o.stop;
}

/* Sleeps until simulated time t is due on the monotonic clock, flushing partial batches that
 * reach their timeout meanwhile. Returns early when asked to stop, and returns 1 when a
 * command for the world arrived before t was due (the caller applies it first). */
static int pace(struct engine *e, uint64_t t)
{
    if (e->o.speed <= 0)
        return 0;
    uint64_t due = e->mono0 + (uint64_t)((double)(t - e->t_base) / e->o.speed);
    for (;;) {
        uint64_t now = core_mono_ns();
        flush_stale(e, now);
        if (e->o.agg)
            world_agg_poll(e->o.agg, e->now, e->o.start_unix_ns, now);
        if (e->inject) /* real requests waiting for the world's thread (inject.c) */
            engine__calls_run(e);
        /* a command that came in while we slept goes before the event that is now due (a
         * metric tick included): a change is in the first tick after it, not the second */
        if (world_pending(e->w) && !stopped(e))
            return 1;
        if (due <= now + PACE_SLACK_NS || stopped(e))
            return 0;
        uint64_t wake = due < now + MAX_SLEEP_NS ? due : now + MAX_SLEEP_NS;
        if (wake > now + e->o.batch_timeout_ns)
            wake = now + e->o.batch_timeout_ns;
        engine__sleep_until(e, wake); /* an engine_call wakes it early */
    }
}

static struct source *next_source(struct engine *e)
{
    struct source *best = NULL;
    for (int i = 0; i < e->nsrc; i++)
        if (!best || e->src[i].next < best->next)
            best = &e->src[i];
    return best;
}

static void arrive(struct engine *e, struct source *s, uint64_t t)
{
    engine__heap_push(e, engine__flow(e, s, t));
    s->next = next_arrival(e, s, t);
    if (s->next <= t)
        s->next = t + 1;
}

/* The simulated offset the monotonic clock has reached, within [e->now, limit]. */
static uint64_t sim_now(const struct engine *e, uint64_t limit)
{
    double t = (double)e->t_base + (double)(core_mono_ns() - e->mono0) * e->o.speed;
    uint64_t now = t < (double)limit ? (uint64_t)t : limit;
    return now > e->now ? now : e->now;
}

static void on_world_label(void *ctx, const struct world_label *l)
{
    struct engine *e = ctx;
    atomic_fetch_add_explicit(&e->p_labels, 1, memory_order_relaxed);
    if (e->out.label)
        e->out.label(e->out.ctx, l);
}

static uint64_t wall_now(void *ctx)
{
    (void)ctx;
    return core_wall_ns();
}

/* Live rates, pause and speed (world/live.c) as the world's thread just applied them: a
 * source whose factor changed draws its next arrival again from t (Poisson arrivals are
 * memoryless, so this is the process at the new rate); a new speed paces from here on. */
static void apply_live(struct engine *e, uint64_t t)
{
    uint64_t g = atomic_load_explicit(&e->w->live_gen, memory_order_acquire);
    if (g == e->live_gen)
        return;
    e->live_gen = g;
    for (int i = 0; i < e->nsrc; i++) {
        struct source *s = &e->src[i];
        double f = world_traffic_factor(e->w, s->live);
        if (f == s->factor)
            continue;
        s->factor = f;
        s->next = next_arrival(e, s, t);
        if (s->next <= t)
            s->next = t + 1;
    }
    double sp = atomic_load_explicit(&e->w->speed, memory_order_relaxed);
    if (e->o.speed > 0 && sp > 0 && sp != e->o.speed) {
        e->mono0 = core_mono_ns();
        e->t_base = t;
        e->o.speed = sp;
        engine__publish_clock(e);
    }
}

static void advance_world(struct engine *e, uint64_t t)
{
    struct world_out out = {e, e->o.start_unix_ns, on_world_label,
                            e->o.speed > 0 ? wall_now : NULL};
    world_advance(e->w, t, &out);
    apply_live(e, t);
}

/* A finished request into the per-second aggregates: its root span's time and status. */
static void count_agg(struct engine *e, const struct ptrace *tr)
{
    const struct world_span *r = &tr->spans[0];
    int src = tr->model >= 0 ? e->models[tr->model].live : e->ops[r->svc][r->op].live;
    world_agg_count(e->o.agg, src, r->end - r->start, r->error);
}

/* One event at the earliest time; returns that time, or UINT64_MAX past the end. */
static uint64_t step(struct engine *e, uint64_t end, uint64_t *last_tick)
{
    if (e->inject)
        engine__inject_drain(e);
    struct source *s = next_source(e);
    uint64_t t_arr = s ? s->next : UINT64_MAX;
    uint64_t t_done = e->nheap ? e->heap[0]->end : UINT64_MAX;
    uint64_t t_world = world_pending(e->w) ? e->now : world_next_due(e->w);
    uint64_t t = t_done < e->next_tick ? t_done : e->next_tick;
    t = t < t_arr ? t : t_arr;
    t = t < t_world ? t : t_world;
    if (t > end)
        return UINT64_MAX;
    if (pace(e, t)) {
        t = sim_now(e, t);
        t_world = t; /* a command arrived: apply it now, then look again */
    }
    e->now = t;
    if (t_world == t) {
        advance_world(e, t);
    } else if (t_done == t) {
        struct ptrace *tr = heap_pop(e);
        engine__emit_trace(e, tr);
        if (e->o.agg && tr->nspans)
            count_agg(e, tr);
        tr->next_free = e->free;
        core_free(tr->more);
        tr->more = NULL;
        e->free = tr;
    } else if (e->next_tick == t) {
        engine__tick(e, t);
        *last_tick = t;
        e->next_tick += e->o.metric_interval_ns;
    } else {
        arrive(e, s, t);
    }
    if (e->o.agg && e->o.speed <= 0 && !(++e->agg_k & 1023)) /* real time: pace() polls */
        world_agg_poll(e->o.agg, t, e->o.start_unix_ns, core_mono_ns());
    return t;
}

int engine_run(struct engine *e)
{
    e->mono0 = core_mono_ns();
    engine__publish_clock(e);
    e->next_tick = e->o.metric_interval_ns;
    uint64_t end = e->o.duration_ns ? e->o.duration_ns : UINT64_MAX - 1;
    uint64_t t = 0, last_tick = UINT64_MAX;
    while (!stopped(e)) {
        uint64_t nt = step(e, end, &last_tick);
        if (nt == UINT64_MAX) {
            t = end;
            if (pace(e, end) && !stopped(e)) /* a command came in: apply it, look again */
                continue;
            break; /* a real-time run lasts its whole duration */
        }
        t = nt;
        atomic_store_explicit(&e->p_offset, t, memory_order_relaxed);
        atomic_store_explicit(&e->p_pending, e->nheap, memory_order_relaxed);
    }
    if (t != last_tick && t != UINT64_MAX - 1)
        engine__tick(e, t); /* the final state, so metrics agree with every emitted span */
    struct world_out wo = {e, e->o.start_unix_ns, on_world_label, NULL};
    world_finish(e->w, t == UINT64_MAX - 1 ? e->now : t, &wo);
    atomic_store_explicit(&e->p_offset, t, memory_order_relaxed);
    for (int s = 0; s < REC_NSIGNALS; s++)
        engine__flush(e, s);
    if (e->o.agg) /* the last part second, so a short run has its aggregates too */
        world_agg_publish(e->o.agg, t == UINT64_MAX - 1 ? e->now : t, e->o.start_unix_ns);
    engine__calls_close(e); /* from here on real requests plan without the world's thread */
    return 0;
}

void engine_progress(const struct engine *e, struct engine_progress *p)
{
    struct engine *m = (struct engine *)e; /* atomics are read-only here */
    p->sim_offset_ns = atomic_load_explicit(&m->p_offset, memory_order_relaxed);
    p->requests = atomic_load_explicit(&m->p_requests, memory_order_relaxed);
    p->labels = atomic_load_explicit(&m->p_labels, memory_order_relaxed);
    p->pending = atomic_load_explicit(&m->p_pending, memory_order_relaxed);
    for (int s = 0; s < REC_NSIGNALS; s++)
        p->generated[s] = atomic_load_explicit(&m->p_generated[s], memory_order_relaxed);
}

void engine_target_rates(const struct engine *e, double r[REC_NSIGNALS])
{
    r[REC_SPANS] = r[REC_LOGS] = 0;
    for (int i = 0; i < e->nsrc; i++) {
        double rate = 1e9 / e->src[i].mean_gap_ns;
        r[REC_SPANS] += rate * e->src[i].nspans;
        r[REC_LOGS] += rate * e->src[i].nserver;
    }
    r[REC_METRICS] = (double)e->nseries * 1e9 / (double)e->o.metric_interval_ns;
}

void engine_free(struct engine *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->nheap; i++) {
        core_free(e->heap[i]->more);
        core_free(e->heap[i]);
    }
    core_free(e->heap);
    core_free(e->fired_buf);
    while (e->free) {
        struct ptrace *n = e->free->next_free;
        core_free(e->free);
        e->free = n;
    }
    for (int s = 0; e->ops && s < e->w->nsvcs; s++) {
        for (int o = 0; e->ops[s] && o < e->w->svcs[s].nops; o++)
            core_free(e->ops[s][o].inst);
        core_free(e->ops[s]);
    }
    core_free(e->ops);
    for (int m = 0; m < e->w->nmodels && e->models; m++)
        core_free(e->models[m].span_name);
    core_free(e->models);
    core_free(e->src);
    if (e->metrics)
        engine__metrics_free(e);
    rec_batch_free(e->tickb);
    engine__inject_free(e);
    core_free(e);
}
