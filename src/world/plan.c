/* The plan of a request: the one walk of the call graph that decides what a request does.
 * The engine plans every simulated arrival with it and emits the spans; serve plans every real
 * request with it and answers after the root span's duration. There is no other copy.
 *
 * Each operation draws its own latency (base, jitter, tail; an inference operation the model's
 * latency, batch and queue from its load, GPU utilisation and tokens), times the latency
 * faults firing on it. Half of it is spent before its calls and half after. A call is a CLIENT
 * span in the caller around the callee's SERVER span, with a one-way network delay of
 * 100..400 us on each side (one draw from the caller's stream). Calls run one after another or,
 * for parallel operations, all at once (the operation waits for the slowest). The status is
 * the first of: a model fault's error (or the model's state's), an operation fault's error, the
 * operation's own error_rate, its service's or host's state's errors, a callee's 5xx (passed
 * through like a proxy would); 4xx stay with the callee. States (state.c) multiply latency too:
 * a service's by its own and its host's, a model's by its own.
 *
 * An operation with a pool (`pool: N`) waits for one of N connections before it starts its
 * work: the wait is part of its span (HotROD's one-connection MySQL pool), and a request
 * that would wait past the pool's timeout fails after waiting that long. The pool is the
 * world's (env->op_pool) and has one writer at a time: the engine plans on its thread, and so
 * do run --serve's real requests that reach a pool (handed to it, engine_call); standalone
 * serve plans those one at a time under a lock. So real and simulated requests queue on the
 * same connections, by this one function. The span says how long it waited (wait_us).
 *
 * A service with instances spreads its requests over them round-robin (by the operation's
 * request count, so no draw): the span says which instance served it.
 *
 * Draws: where they come from is the caller's choice (env->op_rng, env->model_rng), which is
 * what keeps each caller deterministic its own way: the engine is single-threaded and keeps a
 * stream per operation and model, so a trace does not depend on how many other routes ran;
 * serve answers on many threads and draws everything of request k from the stream (seed, k).
 * The order of draws within a plan is fixed here. */
#include <string.h>

#include "world/world.h"

#define NET_MIN_NS 100000ULL /* one-way network delay between services: 100..400 us */
#define NET_SPAN_NS 300000ULL

struct walk {
    const struct world *w;
    const struct world_plan_env *env;
    struct world_plan *p;
};

static struct world_span *add_span(struct walk *k, int parent, int svc, int op, uint8_t kind)
{
    struct world_plan *p = k->p;
    struct world_span *s = &p->spans[p->n++];
    memset(s, 0, sizeof *s);
    s->parent = (int16_t)parent;
    s->svc = (uint16_t)svc;
    s->op = (uint16_t)op;
    s->kind = kind;
    s->model = -1;
    return s;
}

/* The states of the entities doing this work: the service and its host, or the model. */
static struct world_req_fx state_fx(const struct world *w, int kind, int idx)
{
    struct world_req_fx fx = {1, 0, 0, -1, -1};
    if (!atomic_load_explicit((atomic_int *)&w->nactive, memory_order_relaxed))
        return fx;
    world_state_effect(w, world__entity_of(w, kind, idx), &fx);
    int host = kind == SCN_ENT_SERVICE ? w->svcs[idx].scn->host_idx : -1;
    if (host >= 0)
        world_state_effect(w, world__entity_of(w, SCN_ENT_HOST, host), &fx);
    return fx;
}

/* A state's errors, drawn only when a state has any (so worlds without states draw as
 * before): *cause gets WORLD_CAUSE_STATE when it fails the request. */
static uint16_t state_error(const struct world_req_fx *fx, struct core_rng *r, uint8_t *cause)
{
    if (fx->error_rate <= 0 || core_rng_unit(r) >= fx->error_rate)
        return 0;
    *cause = WORLD_CAUSE_STATE;
    return (uint16_t)fx->status;
}

static uint64_t scaled(uint64_t d, double factor)
{
    return factor > 0 ? (uint64_t)((double)d * factor) : d;
}

/* Inference: the model's latency, batch and queue from its current load, GPU utilisation and
 * token counts; faults on the model may override any of them. */
