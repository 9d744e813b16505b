/* Derived metrics. Every series is cumulative from the run start and is updated as requests
 * complete (emit.c), so a tick at time t reports exactly the requests whose spans were emitted
 * before t. Series are kept sorted by (resource, metric) so that each tick's points come out
 * resource-major and metric-minor: encoders then write one Metric per run of points.
 *
 *   http.server.request.duration  histogram s   per instance, route and status (semconv buckets)
 *   http.server.requests          counter        per instance, route and status
 *   http.server.active_requests   updown         per instance and route: requests in flight
 *   gen_ai.server.request.duration histogram s  per model
 *   gen_ai.client.token.usage     histogram      per model and token type
 *   inference.queue.depth         gauge          per model: last reported value
 *   inference.batch.size          histogram      per model
 *   gpu.utilization               gauge ratio    per model: last reported value
 *   diorama.state                 gauge          per host, service, model and state: 1 in it
 *   diorama.fault.active          gauge          per fault: 1 while in force
 *   host metrics                  world/host.c's layout and values (docs/metrics.md)
 * The engine only turns what world says into records: it owns no behaviour of its own. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "engine/engine_int.h"

enum {
    M_HTTP_DUR,
    M_HTTP_REQS,
    M_HTTP_ACTIVE,
    M_GENAI_DUR,
    M_TOKENS,
    M_QUEUE,
    M_BATCH,
    M_GPU,
    M_HOST0,                            /* world_host_metrics[k] is M_HOST0 + k */
    M_STATE = M_HOST0 + WORLD_HM_COUNT, /* last: an entity's come after its other series */
    M_FAULT,
    M_COUNT
};

static const double http_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25,
                                     0.5,   0.75, 1,     2.5,  5,     7.5, 10};
static const double genai_bounds[] = {0.01, 0.02, 0.04, 0.08,  0.16,  0.32,  0.64,
                                      1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92};
static const double token_bounds[] = {1,     4,     16,     64,      256,     1024,     4096,
                                      16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864};
static const double batch_bounds[] = {1, 2, 4, 8, 16, 32, 64, 128, 256};

#define N(a) (uint32_t)(sizeof(a) / sizeof(a[0]))

static const struct rec_metric metric_defs[M_COUNT] = {
    [M_HTTP_DUR] = {"http.server.request.duration", "Duration of HTTP server requests.", "s",
                    REC_HISTOGRAM, 0, 2, 0, http_bounds, N(http_bounds)},
    [M_HTTP_REQS] = {"http.server.requests", "Completed server requests.", "{request}", REC_SUM, 1,
                     2, 1, NULL, 0},
    [M_HTTP_ACTIVE] = {"http.server.active_requests", "Requests in flight.", "{request}", REC_SUM,
                       0, 2, 1, NULL, 0},
    [M_GENAI_DUR] = {"gen_ai.server.request.duration", "Model server request duration.", "s",
                     REC_HISTOGRAM, 0, 2, 0, genai_bounds, N(genai_bounds)},
    [M_TOKENS] = {"gen_ai.client.token.usage", "Tokens used per request.", "{token}", REC_HISTOGRAM,
                  0, 2, 0, token_bounds, N(token_bounds)},
    [M_QUEUE] = {"inference.queue.depth", "Requests waiting for a batch slot.", "{request}",
                 REC_GAUGE, 0, 2, 1, NULL, 0},
    [M_BATCH] = {"inference.batch.size", "Requests per inference batch.", "{request}",
                 REC_HISTOGRAM, 0, 2, 0, batch_bounds, N(batch_bounds)},
    [M_GPU] = {"gpu.utilization", "GPU utilisation reported by the model server.", "1", REC_GAUGE,
               0, 2, 0, NULL, 0},
    [M_STATE] = {"diorama.state", "1 for the state the entity is in, 0 for the others.", "{state}",
                 REC_GAUGE, 0, 2, 1, NULL, 0},
    [M_FAULT] = {"diorama.fault.active", "1 while the fault is in force (window, command).",
                 "{fault}", REC_GAUGE, 0, 2, 1, NULL, 0},
};

