/* Derived metrics. Every series is cumulative from the run start and is updated as requests
 * complete (emit.c), so a tick at time t reports exactly the requests whose spans were emitted
 * before t. Series are kept sorted by (resource, metric) so that each tick's points come out
 * resource-major and metric-minor: encoders then write one Metric per run of points.
 *
 *   http.server.request.duration  histogram s   per route and status (semconv buckets)
 *   http.server.requests          counter        per route and status
 *   http.server.active_requests   updown         per route: requests in flight
 *   gen_ai.server.request.duration histogram s  per model
 *   gen_ai.client.token.usage     histogram      per model and token type
 *   inference.queue.depth         gauge          per model: last reported value
 *   inference.batch.size          histogram      per model
 *   gpu.utilization               gauge ratio    per model: last reported value
 *   system.cpu.utilization        gauge ratio    per host, logical CPU and mode
 *   system.memory.usage           gauge bytes    per host and state (used, free) */
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
    M_CPU,
    M_MEM,
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
    [M_CPU] = {"system.cpu.utilization", "Host CPU utilisation.", "1", REC_GAUGE, 0, 2, 0, NULL, 0},
    [M_MEM] = {"system.memory.usage", "Host memory in use.", "By", REC_GAUGE, 0, 2, 1, NULL, 0},
};

static int series_before(const struct series *a, const struct series *b)
{
    return a->res != b->res ? a->res < b->res : a->metric_id < b->metric_id;
}

/* New series with up to 4 attributes (key/value string pairs, NULL-terminated list). Insertion
 * keeps the order; series are created at start-up and on a route's first new status code. */
