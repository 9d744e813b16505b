#include <stdio.h>
#include <string.h>
#include <time.h>

#include "world/world.h"

/* Resource attributes per service: service.name, service.namespace, service.version,
 * service.instance.id, host.name, deployment/user attributes, diorama.run_id. The counts
 * below bound the attribute store, which is sized once. */
#define FIXED_RES_ATTRS 6

struct res_builder {
    struct world *w;
    struct rec_attr *a;
    uint32_t n;
};

static const char *keep(struct world *w, const char *s)
{
    w->str_store = core_realloc(w->str_store, (size_t)(w->nstr + 1) * sizeof(char *));
    w->str_store[w->nstr] = core_strdup(s);
    return w->str_store[w->nstr++];
}

/* Adds or replaces key (later sources override earlier ones, e.g. OTEL_RESOURCE_ATTRIBUTES
 * over the scenario's resource block). */
static void res_put(struct res_builder *rb, const char *key, const char *val, int type, int64_t i,
                    double d)
{
    struct rec_attr *a = NULL;
    for (uint32_t k = 0; k < rb->n; k++)
        if (strcmp(rb->a[k].key, key) == 0)
            a = &rb->a[k];
    if (!a)
        a = &rb->a[rb->n++];
    const char *k = keep(rb->w, key);
    if (type == SCN_INT)
        rec_attr_int(a, k, (uint32_t)strlen(k), i);
    else if (type == SCN_DBL)
        rec_attr_dbl(a, k, (uint32_t)strlen(k), d);
    else if (type == SCN_BOOL)
        rec_attr_bool(a, k, (uint32_t)strlen(k), (int)i);
    else {
        const char *v = keep(rb->w, val);
        rec_attr_str(a, k, (uint32_t)strlen(k), v, (uint32_t)strlen(v));
    }
}

static void res_put_scn(struct res_builder *rb, const struct scn_attr *a, int n)
{
    for (int i = 0; i < n; i++)
        res_put(rb, a[i].key, a[i].str, a[i].type, a[i].type == SCN_BOOL ? a[i].i : a[i].i, a[i].d);
}

static int env_attr_cb(void *ctx, const char *k, const char *v)
{
    res_put(ctx, k, v, SCN_STR, 0, 0);
    return 0;
}

static uint32_t count_env_attrs(const char *s)
{
    uint32_t n = 1;
    for (; s && *s; s++)
        n += *s == ',';
    return s ? n : 0;
}

/* A string (or integer) attribute already put, as text in buf; NULL when absent. */
static const char *res_get(const struct res_builder *rb, const char *key, char *buf, size_t n)
{
    for (uint32_t k = 0; k < rb->n; k++) {
        const struct rec_attr *a = &rb->a[k];
        if (strcmp(a->key, key))
            continue;
        if (a->type == REC_STR)
            snprintf(buf, n, "%.*s", (int)a->v.s.len, a->v.s.p);
        else if (a->type == REC_INT)
            snprintf(buf, n, "%lld", (long long)a->v.i);
        else
            return NULL;
        return buf;
    }
    return NULL;
}

/* Prometheus job and instance as the OpenTelemetry Collector's Prometheus exporter sets them
 * (the OTel-to-Prometheus compatibility spec): job = service.namespace/service.name, or
 * service.name without a namespace; instance = service.instance.id, empty when absent. Read
 * from the finished resource, so the scenario's attributes and OTEL_RESOURCE_ATTRIBUTES count
 * as they do in OTLP. */
static void prom_labels(struct world *w, const struct res_builder *rb, struct rec_resource *r)
{
    char name[256], ns[256], id[256], job[520];
    const char *n = res_get(rb, "service.name", name, sizeof name);
    const char *s = res_get(rb, "service.namespace", ns, sizeof ns);
    const char *i = res_get(rb, "service.instance.id", id, sizeof id);
    if (s && *s && n)
        snprintf(job, sizeof job, "%s/%s", s, n);
    else
        snprintf(job, sizeof job, "%s", n ? n : "");
    r->job = keep(w, job);
    r->instance = keep(w, i ? i : "");
}

struct res_spec {
    const char *name; /* service.name or host.name */
    const char *ns;   /* service.namespace, NULL for hosts */
    const char *version;
    const char *host; /* host.name for services */
    const struct scn_attr *attrs;
    int nattrs;
    int inst; /* service.instance.id = <name>-<inst> */
};