static uint64_t model_work(struct walk *k, struct world_span *s, uint64_t t)
{
    const struct world_plan_env *env = k->env;
    int mi = k->p->model;
    const struct world_model *wm = &k->w->models[mi];
    const struct scn_model *m = wm->scn;
    struct core_rng *r = env->model_rng(env->ctx, mi);
    struct world_effect eff;
    world_effect_clear(&eff);
    eff.fired = s->fired; /* the operation's faults come first on the span */
    eff.nfired = s->nfired;
    uint64_t count = env->model_count(env->ctx, mi);
    world_faults_apply(k->w, wm->faults, wm->nfaults, count, t, r, &eff, k->p,
                       (uint32_t)(s - k->p->spans));
    struct world_req_fx sfx = state_fx(k->w, SCN_ENT_MODEL, mi);
    int64_t load = env->model_load ? env->model_load(env->ctx, mi) : 1;
    int batch = load < m->max_batch ? (int)load : m->max_batch;
    int queue = load > m->max_batch ? (int)(load - m->max_batch) : 0;
    uint64_t d = world_jittered(r, m->base_latency_ns, m->jitter);
    d += (uint64_t)queue * m->base_latency_ns / (uint64_t)m->max_batch;
    double gpu = m->gpu_util * (0.9 + 0.2 * core_rng_unit(r));
    double tf = eff.tokens_factor > 0 ? eff.tokens_factor : 1;
    k->p->tokens_factor = tf;
    if (m->tokens_in > 0) {
        s->tok_in = (uint32_t)(m->tokens_in * (0.5 + core_rng_unit(r)) * tf);
        s->tok_out = (uint32_t)(m->tokens_out * (0.5 + core_rng_unit(r)) * tf);
    }
    s->batch = (uint16_t)batch;
    if (sfx.gpu >= 0)
        gpu = sfx.gpu;
    if (sfx.queue >= 0)
        queue = sfx.queue;
    s->queue = (uint16_t)(eff.queue_depth >= 0 ? eff.queue_depth : queue);
    s->gpu = (float)(eff.gpu_util >= 0 ? eff.gpu_util : (gpu < 1 ? gpu : 1));
    s->model = (int16_t)mi;
    s->fired = eff.fired;
    s->nfired = eff.nfired;
    if (eff.error_status > 0) {
        s->status = (uint16_t)eff.error_status;
        s->cause = WORLD_CAUSE_FAULT;
    } else {
        s->status = state_error(&sfx, r, &s->cause);
    }
    d = scaled(d, sfx.latency != 1 ? sfx.latency : 0);
    return scaled(d, eff.latency_factor);
}

static uint64_t run_op(struct walk *k, int parent, int svc, int op, uint64_t start);

/* The calls of an operation starting at t; returns when the last one has returned and sets
 * *err_status to the status of a failed callee (0 if none failed). */
/* A call to a service that is down (dependency_down): the client span fails after one
 * network delay (a refused connection) and the callee never sees the request. */
static uint64_t call_down(struct world_span *cs, uint64_t t, uint64_t net, uint16_t *err_status)
{
    cs->call = 2; /* no callee span follows */
    cs->end = t + net;
    cs->status = 503;
    cs->error = 1;
    cs->cause = WORLD_CAUSE_FAULT;
    if (!*err_status)
        *err_status = 503;
    return cs->end;
}

static uint64_t run_calls(struct walk *k, int self, const struct scn_operation *so,
                          const struct world_effect *eff, struct core_rng *r, uint64_t t,
                          uint16_t *err_status)
{
    uint64_t done = t;
    struct world_plan *p = k->p;
    for (int i = 0; i < so->ncalls; i++) {
        const struct scn_call *c = &so->calls[i];
        if (p->n + 2 > p->cap) { /* saturated: the rest of the graph is not walked */
            p->truncated = 1;
            break;
        }
        int ci = (int)p->n;
        struct world_span *cs = add_span(k, self, c->svc, c->op, SCN_KIND_CLIENT);
        cs->call = 1;
        uint64_t net = NET_MIN_NS + core_rng_below(r, NET_SPAN_NS);
        cs->start = t;
        if (c->svc == eff->down_svc) {
            uint64_t end = call_down(cs, t, net, err_status);
            done = end > done ? end : done;
            t = so->parallel ? t : end;
            continue;
        }
        /* slow_dependency: `add` is waited before the callee starts (a pool's queue), the
         * factor stretches the whole call (the extra after the callee answered) */
        uint64_t wait = c->svc == eff->slow_svc ? eff->slow_add_ns : 0;
        uint64_t callee_end = run_op(k, ci, c->svc, c->op, t + net + wait);
        cs = &p->spans[ci];
        cs->end = callee_end + net;
        if (c->svc == eff->slow_svc && eff->slow_factor > 1)
            cs->end = t + (uint64_t)((double)(cs->end - t) * eff->slow_factor);
        const struct world_span *callee = &p->spans[ci + 1];
        cs->error = callee->error;
        cs->status = callee->status;
        cs->model = callee->model;
        cs->inst = callee->inst;
        if (callee->status >= 500 && !*err_status)
            *err_status = callee->status;
        if (cs->end > done)
            done = cs->end;
        if (!so->parallel)
            t = cs->end;
    }
    return done;
}

/* A pooled operation (`pool: N`) takes the slot that frees first: the wait is how long until
 * it does (0 when one is free), UINT64_MAX when that is longer than the pool's timeout. Slots
 * are handed out in the order requests are planned (the order they entered the system), which
 * is first come, first served except for requests that reach the pool within a few ms of each
 * other by paths of different length. */
