/* Business metrics (`business:`): what the simulated app does for its users, next to what its
 * servers do. Sampled once per metric tick by the world's thread from what happened since the
 * last one (docs/metrics.md, "business metrics"):
 *
 *   counter     each request of `per` since the last tick adds `factor` to one value's series,
 *               the value drawn by weight (so the values' counts sum to the requests);
 *   histogram   each request of `per` is one observation drawn from `value` (seconds), times
 *               the load factor, into one value's series drawn by weight;
 *   gauge       per value: base x its share of the weights x shape(t) x load factor x a walk
 *               factor that moves by +-step per tick and stays within 1 +- range; whole numbers.
 *
 * A value's weight may follow its own shape (a city's day), so the split moves over the day.
 * The load factor is 1 + load x (rate of `per` in the interval / its scenario rate - 1), so a
 * dispatch time can rise with demand. Every draw comes from the metric's own stream and the
 * counts are the world's request counts (taken when requests are planned), so a run's business
 * metrics are as deterministic as its spans. Cost: one or two draws per request of `per`. */
#include <math.h>
#include <string.h>

#include "world/world.h"

#define BIZ_STREAM 0xb12

struct biz {
    const struct scn_biz *scn;
    struct core_rng rng;
    uint64_t last;  /* `per`'s request count at the last tick */
    uint64_t *keys; /* per value: its shape's key */
    double *cum;    /* per value: cumulative weights now (scratch) */
    double *walk;   /* gauges, per value: the walk factor */
};

struct world_biz {
    struct world_bmetric *m; /* the public descriptors, [n] */
    struct biz *b;
    int n;
};

static uint64_t key_of(const char *a, const char *b)
{
    char buf[2 * 260];
    size_t la = strlen(a), lb = b ? strlen(b) : 0;
    la = la < 256 ? la : 256;
    lb = lb < 256 ? lb : 256;
    memcpy(buf, a, la);
    buf[la] = '/';
    if (lb)
        memcpy(buf + la + 1, b, lb);
    return core_hash64(buf, la + 1 + lb);
}

static void describe(struct world *w, const struct scn_biz *sb, struct world_bmetric *m)
{
    static const uint8_t types[] = {REC_SUM, REC_HISTOGRAM, REC_GAUGE};
    m->def.name = sb->name;
    m->def.description = sb->description ? sb->description : "";
    m->def.unit = sb->unit;
    m->def.type = types[sb->type];
    m->def.monotonic = sb->type == SCN_BIZ_COUNTER;
    m->def.temporality = 2;
    m->def.is_int = sb->type == SCN_BIZ_GAUGE ||
                    (sb->type == SCN_BIZ_COUNTER && sb->factor == floor(sb->factor));
    m->def.bounds = sb->type == SCN_BIZ_HISTOGRAM ? sb->bounds : NULL;
    m->def.nbounds = sb->type == SCN_BIZ_HISTOGRAM ? (uint32_t)sb->nbounds : 0;
    m->res = sb->per_svc >= 0 ? w->svcs[sb->per_svc].res : 0;
    m->key = sb->by;
    m->nvalues = sb->nvalues;
}

void world__biz_build(struct world *w)
{
    const struct scenario *s = w->scn;
    if (!s->nbusiness)
        return;
    struct world_biz *z = core_calloc(1, sizeof *z);
    z->n = s->nbusiness;
    z->m = core_calloc((size_t)z->n, sizeof *z->m);
    z->b = core_calloc((size_t)z->n, sizeof *z->b);
    for (int i = 0; i < z->n; i++) {
        const struct scn_biz *sb = &s->business[i];
        struct biz *b = &z->b[i];
        int nv = sb->nvalues ? sb->nvalues : 1;
        b->scn = sb;
        core_rng_init(&b->rng, w->seed, key_of("business", sb->name), BIZ_STREAM);
        b->keys = core_calloc((size_t)nv, sizeof *b->keys);
        b->cum = core_calloc((size_t)nv, sizeof *b->cum);
        b->walk = core_calloc((size_t)nv, sizeof *b->walk);
        char **names = core_calloc((size_t)nv, sizeof *names);
        for (int k = 0; k < nv; k++) {
            b->walk[k] = 1;
            b->keys[k] = key_of(sb->name, sb->nvalues ? sb->values[k].name : NULL);
            names[k] = sb->nvalues ? sb->values[k].name : NULL;
        }
        z->m[i].values = names;
        describe(w, sb, &z->m[i]);
    }
    w->biz = z;
}

