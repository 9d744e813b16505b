/* The dataset output (--dataset DIR): metric points pivoted into a wide table, one row per
 * entity (host, service, model) and metric interval, with the entity's state and active fault
 * labels, written as CSV and Parquet (docs/dataset.md).
 *
 * It is an inline output: the hub calls consume on the engine's thread at submit time, so
 * batches arrive in emission order (tick-major, resource-major) and the engine's
 * export_dataset_annotate calls for a tick always come before that tick's points. Points of
 * one tick are folded into per-entity accumulators; the first point of a later tick (or the
 * end of the run) turns the tick into rows. Counters are cumulative (as the engine emits
 * them), so rates and percentiles are deltas against the entity's previous row.
 *
 * Accounting (unit: metric points, like every output): a tick's points are in flight until its
 * rows are written; they are delivered when every selected format took the rows, dropped(io)
 * when a write failed. Parquet rows are buffered until their row group is written, so their
 * points stay in flight until then. Memory: the accumulators (per entity), the annotations
 * the engine is ahead by (at most one metric batch of ticks; capped at ANN_MAX, the oldest are
 * then forgotten and their rows get an empty state) and one Parquet row group. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "export/dataset_int.h"
#include "export/internal.h"

#define ANN_MAX 65536 /* ticks of annotations kept ahead of the points */
#define DS_MAX_BUCKETS 32
#define MC_SLOTS 1024 /* metric descriptors remembered (the engine has a few hundred) */

/* The table's columns after the fixed ones: what each entity kind reports per interval. */
enum {
    C_CPU,
    C_MEM_USED,
    C_MEM_UTIL,
    C_REQ_RATE,
    C_ERR_RATE,
    C_P50,
    C_P99,
    C_ACTIVE,
    C_QUEUE,
    C_BATCH,
    C_GPU,
    C_TOK_IN,
    C_TOK_OUT,
    C_NMETRICS
};
static const char *const metric_cols[C_NMETRICS] = {
    "cpu_utilization", "memory_used_bytes", "memory_utilization", "request_rate", "error_rate",
    "latency_p50_s",   "latency_p99_s",     "active_requests",    "queue_depth",  "batch_size_mean",
    "gpu_utilization", "tokens_in_rate",    "tokens_out_rate"};
enum { F_TS, F_ENTITY, F_KIND, F_PROFILE, F_STATE, F_PROGRESS, F_FAULTS, F_NFIXED };
static const struct export_pq_col fixed_cols[F_NFIXED] = {{"timestamp", EXPORT_PQ_TIMESTAMP_MS, 0},
                                                          {"entity", EXPORT_PQ_STRING, 0},
                                                          {"kind", EXPORT_PQ_STRING, 0},
                                                          {"profile", EXPORT_PQ_STRING, 0},
                                                          {"state", EXPORT_PQ_STRING, 0},
                                                          {"state_progress", EXPORT_PQ_DOUBLE, 0},
                                                          {"faults", EXPORT_PQ_STRING, 0}};

/* The engine metrics read (engine/metrics.c); others are counted with their row. */
enum {
    M_OTHER,
    M_CPU,
    M_MEM,
    M_HTTP_DUR,
    M_HTTP_REQS,
    M_ACTIVE,
    M_GENAI_DUR,
    M_TOKENS,
    M_QUEUE,
    M_BATCH,
    M_GPU
};
static const struct {
    const char *name;
    int id;
} metric_ids[] = {{"system.cpu.utilization", M_CPU},
                  {"system.memory.usage", M_MEM},
                  {"http.server.request.duration", M_HTTP_DUR},
                  {"http.server.requests", M_HTTP_REQS},
                  {"http.server.active_requests", M_ACTIVE},
                  {"gen_ai.server.request.duration", M_GENAI_DUR},
                  {"gen_ai.client.token.usage", M_TOKENS},
                  {"inference.queue.depth", M_QUEUE},
                  {"inference.batch.size", M_BATCH},
                  {"gpu.utilization", M_GPU}};

/* Cumulative sums of one tick (or the previous row's, for deltas). */
struct cum {
    double req, err; /* requests, of which 5xx */
    uint64_t dur[DS_MAX_BUCKETS], ndur;
    double tok_in, tok_out; /* token sums */
    double batch_sum, batch_n;
};