/* The host metrics' descriptors from world's table. */
static void host_metric_defs(struct rec_metric *m)
{
    for (int k = 0; k < WORLD_HM_COUNT; k++) {
        const struct world_hmetric *h = &world_host_metrics[k];
        m[M_HOST0 + k] = (struct rec_metric){
            h->name,   h->description, h->unit, h->sum ? REC_SUM : REC_GAUGE, h->monotonic, 2,
            h->is_int, NULL,           0};
    }
}

static int series_before(const struct series *a, const struct series *b)
{
    return a->res != b->res ? a->res < b->res : a->metric_id < b->metric_id;
}

/* New series with up to 4 attributes (key/value string pairs, NULL-terminated list). Insertion
 * keeps the order; series are created at start-up and on a route's first new status code.
 * They are carved from slabs in creation order, so a host's series (made together, read
 * together every tick) sit next to each other in memory: a 1,000-host fleet's ticks are
 * bound by memory, not by arithmetic. */
static struct series *new_series(struct engine *e, int metric, int res, const char *const *kv)
{
    if (!e->nslabs || e->slab_used == ENGINE_SLAB) {
        e->slabs = core_realloc(e->slabs, (size_t)(e->nslabs + 1) * sizeof *e->slabs);
        e->slabs[e->nslabs++] = core_calloc(ENGINE_SLAB, sizeof **e->slabs);
        e->slab_used = 0;
    }
    struct series *s = &e->slabs[e->nslabs - 1][e->slab_used++];
    s->m = &e->metrics[metric];
    s->metric_id = (uint16_t)metric;
    s->res = (uint16_t)res;
    for (; kv && kv[0] && s->nattrs < 4; kv += 2) {
        struct rec_attr *a = &s->attrs[s->nattrs++];
        rec_attr_str(a, kv[0], (uint32_t)strlen(kv[0]), kv[1], (uint32_t)strlen(kv[1]));
    }
    s->min = INFINITY;
    s->max = -INFINITY;
    if (s->m->type == REC_HISTOGRAM)
        s->buckets = core_calloc(s->m->nbounds + 1, sizeof *s->buckets);
    if (e->nseries == e->series_cap) {
        e->series_cap = e->series_cap ? e->series_cap * 2 : 64;
        e->series = core_realloc(e->series, (size_t)e->series_cap * sizeof *e->series);
    }
    int i = e->nseries++;
    while (i > 0 && series_before(s, e->series[i - 1])) {
        e->series[i] = e->series[i - 1];
        i--;
    }
    e->series[i] = s;
    return s;
}

struct series *engine__new_series(struct engine *e, int metric, int res, const char *const *kv)
{
    return new_series(e, metric, res, kv);
}

static void set_int_attr(struct series *s, const char *key, int64_t v)
{
    rec_attr_int(&s->attrs[s->nattrs++], key, (uint32_t)strlen(key), v);
}

void engine__hist_observe(struct series *s, double v)
{
    const struct rec_metric *m = s->m;
    uint32_t i = 0;
    while (i < m->nbounds && v > m->bounds[i]) /* buckets include their upper bound */
        i++;
    s->buckets[i]++;
    s->count++;
    s->sum += v;
    if (v < s->min)
        s->min = v;
    if (v > s->max)
        s->max = v;
}

static const char *route_of(const struct scn_operation *so)
{
    return so->route ? so->route : so->name;
}

