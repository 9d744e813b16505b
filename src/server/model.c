/* The plan of a real request: what the scenario says one request to a route costs, decided by
 * the same function that plans the engine's simulated requests (world_plan_request), so a
 * route answers after the time its simulated twin's root span takes, with the same status and
 * tokens. A model's batching and queueing are not modelled (its load is 1): a real server's
 * concurrency decides those; connection pools are (below).
 *
 * Determinism: every draw of request k comes from the RNG (seed, k); every-N faults count the
 * requests each operation and model has seen (atomics), so a given seed and request order give
 * the same plans on any number of threads.
 *
 * Connection pools (`pool:`) are world state that requests change: a request whose plan can
 * reach one is planned where the pools have their one writer. Inside a run (run/up --serve)
 * that is the world's thread (on_world: engine_call), so real requests queue on the same
 * connections as the simulated ones, behind them and ahead of them; in serve it is this
 * server, one plan at a time under pool_mu (microseconds each; routes without a pool never
 * take it). The wait is then real: the answer is held for the root span's time, wait included,
 * and a request that would wait past the pool's timeout answers its error_status after it. */
#include <string.h>

#include "server/internal.h"

const char *const server_fault_kinds[SERVER_NFAULT_KINDS] = {
    "latency_spike",   "error",           "token_bloat", "gpu_degradation", "error_rate",
    "dependency_down", "slow_dependency", "cpu",         "memory_leak"};
enum { KIND_ERROR_RATE = 4 };

/* Whether the plan of (svc, op) can reach a pooled operation (memo: 0 not known yet, 1 no,
 * 2 yes; a cycle, which validation rejects anyway, reads as no). */
static int reaches_pool(struct server__model *m, int svc, int op)
{
    uint8_t *v = &m->pooled[m->op_base[svc] + op];
    if (*v)
        return *v == 2;
    *v = 1;
    const struct world_op *wo = &m->w->svcs[svc].ops[op];
    int yes = wo->pool.n > 0;
    for (int i = 0; i < wo->scn->ncalls && !yes; i++)
        yes = reaches_pool(m, wo->scn->calls[i].svc, wo->scn->calls[i].op);
    *v = yes ? 2 : 1;
    return yes;
}

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
    m->pooled = core_calloc((size_t)total + 1, 1);
    for (int i = 0; i < w->nsvcs; i++)
        for (int k = 0; k < w->svcs[i].nops; k++)
            reaches_pool(m, i, k);
    pthread_mutex_init(&m->pool_mu, NULL);
    m->model_count = core_calloc((size_t)w->nmodels + 1, sizeof *m->model_count);
    m->fault_kind = core_calloc((size_t)w->nfaults + 1, sizeof *m->fault_kind);
    for (int i = 0; i < w->nfaults; i++)
        for (int k = 0; k < SERVER_NFAULT_KINDS; k++)
            if (k != KIND_ERROR_RATE && !strcmp(w->faults[i].kind, server_fault_kinds[k]))
                m->fault_kind[i] = k;
}

void server__model_free(struct server__model *m)
{
    core_free(m->op_base);
    core_free(m->op_count);
    core_free(m->model_count);
    core_free(m->fault_kind);
    core_free(m->pooled);
    pthread_mutex_destroy(&m->pool_mu);
    memset(m, 0, sizeof *m);
}

/* Per-request context of the plan: every draw from the request's stream, counts shared. */
struct req {
    struct server__model *m;
    struct core_rng rng;
};

static struct core_rng *req_op_rng(void *ctx, int svc, int op)
{
    (void)svc, (void)op;
    return &((struct req *)ctx)->rng;
}

static struct core_rng *req_model_rng(void *ctx, int mi)
{
    (void)mi;
    return &((struct req *)ctx)->rng;
}

static uint64_t req_op_count(void *ctx, int svc, int op)
{
    struct server__model *m = ((struct req *)ctx)->m;
    return atomic_fetch_add(&m->op_count[m->op_base[svc] + op], 1) + 1;
}

static uint64_t req_model_count(void *ctx, int mi)
{
    return atomic_fetch_add(&((struct req *)ctx)->m->model_count[mi], 1) + 1;
}

