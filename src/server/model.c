/* The latency model: what the scenario says one request to a route costs. It follows the
 * engine's request flow (engine/flow.c) without building spans: an operation's own latency
 * (base, jitter, tail; or the model's base latency and jitter for an inference operation),
 * multiplied by the latency faults firing on it, plus its calls (one after another, or the
 * slowest for parallel operations) with a network delay of 0.2..0.8 ms per round trip. The
 * status is the first of: a fault's error_status, the operation's own error_rate, a callee's
 * 5xx (passed through like a proxy would). Batching and queueing are not modelled: a real
 * server's concurrency decides those.
 *
 * Determinism: every draw of request k comes from the RNG (seed, k); every-N faults count the
 * requests each operation and model has seen (atomics), so a given seed and request order give
 * the same plans on any number of threads. */
#include <string.h>

#include "server/internal.h"

#define NET_MIN_NS 100000ULL /* one-way delay between services: 100..400 us, as the engine */
#define NET_SPAN_NS 300000ULL

const char *const server_fault_kinds[SERVER_NFAULT_KINDS] = {
    "latency_spike", "error", "token_bloat", "gpu_degradation", "error_rate"};
enum { KIND_ERROR_RATE = 4 };

void server__model_init(struct server__model *m, const struct world *w, uint64_t seed)
{
    memset(m, 0, sizeof *m);
    m->w = w;
    m->seed = seed;
    m->op_base = core_calloc((size_t)w->nsvcs + 1, sizeof *m->op_base);
    int total = 0;
    for (int i = 0; i < w->nsvcs; i++) {
        m->op_base[i] = total;
        total += w->svcs[i].nops;
    }
    m->op_count = core_calloc((size_t)total + 1, sizeof *m->op_count);
    m->model_count = core_calloc((size_t)w->nmodels + 1, sizeof *m->model_count);
    m->fault_kind = core_calloc((size_t)w->nfaults + 1, sizeof *m->fault_kind);
    for (int i = 0; i < w->nfaults; i++)
        for (int k = 0; k < KIND_ERROR_RATE; k++)
            if (!strcmp(w->faults[i].kind, server_fault_kinds[k]))
                m->fault_kind[i] = k;
}

void server__model_free(struct server__model *m)
{
    core_free(m->op_base);
    core_free(m->op_count);
    core_free(m->model_count);
    core_free(m->fault_kind);
    memset(m, 0, sizeof *m);
}

struct walk {
    struct server__model *m;
    struct core_rng rng;
    uint64_t t_ns;
    struct server__plan *p;
};

/* Faults are counted by the bits world_faults_apply sets: the first 32 faults of a scenario. */
static void count_fired(struct walk *wk, uint32_t fired)
{
    for (int i = 0; fired && i < 32 && i < wk->m->w->nfaults; i++, fired >>= 1)
        if (fired & 1)
            wk->p->faults[wk->m->fault_kind[i]]++;
}

static uint64_t scaled(uint64_t d, double factor)
{
    return factor > 0 ? (uint64_t)((double)d * factor) : d;
}

/* The request's model runs: its latency, tokens and faults. *status gets a fault's error. */
static uint64_t model_work(struct walk *wk, int *status)
{
    const struct world *w = wk->m->w;
    const struct world_model *wm = &w->models[wk->p->model];
    const struct scn_model *sm = wm->scn;
    uint64_t count = atomic_fetch_add(&wk->m->model_count[wk->p->model], 1) + 1;
    struct world_effect eff;
    world_effect_clear(&eff);
    world_faults_apply(w, wm->faults, wm->nfaults, count, wk->t_ns, &wk->rng, &eff);
    uint64_t d = world_jittered(&wk->rng, sm->base_latency_ns, sm->jitter);
    double tf = eff.tokens_factor > 0 ? eff.tokens_factor : 1;
    wk->p->tokens_factor = tf;
    if (sm->tokens_in > 0) {
        wk->p->tokens_in = (uint32_t)(sm->tokens_in * (0.5 + core_rng_unit(&wk->rng)) * tf);
        wk->p->tokens_out = (uint32_t)(sm->tokens_out * (0.5 + core_rng_unit(&wk->rng)) * tf);
    }
    if (eff.error_status > 0)
        *status = eff.error_status;
    count_fired(wk, eff.fired);
    return scaled(d, eff.latency_factor);
}

static uint64_t run_op(struct walk *wk, int svc, int op, int *status);

/* The calls of so; *err gets the first callee 5xx. */
static uint64_t run_calls(struct walk *wk, const struct scn_operation *so, int *err)
{
    uint64_t total = 0;
    for (int i = 0; i < so->ncalls; i++) {
        int st = 200;
        uint64_t net = 2 * (NET_MIN_NS + core_rng_below(&wk->rng, NET_SPAN_NS));
        uint64_t d = net + run_op(wk, so->calls[i].svc, so->calls[i].op, &st);
        if (st >= 500 && !*err)
            *err = st;
        if (so->parallel)
            total = d > total ? d : total;
        else
            total += d;
    }
    return total;
}

static uint64_t run_op(struct walk *wk, int svc, int op, int *status)
{
    struct server__model *m = wk->m;
    if (++wk->p->visits > SERVER__MAX_VISITS)
        return 0;
    const struct world_op *wo = &m->w->svcs[svc].ops[op];
    const struct scn_operation *so = wo->scn;
    uint64_t count = atomic_fetch_add(&m->op_count[m->op_base[svc] + op], 1) + 1;
    struct world_effect eff;
    world_effect_clear(&eff);
    world_faults_apply(m->w, wo->faults, wo->nfaults, count, wk->t_ns, &wk->rng, &eff);
    int model_err = 0, child_err = 0;
    uint64_t own = so->inference && wk->p->model >= 0 ? model_work(wk, &model_err)
                                                      : world_op_latency(&wk->rng, &so->latency);
    own = scaled(own, eff.latency_factor);
    count_fired(wk, eff.fired);
    uint64_t calls = run_calls(wk, so, &child_err);
    int own_err = so->error_rate > 0 && core_rng_unit(&wk->rng) < so->error_rate;
    wk->p->faults[KIND_ERROR_RATE] += own_err && !model_err && eff.error_status <= 0;
    *status = model_err              ? model_err
              : eff.error_status > 0 ? eff.error_status
              : own_err              ? so->error_status
              : child_err            ? child_err
                                     : 200;
    return own + calls;
}

/* A model entering at the route, weighted by the models' rates. */
static int pick_model(struct core_rng *r, const struct server__route *rt)
{
    if (rt->nmodels == 0)
        return -1;
    double u = core_rng_unit(r) * rt->cum[rt->nmodels - 1];
    for (int i = 0; i < rt->nmodels; i++)
        if (u < rt->cum[i])
            return rt->models[i];
    return rt->models[rt->nmodels - 1];
}

void server__plan(struct server__model *m, const struct server__route *r, uint64_t k, uint64_t t_ns,
                  struct server__plan *p)
{
    memset(p, 0, sizeof *p);
    p->tokens_factor = 1;
    struct walk wk = {.m = m, .t_ns = t_ns, .p = p};
    core_rng_init(&wk.rng, m->seed, k, 0x5e7e);
    p->model = pick_model(&wk.rng, r);
    p->status = 200;
    if (r->svc >= 0)
        p->latency_ns = run_op(&wk, r->svc, r->op, &p->status);
}
