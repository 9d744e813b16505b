/* Tree -> struct scenario: one function per YAML mapping, checking keys, types and ranges.
 *
 * Ownership while decoding: every array is allocated with its final length before its items
 * are filled, and its count is raised before each item is decoded, so that when an item fails
 * halfway scenario_free() still finds and frees everything that item already owns. Defaults
 * are set before the item's keys are read (string defaults are heap copies the readers free
 * when they replace them). */
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "scenario/scn_internal.h"

#define MS 1000000ULL

static const char *const top_keys[] = {
    "name",     "description", "seed",     "duration", "metric_interval",
    "resource", "hosts",       "services", "models",   "faults",
    "states",   "timeline",    "kind",     "business", NULL};
const char *const scenario_kinds[] = {"services", NULL}; /* world/kind.c: one kind each */
static const char *const host_keys[] = {"name",       "count",      "profile", "cpu",
                                        "cpus",       "memory_gib", "gpus",    "gpu_model",
                                        "attributes", "shape",      NULL};
static const char *const svc_keys[] = {"name",      "count",      "version",    "namespace", "host",
                                       "instances", "attributes", "operations", NULL};
static const char *const op_keys[] = {"name",  "kind",    "latency",  "error_rate", "error_status",
                                      "rate",  "arrival", "parallel", "calls_mode", "inference",
                                      "calls", "shape",   "pool",     NULL};
static const char *const pool_keys[] = {"size", "timeout", "error_status", NULL};
/* Index + 1 is enum scn_span_kind. */
static const char *const kinds[] = {"internal", "server", "client", "producer", "consumer", NULL};
static const char *const arrivals[] = {"poisson", "constant", NULL};
static const char *const call_modes[] = {"sequential", "parallel", NULL};
static const char *const latency_keys[] = {"base", "jitter", "tail", NULL};
static const char *const tail_keys[] = {"p", "factor", NULL};
static const char *const call_keys[] = {"service", "operation", NULL};
static const char *const model_keys[] = {
    "name", "provider", "operation", "base_latency", "jitter", "max_batch", "rate", "arrival",
    "gpu",  "gpu_util", "tokens_in", "tokens_out",   "entry",  "shape",     NULL};
static const char *const fault_keys[] = {
    "name",   "target", "every",    "probability",     "window",
    "manual", "effect", "variants", "default_variant", NULL};
static const char *const window_keys[] = {"start", "duration", "repeat", NULL};
static const char *const effect_keys[] = {
    "latency_factor",  "error_status",    "error_rate", "gpu_util",
    "queue_depth",     "tokens_factor",   "cpu",        "memory_leak",
    "dependency_down", "slow_dependency", NULL};
static const char *const slow_keys[] = {"service", "factor", "add", NULL};
static const char *const http_methods[] = {"GET",     "HEAD",    "POST",  "PUT",   "DELETE",
                                           "CONNECT", "OPTIONS", "TRACE", "PATCH", NULL};

static struct scn_pos pos_of(const struct scn_dec *d, int node)
{
    struct scn_pos p = {d->t->v[node].line, d->t->v[node].col};
    return p;
}

/* A mapping item: right type, known keys, required keys present. */
static int item_open(const struct scn_dec *d, int node, const char *path, const char *const *keys,
                     const char *const *required)
{
    if (scn__expect(d, node, path, SCN_N_MAP) || scn__check_keys(d, node, path, keys))
        return DIO_EPARSE;
    for (int i = 0; required[i]; i++)
        if (scn__require(d, node, path, required[i]))
            return DIO_EPARSE;
    return 0;
}

static int get_small_int(const struct scn_dec *d, int map, const char *path, const char *key,
                         int lo, int hi, int *out)
{
    int64_t v = *out;
    if (scn__get_int(d, map, path, key, lo, hi, &v))
        return DIO_EPARSE;
    *out = (int)v;
    return 0;
}

/* ---- count: one list item, several entities ------------------------------------------- */
/* How many entities list item `node` stands for: its `count`, 1 without one. */
static int item_count(const struct scn_dec *d, int node, const char *path, int *count)
{
    *count = 1;
    if (d->t->v[node].type != SCN_N_MAP) /* item_open reports it */
        return 0;
    return get_small_int(d, node, path, "count", 1, SCN_MAX_COUNT, count);
}

/* Entities in all in `list` after count: at most max. */
static int list_total(const struct scn_dec *d, int seq, int n, const char *list, int max,
                      int *total)
{
    int i = 0;
    *total = 0;
    for (int it = n ? d->t->v[seq].first : -1; it >= 0; it = d->t->v[it].next, i++) {
        char path[SCN_PATH_MAX];
        int c;
        if (item_count(d, it, scn__path_idx(path, list, i), &c))
            return DIO_EPARSE;
        *total += c;
        if (*total > max)
            return scn__fail_at(d, c > 1 ? scn__field(d, it, "count") : it,
                                "%s: %d %s in all with count, over the limit of %d", path, *total,
                                list, max);
    }
    return 0;
}

