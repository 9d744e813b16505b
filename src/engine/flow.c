/* Request flows: one arrival becomes a whole trace, generated at once. Each operation draws
 * its own latency (base, jitter, tail, fault factor); half of it is spent before its calls and
 * half after. A call adds a CLIENT span in the caller around the callee's SERVER span, with a
 * small network delay on each side. Calls run one after another or, for parallel operations,
 * all at once (the operation waits for the slowest). A 5xx from a callee fails the caller with
 * the same status, as a proxy passing the failure through would; 4xx stay with the callee. */
#include <string.h>

#include "engine/engine_int.h"

#define NET_MIN_NS 100000ULL /* one-way network delay between services: 100..400 us */
#define NET_SPAN_NS 300000ULL

struct flow {
    struct engine *e;
    struct ptrace *tr;
    uint64_t t0; /* arrival offset, for time-window faults */
};

static void new_span_id(struct engine *e, uint8_t id[8])
{
    uint64_t v;
    do
        v = core_rng_u64(&e->ids);
    while (v == 0); /* all-zero ids are invalid */
    memcpy(id, &v, 8);
}

static struct pspan *add_span(struct flow *f, int parent, int svc, int op, uint8_t kind)
{
    struct pspan *s = &f->tr->spans[f->tr->nspans++];
    memset(s, 0, sizeof *s);
    new_span_id(f->e, s->span_id);
    s->parent = (int16_t)parent;
    s->svc = (uint16_t)svc;
    s->op = (uint16_t)op;
    s->kind = kind;
    s->model = -1;
    return s;
}

/* Inference: the model's latency, batch and queue from its current load, GPU utilisation and
 * token counts; faults on the model may override any of them. */
static uint64_t model_work(struct flow *f, struct pspan *s, int mi, uint64_t t)
{
    struct engine *e = f->e;
    struct world_model *wm = &e->w->models[mi];
    struct model_state *ms = &e->models[mi];
    const struct scn_model *m = wm->scn;
    struct world_effect eff;
    world_effect_clear(&eff);
    wm->count++;
    world_faults_apply(e->w, wm->faults, wm->nfaults, wm->count, t, &ms->rng, &eff);
    int64_t load = ms->inflight + 1;
    int batch = load < m->max_batch ? (int)load : m->max_batch;
    int queue = load > m->max_batch ? (int)(load - m->max_batch) : 0;
    uint64_t d = world_jittered(&ms->rng, m->base_latency_ns, m->jitter);
    d += (uint64_t)queue * m->base_latency_ns / (uint64_t)m->max_batch;
    double gpu = m->gpu_util * (0.9 + 0.2 * core_rng_unit(&ms->rng));
    double tf = eff.tokens_factor > 0 ? eff.tokens_factor : 1;
    if (m->tokens_in > 0) {
        s->tok_in = (uint32_t)(m->tokens_in * (0.5 + core_rng_unit(&ms->rng)) * tf);
        s->tok_out = (uint32_t)(m->tokens_out * (0.5 + core_rng_unit(&ms->rng)) * tf);
    }
    if (eff.latency_factor > 0)
        d = (uint64_t)((double)d * eff.latency_factor);
    s->batch = (uint16_t)batch;
    s->queue = (uint16_t)(eff.queue_depth >= 0 ? eff.queue_depth : queue);
    s->gpu = (float)(eff.gpu_util >= 0 ? eff.gpu_util : (gpu < 1 ? gpu : 1));
    s->model = (int16_t)mi;
    s->fired |= eff.fired;
    if (eff.error_status > 0)
        s->status = (uint16_t)eff.error_status;
    return d;
}

static uint64_t run_op(struct flow *f, int parent, int svc, int op, uint64_t start);

/* The calls of an operation starting at t; returns when the last one has returned and sets
 * *err_status to the status of a failed callee (0 if none failed). */
