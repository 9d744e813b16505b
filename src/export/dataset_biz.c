/* The dataset's business table (DIR/business.{csv,parquet}, docs/dataset.md): the scenario's
 * `business:` metrics (rides requested, dispatch time, drivers available ... by city) in long
 * ("tidy") form, one row per metric tick, metric and attribute value:
 *
 *   timestamp | metric | type | unit | attr_key | attr_value | value | count sum mean p50 p99
 *
 * counter    value = the increase over the interval (a delta of the cumulative points, so the
 *            rows of a series sum exactly to its last cumulative value)
 * gauge      value = the value at the tick
 * histogram  count, sum = the interval's observations and their sum; mean = sum / count;
 *            p50, p99 interpolated inside the bucket (null without observations)
 *
 * Long rather than wide: a scenario may have 256 metrics of 256 values each, more columns
 * than a table should have, and the schema stays the same for every scenario; one pivot
 * (docs/dataset.md) makes it wide. Memory: per series two copies of its buckets. */
#include <string.h>

#include "export/dataset_int.h"

enum {
    B_TS,
    B_METRIC,
    B_TYPE,
    B_UNIT,
    B_KEY,
    B_KVAL,
    B_VALUE,
    B_COUNT,
    B_SUM,
    B_MEAN,
    B_P50,
    B_P99
};
static const struct export_pq_col biz_cols[DS_BIZ_NCOLS] = {
    {"timestamp", EXPORT_PQ_TIMESTAMP_MS, 0},
    {"metric", EXPORT_PQ_STRING, 0},
    {"type", EXPORT_PQ_STRING, 0},
    {"unit", EXPORT_PQ_STRING, 0},
    {"attr_key", EXPORT_PQ_STRING, 0},
    {"attr_value", EXPORT_PQ_STRING, 0},
    {"value", EXPORT_PQ_DOUBLE, 1},
    {"count", EXPORT_PQ_DOUBLE, 1},
    {"sum", EXPORT_PQ_DOUBLE, 1},
    {"mean", EXPORT_PQ_DOUBLE, 1},
    {"p50", EXPORT_PQ_DOUBLE, 1},
    {"p99", EXPORT_PQ_DOUBLE, 1}};
static const char *const type_names[] = {
    [REC_GAUGE] = "gauge", [REC_SUM] = "counter", [REC_HISTOGRAM] = "histogram"};

struct bser {           /* one series: a metric and one value of its attribute */
    int seen;           /* a point this tick */
    double cur, prev;   /* counter: cumulative value (prev: at the last row); gauge: value */
    double sum, psum;   /* histogram: cumulative sum */
    uint64_t n, pn;     /* histogram: cumulative count */
    uint64_t *bk, *pbk; /* histogram: cumulative buckets [nb], NULL until the first point */
};

struct bmet {
    char *name, *unit, *key; /* key NULL: one series without attributes */
    int type;
    char **values;
    int nvalues;
    const double *bounds; /* from the first point (the engine's descriptor) */
    uint32_t nb;
    struct bser *s; /* [nvalues ? nvalues : 1] */
};

struct ds_biz {
    struct bmet *m;
    size_t n;
};

struct ds_biz *export__ds_biz_new(const struct export_dataset_biz *m, size_t n)
{
    struct ds_biz *z = core_calloc(1, sizeof *z);
    z->m = core_calloc(n ? n : 1, sizeof *z->m);
    z->n = n;
    for (size_t i = 0; i < n; i++) {
        struct bmet *d = &z->m[i];
        d->name = core_strdup(m[i].name);
        d->unit = core_strdup(m[i].unit ? m[i].unit : "");
        d->key = m[i].key ? core_strdup(m[i].key) : NULL;
        d->type = m[i].type;
        d->nvalues = m[i].key ? m[i].nvalues : 0;
        d->values = core_calloc((size_t)d->nvalues + 1, sizeof *d->values);
        for (int k = 0; k < d->nvalues; k++)
            d->values[k] = core_strdup(m[i].values[k]);
        d->s = core_calloc((size_t)(d->nvalues ? d->nvalues : 1), sizeof *d->s);
    }
    return z;
}

void export__ds_biz_free(struct ds_biz *z)
{
    if (!z)
        return;
    for (size_t i = 0; i < z->n; i++) {
        struct bmet *d = &z->m[i];
        for (int k = 0; k < (d->nvalues ? d->nvalues : 1); k++) {
            core_free(d->s[k].bk);
            core_free(d->s[k].pbk);
        }
        for (int k = 0; k < d->nvalues; k++)
            core_free(d->values[k]);
        core_free(d->values);
        core_free(d->s);
        core_free(d->name);
        core_free(d->unit);
        core_free(d->key);
    }
    core_free(z->m);
    core_free(z);
}

int export__ds_biz_find(const struct ds_biz *z, const char *name)
{
    for (size_t i = 0; z && i < z->n; i++)
        if (!strcmp(z->m[i].name, name))
            return (int)i;
    return -1;
}

static struct bser *series_of(struct bmet *d, const struct rec_batch *b, const struct rec_point *p)
{
    if (!d->key)
        return &d->s[0];
    const struct rec_attr *a = export__ds_attr(b, p, d->key);
    if (!a || a->type != REC_STR)
        return NULL;
    for (int k = 0; k < d->nvalues; k++)
        if (a->v.s.len == strlen(d->values[k]) && !memcmp(a->v.s.p, d->values[k], a->v.s.len))
            return &d->s[k];
    return NULL;
}