void world__biz_free(struct world *w)
{
    struct world_biz *z = w->biz;
    if (!z)
        return;
    for (int i = 0; i < z->n; i++) {
        core_free(z->b[i].keys);
        core_free(z->b[i].cum);
        core_free(z->b[i].walk);
        core_free((void *)z->m[i].values);
    }
    core_free(z->m);
    core_free(z->b);
    core_free(z);
    w->biz = NULL;
}

const struct world_bmetric *world_metrics(const struct world *w, int *n)
{
    *n = w->biz ? w->biz->n : 0;
    return w->biz ? w->biz->m : NULL;
}

/* The values' weights at this time, cumulated into b->cum; returns their sum. */
static double weights(struct biz *b, uint64_t off, uint64_t unix_ns)
{
    const struct scn_biz *sb = b->scn;
    double sum = 0;
    for (int k = 0; k < (sb->nvalues ? sb->nvalues : 1); k++) {
        const struct scn_biz_value *v = sb->nvalues ? &sb->values[k] : NULL;
        double wk = v ? v->weight * world_shape_factor(&v->shape, b->keys[k], unix_ns, off) : 1;
        sum += wk > 0 ? wk : 0;
        b->cum[k] = sum;
    }
    return sum;
}

static int pick(const struct biz *b, double sum, struct core_rng *r)
{
    int n = b->scn->nvalues;
    if (n <= 1)
        return 0;
    double x = core_rng_unit(r) * sum;
    int k = 0;
    while (k < n - 1 && x >= b->cum[k])
        k++;
    return k;
}

/* 1 + load x (the rate of `per` in this interval / its usual rate - 1), at least 0.05. The
 * usual rate is the scenario's for an entry operation, else the mean so far. */
static double load_factor(const struct world *w, const struct scn_biz *sb, uint64_t n, uint64_t off,
                          double interval_s)
{
    if (sb->load == 0 || sb->per_svc < 0 || interval_s <= 0 || off == 0)
        return 1;
    const struct world_op *wo = &w->svcs[sb->per_svc].ops[sb->per_op];
    double usual = wo->scn->rate > 0 ? wo->scn->rate : (double)wo->count / ((double)off / 1e9);
    if (!(usual > 0))
        return 1;
    double f = 1 + sb->load * ((double)n / interval_s / usual - 1);
    return f > 0.05 ? f : 0.05;
}

static void sample_one(struct world *w, int i, uint64_t off, uint64_t unix_ns, double interval_s,
                       const struct world_msink *sink)
{
    struct biz *b = &w->biz->b[i];
    const struct scn_biz *sb = b->scn;
    uint64_t count = sb->per_svc >= 0 ? w->svcs[sb->per_svc].ops[sb->per_op].count : 0;
    uint64_t n = count - b->last;
    b->last = count;
    double sum = weights(b, off, unix_ns), lf = load_factor(w, sb, n, off, interval_s);
    if (sb->type == SCN_BIZ_COUNTER) {
        for (uint64_t k = 0; sum > 0 && k < n; k++)
            sink->observe(sink->ctx, i, pick(b, sum, &b->rng), sb->factor);
        return;
    }
    if (sb->type == SCN_BIZ_HISTOGRAM) {
        for (uint64_t k = 0; sum > 0 && k < n; k++) {
            int v = pick(b, sum, &b->rng);
            double x = (double)world_op_latency(&b->rng, &sb->value) / 1e9 * lf;
            sink->observe(sink->ctx, i, v, x);
        }
        return;
    }
    double total = sb->base * world_shape_factor(&sb->shape, b->keys[0] ^ 0x5a, unix_ns, off) * lf;
    for (int k = 0; k < (sb->nvalues ? sb->nvalues : 1); k++) {
        double share = sum > 0 ? (b->cum[k] - (k ? b->cum[k - 1] : 0)) / sum : 0;
        double f = b->walk[k] + sb->step * (2 * core_rng_unit(&b->rng) - 1);
        f = f < 1 - sb->range ? 1 - sb->range : f > 1 + sb->range ? 1 + sb->range : f;
        b->walk[k] = f;
        sink->observe(sink->ctx, i, k, round(total * share * f));
    }
}

void world__biz_sample(struct world *w, uint64_t off, uint64_t unix_ns, double interval_s,
                       const struct world_msink *sink)
{
    for (int i = 0; w->biz && i < w->biz->n; i++)
        sample_one(w, i, off, unix_ns, interval_s, sink);
}