struct status_series *engine__status_series(struct engine *e, int svc, int op, int inst,
                                            uint16_t status)
{
    struct op_inst *st = &e->ops[svc][op].inst[inst];
    for (int i = 0; i < st->nst; i++)
        if (st->st[i].status == status)
            return &st->st[i];
    if (st->nst == ENGINE_MAX_STATUSES)
        return &st->st[ENGINE_MAX_STATUSES - 1];
    const struct scn_operation *so = e->w->svcs[svc].ops[op].scn;
    int res = e->w->svcs[svc].res + inst;
    const char *kv[] = {"http.route", route_of(so), so->method ? "http.request.method" : NULL,
                        so->method, NULL};
    struct status_series *ss = &st->st[st->nst++];
    ss->status = status;
    ss->duration = new_series(e, M_HTTP_DUR, res, kv);
    set_int_attr(ss->duration, "http.response.status_code", status);
    ss->requests = new_series(e, M_HTTP_REQS, res, kv);
    set_int_attr(ss->requests, "http.response.status_code", status);
    return ss;
}

static void init_model_series(struct engine *e, int mi)
{
    struct model_state *ms = &e->models[mi];
    const struct scn_model *m = e->w->models[mi].scn;
    int res = e->w->svcs[ms->svc].res;
    const char *kv[] = {"gen_ai.request.model", m->name, NULL};
    ms->duration = new_series(e, M_GENAI_DUR, res, kv);
    ms->queue = new_series(e, M_QUEUE, res, kv);
    ms->batch = new_series(e, M_BATCH, res, kv);
    const char *gkv[] = {"gen_ai.request.model", m->name, "gpu.model", m->gpu ? m->gpu : "unknown",
                         NULL};
    ms->gpu = new_series(e, M_GPU, res, gkv);
    ms->gpu->dvalue = m->gpu_util;
    if (m->tokens_in > 0) {
        const char *in[] = {"gen_ai.request.model", m->name, "gen_ai.token.type", "input", NULL};
        const char *out[] = {"gen_ai.request.model", m->name, "gen_ai.token.type", "output", NULL};
        ms->tokens_in = new_series(e, M_TOKENS, res, in);
        ms->tokens_out = new_series(e, M_TOKENS, res, out);
    }
}

static void init_host_series(struct engine *e, int h)
{
    struct host_state *hs = &e->hosts[h];
    const struct world_hseries *lay = world_host_layout(e->w, h, &hs->n);
    hs->vals = core_calloc(hs->n, sizeof *hs->vals);
    for (uint32_t i = 0; i < hs->n; i++) {
        struct series *s = new_series(e, M_HOST0 + lay[i].metric, e->w->hosts[h].res, NULL);
        for (int k = 0; k < lay[i].nattrs; k++) {
            const struct world_hattr *a = &lay[i].attrs[k];
            if (a->str)
                rec_attr_str(&s->attrs[s->nattrs++], a->key, (uint32_t)strlen(a->key), a->str,
                             (uint32_t)strlen(a->str));
            else
                set_int_attr(s, a->key, a->i);
        }
        s->src = &hs->vals[i];
    }
}

/* diorama.state: a series per state of entity i (host, service or model), on its resource
 * (a model's: the service running it). Made right after the entity's other series: series
 * are kept sorted, and appending is what keeps start-up linear in a big fleet. */
static void init_state_series(struct engine *e, int kind, int idx)
{
    const struct world *w = e->w;
    int ns = w->scn->nstates, i = world__entity_of(w, kind, idx);
    int res = kind == SCN_ENT_HOST      ? w->hosts[idx].res
              : kind == SCN_ENT_SERVICE ? w->svcs[idx].res
                                        : w->svcs[e->models[idx].svc].res;
    if (!e->state_series)
        e->state_series = core_calloc((size_t)(w->nents * ns) + 1, sizeof *e->state_series);
    for (int k = 0; k < ns; k++) {
        const char *kv[] = {"target", w->ents[i].name, "state", w->scn->states[k].name, NULL};
        e->state_series[i * ns + k] = new_series(e, M_STATE, res, kv);
    }
}