struct ent {
    char *name, *kind, *profile;
    int res, model;
    /* this tick */
    int seen;
    unsigned mask; /* bit per metric id seen this tick */
    double busy, ncpu, mem_used, mem_free, active, queue, gpu;
    int has_mem, has_active, has_queue, has_gpu;
    const double *bounds; /* latency buckets' bounds (from the metric) */
    uint32_t nb;
    struct cum cur, prev;
    uint64_t prev_t;
};

struct ann { /* one tick's annotations: nents states, strings in blob */
    uint64_t t;
    double *progress;
    char **state, **faults;
};

/* One table: its files, this tick's CSV text and the accounting of its points. */
struct tbl {
    const char *name; /* "metrics", "business": the files' base name */
    FILE *csv, *pqf;
    struct export_pq *pq;
    struct core_buf line;        /* this tick's CSV rows */
    uint64_t points;             /* this tick's points that went into the table's rows */
    uint64_t pend_ok, pend_fail; /* points waiting for their Parquet row group */
    uint64_t rows;
    int csv_err, pq_err;
};
enum { T_METRICS, T_BUSINESS, T_COUNT };

/* What a metric descriptor is to this output, remembered by its address: the engine's
 * descriptors live for the run, so a point costs a hash probe instead of name compares. */
struct mslot {
    const struct rec_metric *m; /* NULL: empty */
    const char *name;           /* m->name when remembered (a reused address shows) */
    int id, biz;                /* M_*; business metric index or -1 */
};

struct ds_out {
    struct export_output o; /* first: the hub sees this */
    pthread_mutex_t mu;
    char dir[4096];
    int formats;
    struct ent *ents;
    size_t nents, nmodels;
    int *by_res; /* resource index -> entity (non-model), -1 none */
    int nres;
    uint64_t tick_t; /* timestamp of the tick being folded, 0 = none */
    struct ann *ann; /* FIFO ring */
    size_t ann_head, ann_len, ann_cap;
    struct tbl t[T_COUNT];
    int ntbl;           /* T_BUSINESS only with business metrics */
    struct ds_biz *biz; /* the business table's series, NULL without */
    struct mslot *mc;   /* [MC_SLOTS] */
    int mc_used;
};

/* ---- CSV ------------------------------------------------------------------------------- */
int export_csv_field(struct core_buf *out, const char *s, size_t n)
{
    int quote = n && (s[0] == ' ' || s[n - 1] == ' ');
    for (size_t i = 0; i < n && !quote; i++)
        quote = s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
    if (!quote)
        return core_buf_append(out, s, n);
    int rc = core_buf_putc(out, '"');
    for (size_t i = 0; i < n && !rc; i++)
        rc = s[i] == '"' ? core_buf_append(out, "\"\"", 2) : core_buf_putc(out, s[i]);
    return rc ? rc : core_buf_putc(out, '"');
}

/* The shortest of %.15g / %.17g that reads back as the same double, so CSV and Parquet hold
 * equal values and the text is stable across runs. */
void export__ds_num(struct core_buf *b, double v)
{
    if (fabs(v) < 1e15 && v == (double)(int64_t)v && (v != 0 || !signbit(v))) {
        core_buf_put_i64(b, (int64_t)v); /* what %.15g prints for a whole number, faster */
        return;
    }
    char s[40];
    snprintf(s, sizeof s, "%.15g", v);
    if (strtod(s, NULL) != v)
        snprintf(s, sizeof s, "%.17g", v);
    core_buf_puts(b, s);
}

static void csv_header(struct core_buf *b)
{
    core_buf_puts(b, "timestamp,time,entity,kind,profile,state,state_progress,faults");
    for (int i = 0; i < C_NMETRICS; i++) {
        core_buf_putc(b, ',');
        core_buf_puts(b, metric_cols[i]);
    }
    core_buf_putc(b, '\n');
}

void export__ds_time(struct core_buf *b, uint64_t t_ns)
{
    time_t sec = (time_t)(t_ns / 1000000000ULL);
    struct tm tm;
    gmtime_r(&sec, &tm);
    char d[24];
    strftime(d, sizeof d, "%Y-%m-%dT%H:%M:%S", &tm);
    core_buf_printf(b, "%llu,%s.%03uZ,", (unsigned long long)(t_ns / 1000000ULL), d,
                    (unsigned)(t_ns / 1000000ULL % 1000));
}

/* ---- annotations ----------------------------------------------------------------------- */
static void ann_clear(struct ds_out *x, struct ann *a)
{
    for (size_t i = 0; i < x->nents; i++) {
        core_free(a->state[i]);
        core_free(a->faults[i]);
    }
    core_free(a->state);
    core_free(a->faults);
    core_free(a->progress);
    memset(a, 0, sizeof *a);
}