static int fold_hist(struct bmet *d, struct bser *s, const struct rec_batch *b,
                     const struct rec_point *p)
{
    uint32_t nb = p->metric->nbounds + 1;
    if (d->bounds &&
        (d->nb != nb || memcmp(d->bounds, p->metric->bounds, (size_t)(nb - 1) * sizeof *d->bounds)))
        return -1;
    d->bounds = p->metric->bounds;
    d->nb = nb;
    if (!s->bk) {
        s->bk = core_calloc(nb, sizeof *s->bk);
        s->pbk = core_calloc(nb, sizeof *s->pbk);
    }
    memcpy(s->bk, b->buckets + p->bucket_off, nb * sizeof *s->bk);
    s->n = p->count;
    s->sum = p->sum;
    return 0;
}

int export__ds_biz_fold(struct ds_biz *z, int i, const struct rec_batch *b,
                        const struct rec_point *p)
{
    struct bmet *d = &z->m[i];
    struct bser *s = series_of(d, b, p);
    if (!s || p->metric->type != d->type)
        return -1;
    if (d->type == REC_HISTOGRAM) {
        if (fold_hist(d, s, b, p))
            return -1;
    } else {
        s->cur = p->metric->is_int ? (double)p->value.i : p->value.d;
    }
    s->seen = 1;
    return 0;
}

void export__ds_biz_csv_header(struct core_buf *b)
{
    core_buf_puts(b, "timestamp,time");
    for (int i = 1; i < DS_BIZ_NCOLS; i++) {
        core_buf_putc(b, ',');
        core_buf_puts(b, biz_cols[i].name);
    }
    core_buf_putc(b, '\n');
}

void export__ds_biz_pq_cols(struct export_pq_col cols[DS_BIZ_NCOLS])
{
    memcpy(cols, biz_cols, sizeof biz_cols);
}

/* The numbers of a row: v[B_VALUE..B_P99], has[] set for the ones that apply. */
static void numbers(const struct bmet *d, const struct bser *s, double v[], int has[])
{
    if (d->type != REC_HISTOGRAM) {
        v[B_VALUE] = d->type == REC_SUM ? s->cur - s->prev : s->cur;
        has[B_VALUE] = 1;
        return;
    }
    if (s->n < s->pn)
        return; /* the series restarted: no honest delta */
    uint64_t n = s->n - s->pn, dk[64];
    v[B_COUNT] = (double)n, has[B_COUNT] = 1;
    v[B_SUM] = s->sum - s->psum, has[B_SUM] = 1;
    if (!n || d->nb > 64)
        return;
    v[B_MEAN] = v[B_SUM] / (double)n, has[B_MEAN] = 1;
    for (uint32_t k = 0; k < d->nb; k++)
        dk[k] = s->bk[k] - s->pbk[k];
    v[B_P50] = export__ds_quantile(dk, d->nb, d->bounds, n, 0.50), has[B_P50] = 1;
    v[B_P99] = export__ds_quantile(dk, d->nb, d->bounds, n, 0.99), has[B_P99] = 1;
}

static void csv_row(struct core_buf *b, uint64_t t, const struct bmet *d, const char *kv,
                    const double v[], const int has[])
{
    const char *s[] = {d->name, type_names[d->type], d->unit, d->key ? d->key : "", kv};
    export__ds_time(b, t);
    for (int i = 0; i < 5; i++) {
        export_csv_field(b, s[i], strlen(s[i]));
        core_buf_putc(b, ',');
    }
    for (int i = B_VALUE; i < DS_BIZ_NCOLS; i++) {
        if (has[i])
            export__ds_num(b, v[i]);
        core_buf_putc(b, i == DS_BIZ_NCOLS - 1 ? '\n' : ',');
    }
}

static int pq_row(struct export_pq *p, uint64_t t, const struct bmet *d, const char *kv,
                  const double v[], const int has[])
{
    const char *s[] = {d->name, type_names[d->type], d->unit, d->key ? d->key : "", kv};
    int rc = export_pq_put_i64(p, B_TS, (int64_t)(t / 1000000ULL));
    for (int i = 0; i < 5 && !rc; i++)
        rc = export_pq_put_str(p, B_METRIC + i, s[i], strlen(s[i]));
    for (int i = B_VALUE; i < DS_BIZ_NCOLS && !rc; i++)
        rc = has[i] ? export_pq_put_double(p, i, v[i]) : export_pq_put_null(p, i);
    return rc ? rc : export_pq_end_row(p);
}

/* The series' values at this row become the base of the next row's deltas. */
static void settle(const struct bmet *d, struct bser *s)
{
    s->prev = s->cur;
    s->psum = s->sum;
    s->pn = s->n;
    if (s->bk)
        memcpy(s->pbk, s->bk, d->nb * sizeof *s->pbk);
    s->seen = 0;
}

uint64_t export__ds_biz_rows(struct ds_biz *z, uint64_t t, struct core_buf *csv,
                             struct export_pq *pq, int *pq_rc)
{
    uint64_t rows = 0;
    for (size_t i = 0; z && i < z->n; i++) {
        struct bmet *d = &z->m[i];
        for (int k = 0; k < (d->nvalues ? d->nvalues : 1); k++) {
            struct bser *s = &d->s[k];
            if (!s->seen)
                continue;
            double v[DS_BIZ_NCOLS];
            int has[DS_BIZ_NCOLS] = {0};
            const char *kv = d->nvalues ? d->values[k] : "";
            numbers(d, s, v, has);
            if (csv)
                csv_row(csv, t, d, kv, v, has);
            if (pq && !*pq_rc)
                *pq_rc = pq_row(pq, t, d, kv, v, has);
            settle(d, s);
            rows++;
        }
    }
    return rows;
}