/* diorama.fault.active: a series per fault, on its target's resource. */
static void init_fault_series(struct engine *e)
{
    const struct world *w = e->w;
    e->fault_series = core_calloc((size_t)w->nfaults + 1, sizeof *e->fault_series);
    for (int i = 0; i < w->nfaults; i++) {
        const struct scn_fault *f = w->faults[i].scn;
        int res = f->target_idx < 0                    ? 0
                  : f->target_kind == SCN_TARGET_HOST  ? w->hosts[f->target_idx].res
                  : f->target_kind == SCN_TARGET_MODEL ? w->svcs[e->models[f->target_idx].svc].res
                                                       : w->svcs[f->target_idx].res;
        const char *kv[] = {"fault", f->name, "target", f->target, "kind", w->faults[i].kind, NULL};
        e->fault_series[i] = new_series(e, M_FAULT, res, kv);
    }
}

int engine__metrics_init(struct engine *e)
{
    e->metrics = core_calloc(M_COUNT + (size_t)engine__biz_count(e), sizeof *e->metrics);
    memcpy(e->metrics, metric_defs, sizeof metric_defs);
    host_metric_defs(e->metrics);
    engine__biz_defs(e, e->metrics + M_COUNT); /* business metrics (biz.c) after ours */
    for (int s = 0; s < e->w->nsvcs; s++) {
        for (int o = 0; o < e->w->svcs[s].nops; o++) {
            const struct scn_operation *so = e->w->svcs[s].ops[o].scn;
            if (so->kind == SCN_KIND_CLIENT)
                continue;
            const char *kv[] = {"http.route", route_of(so), NULL};
            for (int k = 0; k < e->w->svcs[s].ninst; k++) {
                e->ops[s][o].inst[k].active =
                    new_series(e, M_HTTP_ACTIVE, e->w->svcs[s].res + k, kv);
                engine__status_series(e, s, o, k, 200);
            }
        }
        init_state_series(e, SCN_ENT_SERVICE, s);
    }
    for (int m = 0; m < e->w->nmodels; m++) {
        init_model_series(e, m);
        init_state_series(e, SCN_ENT_MODEL, m);
    }
    e->hosts = core_calloc((size_t)(e->w->nhosts ? e->w->nhosts : 1), sizeof *e->hosts);
    for (int h = 0; h < e->w->nhosts; h++) {
        init_host_series(e, h);
        init_state_series(e, SCN_ENT_HOST, h);
    }
    init_fault_series(e);
    engine__biz_init(e, M_COUNT);
    return 0;
}

void engine__metrics_free(struct engine *e)
{
    for (int i = 0; i < e->nseries; i++)
        core_free(e->series[i]->buckets);
    for (int i = 0; i < e->nslabs; i++)
        core_free(e->slabs[i]);
    core_free(e->slabs);
    core_free(e->series);
    core_free(e->metrics);
    for (int h = 0; e->hosts && h < e->w->nhosts; h++) {
        core_free(e->hosts[h].vals);
    }
    core_free(e->hosts);
    core_free(e->state_series);
    core_free(e->fault_series);
    engine__biz_free(e);
}

/* Host metrics: world decides the values; its series read them from hs->vals when points
 * are filled (one pass over the series per tick, not two). */
static void update_host(struct engine *e, int h, uint64_t t, double interval_s)
{
    struct host_state *hs = &e->hosts[h];
    double rps = (double)hs->requests / interval_s;
    hs->requests = 0;
    world_host_sample(e->w, h, t, engine__unix(e, t), interval_s, rps, hs->vals);
}

static void update_world_gauges(struct engine *e)
{
    const struct world *w = e->w;
    int ns = w->scn->nstates;
    for (int i = 0; i < w->nents; i++)
        for (int k = 0; k < ns; k++)
            e->state_series[i * ns + k]->ivalue = w->ents[i].state == k;
    for (int i = 0; i < w->nfaults; i++) {
        uint64_t until;
        int variant;
        e->fault_series[i]->ivalue = world_fault_active(w, i, &until, &variant) != 0;
    }
}