/* Replaces a counted item's name (a pattern: "ppweb%03d") by its num-th name. num 0: not
 * counted, the name stays as written. */
static int apply_pattern(const struct scn_dec *d, int node, const char *path, const char *key,
                         long num, char **name)
{
    const char *why;
    char out[SCN_MAX_NAME + 32], p[SCN_PATH_MAX];
    if (!num || !*name)
        return 0;
    if (scn__pattern_check(*name, &why))
        return scn__fail_at(d, scn__field(d, node, key), "%s: %s, got '%s'",
                            scn__path(p, path, key), why, *name);
    scn__pattern_format(*name, num, out, sizeof out);
    if (strlen(out) > SCN_MAX_NAME)
        return scn__fail_at(d, scn__field(d, node, key),
                            "%s: '%s' makes a name longer than %d bytes", scn__path(p, path, key),
                            *name, SCN_MAX_NAME);
    core_free(*name);
    *name = core_strdup(out);
    return 0;
}

/* ---- hosts ----------------------------------------------------------------------------- */
static int decode_host(const struct scn_dec *d, int node, const char *path, long num,
                       struct scn_host *h)
{
    static const char *const req[] = {"name", NULL};
    int profile = SCN_PROF_GENERAL;
    if (item_open(d, node, path, host_keys, req) ||
        scn__get_name(d, node, path, "name", &h->name) ||
        apply_pattern(d, node, path, "name", num, &h->name) ||
        scn__get_enum(d, node, path, "profile", scn__profile_names(), &profile))
        return DIO_EPARSE;
    const struct scn_profile *pr = scenario_profile(profile);
    h->profile = core_strdup(pr->name);
    h->profile_id = profile;
    h->cpu = pr->cpu;
    h->memory_gib = pr->memory_gib;
    h->cpus = pr->cpus;
    h->gpus = pr->gpus;
    if (scn__get_frac(d, node, path, "cpu", 0, &h->cpu) ||
        scn__get_num(d, node, path, "memory_gib", 0, 1, 1e6, &h->memory_gib) ||
        get_small_int(d, node, path, "gpus", 0, 1024, &h->gpus) ||
        get_small_int(d, node, path, "cpus", 1, 1024, &h->cpus) ||
        scn__get_name(d, node, path, "gpu_model", &h->gpu_model) ||
        scn__get_attrs(d, node, path, "attributes", &h->attrs, &h->nattrs) ||
        scn__decode_shape(d, node, path, &h->shape))
        return DIO_EPARSE;
    h->pos = pos_of(d, node);
    return 0;
}

static int decode_hosts(const struct scn_dec *d, int root, struct scenario *s)
{
    int seq, n, total, item = 0;
    if (scn__get_list(d, root, "", "hosts", SCN_MAX_HOSTS, &seq, &n) ||
        list_total(d, seq, n, "hosts", SCN_MAX_HOSTS, &total))
        return DIO_EPARSE;
    s->hosts = core_calloc((size_t)total + 1, sizeof(*s->hosts));
    for (int it = n ? d->t->v[seq].first : -1; it >= 0; it = d->t->v[it].next, item++) {
        char path[SCN_PATH_MAX];
        int count;
        scn__path_idx(path, "hosts", item);
        item_count(d, it, path, &count); /* checked by list_total */
        for (int k = 0; k < count; k++) {
            struct scn_host *h = &s->hosts[s->nhosts++];
            h->item = item;
            if (decode_host(d, it, path, scn__field(d, it, "count") >= 0 ? k + 1 : 0, h))
                return DIO_EPARSE;
        }
    }
    return 0;
}

/* ---- operations ------------------------------------------------------------------------ */
static int decode_tail(const struct scn_dec *d, int lat, const char *path, struct scn_latency *l)
{
    static const char *const req[] = {"p", "factor", NULL};
    int node = scn__field(d, lat, "tail");
    char tp[SCN_PATH_MAX];
    if (node < 0)
        return 0;
    scn__path(tp, path, "tail");
    if (item_open(d, node, tp, tail_keys, req) || scn__get_frac(d, node, tp, "p", 0, &l->tail_p) ||
        scn__get_num(d, node, tp, "factor", 1, 0, 1e6, &l->tail_factor))
        return DIO_EPARSE;
    return 0;
}

/* `latency: 80ms` or `latency: {base: 80ms, jitter: 20%, tail: {p: 1%, factor: 10}}` (also a
 * business histogram's `value:`). */