static int build_resource(struct world *w, const struct world_opts *o, const struct res_spec *sp,
                          struct rec_attr *store, struct rec_resource *r)
{
    const struct scenario *s = w->scn;
    struct res_builder rb = {w, store, 0};
    char buf[512];
    if (sp->ns) {
        res_put(&rb, "service.name", sp->name, SCN_STR, 0, 0);
        res_put(&rb, "service.namespace", sp->ns, SCN_STR, 0, 0);
        res_put(&rb, "service.version", sp->version, SCN_STR, 0, 0);
        snprintf(buf, sizeof buf, "%s-%d", sp->name, sp->inst);
        res_put(&rb, "service.instance.id", buf, SCN_STR, 0, 0);
        if (sp->host)
            res_put(&rb, "host.name", sp->host, SCN_STR, 0, 0);
    } else { /* each host's metrics agent is an instance of the host-metrics service */
        res_put(&rb, "host.name", sp->name, SCN_STR, 0, 0);
        res_put(&rb, "service.name", "host-metrics", SCN_STR, 0, 0);
        res_put(&rb, "service.instance.id", sp->name, SCN_STR, 0, 0);
    }
    res_put_scn(&rb, s->resource_attrs, s->nresource_attrs);
    res_put_scn(&rb, sp->attrs, sp->nattrs);
    if (o->extra_attrs && core_parse_kv_list(o->extra_attrs, env_attr_cb, &rb))
        return DIO_EINVAL;
    if (o->verify_attrs)
        res_put(&rb, REC_ATTR_RUN, w->run_id, SCN_STR, 0, 0);
    r->attrs = store;
    r->nattrs = rb.n;
    r->scope_name = "diorama";
    r->scope_version = DIORAMA_VERSION;
    prom_labels(w, &rb, r);
    return 0;
}

static int build_resources(struct world *w, const struct world_opts *o)
{
    const struct scenario *s = w->scn;
    uint32_t per = FIXED_RES_ATTRS + (uint32_t)s->nresource_attrs + count_env_attrs(o->extra_attrs);
    uint32_t total = 0;
    for (int i = 0; i < w->nsvcs; i++)
        total += (per + (uint32_t)s->services[i].nattrs) * (uint32_t)w->svcs[i].ninst;
    for (int i = 0; i < s->nhosts; i++)
        total += per + (uint32_t)s->hosts[i].nattrs;
    w->attr_store = core_calloc(total ? total : 1, sizeof *w->attr_store);
    w->nres = s->nhosts;
    for (int i = 0; i < w->nsvcs; i++)
        w->nres += w->svcs[i].ninst;
    w->res = core_calloc((size_t)(w->nres ? w->nres : 1), sizeof *w->res);
    struct rec_attr *next = w->attr_store;
    for (int i = 0; i < s->nservices; i++) { /* a resource per instance: they are replicas */
        const struct scn_service *sv = &s->services[i];
        for (int k = 0; k < w->svcs[i].ninst; k++) {
            struct res_spec sp = {sv->name,
                                  o->ns_override ? o->ns_override : sv->namespace_,
                                  sv->version,
                                  sv->host_idx >= 0 ? s->hosts[sv->host_idx].name : NULL,
                                  sv->attrs,
                                  sv->nattrs,
                                  k};
            if (build_resource(w, o, &sp, next, &w->res[w->svcs[i].res + k]))
                return DIO_EINVAL;
            next += per + (uint32_t)sv->nattrs;
        }
    }
    for (int i = 0; i < s->nhosts; i++) {
        const struct scn_host *h = &s->hosts[i];
        struct res_spec sp = {h->name, NULL, NULL, NULL, h->attrs, h->nattrs, 0};
        if (build_resource(w, o, &sp, next, &w->res[w->hosts[i].res]))
            return DIO_EINVAL;
        next += per + (uint32_t)h->nattrs;
    }
    return 0;
}

/* The kind a label and a metric name a fault by: its default variant's first effect in this
 * order (the first four as they always were). */