static void ann_pop(struct ds_out *x)
{
    ann_clear(x, &x->ann[x->ann_head]);
    x->ann_head = (x->ann_head + 1) % x->ann_cap;
    x->ann_len--;
}

void export_dataset_annotate(struct export_output *o, uint64_t time_ns,
                             const struct export_dataset_state *st)
{
    struct ds_out *x = (struct ds_out *)o;
    pthread_mutex_lock(&x->mu);
    if (x->ann_len == ANN_MAX)
        ann_pop(x); /* the oldest: its rows (if they ever come) get an empty state */
    if (x->ann_len == x->ann_cap) {
        size_t cap = x->ann_cap ? x->ann_cap * 2 : 16;
        struct ann *n = core_calloc(cap, sizeof *n);
        for (size_t i = 0; i < x->ann_len; i++)
            n[i] = x->ann[(x->ann_head + i) % x->ann_cap];
        core_free(x->ann);
        x->ann = n;
        x->ann_cap = cap;
        x->ann_head = 0;
    }
    struct ann *a = &x->ann[(x->ann_head + x->ann_len++) % x->ann_cap];
    a->t = time_ns;
    a->progress = core_malloc(x->nents * sizeof *a->progress);
    a->state = core_malloc(x->nents * sizeof *a->state);
    a->faults = core_malloc(x->nents * sizeof *a->faults);
    for (size_t i = 0; i < x->nents; i++) {
        a->progress[i] = st[i].progress;
        a->state[i] = core_strdup(st[i].state ? st[i].state : "");
        a->faults[i] = core_strdup(st[i].faults ? st[i].faults : "");
    }
    pthread_mutex_unlock(&x->mu);
}

/* The annotations of tick t, after forgetting older ones; NULL when there are none. */
static const struct ann *ann_for(struct ds_out *x, uint64_t t)
{
    while (x->ann_len && x->ann[x->ann_head].t < t)
        ann_pop(x);
    return x->ann_len && x->ann[x->ann_head].t == t ? &x->ann[x->ann_head] : NULL;
}

/* ---- folding points into entities ------------------------------------------------------ */
static struct mslot classify(const struct ds_out *x, const struct rec_metric *m)
{
    struct mslot s = {m, m->name, M_OTHER, export__ds_biz_find(x->biz, m->name)};
    for (size_t i = 0; i < sizeof metric_ids / sizeof metric_ids[0]; i++)
        if (!strcmp(m->name, metric_ids[i].name))
            s.id = metric_ids[i].id;
    return s;
}

/* The metric's slot: found by its address, classified (by name) on its first point. */
static struct mslot metric_of(struct ds_out *x, const struct rec_metric *m)
{
    size_t h = (size_t)(((uintptr_t)m >> 3) * 0x9e3779b97f4a7c15ULL >> 54) % MC_SLOTS;
    for (int probes = 0; probes < MC_SLOTS; probes++, h = (h + 1) % MC_SLOTS) {
        struct mslot *s = &x->mc[h];
        if (s->m == m && s->name == m->name)
            return *s;
        if (s->m == m || !s->m) {
            if (!s->m && x->mc_used >= MC_SLOTS / 2)
                break; /* full enough: classify every time rather than probe long */
            x->mc_used += !s->m;
            *s = classify(x, m);
            return *s;
        }
    }
    return classify(x, m);
}

const struct rec_attr *export__ds_attr(const struct rec_batch *b, const struct rec_point *p,
                                       const char *key)
{
    for (uint32_t i = 0; i < p->nattrs; i++) {
        const struct rec_attr *a = &b->attrs[p->attr_off + i];
        if (!strcmp(a->key, key))
            return a;
    }
    return NULL;
}

static int attr_is(const struct rec_attr *a, const char *s)
{
    return a && a->type == REC_STR && a->v.s.len == strlen(s) && !memcmp(a->v.s.p, s, a->v.s.len);
}

static struct ent *entity_of(struct ds_out *x, const struct rec_batch *b, const struct rec_point *p)
{
    /* only models' points carry the attribute: without models, no look-up per point */
    const struct rec_attr *m = x->nmodels ? export__ds_attr(b, p, "gen_ai.request.model") : NULL;
    if (m && m->type == REC_STR) {
        for (size_t i = 0; i < x->nents; i++)
            if (x->ents[i].model && attr_is(m, x->ents[i].name))
                return &x->ents[i];
        return NULL;
    }
    if (p->res >= x->nres || x->by_res[p->res] < 0)
        return NULL;
    return &x->ents[x->by_res[p->res]];
}

