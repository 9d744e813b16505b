/* Per-second aggregates of the live world (the control API's /api/aggregates and SSE "agg"
 * events, the terminal view).
 *
 * Two sides. The world's thread counts every finished request into plain per-source counters
 * and an HDR histogram (no lock, no atomic: it is their only writer) and, once per wall
 * second, turns what it counted since the last time into one snapshot: rate, errors, p50/p99
 * per traffic source, the hosts' CPU and memory, the models' GPU, the outputs' accounting. The
 * snapshot is rendered to JSON there, once, and put in a ring of WORLD_AGG_KEPT under a mutex
 * that only publishing and readers take, so readers (HTTP threads, any number of SSE
 * clients) copy text and never block a request.
 *
 * Rates are per simulated second (what the scenario's rates are written in), so a run at
 * --speed 10 shows the scenario's rates, not ten times them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "world/world.h"

#define HDR_LOWEST_US 1
#define HDR_HIGHEST_US 600000000LL /* 10 min */
#define PUBLISH_NS 1000000000ULL
#define SNAPSHOT_MAX (4u << 20) /* one snapshot's JSON; a bigger world is cut (and counted) */

struct slot {
    uint64_t n, err;
    struct core_hdr h; /* latency in us */
};

/* serve's routes (world_agg_set_routes): counted by the HTTP threads, so each has a lock that
 * only its request threads and the once-a-second publish take. */
struct rslot {
    pthread_mutex_t mu;
    struct slot s;
    char *name;
};

struct snap {
    uint64_t seq, t_ms;
    char *json;
    size_t len;
};

struct world_agg {
    const struct world *w;
    struct slot *slot;   /* per traffic source */
    int nslot;           /* w->ntraffic, kept: the world may be freed before the aggregates */
    struct rslot *route; /* serve: "entries" are these instead of the traffic sources */
    int nroute;
    uint64_t next_mono, last_off;
    int started;
    int (*accounting)(void *ctx, struct world_acct *out, int max);
    void *actx;
    void (*notify)(void *ctx);
    void *nctx;
    struct core_buf buf; /* the snapshot being rendered (world's thread) */
    pthread_mutex_t mu;  /* guards everything below */
    struct snap ring[WORLD_AGG_KEPT];
    uint64_t nsnap; /* published; seqs are 1.. */
    struct world_acct acct[WORLD_AGG_OUTPUTS];
    int nacct;
    uint64_t cut;
};

struct world_agg *world_agg_new(const struct world *w)
{
    struct world_agg *a = core_calloc(1, sizeof *a);
    a->w = w;
    a->nslot = w->ntraffic;
    a->slot = core_calloc((size_t)w->ntraffic + 1, sizeof *a->slot);
    for (int i = 0; i < w->ntraffic; i++)
        core_hdr_init(&a->slot[i].h, HDR_LOWEST_US, HDR_HIGHEST_US, 2);
    core_buf_init(&a->buf, SNAPSHOT_MAX);
    pthread_mutex_init(&a->mu, NULL);
    return a;
}

void world_agg_free(struct world_agg *a)
{
    if (!a)
        return;
    for (int i = 0; i < a->nslot; i++)
        core_hdr_free(&a->slot[i].h);
    core_free(a->slot);
    for (int i = 0; i < a->nroute; i++) {
        core_hdr_free(&a->route[i].s.h);
        core_free(a->route[i].name);
        pthread_mutex_destroy(&a->route[i].mu);
    }
    core_free(a->route);
    for (int i = 0; i < WORLD_AGG_KEPT; i++)
        core_free(a->ring[i].json);
    core_buf_free(&a->buf);
    pthread_mutex_destroy(&a->mu);
    core_free(a);
}

void world_agg_set_accounting(struct world_agg *a,
                              int (*fn)(void *ctx, struct world_acct *out, int max), void *ctx)
{
    a->accounting = fn;
    a->actx = ctx;
}

void world_agg_set_notify(struct world_agg *a, void (*fn)(void *ctx), void *ctx)
{
    pthread_mutex_lock(&a->mu);
    a->notify = fn;
    a->nctx = ctx;
    pthread_mutex_unlock(&a->mu);
}

void world_agg_count(struct world_agg *a, int src, uint64_t latency_ns, int error)
{
    if (src < 0 || src >= a->w->ntraffic)
        return;
    struct slot *s = &a->slot[src];
    s->n++;
    s->err += error != 0;
    core_hdr_record(&s->h, (int64_t)(latency_ns / 1000));
}

void world_agg_set_routes(struct world_agg *a, const char *const *names, int n)
{
    a->route = core_calloc((size_t)n + 1, sizeof *a->route);
    for (int i = 0; i < n; i++) {
        struct rslot *r = &a->route[i];
        pthread_mutex_init(&r->mu, NULL);
        core_hdr_init(&r->s.h, HDR_LOWEST_US, HDR_HIGHEST_US, 2);
        r->name = core_strdup(names[i]);
    }
    a->nroute = n;
}