static const char *fault_kind(const struct scn_fault *f)
{
    const struct scn_fault_fx *fx = &f->variants[f->default_variant];
    if (fx->down)
        return "dependency_down";
    if (fx->error_status > 0 || fx->error_rate >= 0)
        return "error";
    if (fx->latency_factor > 0)
        return "latency_spike";
    if (fx->slow)
        return "slow_dependency";
    if (fx->tokens_factor > 0)
        return "token_bloat";
    if (fx->gpu_util >= 0 || fx->queue_depth >= 0)
        return "gpu_degradation";
    return fx->cpu >= 0 ? "cpu" : "memory_leak";
}

static void add_fault(int **list, int *n, int idx)
{
    *list = core_realloc(*list, (size_t)(*n + 1) * sizeof(int));
    (*list)[(*n)++] = idx;
}

static void build_faults(struct world *w)
{
    const struct scenario *s = w->scn;
    w->nfaults = s->nfaults;
    w->faults = core_calloc((size_t)(s->nfaults ? s->nfaults : 1), sizeof *w->faults);
    for (int i = 0; i < s->nfaults; i++) {
        const struct scn_fault *f = &s->faults[i];
        w->faults[i].scn = f;
        w->faults[i].kind = fault_kind(f);
        if (f->target_kind == SCN_TARGET_MODEL) {
            struct world_model *m = &w->models[f->target_idx];
            add_fault(&m->faults, &m->nfaults, i);
            continue;
        }
        if (f->target_kind == SCN_TARGET_HOST) { /* the work of every service on the host */
            for (int v = 0; v < w->nsvcs; v++) {
                struct world_service *hs = &w->svcs[v];
                for (int k = 0; hs->scn->host_idx == f->target_idx && k < hs->nops; k++)
                    add_fault(&hs->ops[k].faults, &hs->ops[k].nfaults, i);
            }
            continue;
        }
        struct world_service *sv = &w->svcs[f->target_idx];
        for (int k = 0; k < sv->nops; k++)
            if (f->target_kind == SCN_TARGET_SERVICE || f->target_op == k)
                add_fault(&sv->ops[k].faults, &sv->ops[k].nfaults, i);
    }
}

static void build_entities(struct world *w)
{
    const struct scenario *s = w->scn;
    int res = 0;
    w->nsvcs = s->nservices;
    w->svcs = core_calloc((size_t)(s->nservices ? s->nservices : 1), sizeof *w->svcs);
    for (int i = 0; i < s->nservices; i++) {
        struct world_service *sv = &w->svcs[i];
        sv->scn = &s->services[i];
        sv->res = res; /* its instances' resources are res .. res + ninst - 1 */
        sv->ninst = sv->scn->instances > 0 ? sv->scn->instances : 1;
        res += sv->ninst;
        sv->nops = sv->scn->nops;
        sv->ops = core_calloc((size_t)(sv->nops ? sv->nops : 1), sizeof *sv->ops);
        for (int k = 0; k < sv->nops; k++) {
            const struct scn_operation *so = &sv->scn->ops[k];
            struct world_pool *pl = &sv->ops[k].pool;
            sv->ops[k].scn = so;
            sv->ops[k].svc = i;
            sv->ops[k].kind = (uint8_t)so->kind;
            pl->n = so->pool;
            pl->timeout_ns = so->pool_timeout_ns;
            pl->status = so->pool_status;
            pl->busy = so->pool ? core_calloc((size_t)so->pool, sizeof *pl->busy) : NULL;
        }
    }
    w->nhosts = s->nhosts;
    w->hosts = core_calloc((size_t)(s->nhosts ? s->nhosts : 1), sizeof *w->hosts);
    for (int i = 0; i < s->nhosts; i++) {
        w->hosts[i].scn = &s->hosts[i];
        w->hosts[i].res = res + i;
    }
    w->nmodels = s->nmodels;
    w->models = core_calloc((size_t)(s->nmodels ? s->nmodels : 1), sizeof *w->models);
    for (int i = 0; i < s->nmodels; i++) {
        w->models[i].scn = &s->models[i];
        w->models[i].rate = s->models[i].rate;
    }
}

/* diorama.run_id names a run's streams at a receiver, so two runs that are not the same run
 * must not share it. It hashes what makes output identical: the scenario's bytes (an edited
 * copy with the same name is another run), seed, shard and simulated start. Reproducible runs
 * (same --start, fast clock) keep their id and byte-identical output; real-time runs start
 * "now" and so differ. --run-id replaces it. */