static struct series *new_series(struct engine *e, int metric, int res, const char *const *kv)
{
    struct series *s = core_calloc(1, sizeof *s);
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

struct status_series *engine__status_series(struct engine *e, int svc, int op, uint16_t status)
{
    struct op_state *st = &e->ops[svc][op];
    for (int i = 0; i < st->nst; i++)
        if (st->st[i].status == status)
            return &st->st[i];
    if (st->nst == ENGINE_MAX_STATUSES)
        return &st->st[ENGINE_MAX_STATUSES - 1];
    const struct scn_operation *so = e->w->svcs[svc].ops[op].scn;
    int res = e->w->svcs[svc].res;
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

static const char *const cpu_modes[3] = {"user", "system", "idle"};

static void init_host_series(struct engine *e, int h)
{
    struct host_state *hs = &e->hosts[h];
    int res = e->w->hosts[h].res;
    core_rng_init(&hs->rng, e->w->seed, core_hash64("host", 4) + (uint64_t)h, 0);
    hs->ncpu = e->w->hosts[h].scn->cpus;
    hs->cpu = core_malloc((size_t)hs->ncpu * 3 * sizeof *hs->cpu);
    for (int c = 0; c < hs->ncpu; c++) {
        for (int m = 0; m < 3; m++) {
            const char *kv[] = {"cpu.mode", cpu_modes[m], NULL};
            struct series *s = new_series(e, M_CPU, res, kv);
            set_int_attr(s, "cpu.logical_number", c);
            hs->cpu[c * 3 + m] = s;
        }
    }
    const char *used[] = {"system.memory.state", "used", NULL};
    const char *free_[] = {"system.memory.state", "free", NULL};
    hs->mem_used = new_series(e, M_MEM, res, used);
    hs->mem_free = new_series(e, M_MEM, res, free_);
}

int engine__metrics_init(struct engine *e)
{
    e->metrics = core_malloc(sizeof metric_defs);
    memcpy(e->metrics, metric_defs, sizeof metric_defs);
    for (int s = 0; s < e->w->nsvcs; s++) {
        for (int o = 0; o < e->w->svcs[s].nops; o++) {
            const struct scn_operation *so = e->w->svcs[s].ops[o].scn;
            if (so->kind == SCN_KIND_CLIENT)
                continue;
            const char *kv[] = {"http.route", route_of(so), NULL};
            e->ops[s][o].active = new_series(e, M_HTTP_ACTIVE, e->w->svcs[s].res, kv);
            engine__status_series(e, s, o, 200);
        }
    }
    for (int m = 0; m < e->w->nmodels; m++)
        init_model_series(e, m);
    e->hosts = core_calloc((size_t)(e->w->nhosts ? e->w->nhosts : 1), sizeof *e->hosts);
    for (int h = 0; h < e->w->nhosts; h++)
        init_host_series(e, h);
    return 0;
}

void engine__metrics_free(struct engine *e)
{
    for (int i = 0; i < e->nseries; i++) {
        core_free(e->series[i]->buckets);
        core_free(e->series[i]);
    }
    core_free(e->series);
    core_free(e->metrics);
    for (int h = 0; e->hosts && h < e->w->nhosts; h++)
        core_free(e->hosts[h].cpu);
    core_free(e->hosts);
}

/* Host gauges: a baseline, a share of the load of the services the host runs, a slow daily
 * wave and a little noise, spread over the CPUs with per-CPU noise and split between user and
 * system time; memory follows CPU loosely. */
static void update_host(struct engine *e, int h, uint64_t t, double interval_s)
{
    struct host_state *hs = &e->hosts[h];
    const struct scn_host *sh = e->w->hosts[h].scn;
    double rps = (double)hs->requests / interval_s;
    hs->requests = 0;
    double day = sin(2 * M_PI * (double)(engine__unix(e, t) % 86400000000000ULL) / 86400e9);
    const struct world_entity *en = &e->w->ents[world__entity_of(e->w, SCN_ENT_HOST, h)];
    /* cur.cpu: the state's (or the host's own); a shape moves the host's own baseline */
    double f = world_shape_factor(&sh->shape, (uint64_t)h, engine__unix(e, t), t);
    double load = en->cur.cpu + sh->cpu * (f - 1) + 0.25 * (rps / (rps + 500.0)) + 0.05 * day;
    for (int c = 0; c < hs->ncpu; c++) {
        double busy = load + 0.03 * (2 * core_rng_unit(&hs->rng) - 1);
        busy = busy < 0.01 ? 0.01 : busy > 1 ? 1 : busy;
        hs->cpu[c * 3]->dvalue = busy * 0.7;
        hs->cpu[c * 3 + 1]->dvalue = busy * 0.3;
        hs->cpu[c * 3 + 2]->dvalue = 1 - busy;
    }
    double total = sh->memory_gib * 1073741824.0;
    double used = total * (0.35 + 0.3 * (load < 1 ? load : 1)) + en->leaked;
    used = used < total * 0.99 ? used : total * 0.99; /* a leak fills memory, never past it */
    hs->mem_used->ivalue = (int64_t)used;
    hs->mem_free->ivalue = (int64_t)(total - used);
}

static void fill_point(struct engine *e, struct rec_batch *b, const struct series *s, uint64_t t)
{
    uint32_t nb = s->m->type == REC_HISTOGRAM ? s->m->nbounds + 1 : 0;
    struct rec_point *p = &b->r.points[b->n++];
    p->metric = s->m;
    p->res = s->res;
    p->start_ns = e->o.start_unix_ns;
    p->time_ns = engine__unix(e, t);
    p->gen_ns = p->time_ns;
    p->seq = b == e->tickb ? 0 : e->seq[REC_METRICS]++;
    struct rec_attr *a = rec_batch_attrs(b, s->nattrs, &p->attr_off);
    memcpy(a, s->attrs, s->nattrs * sizeof *a);
    p->nattrs = s->nattrs;
    if (s->m->is_int)
        p->value.i = s->ivalue;
    else
        p->value.d = s->dvalue;
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
    for (int s = 0; s < e->w->nsvcs; s++)
        for (int o = 0; o < e->w->svcs[s].nops; o++)
            if (e->ops[s][o].active)
                e->ops[s][o].active->ivalue = e->ops[s][o].active_n;
    if (e->out.tick)
        tick_to_prom(e, t);
    if (!(e->o.signals & (1 << REC_METRICS)))
        return;
    for (int i = 0; i < e->nseries; i++) {
        const struct series *s = e->series[i];
        uint32_t nb = s->m->type == REC_HISTOGRAM ? s->m->nbounds + 1 : 0;
        struct rec_batch *b = engine__batch(e, REC_METRICS, s->nattrs, nb, 0);
        if (!b) {
            atomic_fetch_add_explicit(&e->p_generated[REC_METRICS], 1, memory_order_relaxed);
            e->out.drop(e->out.ctx, REC_METRICS, 1);
            continue;
        }
        fill_point(e, b, s, t);
    }
}
