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
    "name",     "description", "seed",   "duration", "metric_interval", "resource", "hosts",
    "services", "models",      "faults", "states",   "timeline",        NULL};
static const char *const host_keys[] = {"name", "profile",   "cpu",        "cpus",  "memory_gib",
                                        "gpus", "gpu_model", "attributes", "shape", NULL};
static const char *const profiles[] = {"general", "gpu", "db", "edge", NULL};
static const char *const svc_keys[] = {"name",      "version",    "namespace",  "host",
                                       "instances", "attributes", "operations", NULL};
static const char *const op_keys[] = {"name",  "kind",    "latency",  "error_rate", "error_status",
                                      "rate",  "arrival", "parallel", "calls_mode", "inference",
                                      "calls", "shape",   NULL};
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
static const char *const fault_keys[] = {"name",   "target", "every", "probability",
                                         "window", "effect", NULL};
static const char *const window_keys[] = {"start", "duration", "repeat", NULL};
static const char *const effect_keys[] = {"latency_factor", "error_status",  "gpu_util",
                                          "queue_depth",    "tokens_factor", NULL};
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

/* ---- hosts ----------------------------------------------------------------------------- */
static int decode_host(const struct scn_dec *d, int node, const char *path, struct scn_host *h)
{
    static const char *const req[] = {"name", NULL};
    int profile = 0;
    h->cpu = 0.3;
    h->memory_gib = 16;
    h->cpus = 4;
    if (item_open(d, node, path, host_keys, req) ||
        scn__get_name(d, node, path, "name", &h->name) ||
        scn__get_enum(d, node, path, "profile", profiles, &profile))
        return DIO_EPARSE;
    h->profile = core_strdup(profiles[profile]);
    h->gpus = profile == 1; /* a gpu host has one GPU unless told otherwise */
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
    int seq, n, i = 0;
    if (scn__get_list(d, root, "", "hosts", SCN_MAX_HOSTS, &seq, &n))
        return DIO_EPARSE;
    s->hosts = core_calloc((size_t)n + 1, sizeof(*s->hosts));
    for (int it = n ? d->t->v[seq].first : -1; it >= 0; it = d->t->v[it].next, i++) {
        char path[SCN_PATH_MAX];
        s->nhosts = i + 1;
        if (decode_host(d, it, scn__path_idx(path, "hosts", i), &s->hosts[i]))
            return DIO_EPARSE;
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

/* `latency: 80ms` or `latency: {base: 80ms, jitter: 20%, tail: {p: 1%, factor: 10}}`. */
static int decode_latency(const struct scn_dec *d, int op, const char *path, struct scn_latency *l)
{
    static const char *const req[] = {"base", NULL};
    int node = scn__field(d, op, "latency");
    char lp[SCN_PATH_MAX], g[64];
    if (node < 0)
        return 0;
    if (d->t->v[node].type == SCN_N_SCALAR)
        return scn__get_dur(d, op, path, "latency", 1, &l->base_ns);
    scn__path(lp, path, "latency");
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
        decode_latency(d, node, path, &op->latency) ||
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

static int decode_service(const struct scn_dec *d, int node, const char *path,
                          const struct scenario *s, struct scn_service *sv)
{
    static const char *const req[] = {"name", "operations", NULL};
    char p[SCN_PATH_MAX];
    sv->version = core_strdup("1.0.0");
    sv->namespace_ = core_strdup(s->name);
    sv->host_idx = -1;
    sv->instances = 1;
    sv->pos = pos_of(d, node);
    if (item_open(d, node, path, svc_keys, req) || scn__get_name(d, node, path, "name", &sv->name))
        return DIO_EPARSE;
    if (strchr(sv->name, '/'))
        return scn__fail_at(d, scn__field(d, node, "name"),
                            "%s: must not contain '/' (calls are written service/operation)",
                            scn__path(p, path, "name"));
    if (scn__get_name(d, node, path, "version", &sv->version) ||
        scn__get_name(d, node, path, "namespace", &sv->namespace_) ||
        scn__get_name(d, node, path, "host", &sv->host) ||
        get_small_int(d, node, path, "instances", 1, SCN_MAX_INSTANCES, &sv->instances) ||
        scn__get_attrs(d, node, path, "attributes", &sv->attrs, &sv->nattrs) ||
        decode_ops(d, node, path, sv))
        return DIO_EPARSE;
    return 0;
}

static int decode_services(const struct scn_dec *d, int root, struct scenario *s)
{
    int seq, n, i = 0, total = 0;
    if (scn__get_list(d, root, "", "services", SCN_MAX_SERVICES, &seq, &n))
        return DIO_EPARSE;
    s->services = core_calloc((size_t)n + 1, sizeof(*s->services));
    for (int it = n ? d->t->v[seq].first : -1; it >= 0; it = d->t->v[it].next, i++) {
        char path[SCN_PATH_MAX];
        s->nservices = i + 1;
        if (decode_service(d, it, scn__path_idx(path, "services", i), s, &s->services[i]))
            return DIO_EPARSE;
        total += s->services[i].nops;
        if (total > SCN_MAX_TOTAL_OPS)
            return scn__fail_at(d, it, "%s: too many operations in all (the limit is %d)", path,
                                SCN_MAX_TOTAL_OPS);
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

static int decode_trigger(const struct scn_dec *d, int node, const char *path, struct scn_fault *f)
{
    static const char *const triggers[] = {"every", "probability", "window", NULL};
    int count = 0, second = node;
    for (int i = 0; triggers[i]; i++) {
        int v = scn__field(d, node, triggers[i]);
        if (v >= 0 && count++ == 0)
            f->trigger = i; /* enum scn_trigger follows this order */
        else if (v >= 0)
            second = v;
    }
    if (count != 1)
        return scn__fail_at(d, second, "%s: exactly one of every, probability, window is required",
                            path);
    int64_t every = 1;
    if (scn__get_int(d, node, path, "every", 1, INT64_MAX, &every) ||
        scn__get_frac(d, node, path, "probability", 1, &f->probability))
        return DIO_EPARSE;
    f->every_n = (uint64_t)every;
    return f->trigger == SCN_WINDOW ? decode_window(d, node, path, f) : 0;
}

static int decode_effect(const struct scn_dec *d, int node, const char *path, struct scn_fault *f)
{
    static const char *const none[] = {NULL};
    int e = scn__field(d, node, "effect"), any = 0;
    char ep[SCN_PATH_MAX];
    scn__path(ep, path, "effect");
    if (item_open(d, e, ep, effect_keys, none))
        return DIO_EPARSE;
    for (int i = 0; effect_keys[i]; i++)
        any |= scn__field(d, e, effect_keys[i]) >= 0;
    if (!any)
        return scn__fail_at(d, e,
                            "%s: at least one of latency_factor, error_status, gpu_util, "
                            "queue_depth, tokens_factor is required",
                            ep);
    if (scn__get_num(d, e, ep, "latency_factor", 0, 1, 1e6, &f->latency_factor) ||
        get_small_int(d, e, ep, "error_status", 100, 599, &f->error_status) ||
        scn__get_frac(d, e, ep, "gpu_util", 0, &f->gpu_util) ||
        get_small_int(d, e, ep, "queue_depth", 0, 1000000000, &f->queue_depth) ||
        scn__get_num(d, e, ep, "tokens_factor", 0, 1, 1e6, &f->tokens_factor))
        return DIO_EPARSE;
    return 0;
}

static int decode_fault(const struct scn_dec *d, int node, const char *path, int i,
                        struct scn_fault *f)
{
    static const char *const req[] = {"target", "effect", NULL};
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
        decode_effect(d, node, path, f))
        return DIO_EPARSE;
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
        scn__decode_states(&d, root, s) || scn__decode_timeline(&d, root, s))
        return DIO_EPARSE;
    if (s->nservices == 0 && s->nhosts == 0)
        return scn__fail_at(&d, root, "nothing to simulate: define at least one service or host");
    return 0;
}