static void make_run_id(struct world *w, const struct scenario *s, const struct world_opts *o)
{
    if (o->run_id && *o->run_id) {
        snprintf(w->run_id, sizeof w->run_id, "%s", o->run_id);
        return;
    }
    char id[512];
    int n = snprintf(id, sizeof id, "%s/%016llx/%llu/%u/%u/%llu", s->name,
                     (unsigned long long)s->hash, (unsigned long long)o->seed, o->shard, o->nshards,
                     (unsigned long long)o->start_ns);
    snprintf(w->run_id, sizeof w->run_id, "%016llx",
             (unsigned long long)core_hash64(id, n < (int)sizeof id ? (size_t)n : sizeof id - 1));
}

/* The "services" kind: services and their operations, hosts, models (this file, plan.c,
 * state.c, fault.c, host.c, live.c, biz.c). */
static int svc_build(struct world *w, const struct world_opts *o, char *err, size_t errlen)
{
    build_entities(w);
    build_faults(w);
    world__states_build(w);
    world__faults_build(w);
    world__hosts_build(w);
    world__live_build(w);
    world__biz_build(w);
    if (build_resources(w, o)) {
        snprintf(err, errlen, "OTEL_RESOURCE_ATTRIBUTES: expected key=value,key=value");
        return DIO_EINVAL;
    }
    return 0;
}

static void svc_free(struct world *w)
{
    /* The parts first: they read the arrays freed below (hosts_free reads w->hosts). */
    world__biz_free(w);
    world__live_free(w);
    world__states_free(w);
    world__hosts_free(w);
    for (int i = 0; i < w->nsvcs; i++) {
        for (int k = 0; k < w->svcs[i].nops; k++) {
            core_free(w->svcs[i].ops[k].faults);
            core_free(w->svcs[i].ops[k].pool.busy);
        }
        core_free(w->svcs[i].ops);
    }
    for (int i = 0; i < w->nmodels; i++)
        core_free(w->models[i].faults);
    for (int i = 0; i < w->nstr; i++)
        core_free(w->str_store[i]);
    core_free(w->str_store);
    core_free(w->svcs);
    core_free(w->hosts);
    core_free(w->models);
    core_free(w->faults);
    core_free(w->res);
    core_free(w->attr_store);
}

const struct world_kind world__kind_services = {
    "services",          svc_build,         svc_free,        world__svc_advance,
    world__svc_next_due, world__svc_finish, world__svc_plan, world__svc_max_spans,
    world__biz_sample,
};

int world_build(struct world **out, const struct scenario *s, const struct world_opts *o, char *err,
                size_t errlen)
{
    const struct world_kind *k = world_kind_find(s->kind);
    if (!k) { /* scenario/ validates `kind:` against the same names */
        snprintf(err, errlen, "unknown kind of world '%s'", s->kind);
        return DIO_EINVAL;
    }
    struct world *w = core_calloc(1, sizeof *w);
    w->kind = k;
    w->scn = s;
    w->seed = o->seed;
    make_run_id(w, s, o);
    int rc = k->build(w, o, err, errlen);
    if (rc) {
        world_free(w);
        return rc;
    }
    *out = w;
    return 0;
}

void world_free(struct world *w)
{
    if (!w)
        return;
    w->kind->free(w);
    core_free(w);
}

void world_effect_clear(struct world_effect *eff)
{
    eff->latency_factor = 0;
    eff->error_status = -1;
    eff->gpu_util = -1;
    eff->queue_depth = -1;
    eff->tokens_factor = 0;
    eff->down_svc = eff->slow_svc = -1;
    eff->slow_factor = 1;
    eff->slow_add_ns = 0;
    eff->fired = eff->nfired = 0;
}

/* Whether a fault is in force at offset t, and with which variant: started by a command
 * (until its end), else by its schedule (no window: always; manual faults never). The window
 * is checked against t itself, so a trace's spans each see the fault as of their own start. */
static int in_force(const struct world_fault *wf, uint64_t t, int *variant)
{
    int lv = atomic_load_explicit((atomic_int *)&wf->live_variant, memory_order_acquire);
    if (lv >= 0 &&
        t < atomic_load_explicit((_Atomic uint64_t *)&wf->live_end, memory_order_relaxed)) {
        *variant = lv;
        return 1;
    }
    const struct scn_fault *f = wf->scn;
    *variant = f->default_variant;
    if (f->manual)
        return 0;
    if (!f->windowed)
        return 1;
    if (t < f->start_ns ||
        t < atomic_load_explicit((_Atomic uint64_t *)&wf->mute_end, memory_order_relaxed))
        return 0;
    uint64_t since = t - f->start_ns;
    if (f->repeat_ns)
        since %= f->repeat_ns;
    return since < f->duration_ns;
}