static void add_hist(struct ent *e, const struct rec_batch *b, const struct rec_point *p)
{
    uint32_t nb = p->metric->nbounds + 1;
    if (nb > DS_MAX_BUCKETS || (e->bounds && e->nb != nb))
        return; /* not a latency histogram this table knows */
    e->bounds = p->metric->bounds;
    e->nb = nb;
    for (uint32_t i = 0; i < nb; i++)
        e->cur.dur[i] += b->buckets[p->bucket_off + i];
    e->cur.ndur += p->count;
}

static void fold_host(struct ent *e, int id, const struct rec_batch *b, const struct rec_point *p)
{
    if (id == M_CPU) {
        if (attr_is(export__ds_attr(b, p, "cpu.mode"), "idle"))
            e->ncpu += 1;
        else
            e->busy += p->value.d;
    } else if (id == M_MEM) {
        const struct rec_attr *st = export__ds_attr(b, p, "system.memory.state");
        double v = p->metric->is_int ? (double)p->value.i : p->value.d;
        if (attr_is(st, "used"))
            e->mem_used = v, e->has_mem = 1;
        else if (attr_is(st, "free"))
            e->mem_free = v;
    }
}

static void fold(struct ent *e, int id, const struct rec_batch *b, const struct rec_point *p)
{
    const struct rec_attr *a;
    e->mask |= 1u << id;
    switch (id) {
    case M_HTTP_DUR:
        add_hist(e, b, p);
        break;
    case M_HTTP_REQS:
        e->cur.req += (double)p->value.i;
        a = export__ds_attr(b, p, "http.response.status_code");
        if (a && a->type == REC_INT && a->v.i >= 500)
            e->cur.err += (double)p->value.i;
        break;
    case M_ACTIVE:
        e->active += (double)p->value.i, e->has_active = 1;
        break;
    case M_GENAI_DUR:
        add_hist(e, b, p);
        e->cur.req += (double)p->count;
        break;
    case M_TOKENS:
        a = export__ds_attr(b, p, "gen_ai.token.type");
        *(attr_is(a, "input") ? &e->cur.tok_in : &e->cur.tok_out) += p->sum;
        break;
    case M_QUEUE:
        e->queue = (double)p->value.i, e->has_queue = 1;
        break;
    case M_BATCH:
        e->cur.batch_sum += p->sum, e->cur.batch_n += (double)p->count;
        break;
    case M_GPU:
        e->gpu = p->value.d, e->has_gpu = 1;
        break;
    default:
        fold_host(e, id, b, p);
    }
}

/* ---- rows ------------------------------------------------------------------------------ */
/* The q-quantile of a histogram delta, interpolated linearly inside its bucket as
 * Prometheus' histogram_quantile does (the +Inf bucket answers its lower bound). */
double export__ds_quantile(const uint64_t *d, uint32_t nb, const double *bounds, uint64_t n,
                           double q)
{
    double rank = q * (double)n, seen = 0;
    for (uint32_t i = 0; i < nb; i++) {
        if (seen + (double)d[i] >= rank && d[i] > 0) {
            double lo = i ? bounds[i - 1] : 0;
            if (i == nb - 1)
                return lo;
            return lo + (bounds[i] - lo) * (rank - seen) / (double)d[i];
        }
        seen += (double)d[i];
    }
    return nb > 1 ? bounds[nb - 2] : 0;
}

#define HAS(e, id) ((e)->mask & (1u << (id)))

static void latency(const struct ent *e, double v[], int has[])
{
    uint64_t d[DS_MAX_BUCKETS];
    if (!e->bounds || e->cur.ndur <= e->prev.ndur)
        return;
    for (uint32_t i = 0; i < e->nb; i++) {
        if (e->cur.dur[i] < e->prev.dur[i])
            return; /* a point was lost: no honest delta */
        d[i] = e->cur.dur[i] - e->prev.dur[i];
    }
    uint64_t n = e->cur.ndur - e->prev.ndur;
    v[C_P50] = export__ds_quantile(d, e->nb, e->bounds, n, 0.50), has[C_P50] = 1;
    v[C_P99] = export__ds_quantile(d, e->nb, e->bounds, n, 0.99), has[C_P99] = 1;
}

/* Per-second rate of a cumulative sum, when the delta is sound. */
static int rate(double cur, double prev, double dt, double *out)
{
    if (dt <= 0 || cur < prev)
        return 0;
    *out = (cur - prev) / dt;
    return 1;
}