int scn__decode_dist(const struct scn_dec *d, int op, const char *path, const char *key,
                     struct scn_latency *l)
{
    static const char *const req[] = {"base", NULL};
    int node = scn__field(d, op, key);
    char lp[SCN_PATH_MAX], g[64];
    if (node < 0)
        return 0;
    if (d->t->v[node].type == SCN_N_SCALAR)
        return scn__get_dur(d, op, path, key, 1, &l->base_ns);
    scn__path(lp, path, key);
    if (d->t->v[node].type != SCN_N_MAP)
        return scn__fail_at(d, node,
                            "%s: expected a duration or a mapping {base, jitter, tail}, got %s", lp,
                            scn__got(d->t, node, g, sizeof(g)));
    if (item_open(d, node, lp, latency_keys, req) ||
        scn__get_dur(d, node, lp, "base", 1, &l->base_ns) ||
        scn__get_frac(d, node, lp, "jitter", 0, &l->jitter) || decode_tail(d, node, lp, l))
        return DIO_EPARSE;
    return 0;
}

/* "svc/op" (split at the first '/': operation names may contain more) or {service, operation}. */
static int decode_call(const struct scn_dec *d, int node, const char *path, struct scn_call *c)
{
    static const char *const req[] = {"service", "operation", NULL};
    const struct scn_node *nd = &d->t->v[node];
    char g[64];
    c->svc = c->op = -1;
    c->pos = pos_of(d, node);
    if (nd->type == SCN_N_MAP) {
        return item_open(d, node, path, call_keys, req) ||
                       scn__get_name(d, node, path, "service", &c->service) ||
                       scn__get_name(d, node, path, "operation", &c->operation)
                   ? DIO_EPARSE
                   : 0;
    }
    const char *slash = nd->type == SCN_N_SCALAR ? strchr(nd->s, '/') : NULL;
    if (!slash || slash == nd->s || !slash[1])
        return scn__fail_at(d, node,
                            "%s: expected 'service/operation' or {service, operation}, got %s",
                            path, scn__got(d->t, node, g, sizeof(g)));
    c->service = core_strndup(nd->s, (size_t)(slash - nd->s));
    c->operation = core_strdup(slash + 1);
    return 0;
}

static int decode_calls(const struct scn_dec *d, int op_node, const char *path,
                        struct scn_operation *op)
{
    int seq, n, i = 0;
    if (scn__get_list(d, op_node, path, "calls", SCN_MAX_CALLS, &seq, &n))
        return DIO_EPARSE;
    op->calls = core_calloc((size_t)n + 1, sizeof(*op->calls));
    for (int it = n ? d->t->v[seq].first : -1; it >= 0; it = d->t->v[it].next, i++) {
        char cp[SCN_PATH_MAX], ip[SCN_PATH_MAX];
        op->ncalls = i + 1;
        if (decode_call(d, it, scn__path_idx(ip, scn__path(cp, path, "calls"), i), &op->calls[i]))
            return DIO_EPARSE;
    }
    return 0;
}

/* "POST /v1/chat/completions" -> method POST, route /v1/chat/completions; "/health" -> route
 * only; "GET" -> method only. Anything else, e.g. "DELETE carts" (SQL, not HTTP) or
 * "GET /a b", has neither: a method counts only when followed by a route or by nothing. */
static void derive_http(struct scn_operation *op)
{
    const char *sp = strchr(op->name, ' '), *rest = op->name;
    size_t mlen = sp ? (size_t)(sp - op->name) : strlen(op->name);
    for (int i = 0; http_methods[i]; i++)
        if (strlen(http_methods[i]) == mlen && !strncmp(op->name, http_methods[i], mlen))
            rest = sp ? sp + 1 : NULL;
    int route_ok = rest && rest[0] == '/' && !strpbrk(rest, " \t");
    if (rest != op->name && (route_ok || !rest))
        op->method = core_strndup(op->name, mlen);
    if (route_ok)
        op->route = core_strdup(rest);
}

/* parallel: true|false, or calls_mode: parallel|sequential (never both). */
static int decode_mode(const struct scn_dec *d, int node, const char *path,
                       struct scn_operation *op)
{
    int mode_node = scn__field(d, node, "calls_mode");
    char p[SCN_PATH_MAX];
    if (mode_node >= 0 && scn__field(d, node, "parallel") >= 0)
        return scn__fail_at(d, mode_node, "%s: give either parallel or calls_mode, not both",
                            scn__path(p, path, "calls_mode"));
    if (scn__get_bool(d, node, path, "parallel", &op->parallel) ||
        scn__get_enum(d, node, path, "calls_mode", call_modes, &op->parallel))
        return DIO_EPARSE;
    return 0;
}