void world_agg_count_route(struct world_agg *a, int route, uint64_t latency_ns, int error)
{
    if (!a || route < 0 || route >= a->nroute)
        return;
    struct rslot *r = &a->route[route];
    pthread_mutex_lock(&r->mu);
    r->s.n++;
    r->s.err += error != 0;
    core_hdr_record(&r->s.h, (int64_t)(latency_ns / 1000));
    pthread_mutex_unlock(&r->mu);
}

/* ---- rendering (world's thread) --------------------------------------------------------- */
static void put_num(struct core_buf *b, const char *key, double v)
{
    if (isfinite(v))
        core_buf_printf(b, ",\"%s\":%.6g", key, v);
    else
        core_buf_printf(b, ",\"%s\":null", key);
}

/* One entry's rate, errors and latency since the last snapshot; the slot starts again. */
static void put_slot(struct core_buf *b, const char *name, struct slot *s, double dt_s)
{
    core_buf_puts(b, "{\"name\":");
    core_buf_put_json_str(b, name);
    core_buf_printf(b, ",\"n\":%llu", (unsigned long long)s->n); /* exact, for sums */
    put_num(b, "rate", (double)s->n / dt_s);
    put_num(b, "errors", (double)s->err / dt_s);
    put_num(b, "p50", s->n ? (double)core_hdr_value_at(&s->h, 50) / 1e3 : NAN);
    put_num(b, "p99", s->n ? (double)core_hdr_value_at(&s->h, 99) / 1e3 : NAN);
    s->n = s->err = 0;
    core_hdr_reset(&s->h);
}

static void put_routes(struct world_agg *a, double dt_s)
{
    core_buf_puts(&a->buf, ",\"entries\":[");
    for (int i = 0; i < a->nroute; i++) {
        struct rslot *r = &a->route[i];
        core_buf_puts(&a->buf, i ? "," : "");
        pthread_mutex_lock(&r->mu);
        put_slot(&a->buf, r->name, &r->s, dt_s);
        pthread_mutex_unlock(&r->mu);
        core_buf_putc(&a->buf, '}');
    }
    core_buf_putc(&a->buf, ']');
}

static void put_sources(struct world_agg *a, int models, double dt_s)
{
    if (!models && a->route) {
        put_routes(a, dt_s);
        return;
    }
    const struct world *w = a->w;
    struct core_buf *b = &a->buf;
    int k = 0;
    core_buf_printf(b, ",\"%s\":[", models ? "models" : "entries");
    for (int i = 0; i < w->ntraffic; i++) {
        const struct world_traffic *t = &w->traffic[i];
        struct slot *s = &a->slot[i];
        if ((t->model >= 0) != models)
            continue;
        core_buf_puts(b, k++ ? "," : "");
        put_slot(b, t->name, s, dt_s);
        if (models) {
            const struct world_entity *en = &w->ents[world__entity_of(w, SCN_ENT_MODEL, t->model)];
            double g = atomic_load_explicit((_Atomic double *)&en->gpu, memory_order_relaxed);
            put_num(b, "gpu", g >= 0 ? g : NAN);
        }
        core_buf_putc(b, '}');
    }
    core_buf_putc(b, ']');
}

/* A host's CPU as the telemetry shows it, without its noise: the state's (or the host's own)
 * level moved by its shape; memory follows CPU and grows with a leak (engine/metrics.c). */
static void put_hosts(struct world_agg *a, uint64_t unix_ns, uint64_t off)
{
    const struct world *w = a->w;
    struct core_buf *b = &a->buf;
    core_buf_puts(b, ",\"hosts\":[");
    for (int h = 0; h < w->nhosts; h++) {
        const struct scn_host *sh = w->hosts[h].scn;
        const struct world_entity *en = &w->ents[world__entity_of(w, SCN_ENT_HOST, h)];
        double f = world_shape_factor(&sh->shape, (uint64_t)h, unix_ns, off);
        double cpu = en->cur.cpu + sh->cpu * (f - 1);
        cpu = cpu < 0 ? 0 : cpu > 1 ? 1 : cpu;
        double total = sh->memory_gib * 1073741824.0;
        double used = total * (0.35 + 0.3 * cpu) + en->leaked;
        used = used < total * 0.99 ? used : total * 0.99;
        core_buf_puts(b, h ? ",{\"name\":" : "{\"name\":");
        core_buf_put_json_str(b, en->name);
        core_buf_puts(b, ",\"state\":");
        core_buf_put_json_str(b, w->scn->states[en->state].name);
        put_num(b, "cpu", cpu);
        core_buf_printf(b, ",\"mem\":%.0f,\"gpu\":null}", used);
    }
    core_buf_putc(b, ']');
}