static void values(const struct ent *e, uint64_t t, double v[C_NMETRICS], int has[C_NMETRICS])
{
    double dt = t > e->prev_t ? (double)(t - e->prev_t) / 1e9 : 0;
    memset(has, 0, C_NMETRICS * sizeof *has);
    if (HAS(e, M_CPU) && e->ncpu > 0)
        v[C_CPU] = e->busy / e->ncpu, has[C_CPU] = 1;
    if (e->has_mem) {
        v[C_MEM_USED] = e->mem_used, has[C_MEM_USED] = 1;
        if (e->mem_used + e->mem_free > 0)
            v[C_MEM_UTIL] = e->mem_used / (e->mem_used + e->mem_free), has[C_MEM_UTIL] = 1;
    }
    if (HAS(e, M_HTTP_REQS) || HAS(e, M_GENAI_DUR))
        has[C_REQ_RATE] = rate(e->cur.req, e->prev.req, dt, &v[C_REQ_RATE]);
    if (HAS(e, M_HTTP_REQS) && e->cur.req > e->prev.req && e->cur.err >= e->prev.err)
        v[C_ERR_RATE] = (e->cur.err - e->prev.err) / (e->cur.req - e->prev.req),
        has[C_ERR_RATE] = 1;
    latency(e, v, has);
    if (e->has_active)
        v[C_ACTIVE] = e->active, has[C_ACTIVE] = 1;
    if (e->has_queue)
        v[C_QUEUE] = e->queue, has[C_QUEUE] = 1;
    if (HAS(e, M_BATCH) && e->cur.batch_n > e->prev.batch_n)
        v[C_BATCH] = (e->cur.batch_sum - e->prev.batch_sum) / (e->cur.batch_n - e->prev.batch_n),
        has[C_BATCH] = 1;
    if (e->has_gpu)
        v[C_GPU] = e->gpu, has[C_GPU] = 1;
    if (HAS(e, M_TOKENS)) {
        has[C_TOK_IN] = rate(e->cur.tok_in, e->prev.tok_in, dt, &v[C_TOK_IN]);
        has[C_TOK_OUT] = rate(e->cur.tok_out, e->prev.tok_out, dt, &v[C_TOK_OUT]);
    }
}

struct row {
    uint64_t t;
    const struct ent *e;
    const char *state, *faults;
    double progress;
    double v[C_NMETRICS];
    int has[C_NMETRICS];
};

static void csv_row(struct core_buf *b, const struct row *r)
{
    export__ds_time(b, r->t);
    const char *s[] = {r->e->name, r->e->kind, r->e->profile, r->state};
    for (int i = 0; i < 4; i++) {
        export_csv_field(b, s[i], strlen(s[i]));
        core_buf_putc(b, ',');
    }
    export__ds_num(b, r->progress);
    core_buf_putc(b, ',');
    export_csv_field(b, r->faults, strlen(r->faults));
    for (int i = 0; i < C_NMETRICS; i++) {
        core_buf_putc(b, ',');
        if (r->has[i])
            export__ds_num(b, r->v[i]);
    }
    core_buf_putc(b, '\n');
}

static int pq_row(struct export_pq *p, const struct row *r)
{
    const char *s[] = {r->e->name, r->e->kind, r->e->profile, r->state, NULL, r->faults};
    int rc = export_pq_put_i64(p, F_TS, (int64_t)(r->t / 1000000ULL));
    for (int i = 0; i < 6 && !rc; i++)
        rc = i == 4 ? export_pq_put_double(p, F_PROGRESS, r->progress)
                    : export_pq_put_str(p, F_ENTITY + i, s[i], strlen(s[i]));
    for (int i = 0; i < C_NMETRICS && !rc; i++)
        rc = r->has[i] ? export_pq_put_double(p, F_NFIXED + i, r->v[i])
                       : export_pq_put_null(p, F_NFIXED + i);
    return rc ? rc : export_pq_end_row(p);
}

/* ---- writing and accounting ------------------------------------------------------------ */
static void io_error(struct ds_out *x, struct tbl *t, const char *ext, int *flag)
{
    if (!*flag)
        core_error("--dataset: %s/%s.%s: write failed (%s); its rows from now on are counted as "
                   "dropped (io)",
                   x->dir, t->name, ext, errno ? strerror(errno) : "error");
    *flag = 1;
}