/* `pool: 1` or `pool: {size: 1, timeout: 2s, error_status: 503}`: a connection pool. */
static int decode_pool(const struct scn_dec *d, int node, const char *path,
                       struct scn_operation *op)
{
    static const char *const req[] = {"size", NULL};
    int pn = scn__field(d, node, "pool");
    char pp[SCN_PATH_MAX];
    op->pool_timeout_ns = 5000 * MS;
    op->pool_status = 503;
    if (pn < 0)
        return 0;
    if (d->t->v[pn].type == SCN_N_SCALAR)
        return get_small_int(d, node, path, "pool", 1, SCN_MAX_POOL, &op->pool);
    scn__path(pp, path, "pool");
    if (item_open(d, pn, pp, pool_keys, req) ||
        get_small_int(d, pn, pp, "size", 1, SCN_MAX_POOL, &op->pool) ||
        scn__get_dur(d, pn, pp, "timeout", 1, &op->pool_timeout_ns) ||
        get_small_int(d, pn, pp, "error_status", 100, 599, &op->pool_status))
        return DIO_EPARSE;
    return 0;
}

static int decode_op(const struct scn_dec *d, int node, const char *path, struct scn_operation *op)
{
    static const char *const req[] = {"name", NULL};
    int kind = SCN_KIND_SERVER - 1, arrival_node = scn__field(d, node, "arrival");
    struct scn_latency dflt = {1 * MS, 0.2, 0, 1};
    op->latency = dflt;
    op->error_status = 500;
    op->pos = pos_of(d, node);
    if (item_open(d, node, path, op_keys, req) || scn__get_name(d, node, path, "name", &op->name) ||
        scn__get_enum(d, node, path, "kind", kinds, &kind) ||
        scn__decode_dist(d, node, path, "latency", &op->latency) ||
        decode_pool(d, node, path, op) ||
        scn__get_frac(d, node, path, "error_rate", 0, &op->error_rate) ||
        get_small_int(d, node, path, "error_status", 100, 599, &op->error_status) ||
        scn__get_rate(d, node, path, "rate", &op->rate) ||
        scn__get_enum(d, node, path, "arrival", arrivals, &op->arrival) ||
        scn__decode_shape(d, node, path, &op->shape) || decode_mode(d, node, path, op) ||
        scn__get_bool(d, node, path, "inference", &op->inference) ||
        decode_calls(d, node, path, op))
        return DIO_EPARSE;
    op->kind = kind + 1;
    char p[SCN_PATH_MAX];
    if (arrival_node >= 0 && op->rate == 0)
        return scn__fail_at(d, arrival_node, "%s: only entry operations have arrivals (add a rate)",
                            scn__path(p, path, "arrival"));
    derive_http(op);
    return 0;
}

/* ---- services -------------------------------------------------------------------------- */
static int decode_ops(const struct scn_dec *d, int node, const char *path, struct scn_service *sv)
{
    int seq, n, i = 0;
    char op_path[SCN_PATH_MAX], ip[SCN_PATH_MAX];
    if (scn__get_list(d, node, path, "operations", SCN_MAX_OPS, &seq, &n))
        return DIO_EPARSE;
    scn__path(op_path, path, "operations");
    if (n == 0)
        return scn__fail_at(d, seq, "%s: at least one operation is required", op_path);
    sv->ops = core_calloc((size_t)n + 1, sizeof(*sv->ops));
    for (int it = d->t->v[seq].first; it >= 0; it = d->t->v[it].next, i++) {
        sv->nops = i + 1;
        if (decode_op(d, it, scn__path_idx(ip, op_path, i), &sv->ops[i]))
            return DIO_EPARSE;
    }
    return 0;
}

/* A counted service's host: "ppweb%03d" puts service k on host k; a plain name puts them all
 * on that host. */
static int service_host(const struct scn_dec *d, int node, const char *path, long num,
                        struct scn_service *sv)
{
    const char *why;
    if (!num || !sv->host || !strchr(sv->host, '%') || scn__pattern_check(sv->host, &why))
        return 0;
    return apply_pattern(d, node, path, "host", num, &sv->host);
}