static uint64_t run_calls(struct flow *f, int self, const struct scn_operation *so, uint64_t t,
                          uint16_t *err_status)
{
    uint64_t done = t;
    struct core_rng *r = &f->e->ops[f->tr->spans[self].svc][f->tr->spans[self].op].rng;
    for (int i = 0; i < so->ncalls; i++) {
        const struct scn_call *c = &so->calls[i];
        int ci = f->tr->nspans;
        struct pspan *cs = add_span(f, self, c->svc, c->op, SCN_KIND_CLIENT);
        uint64_t net = NET_MIN_NS + core_rng_below(r, NET_SPAN_NS);
        cs->start = t;
        uint64_t callee_end = run_op(f, ci, c->svc, c->op, t + net);
        cs = &f->tr->spans[ci];
        cs->end = callee_end + net;
        const struct pspan *callee = &f->tr->spans[ci + 1];
        cs->error = callee->error;
        cs->status = callee->status;
        cs->model = callee->model;
        if (callee->status >= 500 && !*err_status)
            *err_status = callee->status;
        if (cs->end > done)
            done = cs->end;
        if (!so->parallel)
            t = cs->end;
    }
    return done;
}

static uint64_t run_op(struct flow *f, int parent, int svc, int op, uint64_t start)
{
    struct engine *e = f->e;
    struct world_op *wo = &e->w->svcs[svc].ops[op];
    const struct scn_operation *so = wo->scn;
    struct op_state *st = &e->ops[svc][op];
    int self = f->tr->nspans;
    struct pspan *s = add_span(f, parent, svc, op, wo->kind);
    s->start = start;
    struct world_effect eff;
    world_effect_clear(&eff);
    wo->count++;
    world_faults_apply(e->w, wo->faults, wo->nfaults, wo->count, start, &st->rng, &eff);
    uint64_t own = so->inference && f->tr->model >= 0 ? model_work(f, s, f->tr->model, start)
                                                      : world_op_latency(&st->rng, &so->latency);
    if (eff.latency_factor > 0)
        own = (uint64_t)((double)own * eff.latency_factor);
    uint16_t child_status = 0;
    uint64_t t = run_calls(f, self, so, start + own / 2, &child_status);
    s = &f->tr->spans[self];
    s->end = t + (own - own / 2);
    s->fired |= eff.fired;
    if (!s->status) { /* a model fault may already have decided it */
        int own_err = so->error_rate > 0 && core_rng_unit(&st->rng) < so->error_rate;
        s->status = eff.error_status > 0 ? (uint16_t)eff.error_status
                    : own_err            ? (uint16_t)so->error_status
                    : child_status       ? child_status
                                         : 200;
    }
    s->error = s->status >= 400;
    st->active_n++; /* in flight until emitted; emit.c decrements */
    return s->end;
}

struct ptrace *engine__flow(struct engine *e, const struct source *src, uint64_t t)
{
    struct ptrace *tr = e->free;
    if (tr)
        e->free = tr->next_free;
    else
        tr = core_malloc(e->trace_bytes);
    tr->nspans = 0;
    tr->model = (int16_t)src->model;
    tr->order = e->arrivals++;
    uint64_t hi = core_rng_u64(&e->ids), lo = core_rng_u64(&e->ids) | 1;
    memcpy(tr->trace_id, &hi, 8);
    memcpy(tr->trace_id + 8, &lo, 8);
    struct flow f = {e, tr, t};
    if (src->model >= 0)
        e->models[src->model].inflight++;
    tr->end = run_op(&f, -1, src->svc, src->op, t);
    return tr;
}

/* Spans in one trace from (svc, op): itself plus a client span and the callee's subtree per
 * call. The graph is acyclic (validated), so this terminates; saturate to stay bounded. */
size_t engine__max_spans(const struct world *w, int svc, int op)
{
    const struct scn_operation *so = w->svcs[svc].ops[op].scn;
    size_t n = 1;
    for (int i = 0; i < so->ncalls && n <= ENGINE_MAX_TRACE_SPANS; i++)
        n += 1 + engine__max_spans(w, so->calls[i].svc, so->calls[i].op);
    return n;
}