/* The Parquet row group holding the table's pending points was written (ok) or not. */
static void settle_parquet(struct ds_out *x, struct tbl *t, int ok)
{
    struct export_output *o = &x->o;
    export__delivered(o, REC_METRICS, ok ? t->pend_ok : 0);
    export__dropped(o, REC_METRICS, t->pend_fail + (ok ? 0 : t->pend_ok), EXPORT_DROP_IO);
    t->pend_ok = t->pend_fail = 0;
}

static void pq_flush(struct ds_out *x, struct tbl *t)
{
    if (!t->pq_err && export_pq_flush(t->pq))
        io_error(x, t, "parquet", &t->pq_err);
    settle_parquet(x, t, !t->pq_err);
}

/* Rows are written; the tick's points of table t are delivered or dropped(io) now, or wait
 * for their Parquet row group. */
static void account(struct ds_out *x, struct tbl *t, int csv_ok)
{
    uint64_t n = t->points;
    t->points = 0;
    if (!(x->formats & EXPORT_DATASET_PARQUET)) {
        export__delivered(&x->o, REC_METRICS, csv_ok ? n : 0);
        export__dropped(&x->o, REC_METRICS, csv_ok ? 0 : n, EXPORT_DROP_IO);
        return;
    }
    *(csv_ok ? &t->pend_ok : &t->pend_fail) += n;
    if (t->pq_err || export_pq_full(t->pq))
        pq_flush(x, t);
}

static int write_csv(struct ds_out *x, struct tbl *t)
{
    if (!(x->formats & EXPORT_DATASET_CSV))
        return 1;
    errno = 0;
    if (!t->csv_err && (fwrite(t->line.p, 1, t->line.len, t->csv) != t->line.len ||
                        fflush(t->csv))) /* a full disk shows here, not at close */
        io_error(x, t, "csv", &t->csv_err);
    return !t->csv_err;
}

static void reset_tick(struct ent *e, uint64_t t)
{
    e->prev = e->cur;
    e->prev_t = t;
    memset(&e->cur, 0, sizeof e->cur);
    e->seen = 0;
    e->mask = 0;
    e->busy = e->ncpu = e->mem_used = e->mem_free = e->active = e->queue = e->gpu = 0;
    e->has_mem = e->has_active = e->has_queue = e->has_gpu = 0;
}

static void entity_rows(struct ds_out *x, struct tbl *t)
{
    const struct ann *a = ann_for(x, x->tick_t);
    for (size_t i = 0; i < x->nents; i++) {
        struct ent *e = &x->ents[i];
        if (!e->seen)
            continue;
        struct row r = {.t = x->tick_t,
                        .e = e,
                        .state = a ? a->state[i] : "",
                        .faults = a ? a->faults[i] : "",
                        .progress = a ? a->progress[i] : 0};
        values(e, x->tick_t, r.v, r.has);
        if (t->csv)
            csv_row(&t->line, &r);
        if (t->pq && !t->pq_err && pq_row(t->pq, &r)) {
            errno = 0;
            io_error(x, t, "parquet", &t->pq_err);
        }
        reset_tick(e, x->tick_t);
        t->rows++;
    }
}

static void business_rows(struct ds_out *x, struct tbl *t)
{
    int rc = 0;
    t->rows += export__ds_biz_rows(x->biz, x->tick_t, t->csv ? &t->line : NULL,
                                   t->pq_err ? NULL : t->pq, &rc);
    if (rc) {
        errno = 0;
        io_error(x, t, "parquet", &t->pq_err);
    }
}

static void finish_tick(struct ds_out *x)
{
    for (int i = 0; i < x->ntbl; i++)
        core_buf_reset(&x->t[i].line);
    entity_rows(x, &x->t[T_METRICS]);
    if (x->ntbl > T_BUSINESS)
        business_rows(x, &x->t[T_BUSINESS]);
    for (int i = 0; i < x->ntbl; i++)
        account(x, &x->t[i], write_csv(x, &x->t[i]));
    x->tick_t = 0;
}

/* The table point p goes into, folded there; NULL when it is in no row. */
static struct tbl *fold_point(struct ds_out *x, const struct rec_batch *b,
                              const struct rec_point *p)
{
    struct mslot m = metric_of(x, p->metric);
    if (m.biz >= 0)
        return export__ds_biz_fold(x->biz, m.biz, b, p) ? NULL : &x->t[T_BUSINESS];
    struct ent *e = entity_of(x, b, p);
    if (!e)
        return NULL;
    fold(e, m.id, b, p);
    e->seen = 1;
    return &x->t[T_METRICS];
}