static int decode_service(const struct scn_dec *d, int node, const char *path, long num,
                          const struct scenario *s, struct scn_service *sv)
{
    static const char *const req[] = {"name", "operations", NULL};
    char p[SCN_PATH_MAX];
    sv->version = core_strdup("1.0.0");
    sv->namespace_ = core_strdup(s->name);
    sv->host_idx = -1;
    sv->instances = 1;
    sv->pos = pos_of(d, node);
    if (item_open(d, node, path, svc_keys, req) ||
        scn__get_name(d, node, path, "name", &sv->name) ||
        apply_pattern(d, node, path, "name", num, &sv->name))
        return DIO_EPARSE;
    if (strchr(sv->name, '/'))
        return scn__fail_at(d, scn__field(d, node, "name"),
                            "%s: must not contain '/' (calls are written service/operation)",
                            scn__path(p, path, "name"));
    if (scn__get_name(d, node, path, "version", &sv->version) ||
        scn__get_name(d, node, path, "namespace", &sv->namespace_) ||
        scn__get_name(d, node, path, "host", &sv->host) || service_host(d, node, path, num, sv) ||
        get_small_int(d, node, path, "instances", 1, SCN_MAX_INSTANCES, &sv->instances) ||
        scn__get_attrs(d, node, path, "attributes", &sv->attrs, &sv->nattrs) ||
        decode_ops(d, node, path, sv))
        return DIO_EPARSE;
    return 0;
}

static int decode_services(const struct scn_dec *d, int root, struct scenario *s)
{
    int seq, n, item = 0, total = 0, nsvc, ninst = 0;
    if (scn__get_list(d, root, "", "services", SCN_MAX_SERVICES, &seq, &n) ||
        list_total(d, seq, n, "services", SCN_MAX_SERVICES, &nsvc))
        return DIO_EPARSE;
    s->services = core_calloc((size_t)nsvc + 1, sizeof(*s->services));
    for (int it = n ? d->t->v[seq].first : -1; it >= 0; it = d->t->v[it].next, item++) {
        char path[SCN_PATH_MAX];
        int count;
        scn__path_idx(path, "services", item);
        item_count(d, it, path, &count); /* checked by list_total */
        for (int k = 0; k < count; k++) {
            struct scn_service *sv = &s->services[s->nservices++];
            sv->item = item;
            if (decode_service(d, it, path, scn__field(d, it, "count") >= 0 ? k + 1 : 0, s, sv))
                return DIO_EPARSE;
            total += sv->nops;
            ninst += sv->instances;
            if (total > SCN_MAX_TOTAL_OPS)
                return scn__fail_at(d, it, "%s: too many operations in all (the limit is %d)", path,
                                    SCN_MAX_TOTAL_OPS);
            if (ninst > SCN_MAX_TOTAL_INSTANCES) /* each is a resource; hosts are the rest */
                return scn__fail_at(d, scn__field(d, it, "instances"),
                                    "%s.instances: %d instances in all, over the limit of %d", path,
                                    ninst, SCN_MAX_TOTAL_INSTANCES);
        }
    }
    return 0;
}

/* ---- models ---------------------------------------------------------------------------- */
static int decode_model(const struct scn_dec *d, int node, const char *path, struct scn_model *m)
{
    static const char *const req[] = {"name", "base_latency", "rate", "entry", NULL};
    m->provider = core_strdup("diorama");
    m->operation = core_strdup("chat");
    m->jitter = 0.2;
    m->max_batch = 1;
    m->gpu_util = 0.75;
    m->entry_svc = m->entry_op = -1;
    m->pos = pos_of(d, node);
    if (item_open(d, node, path, model_keys, req) ||
        scn__get_name(d, node, path, "name", &m->name) ||
        scn__get_name(d, node, path, "provider", &m->provider) ||
        scn__get_name(d, node, path, "operation", &m->operation) ||
        scn__get_dur(d, node, path, "base_latency", 1, &m->base_latency_ns) ||
        scn__get_frac(d, node, path, "jitter", 0, &m->jitter) ||
        get_small_int(d, node, path, "max_batch", 1, 100000, &m->max_batch) ||
        scn__get_rate(d, node, path, "rate", &m->rate) ||
        scn__get_enum(d, node, path, "arrival", arrivals, &m->arrival) ||
        scn__decode_shape(d, node, path, &m->shape) ||
        scn__get_name(d, node, path, "gpu", &m->gpu) ||
        scn__get_frac(d, node, path, "gpu_util", 0, &m->gpu_util) ||
        get_small_int(d, node, path, "tokens_in", 0, 1000000, &m->tokens_in) ||
        get_small_int(d, node, path, "tokens_out", 0, 1000000, &m->tokens_out) ||
        scn__get_name(d, node, path, "entry", &m->entry))
        return DIO_EPARSE;
    return 0;
}

static int decode_models(const struct scn_dec *d, int root, struct scenario *s)
{
    int seq, n, i = 0;
    if (scn__get_list(d, root, "", "models", SCN_MAX_MODELS, &seq, &n))
        return DIO_EPARSE;
    s->models = core_calloc((size_t)n + 1, sizeof(*s->models));
    for (int it = n ? d->t->v[seq].first : -1; it >= 0; it = d->t->v[it].next, i++) {
        char path[SCN_PATH_MAX];
        s->nmodels = i + 1;
        if (decode_model(d, it, scn__path_idx(path, "models", i), &s->models[i]))
            return DIO_EPARSE;
    }
    return 0;
}

