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

#include "export/internal.h"

#define ANN_MAX 65536 /* ticks of annotations kept ahead of the points */
#define DS_MAX_BUCKETS 32
#define CSV_BUF (4u << 20)

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

struct ds_out {
    struct export_output o; /* first: the hub sees this */
    pthread_mutex_t mu;
    char dir[4096];
    int formats;
    struct ent *ents;
    size_t nents;
    int *by_res; /* resource index -> entity (non-model), -1 none */
    int nres;
    uint64_t tick_t; /* timestamp of the tick being folded, 0 = none */
    uint64_t tick_points, stray;
    struct ann *ann; /* FIFO ring */
    size_t ann_head, ann_len, ann_cap;
    FILE *csv, *pqf;
    struct export_pq *pq;
    struct core_buf line;
    uint64_t pend_ok, pend_fail; /* points waiting for their Parquet row group */
    uint64_t rows;
    int csv_err, pq_err;
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
static void put_num(struct core_buf *b, double v)
{
    char s[40];
    snprintf(s, sizeof s, "%.15g", v);
    if (strtod(s, NULL) != v)
        snprintf(s, sizeof s, "%.17g", v);
    core_buf_puts(b, s);
}

static void csv_header(struct ds_out *x)
{
    core_buf_puts(&x->line, "timestamp,time,entity,kind,profile,state,state_progress,faults");
    for (int i = 0; i < C_NMETRICS; i++) {
        core_buf_putc(&x->line, ',');
        core_buf_puts(&x->line, metric_cols[i]);
    }
    core_buf_putc(&x->line, '\n');
}

static void iso_ms(uint64_t t_ns, char *out, size_t n)
{
    time_t sec = (time_t)(t_ns / 1000000000ULL);
    struct tm tm;
    gmtime_r(&sec, &tm);
    char d[24];
    strftime(d, sizeof d, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, n, "%s.%03uZ", d, (unsigned)(t_ns / 1000000ULL % 1000));
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
static int metric_id(const struct rec_metric *m)
{
    for (size_t i = 0; i < sizeof metric_ids / sizeof metric_ids[0]; i++)
        if (!strcmp(m->name, metric_ids[i].name))
            return metric_ids[i].id;
    return M_OTHER;
}

static const struct rec_attr *attr(const struct rec_batch *b, const struct rec_point *p,
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
    const struct rec_attr *m = attr(b, p, "gen_ai.request.model");
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
        if (attr_is(attr(b, p, "cpu.mode"), "idle"))
            e->ncpu += 1;
        else
            e->busy += p->value.d;
    } else if (id == M_MEM) {
        const struct rec_attr *st = attr(b, p, "system.memory.state");
        double v = p->metric->is_int ? (double)p->value.i : p->value.d;
        if (attr_is(st, "used"))
            e->mem_used = v, e->has_mem = 1;
        else if (attr_is(st, "free"))
            e->mem_free = v;
    }
}

static void fold(struct ent *e, const struct rec_batch *b, const struct rec_point *p)
{
    int id = metric_id(p->metric);
    const struct rec_attr *a;
    e->mask |= 1u << id;
    switch (id) {
    case M_HTTP_DUR:
        add_hist(e, b, p);
        break;
    case M_HTTP_REQS:
        e->cur.req += (double)p->value.i;
        a = attr(b, p, "http.response.status_code");
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
        a = attr(b, p, "gen_ai.token.type");
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
static double quantile(const uint64_t *d, uint32_t nb, const double *bounds, uint64_t n, double q)
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
    v[C_P50] = quantile(d, e->nb, e->bounds, n, 0.50), has[C_P50] = 1;
    v[C_P99] = quantile(d, e->nb, e->bounds, n, 0.99), has[C_P99] = 1;
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
    char iso[40];
    iso_ms(r->t, iso, sizeof iso);
    core_buf_printf(b, "%llu,%s,", (unsigned long long)(r->t / 1000000ULL), iso);
    const char *s[] = {r->e->name, r->e->kind, r->e->profile, r->state};
    for (int i = 0; i < 4; i++) {
        export_csv_field(b, s[i], strlen(s[i]));
        core_buf_putc(b, ',');
    }
    put_num(b, r->progress);
    core_buf_putc(b, ',');
    export_csv_field(b, r->faults, strlen(r->faults));
    for (int i = 0; i < C_NMETRICS; i++) {
        core_buf_putc(b, ',');
        if (r->has[i])
            put_num(b, r->v[i]);
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
static void io_error(struct ds_out *x, const char *file, int *flag)
{
    if (!*flag)
        core_error("--dataset: %s/%s: write failed (%s); its rows from now on are counted as "
                   "dropped (io)",
                   x->dir, file, errno ? strerror(errno) : "error");
    *flag = 1;
}

/* The Parquet row group holding the pending points was written (ok) or not. */
static void settle_parquet(struct ds_out *x, int ok)
{
    struct export_output *o = &x->o;
    export__delivered(o, REC_METRICS, ok ? x->pend_ok : 0);
    export__dropped(o, REC_METRICS, x->pend_fail + (ok ? 0 : x->pend_ok), EXPORT_DROP_IO);
    x->pend_ok = x->pend_fail = 0;
}

static void pq_flush(struct ds_out *x)
{
    if (!x->pq_err && export_pq_flush(x->pq))
        io_error(x, "metrics.parquet", &x->pq_err);
    settle_parquet(x, !x->pq_err);
}

/* Rows are written; the tick's points are delivered or dropped(io) now, or wait for their
 * Parquet row group. */
static void account(struct ds_out *x, int csv_ok)
{
    uint64_t n = x->tick_points;
    x->tick_points = 0;
    if (!(x->formats & EXPORT_DATASET_PARQUET)) {
        export__delivered(&x->o, REC_METRICS, csv_ok ? n : 0);
        export__dropped(&x->o, REC_METRICS, csv_ok ? 0 : n, EXPORT_DROP_IO);
        return;
    }
    *(csv_ok ? &x->pend_ok : &x->pend_fail) += n;
    if (x->pq_err || export_pq_full(x->pq))
        pq_flush(x);
}

static int write_csv(struct ds_out *x)
{
    if (!(x->formats & EXPORT_DATASET_CSV))
        return 1;
    errno = 0;
    if (!x->csv_err && (fwrite(x->line.p, 1, x->line.len, x->csv) != x->line.len ||
                        fflush(x->csv))) /* a full disk shows here, not at close */
        io_error(x, "metrics.csv", &x->csv_err);
    return !x->csv_err;
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

static void finish_tick(struct ds_out *x)
{
    const struct ann *a = ann_for(x, x->tick_t);
    core_buf_reset(&x->line);
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
        if (x->formats & EXPORT_DATASET_CSV)
            csv_row(&x->line, &r);
        if ((x->formats & EXPORT_DATASET_PARQUET) && !x->pq_err && pq_row(x->pq, &r)) {
            errno = 0;
            io_error(x, "metrics.parquet", &x->pq_err);
        }
        reset_tick(e, x->tick_t);
        x->rows++;
    }
    account(x, write_csv(x));
    x->tick_t = 0;
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
        struct ent *e = p->time_ns >= x->tick_t ? entity_of(x, b, p) : NULL;
        if (!e) { /* no entity, or older than the tick in progress: not in any row */
            stray++;
            continue;
        }
        x->tick_t = p->time_ns;
        fold(e, b, p);
        e->seen = 1;
        x->tick_points++;
    }
    pthread_mutex_unlock(&x->mu);
    export__dropped(o, REC_METRICS, stray, EXPORT_DROP_ENCODE);
}

/* The last tick's rows, the last row group and the footer; then the files are closed. */
static void ds_finish(struct ds_out *x)
{
    if (x->tick_t)
        finish_tick(x);
    if (x->pq) {
        if (!x->pq_err && export_pq_close(x->pq))
            io_error(x, "metrics.parquet", &x->pq_err);
        settle_parquet(x, !x->pq_err);
        export_pq_free(x->pq);
        x->pq = NULL;
    }
    if (x->pqf && fclose(x->pqf) && !x->pq_err)
        io_error(x, "metrics.parquet", &x->pq_err);
    if (x->csv && fclose(x->csv) && !x->csv_err)
        io_error(x, "metrics.csv", &x->csv_err);
    x->pqf = x->csv = NULL;
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
    core_buf_free(&x->line);
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

uint64_t export_dataset_rows(const struct export_output *o)
{
    struct ds_out *x = (struct ds_out *)o;
    pthread_mutex_lock(&x->mu);
    uint64_t n = x->rows;
    pthread_mutex_unlock(&x->mu);
    return n;
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

static int open_files(struct ds_out *x, uint32_t group_rows, char *err, size_t errlen)
{
    if ((x->formats & EXPORT_DATASET_CSV) &&
        !(x->csv = open_in(x->dir, "metrics.csv", err, errlen)))
        return DIO_EIO;
    if (x->formats & EXPORT_DATASET_PARQUET) {
        struct export_pq_col cols[F_NFIXED + C_NMETRICS];
        memcpy(cols, fixed_cols, sizeof fixed_cols);
        for (int i = 0; i < C_NMETRICS; i++)
            cols[F_NFIXED + i] = (struct export_pq_col){metric_cols[i], EXPORT_PQ_DOUBLE, 1};
        if (!(x->pqf = open_in(x->dir, "metrics.parquet", err, errlen)))
            return DIO_EIO;
        x->pq = export_pq_new(x->pqf, cols, F_NFIXED + C_NMETRICS, group_rows);
    }
    if (x->csv) {
        csv_header(x);
        write_csv(x); /* a full disk: reported, and every row counted as dropped (io) */
    }
    return 0;
}

struct export_output *export_dataset_new(const struct export_dataset_cfg *cfg, char *err,
                                         size_t errlen)
{
    struct ds_out *x = core_calloc(1, sizeof *x);
    export__output_init(&x->o, &ds_ops, 0);
    x->o.signals = 1u << REC_METRICS;
    pthread_mutex_init(&x->mu, NULL);
    snprintf(x->dir, sizeof x->dir, "%s", cfg->dir);
    x->formats = cfg->formats ? cfg->formats : EXPORT_DATASET_CSV | EXPORT_DATASET_PARQUET;
    core_buf_init(&x->line, (size_t)256 << 20);
    copy_entities(x, cfg);
    if (open_files(x, cfg->group_rows, err, errlen)) {
        ds_destroy(&x->o);
        return NULL;
    }
    return &x->o;
}