static void ds_consume(struct export_output *o, const struct rec_batch *b)
{
    struct ds_out *x = (struct ds_out *)o;
    uint64_t stray = 0;
    pthread_mutex_lock(&x->mu);
    for (uint32_t i = 0; i < b->n; i++) {
        const struct rec_point *p = &b->r.points[i];
        if (x->tick_t && p->time_ns > x->tick_t)
            finish_tick(x);
        struct tbl *t = p->time_ns >= x->tick_t ? fold_point(x, b, p) : NULL;
        if (!t) { /* no entity or series, or older than the tick in progress: in no row */
            stray++;
            continue;
        }
        x->tick_t = p->time_ns;
        t->points++;
    }
    pthread_mutex_unlock(&x->mu);
    export__dropped(o, REC_METRICS, stray, EXPORT_DROP_ENCODE);
}

static void close_table(struct ds_out *x, struct tbl *t)
{
    if (t->pq) {
        if (!t->pq_err && export_pq_close(t->pq))
            io_error(x, t, "parquet", &t->pq_err);
        settle_parquet(x, t, !t->pq_err);
        export_pq_free(t->pq);
        t->pq = NULL;
    }
    if (t->pqf && fclose(t->pqf) && !t->pq_err)
        io_error(x, t, "parquet", &t->pq_err);
    if (t->csv && fclose(t->csv) && !t->csv_err)
        io_error(x, t, "csv", &t->csv_err);
    t->pqf = t->csv = NULL;
}

/* The last tick's rows, the last row groups and the footers; then the files are closed. */
static void ds_finish(struct ds_out *x)
{
    if (x->tick_t)
        finish_tick(x);
    for (int i = 0; i < x->ntbl; i++)
        close_table(x, &x->t[i]);
}

static void ds_join(struct export_output *o)
{
    struct ds_out *x = (struct ds_out *)o;
    pthread_mutex_lock(&x->mu);
    ds_finish(x);
    pthread_mutex_unlock(&x->mu);
}

static void ds_destroy(struct export_output *o)
{
    struct ds_out *x = (struct ds_out *)o;
    ds_finish(x);
    while (x->ann_len)
        ann_pop(x);
    core_free(x->ann);
    for (size_t i = 0; i < x->nents; i++) {
        core_free(x->ents[i].name);
        core_free(x->ents[i].kind);
        core_free(x->ents[i].profile);
    }
    core_free(x->ents);
    core_free(x->by_res);
    for (int i = 0; i < T_COUNT; i++)
        core_buf_free(&x->t[i].line);
    export__ds_biz_free(x->biz);
    core_free(x->mc);
    pthread_mutex_destroy(&x->mu);
    export__output_fini(o);
    core_free(x);
}

static const struct export_output_ops ds_ops = {
    .kind = "dataset",
    .join = ds_join,
    .consume = ds_consume,
    .destroy = ds_destroy,
};

static uint64_t rows_of(const struct export_output *o, int table)
{
    struct ds_out *x = (struct ds_out *)o;
    pthread_mutex_lock(&x->mu);
    uint64_t n = x->t[table].rows;
    pthread_mutex_unlock(&x->mu);
    return n;
}

uint64_t export_dataset_rows(const struct export_output *o)
{
    return rows_of(o, T_METRICS);
}

uint64_t export_dataset_biz_rows(const struct export_output *o)
{
    return rows_of(o, T_BUSINESS);
}

/* ---- set-up ---------------------------------------------------------------------------- */
int export_dataset_check_dir(const char *dir, char *err, size_t errlen)
{
    struct stat st;
    if (!dir[0] || strlen(dir) > 4000) {
        snprintf(err, errlen, "'%.200s' is not a usable directory name", dir);
        return DIO_EINVAL;
    }
    if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s exists and is not a directory", dir);
        return DIO_EINVAL;
    }
    if (stat(dir, &st) != 0 && mkdir(dir, 0777) != 0) {
        snprintf(err, errlen, "cannot create directory %s: %s", dir, strerror(errno));
        return DIO_EINVAL;
    }
    /* a probe file answers for read-only file systems and permissions alike (even as root) */
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/.diorama-probe-XXXXXX", dir);
    int fd = mkstemp(probe);
    if (fd < 0) {
        snprintf(err, errlen, "directory %s is not writable: %s", dir, strerror(errno));
        return DIO_EINVAL;
    }
    close(fd);
    unlink(probe);
    return 0;
}