/* ---- faults ---------------------------------------------------------------------------- */
static int decode_window(const struct scn_dec *d, int node, const char *path, struct scn_fault *f)
{
    static const char *const req[] = {"duration", NULL};
    int w = scn__field(d, node, "window");
    char wp[SCN_PATH_MAX], rp[SCN_PATH_MAX];
    scn__path(wp, path, "window");
    if (item_open(d, w, wp, window_keys, req) || scn__get_dur(d, w, wp, "start", 0, &f->start_ns) ||
        scn__get_dur(d, w, wp, "duration", 1, &f->duration_ns) ||
        scn__get_dur(d, w, wp, "repeat", 0, &f->repeat_ns))
        return DIO_EPARSE;
    if (f->repeat_ns && f->repeat_ns < f->duration_ns)
        return scn__fail_at(d, scn__field(d, w, "repeat"),
                            "%s: must be at least the window's duration (or 0 for once)",
                            scn__path(rp, wp, "repeat"));
    return 0;
}

/* The requests a fault fires on while it is in force: every Nth or a share (at most one),
 * within a window or always; `manual: true` alone means "only when a command starts it". */
static int decode_trigger(const struct scn_dec *d, int node, const char *path, struct scn_fault *f)
{
    int ev = scn__field(d, node, "every"), pr = scn__field(d, node, "probability");
    int wi = scn__field(d, node, "window");
    if (scn__get_bool(d, node, path, "manual", &f->manual))
        return DIO_EPARSE;
    if (ev >= 0 && pr >= 0)
        return scn__fail_at(d, ev < pr ? pr : ev,
                            "%s: every and probability exclude each other (a window may go "
                            "with either)",
                            path);
    if (ev < 0 && pr < 0 && wi < 0 && !f->manual)
        return scn__fail_at(
            d, node, "%s: one of every, probability, window (or manual: true) is required", path);
    f->trigger = ev >= 0 ? SCN_EVERY_N : pr >= 0 ? SCN_PROBABILITY : SCN_WINDOW;
    f->windowed = wi >= 0;
    int64_t every = 1;
    if (scn__get_int(d, node, path, "every", 1, INT64_MAX, &every) ||
        scn__get_frac(d, node, path, "probability", 1, &f->probability))
        return DIO_EPARSE;
    f->every_n = (uint64_t)every;
    return f->windowed ? decode_window(d, node, path, f) : 0;
}

static int decode_slow(const struct scn_dec *d, int e, const char *ep, struct scn_fault_fx *fx)
{
    static const char *const req[] = {"service", NULL};
    int n = scn__field(d, e, "slow_dependency");
    char sp[SCN_PATH_MAX];
    scn__path(sp, ep, "slow_dependency");
    if (n < 0)
        return 0;
    if (item_open(d, n, sp, slow_keys, req) || scn__get_name(d, n, sp, "service", &fx->slow) ||
        scn__get_num(d, n, sp, "factor", 1, 0, 1e6, &fx->slow_factor) ||
        scn__get_dur(d, n, sp, "add", 0, &fx->slow_add_ns))
        return DIO_EPARSE;
    if (fx->slow_factor == 1 && fx->slow_add_ns == 0)
        return scn__fail_at(d, n, "%s: set factor (> 1) or add (> 0): it changes nothing", sp);
    return 0;
}

/* The effect keys of mapping e over *fx (a variant starts as a copy of the fault's effect). */
static int decode_fx(const struct scn_dec *d, int e, const char *ep, struct scn_fault_fx *fx)
{
    if (scn__get_num(d, e, ep, "latency_factor", 0, 1, 1e6, &fx->latency_factor) ||
        get_small_int(d, e, ep, "error_status", 100, 599, &fx->error_status) ||
        scn__get_frac(d, e, ep, "error_rate", 0, &fx->error_rate) ||
        scn__get_frac(d, e, ep, "gpu_util", 0, &fx->gpu_util) ||
        get_small_int(d, e, ep, "queue_depth", 0, 1000000000, &fx->queue_depth) ||
        scn__get_num(d, e, ep, "tokens_factor", 0, 1, 1e6, &fx->tokens_factor) ||
        scn__get_frac(d, e, ep, "cpu", 0, &fx->cpu) ||
        scn__get_num(d, e, ep, "memory_leak", 0, 1, 1e9, &fx->memory_leak) ||
        scn__get_name(d, e, ep, "dependency_down", &fx->down) || decode_slow(d, e, ep, fx))
        return DIO_EPARSE;
    return 0;
}

