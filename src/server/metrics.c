/* The service's own metrics. Every counter is an atomic updated with relaxed ordering from the
 * listener's worker threads; a scrape reads them one by one (a scrape racing requests may see a
 * request in one counter and not yet in another, as with any client library).
 *
 * Cardinality is fixed up front: routes come from the scenario, methods are 8 labels, traffic
 * types 18 ("none", the first 16 values sent, "other"), statuses are the few the scenario and
 * the validation produce. The (route, method, traffic, status) counters live in an
 * open-addressing table of SERVER__SERIES_CAP slots claimed with a CAS; a request that finds no
 * slot within 64 probes is counted in `lost` only (never happens with real scenarios).
 *
 * The text is written by wire_prom_encode from a batch of metric points built at scrape time,
 * so naming, escaping and the histogram layout are the same as `diorama run --prom-listen`. */
#include <stdlib.h>
#include <string.h>

#include "server/internal.h"
#include "wire/wire.h"

const double server__bounds[SERVER__NBOUNDS] = {0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5,
                                                0.75,  1,    2.5,   5,    7.5,   10,  30};
const char *const server__methods[SERVER__NMETHODS] = {"GET",    "HEAD",  "POST",    "PUT",
                                                       "DELETE", "PATCH", "OPTIONS", "other"};
#define TRAFFIC_NONE 0
#define TRAFFIC_OTHER (SERVER__NTRAFFIC - 1)
#define PROBES 64

void server__metrics_init(struct server__metrics *m, int nroutes)
{
    memset(m, 0, sizeof *m);
    m->nroutes = nroutes;
    m->tab = core_calloc(SERVER__SERIES_CAP, sizeof *m->tab);
    m->hist = core_calloc((size_t)nroutes + 1, sizeof *m->hist);
    m->tokens = core_calloc((size_t)nroutes + 1, sizeof *m->tokens);
    strcpy(m->traffic[TRAFFIC_NONE], "none");
    strcpy(m->traffic[TRAFFIC_OTHER], "other");
    atomic_init(&m->ntraffic, 1);
    pthread_mutex_init(&m->traffic_mu, NULL);
}

void server__metrics_free(struct server__metrics *m)
{
    core_free(m->tab);
    core_free(m->hist);
    core_free(m->tokens);
    pthread_mutex_destroy(&m->traffic_mu);
}

int server__method_index(const char *method)
{
    for (int i = 0; i < SERVER__NMETHODS - 1; i++)
        if (!strcmp(method, server__methods[i]))
            return i;
    return SERVER__NMETHODS - 1;
}

static int traffic_find(struct server__metrics *m, const char *v, int from, int to)
{
    for (int i = from; i < to; i++)
        if (!strcmp(m->traffic[i], v))
            return i;
    return -1;
}

int server__traffic_index(struct server__metrics *m, const char *v)
{
    if (!v || !strcmp(v, "none"))
        return TRAFFIC_NONE;
    size_t len = strlen(v);
    if (len == 0 || len > SERVER__TRAFFIC_MAX || !strcmp(v, "other"))
        return TRAFFIC_OTHER;
    int n = atomic_load_explicit(&m->ntraffic, memory_order_acquire);
    int i = traffic_find(m, v, 1, n);
    if (i >= 0)
        return i;
    pthread_mutex_lock(&m->traffic_mu); /* only the first time a value is seen */
    int now = atomic_load_explicit(&m->ntraffic, memory_order_relaxed);
    i = traffic_find(m, v, n, now);
    if (i < 0 && now < TRAFFIC_OTHER) {
        memcpy(m->traffic[now], v, len + 1);
        atomic_store_explicit(&m->ntraffic, now + 1, memory_order_release);
        i = now;
    }
    pthread_mutex_unlock(&m->traffic_mu);
    return i < 0 ? TRAFFIC_OTHER : i;
}

static uint64_t series_key(int route, int method, int traffic, int status)
{
    return 1 + ((uint64_t)(uint16_t)route << 32 | (uint64_t)method << 24 | (uint64_t)traffic << 16 |
                (uint64_t)(uint16_t)status);
}

static void series_add(struct server__metrics *m, uint64_t key)
{
    size_t i = core_mix64(key) & (SERVER__SERIES_CAP - 1);
    for (int p = 0; p < PROBES; p++, i = (i + 1) & (SERVER__SERIES_CAP - 1)) {
        uint64_t k = atomic_load_explicit(&m->tab[i].key, memory_order_acquire);
        if (k == 0) {
            uint64_t zero = 0;
            if (atomic_compare_exchange_strong(&m->tab[i].key, &zero, key))
                k = key;
            else
                k = zero; /* another thread claimed it: maybe for this key */
        }
        if (k == key) {
            atomic_fetch_add_explicit(&m->tab[i].n, 1, memory_order_relaxed);
            return;
        }
    }
    atomic_fetch_add_explicit(&m->lost, 1, memory_order_relaxed);
}