static FILE *open_in(const char *dir, const char *name, char *err, size_t errlen)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
    else
        setvbuf(f, NULL, _IOFBF, 1 << 20);
    return f;
}

static void copy_entities(struct ds_out *x, const struct export_dataset_cfg *cfg)
{
    x->nents = cfg->nents;
    x->ents = core_calloc(cfg->nents ? cfg->nents : 1, sizeof *x->ents);
    for (size_t i = 0; i < cfg->nents; i++) {
        const struct export_dataset_entity *s = &cfg->ents[i];
        struct ent *e = &x->ents[i];
        e->name = core_strdup(s->name);
        e->kind = core_strdup(s->kind);
        e->profile = core_strdup(s->profile ? s->profile : "");
        e->res = s->res;
        e->model = s->model;
        x->nmodels += s->model != 0;
        e->prev_t = cfg->start_ns;
        if (!s->model && s->res >= x->nres)
            x->nres = s->res + 1;
    }
    x->by_res = core_malloc((size_t)(x->nres ? x->nres : 1) * sizeof *x->by_res);
    for (int r = 0; r < x->nres; r++)
        x->by_res[r] = -1;
    for (size_t i = 0; i < cfg->nents; i++)
        if (!x->ents[i].model && x->ents[i].res >= 0)
            x->by_res[x->ents[i].res] = (int)i;
}

/* The table's files (those of the selected formats) with its CSV header written. */
static int open_table(struct ds_out *x, struct tbl *t, const struct export_pq_col *cols, int ncols,
                      uint32_t group_rows, char *err, size_t errlen)
{
    char name[64];
    snprintf(name, sizeof name, "%s.csv", t->name);
    if ((x->formats & EXPORT_DATASET_CSV) && !(t->csv = open_in(x->dir, name, err, errlen)))
        return DIO_EIO;
    snprintf(name, sizeof name, "%s.parquet", t->name);
    if (x->formats & EXPORT_DATASET_PARQUET) {
        if (!(t->pqf = open_in(x->dir, name, err, errlen)))
            return DIO_EIO;
        t->pq = export_pq_new(t->pqf, cols, ncols, group_rows);
    }
    if (t->csv)
        write_csv(x, t); /* a full disk: reported, and every row counted as dropped (io) */
    return 0;
}

static int open_files(struct ds_out *x, uint32_t group_rows, char *err, size_t errlen)
{
    struct export_pq_col cols[F_NFIXED + C_NMETRICS];
    memcpy(cols, fixed_cols, sizeof fixed_cols);
    for (int i = 0; i < C_NMETRICS; i++)
        cols[F_NFIXED + i] = (struct export_pq_col){metric_cols[i], EXPORT_PQ_DOUBLE, 1};
    csv_header(&x->t[T_METRICS].line);
    if (open_table(x, &x->t[T_METRICS], cols, F_NFIXED + C_NMETRICS, group_rows, err, errlen))
        return DIO_EIO;
    if (x->ntbl <= T_BUSINESS)
        return 0;
    export__ds_biz_pq_cols(cols);
    export__ds_biz_csv_header(&x->t[T_BUSINESS].line);
    return open_table(x, &x->t[T_BUSINESS], cols, DS_BIZ_NCOLS, group_rows, err, errlen);
}

struct export_output *export_dataset_new(const struct export_dataset_cfg *cfg, char *err,
                                         size_t errlen)
{
    static const char *const names[T_COUNT] = {"metrics", "business"};
    struct ds_out *x = core_calloc(1, sizeof *x);
    export__output_init(&x->o, &ds_ops, 0);
    x->o.signals = 1u << REC_METRICS;
    pthread_mutex_init(&x->mu, NULL);
    snprintf(x->dir, sizeof x->dir, "%s", cfg->dir);
    x->formats = cfg->formats ? cfg->formats : EXPORT_DATASET_CSV | EXPORT_DATASET_PARQUET;
    x->ntbl = cfg->nbiz ? T_COUNT : T_METRICS + 1;
    for (int i = 0; i < T_COUNT; i++) {
        x->t[i].name = names[i];
        core_buf_init(&x->t[i].line, (size_t)256 << 20);
    }
    x->biz = cfg->nbiz ? export__ds_biz_new(cfg->biz, cfg->nbiz) : NULL;
    x->mc = core_calloc(MC_SLOTS, sizeof *x->mc);
    copy_entities(x, cfg);
    if (open_files(x, cfg->group_rows, err, errlen)) {
        ds_destroy(&x->o);
        return NULL;
    }
    return &x->o;
}