static int fx_empty(const struct scn_fault_fx *fx)
{
    return fx->latency_factor <= 0 && fx->error_status <= 0 && fx->error_rate < 0 &&
           fx->gpu_util < 0 && fx->queue_depth < 0 && fx->tokens_factor <= 0 && fx->cpu < 0 &&
           fx->memory_leak <= 0 && !fx->down && !fx->slow;
}

static void fx_init(struct scn_fault_fx *fx, struct scn_pos pos)
{
    memset(fx, 0, sizeof *fx);
    fx->error_rate = fx->gpu_util = fx->cpu = -1;
    fx->queue_depth = -1;
    fx->down_svc = fx->slow_svc = -1;
    fx->slow_factor = 1;
    fx->pos = pos;
}

/* A deep copy (strings duplicated) so every variant owns its strings. */
static void fx_copy(struct scn_fault_fx *dst, const struct scn_fault_fx *src)
{
    *dst = *src;
    dst->name = NULL;
    dst->down = src->down ? core_strdup(src->down) : NULL;
    dst->slow = src->slow ? core_strdup(src->slow) : NULL;
}

static const char effect_required[] =
    "%s: at least one of latency_factor, error_status, error_rate, gpu_util, queue_depth, "
    "tokens_factor, cpu, memory_leak, dependency_down, slow_dependency is required";

static int decode_variants(const struct scn_dec *d, int node, const char *path, struct scn_fault *f,
                           const struct scn_fault_fx *base)
{
    static const char *const none[] = {NULL};
    int m = scn__field(d, node, "variants");
    char vp[SCN_PATH_MAX], ip[SCN_PATH_MAX];
    scn__path(vp, path, "variants");
    if (scn__expect(d, m, vp, SCN_N_MAP))
        return DIO_EPARSE;
    if (d->t->v[m].n < 1 || d->t->v[m].n > SCN_MAX_VARIANTS)
        return scn__fail_at(d, m, "%s: expected 1 to %d variants", vp, SCN_MAX_VARIANTS);
    f->variants = core_calloc((size_t)d->t->v[m].n, sizeof *f->variants);
    for (int k = d->t->v[m].first; k >= 0; k = d->t->v[k].next) {
        const char *vn = d->t->v[k].s;
        if (!*vn || strlen(vn) > SCN_MAX_NAME)
            return scn__fail_at(d, k, "%s: a variant name is 1 to %d bytes long", vp, SCN_MAX_NAME);
        for (int j = 0; j < f->nvariants; j++)
            if (!strcmp(f->variants[j].name, vn))
                return scn__fail_at(d, k, "%s: '%s' is defined twice (first at line %d)", vp, vn,
                                    f->variants[j].pos.line);
        struct scn_fault_fx *fx = &f->variants[f->nvariants++];
        fx_copy(fx, base);
        fx->name = core_strdup(d->t->v[k].s);
        fx->pos = pos_of(d, k);
        int e = d->t->v[k].val;
        scn__path(ip, vp, d->t->v[k].s);
        if (!scn__is_null(d->t, e) &&
            (item_open(d, e, ip, effect_keys, none) || decode_fx(d, e, ip, fx)))
            return DIO_EPARSE;
        if (fx_empty(fx))
            return scn__fail_at(d, k, effect_required, ip);
    }
    return 0;
}

/* `effect` (the base every variant starts from) and `variants`; then the default variant. */
static int decode_effects(const struct scn_dec *d, int node, const char *path, struct scn_fault *f)
{
    static const char *const none[] = {NULL};
    int e = scn__field(d, node, "effect"), vs = scn__field(d, node, "variants");
    char ep[SCN_PATH_MAX], name[SCN_PATH_MAX];
    scn__path(ep, path, "effect");
    struct scn_fault_fx base;
    fx_init(&base, f->pos);
    if (e < 0 && vs < 0)
        return scn__fail_at(d, node, "%s: 'effect' (or 'variants') is required", path);
    if (e >= 0 && (item_open(d, e, ep, effect_keys, none) || decode_fx(d, e, ep, &base))) {
        core_free(base.down);
        core_free(base.slow);
        return DIO_EPARSE;
    }
    int rc = 0;
    if (vs >= 0) {
        rc = decode_variants(d, node, path, f, &base);
    } else if (fx_empty(&base)) {
        rc = scn__fail_at(d, e, effect_required, ep);
    } else {
        f->variants = core_calloc(1, sizeof *f->variants);
        fx_copy(&f->variants[f->nvariants++], &base);
        f->variants[0].name = core_strdup("default");
    }
    core_free(base.down);
    core_free(base.slow);
    if (rc)
        return rc;
    char *dv = NULL;
    if (scn__get_name(d, node, path, "default_variant", &dv))
        return DIO_EPARSE;
    for (int i = 0; dv && i < f->nvariants; i++)
        if (!strcmp(f->variants[i].name, dv))
            f->default_variant = i + 1;
    int bad = dv && !f->default_variant;
    core_free(dv);
    if (bad)
        return scn__fail_at(d, scn__field(d, node, "default_variant"), "%s: no variant named '%s'",
                            scn__path(name, path, "default_variant"),
                            d->t->v[scn__field(d, node, "default_variant")].s);
    f->default_variant = f->default_variant ? f->default_variant - 1 : 0;
    return 0;
}