/* Room for a point of s in b (rec_batch_fits without the call: a 1,000-host fleet fills
 * 70,000 points a tick, and the call showed in its profile). */
static inline uint32_t point_buckets(const struct series *s)
{
    return s->m->type == REC_HISTOGRAM ? s->m->nbounds + 1 : 0;
}

static inline int point_fits(const struct rec_batch *b, const struct series *s)
{
    return b->n < b->cap && s->nattrs <= b->attrs_cap - b->nattrs &&
           point_buckets(s) <= b->buckets_cap - b->nbuckets;
}

/* The caller has checked point_fits. */
static void fill_point(struct engine *e, struct rec_batch *b, const struct series *s, uint64_t t)
{
    uint32_t nb = point_buckets(s);
    struct rec_point *p = &b->r.points[b->n++];
    p->metric = s->m;
    p->res = s->res;
    p->start_ns = e->o.start_unix_ns;
    p->time_ns = engine__unix(e, t);
    p->gen_ns = p->time_ns;
    p->seq = b == e->tickb ? 0 : e->seq[REC_METRICS]++;
    uint32_t off = b->nattrs, n = s->nattrs;
    p->attr_off = off;
    p->nattrs = n;
    b->nattrs = off + n;
    for (uint32_t i = 0; i < n; i++) /* at most 4: a loop beats a call to memcpy */
        b->attrs[off + i] = s->attrs[i];
    if (s->m->is_int)
        p->value.i = s->src ? (int64_t)*s->src : s->ivalue;
    else
        p->value.d = s->src ? *s->src : s->dvalue;
    if (nb) {
        uint64_t *bk = rec_batch_buckets(b, nb, &p->bucket_off);
        memcpy(bk, s->buckets, nb * sizeof *bk);
        p->count = s->count;
        p->sum = s->sum;
        p->min = s->count ? s->min : 0;
        p->max = s->count ? s->max : 0;
    }
}

static void tick_to_prom(struct engine *e, uint64_t t)
{
    struct rec_batch *b = e->tickb;
    if (!b || b->cap < (uint32_t)e->nseries) {
        rec_batch_free(b);
        b = e->tickb = rec_batch_new(REC_METRICS, (uint32_t)e->nseries * 2, 4, 16, 0);
    }
    rec_batch_reset(b);
    b->resources = e->w->res;
    b->nresources = (uint32_t)e->w->nres;
    for (int i = 0; i < e->nseries; i++)
        fill_point(e, b, e->series[i], t);
    e->out.tick(e->out.ctx, b);
}

void engine__tick(struct engine *e, uint64_t t)
{
    for (int h = 0; h < e->w->nhosts; h++)
        update_host(e, h, t, (double)e->o.metric_interval_ns / 1e9);
    update_world_gauges(e);
    engine__biz_tick(e, t);
    for (int s = 0; s < e->w->nsvcs; s++)
        for (int o = 0; o < e->w->svcs[s].nops; o++)
            for (int k = 0; k < e->w->svcs[s].ninst; k++) {
                struct op_inst *oi = &e->ops[s][o].inst[k];
                if (oi->active)
                    oi->active->ivalue = oi->active_n;
            }
    if (e->out.tick)
        tick_to_prom(e, t);
    if (!(e->o.signals & (1 << REC_METRICS)))
        return;
    struct rec_batch *b = e->cur[REC_METRICS];
    for (int i = 0; i < e->nseries; i++) {
        const struct series *s = e->series[i];
        if (!b || !point_fits(b, s))
            b = engine__batch(e, REC_METRICS, s->nattrs, point_buckets(s), 0);
        if (!b) {
            atomic_fetch_add_explicit(&e->p_generated[REC_METRICS], 1, memory_order_relaxed);
            e->out.drop(e->out.ctx, REC_METRICS, 1);
            continue;
        }
        fill_point(e, b, s, t);
    }
}
