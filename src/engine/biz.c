/* Business metrics (world/biz.c) as engine series: a series per metric and value of its `by`
 * attribute, on the resource world names, emitted with the engine's other metrics (OTLP,
 * /metrics, remote write, dataset). world decides the values at every tick; this file only
 * turns them into series updates. Descriptors sit after the engine's own (metric ids from
 * `first`), so they sort after them within a resource. */
#include <math.h>
#include <string.h>

#include "engine/engine_int.h"

int engine__biz_count(const struct engine *e)
{
    int n;
    world_metrics(e->w, &n);
    return n;
}

void engine__biz_defs(struct engine *e, struct rec_metric *out)
{
    int n;
    const struct world_bmetric *m = world_metrics(e->w, &n);
    for (int i = 0; i < n; i++)
        out[i] = m[i].def;
}

void engine__biz_init(struct engine *e, int first)
{
    int n;
    const struct world_bmetric *m = world_metrics(e->w, &n);
    e->biz_first = first;
    e->biz_off = core_calloc((size_t)n + 1, sizeof *e->biz_off);
    for (int i = 0; i < n; i++)
        e->biz_off[i + 1] = e->biz_off[i] + (m[i].nvalues ? m[i].nvalues : 1);
    e->biz = core_calloc((size_t)e->biz_off[n] + 1, sizeof *e->biz);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < (m[i].nvalues ? m[i].nvalues : 1); k++) {
            const char *kv[] = {m[i].key, m[i].key ? m[i].values[k] : NULL, NULL};
            e->biz[e->biz_off[i] + k] = engine__new_series(e, first + i, m[i].res, kv);
        }
}

static void observe(void *ctx, int metric, int k, double x)
{
    struct engine *e = ctx;
    struct series *s = e->biz[e->biz_off[metric] + k];
    if (s->m->type == REC_HISTOGRAM)
        engine__hist_observe(s, x);
    else if (s->m->type == REC_GAUGE)
        s->ivalue = (int64_t)llround(x);
    else if (s->m->is_int)
        s->ivalue += (int64_t)llround(x);
    else
        s->dvalue += x;
}

void engine__biz_tick(struct engine *e, uint64_t t)
{
    if (!e->biz_off)
        return;
    struct world_msink sink = {e, observe};
    world_sample_metrics(e->w, t, engine__unix(e, t), (double)e->o.metric_interval_ns / 1e9, &sink);
}

void engine__biz_free(struct engine *e)
{
    core_free(e->biz);
    core_free(e->biz_off);
    e->biz = NULL;
    e->biz_off = NULL;
}