static void hist_add(struct server__hist *h, uint64_t dur_ns)
{
    int b = 0;
    while (b < SERVER__NBOUNDS && (double)dur_ns > server__bounds[b] * 1e9)
        b++;
    atomic_fetch_add_explicit(&h->b[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_ns, dur_ns, memory_order_relaxed);
}

void server__count(struct server *s, const struct server__answer *a, uint64_t dur_ns)
{
    struct server__metrics *m = &s->m;
    int route = a->route >= 0 ? a->route : m->nroutes;
    series_add(m, series_key(route, a->method, a->traffic, a->status));
    hist_add(&m->hist[route], dur_ns);
    if (s->cfg.agg && a->route >= SERVER_BUILTIN_ROUTES &&
        s->rt.r[a->route].kind == SERVER__R_SCENARIO) /* serve's aggregates (world/agg.c) */
        world_agg_count_route(s->cfg.agg, a->route - SERVER_BUILTIN_ROUTES, dur_ns,
                              a->status >= 500);
    int cls = a->status / 100;
    atomic_fetch_add_explicit(&m->classes[cls >= 1 && cls <= 5 ? cls : 0], 1, memory_order_relaxed);
    if (a->delayed)
        atomic_fetch_add_explicit(&m->delayed, 1, memory_order_relaxed);
    for (int k = 0; k < SERVER_NFAULT_KINDS; k++)
        if (a->faults[k])
            atomic_fetch_add_explicit(&m->faults[k], a->faults[k], memory_order_relaxed);
    if (a->tokens_in | a->tokens_out) {
        atomic_fetch_add_explicit(&m->tokens[route][0], a->tokens_in, memory_order_relaxed);
        atomic_fetch_add_explicit(&m->tokens[route][1], a->tokens_out, memory_order_relaxed);
    }
}

/* ---- /metrics ----------------------------------------------------------------------------- */

/* Cumulative (temporality 2) like a Prometheus client library; OTel names, which
 * wire_prom_name maps to http_server_requests_total, http_server_request_duration_seconds ... */
#define COUNTER(n, d, u)                                                                           \
    {                                                                                              \
        .name = n, .description = d, .unit = u, .type = REC_SUM, .monotonic = 1, .temporality = 2, \
        .is_int = 1                                                                                \
    }
static const struct rec_metric m_requests =
    COUNTER("http.server.requests",
            "HTTP requests answered, by route, method, status and X-Traffic-Type", "{request}");
static const struct rec_metric m_tokens =
    COUNTER("llm.tokens.used", "LLM tokens of answered requests, by route and direction (in, out)",
            "{token}");
static const struct rec_metric m_delayed =
    COUNTER("diorama.serve.delayed", "Answers held for a non-zero X-Diorama-Delay", "{request}");
static const struct rec_metric m_faults =
    COUNTER("diorama.serve.faults", "Scenario faults that fired on requests, by kind", "{fault}");
static const struct rec_metric m_active = {.name = "http.server.active_requests",
                                           .description = "Requests in progress (arrived, not "
                                                          "yet answered)",
                                           .unit = "{request}",
                                           .type = REC_GAUGE,
                                           .temporality = 2,
                                           .is_int = 1};
static const struct rec_metric m_duration = {
    .name = "http.server.request.duration",
    .description = "Time from a request's arrival to its answer, including modelled latency and "
                   "X-Diorama-Delay",
    .unit = "s",
    .type = REC_HISTOGRAM,
    .temporality = 2,
    .bounds = server__bounds,
    .nbounds = SERVER__NBOUNDS};

static const struct rec_resource no_resource = {NULL, 0, "diorama", DIORAMA_VERSION, NULL, NULL};

static struct rec_point *point(struct rec_batch *b, const struct rec_metric *mt, uint32_t nattrs,
                               struct rec_attr **attrs)
{
    struct rec_point *p = &b->r.points[b->n++];
    memset(p, 0, sizeof *p);
    p->metric = mt;
    p->nattrs = nattrs;
    *attrs = rec_batch_attrs(b, nattrs, &p->attr_off);
    return p;
}

struct slot {
    uint64_t key;
    size_t i;
};

static int slot_cmp(const void *x, const void *y)
{
    uint64_t a = ((const struct slot *)x)->key, b = ((const struct slot *)y)->key;
    return a < b ? -1 : a > b;
}

static const char *route_label(const struct server *s, int route)
{
    return route < s->rt.n ? s->rt.r[route].name : "unmatched";
}

static void put_str(struct rec_attr *a, const char *key, const char *v)
{
    rec_attr_str(a, key, (uint32_t)strlen(key), v, (uint32_t)strlen(v));
}

/* http_server_requests_total, in key order (route, method, traffic type, status). */
static void add_requests(const struct server *s, struct rec_batch *b, struct slot *sl)
{
    const struct server__metrics *m = &s->m;
    size_t n = 0;
    for (size_t i = 0; i < SERVER__SERIES_CAP; i++)
        if ((sl[n].key = atomic_load_explicit(&m->tab[i].key, memory_order_acquire)) != 0)
            sl[n++].i = i;
    qsort(sl, n, sizeof *sl, slot_cmp);
    for (size_t i = 0; i < n; i++) {
        uint64_t k = sl[i].key - 1;
        struct rec_attr *a;
        struct rec_point *p = point(b, &m_requests, 4, &a);
        p->value.i = (int64_t)atomic_load_explicit(&m->tab[sl[i].i].n, memory_order_relaxed);
        put_str(&a[0], "route", route_label(s, (int)(k >> 32 & 0xffff)));
        put_str(&a[1], "method", server__methods[k >> 24 & 0xff]);
        rec_attr_int(&a[2], REC_KEY("status"), (int64_t)(k & 0xffff));
        put_str(&a[3], "traffic_type", m->traffic[k >> 16 & 0xff]);
    }
}

/* One histogram per route that has answered something (built-ins and scenario routes always). */
static void add_durations(const struct server *s, struct rec_batch *b)
{
    const struct server__metrics *m = &s->m;
    for (int r = 0; r <= m->nroutes; r++) {
        const struct server__hist *h = &m->hist[r];
        uint64_t *bk, count = 0;
        for (int i = 0; i <= SERVER__NBOUNDS; i++)
            count += atomic_load_explicit(&h->b[i], memory_order_relaxed);
        if (r == m->nroutes && count == 0)
            continue; /* "unmatched" appears once something went unmatched */
        struct rec_attr *a;
        struct rec_point *p = point(b, &m_duration, 1, &a);
        put_str(&a[0], "route", route_label(s, r));
        bk = rec_batch_buckets(b, SERVER__NBOUNDS + 1, &p->bucket_off);
        p->count = 0;
        for (int i = 0; i <= SERVER__NBOUNDS; i++)
            p->count += bk[i] = atomic_load_explicit(&h->b[i], memory_order_relaxed);
        p->sum = (double)atomic_load_explicit(&h->sum_ns, memory_order_relaxed) / 1e9;
    }
}

static void add_counter(struct rec_batch *b, const struct rec_metric *mt, const char *k1,
                        const char *v1, const char *k2, const char *v2, uint64_t v)
{
    struct rec_attr *a;
    struct rec_point *p = point(b, mt, k2 ? 2 : k1 ? 1 : 0, &a);
    p->value.i = (int64_t)v;
    if (k1)
        put_str(&a[0], k1, v1);
    if (k2)
        put_str(&a[1], k2, v2);
}

static void add_rest(const struct server *s, struct rec_batch *b)
{
    const struct server__metrics *m = &s->m;
    add_counter(b, &m_active, NULL, NULL, NULL, NULL,
                (uint64_t)atomic_load_explicit(&m->inflight, memory_order_relaxed));
    for (int r = 0; r < s->rt.n; r++) {
        if (!s->rt.r[r].tokens)
            continue;
        for (int d = 0; d < 2; d++)
            add_counter(b, &m_tokens, "route", s->rt.r[r].name, "direction", d ? "out" : "in",
                        atomic_load_explicit(&m->tokens[r][d], memory_order_relaxed));
    }
    add_counter(b, &m_delayed, NULL, NULL, NULL, NULL,
                atomic_load_explicit(&m->delayed, memory_order_relaxed));
    for (int k = 0; k < SERVER_NFAULT_KINDS; k++)
        add_counter(b, &m_faults, "kind", server_fault_kinds[k], NULL, NULL,
                    atomic_load_explicit(&m->faults[k], memory_order_relaxed));
}

int server__metrics_text(struct server *s, struct core_buf *out)
{
    uint32_t nr = (uint32_t)s->m.nroutes + 1;
    uint32_t cap = SERVER__SERIES_CAP + 3 * nr + 2 + SERVER_NFAULT_KINDS;
    uint32_t bpr = (nr * (SERVER__NBOUNDS + 1) + cap - 1) / cap;
    struct rec_batch *b = rec_batch_new(REC_METRICS, cap, 4, bpr, 1);
    struct slot *keys = core_malloc(SERVER__SERIES_CAP * sizeof *keys);
    b->resources = &no_resource;
    b->nresources = 1;
    add_requests(s, b, keys);
    add_durations(s, b);
    add_rest(s, b);
    const struct rec_batch *bs[1] = {b};
    int rc = wire_prom_encode(out, bs, 1);
    core_free(keys);
    rec_batch_free(b);
    return rc;
}