static void put_accounting(struct world_agg *a)
{
    struct world_acct acct[WORLD_AGG_OUTPUTS];
    int n = a->accounting ? a->accounting(a->actx, acct, WORLD_AGG_OUTPUTS) : 0;
    struct world_acct tot = {"total", 0, 0, 0, 0, 0};
    for (int i = 0; i < n; i++) {
        tot.generated += acct[i].generated;
        tot.delivered += acct[i].delivered;
        tot.dropped += acct[i].dropped;
        tot.timed_out += acct[i].timed_out;
        tot.in_flight += acct[i].in_flight;
    }
    core_buf_printf(&a->buf,
                    ",\"accounting\":{\"generated\":%llu,\"delivered\":%llu,\"dropped\":%llu,"
                    "\"timed_out\":%llu,\"in_flight\":%llu}}",
                    (unsigned long long)tot.generated, (unsigned long long)tot.delivered,
                    (unsigned long long)tot.dropped, (unsigned long long)tot.timed_out,
                    (unsigned long long)tot.in_flight);
    pthread_mutex_lock(&a->mu);
    memcpy(a->acct, acct, (size_t)n * sizeof *acct);
    a->nacct = n;
    pthread_mutex_unlock(&a->mu);
}

void world_agg_publish(struct world_agg *a, uint64_t off, uint64_t start_unix_ns)
{
    double dt_s = (double)(off - a->last_off) / 1e9;
    dt_s = dt_s > 1e-9 ? dt_s : 1e-9;
    uint64_t unix_ns = start_unix_ns + off;
    core_buf_reset(&a->buf);
    core_buf_printf(&a->buf, "{\"t\":%llu,\"wall\":%llu", (unsigned long long)(unix_ns / 1000000),
                    (unsigned long long)(core_wall_ns() / 1000000));
    put_sources(a, 0, dt_s);
    put_sources(a, 1, dt_s);
    put_hosts(a, unix_ns, off);
    put_accounting(a);
    a->last_off = off;
    if (a->buf.len + 4096 > a->buf.max) { /* an append failed: not valid JSON, not published */
        pthread_mutex_lock(&a->mu);
        a->cut++;
        pthread_mutex_unlock(&a->mu);
        return;
    }
    /* copied before the lock, swapped in under it: the world's thread holds the readers' lock
     * for a few stores only (were it preempted holding it, readers would wait that long) */
    char *json = core_malloc(a->buf.len + 1);
    memcpy(json, a->buf.p, a->buf.len);
    json[a->buf.len] = 0;
    pthread_mutex_lock(&a->mu);
    struct snap *s = &a->ring[a->nsnap % WORLD_AGG_KEPT];
    char *old = s->json;
    s->json = json;
    s->len = a->buf.len;
    s->t_ms = unix_ns / 1000000;
    s->seq = ++a->nsnap;
    void (*notify)(void *) = a->notify;
    void *nctx = a->nctx;
    pthread_mutex_unlock(&a->mu);
    core_free(old);
    if (notify)
        notify(nctx);
}

void world_agg_poll(struct world_agg *a, uint64_t off, uint64_t start_unix_ns, uint64_t mono)
{
    if (!a->started) {
        a->started = 1;
        a->next_mono = mono + PUBLISH_NS; /* the first covers the run from its start */
        return;
    }
    if (mono < a->next_mono)
        return;
    a->next_mono += PUBLISH_NS;
    if (a->next_mono <= mono) /* a long stall: the next one a second from now */
        a->next_mono = mono + PUBLISH_NS;
    world_agg_publish(a, off, start_unix_ns);
}

/* ---- readers (any thread) ----------------------------------------------------------------- */
uint64_t world_agg_last(struct world_agg *a)
{
    pthread_mutex_lock(&a->mu);
    uint64_t n = a->nsnap;
    pthread_mutex_unlock(&a->mu);
    return n;
}

int world_agg_get(struct world_agg *a, uint64_t seq, struct core_buf *out)
{
    int rc = DIO_ENOENT;
    pthread_mutex_lock(&a->mu);
    const struct snap *s = &a->ring[(seq - 1) % WORLD_AGG_KEPT];
    if (seq >= 1 && seq <= a->nsnap && s->seq == seq)
        rc = core_buf_append(out, s->json, s->len);
    pthread_mutex_unlock(&a->mu);
    return rc;
}

int world_agg_after(struct world_agg *a, uint64_t after_ms, struct core_buf *out)
{
    int n = 0;
    pthread_mutex_lock(&a->mu);
    uint64_t first = a->nsnap > WORLD_AGG_KEPT ? a->nsnap - WORLD_AGG_KEPT + 1 : 1;
    for (uint64_t q = first; q <= a->nsnap; q++) {
        const struct snap *s = &a->ring[(q - 1) % WORLD_AGG_KEPT];
        if (s->t_ms <= after_ms)
            continue;
        core_buf_puts(out, n++ ? "," : "");
        core_buf_append(out, s->json, s->len);
    }
    pthread_mutex_unlock(&a->mu);
    return n;
}

int world_agg_accounting(struct world_agg *a, struct world_acct *out, int max)
{
    pthread_mutex_lock(&a->mu);
    int n = a->nacct < max ? a->nacct : max;
    memcpy(out, a->acct, (size_t)n * sizeof *out);
    pthread_mutex_unlock(&a->mu);
    return n;
}
