/* Request flows: one arrival becomes a whole trace, planned at once by world (world/plan.c, the
 * one walk of the call graph, shared with serve). The engine supplies the plan's streams and
 * counters: a stream per operation and per model, every-N counts in the world, a model's load
 * from the requests in flight to it. It then gives every span an id from its id stream. */
#include <string.h>

#include "engine/engine_int.h"

static struct core_rng *op_rng(void *ctx, int svc, int op)
{
    struct engine *e = ctx;
    return &e->ops[svc][op].rng;
}

static struct core_rng *model_rng(void *ctx, int mi)
{
    struct engine *e = ctx;
    return &e->models[mi].rng;
}

static uint64_t op_count(void *ctx, int svc, int op)
{
    struct engine *e = ctx;
    return ++e->w->svcs[svc].ops[op].count;
}

static uint64_t model_count(void *ctx, int mi)
{
    struct engine *e = ctx;
    return ++e->w->models[mi].count;
}

static int64_t model_load(void *ctx, int mi)
{
    struct engine *e = ctx;
    return e->models[mi].inflight + 1;
}

/* Pools (`pool: N`) queue in simulated time: the engine plans on one thread, in arrival order. */
static struct world_pool *op_pool(void *ctx, int svc, int op)
{
    struct engine *e = ctx;
    return &e->w->svcs[svc].ops[op].pool;
}

static void new_span_id(struct engine *e, uint8_t id[8])
{
    uint64_t v;
    do
        v = core_rng_u64(&e->ids);
    while (v == 0); /* all-zero ids are invalid */
    memcpy(id, &v, 8);
}

struct ptrace *engine__flow(struct engine *e, const struct source *src, uint64_t t)
{
    static const struct world_plan_env env0 = {op_rng,     model_rng, op_count, model_count,
                                               model_load, NULL,      op_pool};
    struct ptrace *tr = e->free;
    if (tr)
        e->free = tr->next_free;
    else
        tr = core_malloc(e->trace_bytes);
    tr->model = (int16_t)src->model;
    tr->order = e->arrivals++;
    uint64_t hi = core_rng_u64(&e->ids), lo = core_rng_u64(&e->ids) | 1;
    memcpy(tr->trace_id, &hi, 8);
    memcpy(tr->trace_id + 8, &lo, 8);
    if (src->model >= 0)
        e->models[src->model].inflight++;
    struct world_plan_env env = env0;
    env.ctx = e;
    struct world_plan p = {.spans = tr->spans,
                           .cap = e->max_spans,
                           .model = src->model,
                           .more = e->fired_buf,
                           .more_cap = e->fired_cap};
    tr->end = world_plan_request(e->w, &env, &p, src->svc, src->op, t);
    e->fired_buf = p.more;
    e->fired_cap = p.more_cap;
    tr->nmore = p.nmore;
    tr->more = NULL;
    if (p.nmore) { /* rare: a span fired more than one fault; kept until emitted */
        tr->more = core_malloc(p.nmore * sizeof *tr->more);
        memcpy(tr->more, p.more, p.nmore * sizeof *tr->more);
    }
    tr->nspans = (uint16_t)p.n;
    for (uint32_t i = 0; i < p.n; i++) {
        struct world_span *s = &tr->spans[i];
        new_span_id(e, s->span_id);
        engine__span_begin(e, s); /* in flight until emitted; emit.c ends it */
    }
    return tr;
}