/* The world's pool of (svc, op). The world is const to the server because everything else in
 * it is read-only here; its pools are written by their one writer of the moment (see the top
 * of this file), which is why this is only called from plan_pooled. */
static struct world_pool *req_op_pool(void *ctx, int svc, int op)
{
    const struct world *w = ((struct req *)ctx)->m->w;
    return (struct world_pool *)&w->svcs[svc].ops[op].pool;
}

struct pooled_plan {
    const struct world *w;
    const struct world_plan_env *env;
    struct world_plan *wp;
    int svc, op;
    uint64_t t;
};

static void plan_pooled(void *arg)
{
    struct pooled_plan *pp = arg;
    world_plan_request(pp->w, pp->env, pp->wp, pp->svc, pp->op, pp->t);
}

/* world_plan_request, where the pools it may reach have their writer. */
static void plan(struct server__model *m, const struct world_plan_env *env, struct world_plan *wp,
                 int svc, int op, uint64_t t)
{
    if (m->pooled[m->op_base[svc] + op] != 2) {
        world_plan_request(m->w, env, wp, svc, op, t);
        return;
    }
    struct world_plan_env penv = *env;
    penv.op_pool = req_op_pool;
    struct pooled_plan pp = {m->w, &penv, wp, svc, op, t};
    if (m->on_world && m->on_world(m->hook_ctx, plan_pooled, &pp) == 0)
        return;
    pthread_mutex_lock(&m->pool_mu); /* serve, or a run that has ended */
    plan_pooled(&pp);
    pthread_mutex_unlock(&m->pool_mu);
}

/* What the plan says the answer is: the root's time and status, the model's tokens, and the
 * faults that fired (every one: world_fired_next). */
static void summarise(const struct server__model *m, const struct world_plan *wp,
                      struct server__plan *p)
{
    const struct world_span *root = &wp->spans[0];
    p->latency_ns = root->end - root->start;
    p->status = root->status;
    p->tokens_factor = wp->tokens_factor;
    for (uint32_t i = 0; i < wp->n; i++) {
        const struct world_span *s = &wp->spans[i];
        if (s->call)
            continue;
        if (s->model >= 0 && s->tok_in + s->tok_out > 0) {
            p->tokens_in = s->tok_in;
            p->tokens_out = s->tok_out;
        }
        p->faults[KIND_ERROR_RATE] += s->cause == WORLD_CAUSE_ERROR_RATE;
        if (s->cause == WORLD_CAUSE_POOL && p->pool_svc < 0) {
            p->pool_svc = s->svc;
            p->pool_op = s->op;
        }
        if ((uint64_t)s->wait_us * 1000 > p->pool_wait_ns)
            p->pool_wait_ns = (uint64_t)s->wait_us * 1000;
        uint32_t it = 0;
        for (int fi; (fi = world_fired_next(s, i, wp->more, wp->nmore, &it)) >= 0;)
            p->faults[m->fault_kind[fi]]++;
    }
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
    /* no op_pool: plan() adds it where the pools have their writer */
    static const struct world_plan_env env0 = {
        req_op_rng, req_model_rng, req_op_count, req_model_count, NULL, NULL, NULL};
    memset(p, 0, sizeof *p);
    p->tokens_factor = 1;
    p->status = 200;
    p->pool_svc = p->pool_op = -1;
    struct req rq = {.m = m};
    core_rng_init(&rq.rng, m->seed, k, 0x5e7e);
    p->model = pick_model(&rq.rng, r);
    if (r->svc < 0)
        return;
    struct world_span buf[SERVER__PLAN_SPANS]; /* most routes; larger graphs allocate */
    struct world_span *spans =
        r->max_spans <= SERVER__PLAN_SPANS ? buf : core_malloc(r->max_spans * sizeof *spans);
    struct world_plan_env env = env0;
    env.ctx = &rq;
    struct world_plan wp = {.spans = spans, .cap = r->max_spans, .model = p->model};
    plan(m, &env, &wp, r->svc, r->op, t_ns);
    summarise(m, &wp, p);
    if (m->planned)
        m->planned(m->hook_ctx, wp.spans, wp.n, p->model);
    if (spans != buf)
        core_free(spans);
    core_free(wp.more);
}