static uint64_t pool_take(struct world_pool *pl, uint64_t start, int *slot)
{
    int best = 0;
    for (int i = 1; i < pl->n; i++)
        if (pl->busy[i] < pl->busy[best])
            best = i;
    *slot = best;
    uint64_t wait = pl->busy[best] > start ? pl->busy[best] - start : 0;
    if (wait > pl->timeout_ns) {
        pl->timeouts++;
        return UINT64_MAX;
    }
    pl->waits += wait > 0;
    pl->wait_ns += wait;
    return wait;
}

/* No connection came within the timeout: the request fails without doing its work. */
static uint32_t wait_us(uint64_t ns)
{
    return ns / 1000 < UINT32_MAX ? (uint32_t)(ns / 1000) : UINT32_MAX;
}

static uint64_t pool_give_up(struct world_span *s, const struct world_pool *pl, uint64_t start)
{
    s->wait_us = wait_us(pl->timeout_ns);
    s->end = start + pl->timeout_ns;
    s->status = (uint16_t)pl->status;
    s->cause = WORLD_CAUSE_POOL;
    s->error = 1;
    return s->end;
}

static uint64_t run_op(struct walk *k, int parent, int svc, int op, uint64_t start)
{
    const struct world_plan_env *env = k->env;
    const struct world_op *wo = &k->w->svcs[svc].ops[op];
    const struct scn_operation *so = wo->scn;
    struct core_rng *r = env->op_rng(env->ctx, svc, op);
    int self = (int)k->p->n;
    struct world_span *s = add_span(k, parent, svc, op, wo->kind);
    s->start = start;
    struct world_effect eff;
    world_effect_clear(&eff);
    uint64_t count = env->op_count(env->ctx, svc, op);
    int ninst = k->w->svcs[svc].ninst;
    s->inst = (uint16_t)(ninst > 1 ? (count - 1) % (uint64_t)ninst : 0); /* round-robin */
    struct world_pool *pl = wo->pool.n && env->op_pool ? env->op_pool(env->ctx, svc, op) : NULL;
    int slot = 0;
    uint64_t wait = pl && pl->n ? pool_take(pl, start, &slot) : 0;
    if (wait == UINT64_MAX)
        return pool_give_up(s, pl, start);
    s->wait_us = wait_us(wait);
    world_faults_apply(k->w, wo->faults, wo->nfaults, count, start, r, &eff, k->p, (uint32_t)self);
    s->fired = eff.fired;
    s->nfired = eff.nfired;
    uint64_t own = so->inference && k->p->model >= 0 ? model_work(k, s, start)
                                                     : world_op_latency(r, &so->latency);
    own = scaled(own, eff.latency_factor);
    struct world_req_fx sfx = state_fx(k->w, SCN_ENT_SERVICE, svc);
    own = scaled(own, sfx.latency != 1 ? sfx.latency : 0);
    uint16_t child_status = 0;
    uint64_t t = run_calls(k, self, so, &eff, r, start + wait + own / 2, &child_status);
    s = &k->p->spans[self];
    s->end = t + (own - own / 2);
    if (pl && pl->n)
        pl->busy[slot] = s->end; /* the connection is held until the operation answers */
    if (!s->status) {            /* a model fault may already have decided it */
        int own_err = so->error_rate > 0 && core_rng_unit(r) < so->error_rate;
        uint16_t st_err = eff.error_status > 0 || own_err ? 0 : state_error(&sfx, r, &s->cause);
        s->cause = eff.error_status > 0 ? WORLD_CAUSE_FAULT
                   : own_err            ? WORLD_CAUSE_ERROR_RATE
                   : st_err             ? WORLD_CAUSE_STATE
                   : child_status       ? WORLD_CAUSE_CALLEE
                                        : WORLD_CAUSE_NONE;
        s->status = eff.error_status > 0 ? (uint16_t)eff.error_status
                    : own_err            ? (uint16_t)so->error_status
                    : st_err             ? st_err
                    : child_status       ? child_status
                                         : 200;
    }
    s->error = s->status >= 400;
    return s->end;
}

uint64_t world__svc_plan(const struct world *w, const struct world_plan_env *env,
                         struct world_plan *p, int svc, int op, uint64_t t)
{
    p->n = 0;
    p->truncated = 0;
    p->tokens_factor = 1;
    p->nmore = 0;
    if (p->cap == 0)
        return t;
    struct walk k = {w, env, p};
    return run_op(&k, -1, svc, op, t);
}

size_t world__svc_max_spans(const struct world *w, int svc, int op)
{
    const struct scn_operation *so = w->svcs[svc].ops[op].scn;
    size_t n = 1;
    for (int i = 0; i < so->ncalls && n <= WORLD_MAX_SPANS; i++)
        n += 1 + world__svc_max_spans(w, so->calls[i].svc, so->calls[i].op);
    return n;
}