/* The default variant's effects, where readers of a single effect look. */
static void copy_default(struct scn_fault *f)
{
    const struct scn_fault_fx *fx = &f->variants[f->default_variant];
    f->latency_factor = fx->latency_factor;
    f->error_status = fx->error_status > 0 ? fx->error_status : fx->error_rate > 0 ? 500 : 0;
    f->gpu_util = fx->gpu_util;
    f->queue_depth = fx->queue_depth;
    f->tokens_factor = fx->tokens_factor;
}

static int decode_fault(const struct scn_dec *d, int node, const char *path, int i,
                        struct scn_fault *f)
{
    static const char *const req[] = {"target", NULL};
    char dflt[32];
    snprintf(dflt, sizeof(dflt), "fault-%d", i);
    f->name = core_strdup(dflt);
    f->target_idx = f->target_op = -1;
    f->gpu_util = -1;
    f->queue_depth = -1;
    f->pos = pos_of(d, node);
    if (item_open(d, node, path, fault_keys, req) ||
        scn__get_name(d, node, path, "name", &f->name) ||
        scn__get_name(d, node, path, "target", &f->target) || decode_trigger(d, node, path, f) ||
        decode_effects(d, node, path, f))
        return DIO_EPARSE;
    copy_default(f);
    return 0;
}

static int decode_faults(const struct scn_dec *d, int root, struct scenario *s)
{
    int seq, n, i = 0;
    if (scn__get_list(d, root, "", "faults", SCN_MAX_FAULTS, &seq, &n))
        return DIO_EPARSE;
    s->faults = core_calloc((size_t)n + 1, sizeof(*s->faults));
    for (int it = n ? d->t->v[seq].first : -1; it >= 0; it = d->t->v[it].next, i++) {
        char path[SCN_PATH_MAX];
        s->nfaults = i + 1;
        if (decode_fault(d, it, scn__path_idx(path, "faults", i), i, &s->faults[i]))
            return DIO_EPARSE;
    }
    return 0;
}

/* ---- top level ------------------------------------------------------------------------- */
static int decode_top(const struct scn_dec *d, int root, struct scenario *s, const char *dflt)
{
    s->name = core_strdup(dflt);
    s->seed = 1;
    int kind = 0;
    if (scn__get_enum(d, root, "", "kind", scenario_kinds, &kind))
        return DIO_EPARSE;
    s->kind = core_strdup(scenario_kinds[kind]);
    s->metric_interval_ns = 10000 * MS;
    if (scn__get_name(d, root, "", "name", &s->name) ||
        scn__get_str(d, root, "", "description", &s->description) ||
        scn__get_u64(d, root, "", "seed", &s->seed) ||
        scn__get_dur(d, root, "", "duration", 0, &s->duration_ns) ||
        scn__get_dur(d, root, "", "metric_interval", MS, &s->metric_interval_ns) ||
        scn__get_attrs(d, root, "", "resource", &s->resource_attrs, &s->nresource_attrs))
        return DIO_EPARSE;
    return 0;
}

int scn__decode(const struct scn_tree *t, struct scenario *s, const char *dflt_name,
                struct scn_error *err)
{
    struct scn_dec d = {t, err};
    int root = t->root;
    if (root < 0 || scn__is_null(t, root))
        return scn__fail(err, 1, 1, "the file is empty");
    if (scn__expect(&d, root, "", SCN_N_MAP) || scn__check_keys(&d, root, "", top_keys) ||
        decode_top(&d, root, s, dflt_name) || decode_hosts(&d, root, s) ||
        decode_services(&d, root, s) || decode_models(&d, root, s) || decode_faults(&d, root, s) ||
        scn__decode_states(&d, root, s) || scn__decode_timeline(&d, root, s) ||
        scn__decode_business(&d, root, s))
        return DIO_EPARSE;
    if (s->nservices == 0 && s->nhosts == 0)
        return scn__fail_at(&d, root, "nothing to simulate: define at least one service or host");
    return 0;
}