static int fault_triggers(const struct scn_fault *f, uint64_t count, struct core_rng *rng)
{
    switch (f->trigger) {
    case SCN_EVERY_N:
        return count % f->every_n == 0;
    case SCN_PROBABILITY:
        return core_rng_unit(rng) < f->probability;
    default:
        return 1;
    }
}

static void note_fired(struct world_effect *eff, int fi, struct world_plan *p, uint32_t span)
{
    if (eff->nfired++ == 0) {
        eff->fired = (uint16_t)(fi + 1);
        return;
    }
    if (p->nmore == p->more_cap) {
        p->more_cap = p->more_cap ? p->more_cap * 2 : 16;
        p->more = core_realloc(p->more, p->more_cap * sizeof *p->more);
    }
    p->more[p->nmore++] = (struct world_fired){(uint16_t)span, (uint16_t)fi};
}

/* One variant's effects on the request. An error_rate draws (only when set, so scenarios
 * without one draw as before); a status without a rate fails every request it fires on. */
static void add_fx(const struct scn_fault_fx *fx, struct core_rng *rng, struct world_effect *eff)
{
    if (fx->latency_factor > 0)
        eff->latency_factor =
            (eff->latency_factor > 0 ? eff->latency_factor : 1) * fx->latency_factor;
    if (fx->error_rate >= 0) {
        if (core_rng_unit(rng) < fx->error_rate)
            eff->error_status = fx->error_status > 0 ? fx->error_status : 500;
    } else if (fx->error_status > 0) {
        eff->error_status = fx->error_status;
    }
    if (fx->gpu_util >= 0)
        eff->gpu_util = fx->gpu_util;
    if (fx->queue_depth >= 0)
        eff->queue_depth = fx->queue_depth;
    if (fx->tokens_factor > 0)
        eff->tokens_factor = fx->tokens_factor;
    if (fx->down_svc >= 0)
        eff->down_svc = fx->down_svc;
    if (fx->slow_svc >= 0) {
        eff->slow_svc = fx->slow_svc;
        eff->slow_factor = fx->slow_factor;
        eff->slow_add_ns = fx->slow_add_ns;
    }
}

void world_faults_apply(const struct world *w, const int *idx, int n, uint64_t count, uint64_t t_ns,
                        struct core_rng *rng, struct world_effect *eff, struct world_plan *p,
                        uint32_t span)
{
    for (int i = 0; i < n; i++) {
        const struct world_fault *wf = &w->faults[idx[i]];
        int v;
        if (!in_force(wf, t_ns, &v) || !fault_triggers(wf->scn, count, rng))
            continue;
        note_fired(eff, idx[i], p, span);
        add_fx(&wf->scn->variants[v], rng, eff);
    }
}

void world_format_time(uint64_t unix_ns, char *out, size_t n)
{
    time_t sec = (time_t)(unix_ns / 1000000000ULL);
    struct tm tm;
    gmtime_r(&sec, &tm);
    char date[20] = "";
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, n, "%.19s.%09uZ", date, (unsigned)(unix_ns % 1000000000ULL));
}

int world_label_json(const struct world_label *l, struct core_buf *out)
{
    if (l->control)
        return world__live_label_json(l, out);
    if (!l->fault)
        return world__state_label_json(l, out);
    return world__fault_label_json(l, out);
}

uint64_t world_jittered(struct core_rng *r, uint64_t base_ns, double jitter)
{
    double f = 1.0 + jitter * (2.0 * core_rng_unit(r) - 1.0);
    return (uint64_t)((double)base_ns * (f > 0 ? f : 0));
}

uint64_t world_op_latency(struct core_rng *r, const struct scn_latency *l)
{
    uint64_t d = world_jittered(r, l->base_ns, l->jitter);
    if (l->tail_p > 0 && core_rng_unit(r) < l->tail_p)
        d = (uint64_t)((double)d * l->tail_factor);
    return d;
}
