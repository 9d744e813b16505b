/* Cross references: names -> indices, duplicate names, the call graph.
 *
 * Names are looked up through sorted (name, index) arrays, so a scenario with the maximum
 * 10000 services validates in O(n log n) instead of comparing every pair. The call graph is
 * walked with an explicit stack: its depth is bounded by the number of operations (up to
 * SCN_MAX_TOTAL_OPS), too deep to trust to recursion. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "scenario/scn_internal.h"

struct nref {
    const char *name;
    int i;
};

struct nindex {
    struct nref *v;
    int n;
};

struct vctx {
    const struct scn_tree *t;
    struct scenario *s;
    struct scn_error *err;
    struct nindex hosts, services, models;
    struct nindex *ops; /* one per service */
    int *op_base;       /* global number of a service's first operation */
    int total_ops;
    int *reach; /* per global op: service of the first inference op it reaches, -1 */
};

static int nref_cmp(const void *a, const void *b)
{
    const struct nref *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->i > y->i) - (x->i < y->i);
}

/* `names` points at the first char * of n structs laid out `stride` bytes apart. */
static void index_build(struct nindex *x, const void *names, int n, size_t stride)
{
    x->v = core_calloc((size_t)n + 1, sizeof(*x->v));
    x->n = n;
    for (int i = 0; i < n; i++) {
        x->v[i].name = *(char *const *)((const char *)names + (size_t)i * stride);
        x->v[i].i = i;
    }
    qsort(x->v, (size_t)n, sizeof(*x->v), nref_cmp);
}

static int index_find(const struct nindex *x, const char *name)
{
    int lo = 0, hi = x->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2, c = strcmp(x->v[mid].name, name);
        if (c == 0) {
            while (mid > 0 && !strcmp(x->v[mid - 1].name, name))
                mid--; /* the first definition wins (only matters before dups are rejected) */
            return x->v[mid].i;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

/* The earliest-defined duplicate: *second is its index, *first the original's. 0 if none. */
static int index_dup(const struct nindex *x, int *first, int *second)
{
    int found = 0, run = 0;
    *first = *second = -1; /* always set: callers read them only when found, but say so */
    for (int k = 1; k < x->n; k++) {
        if (strcmp(x->v[k].name, x->v[k - 1].name)) {
            run = k;
            continue;
        }
        if (!found || x->v[k].i < *second) {
            *first = x->v[run].i;
            *second = x->v[k].i;
            found = 1;
        }
    }
    return found;
}

/* The position of `node`, or `fallback` when the node is absent (e.g. a defaulted name). */
static struct scn_pos node_pos(const struct vctx *c, int node, struct scn_pos fallback)
{
    if (node < 0)
        return fallback;
    struct scn_pos p = {c->t->v[node].line, c->t->v[node].col};
    return p;
}

static int fail_pos(struct vctx *c, struct scn_pos p, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail_pos(struct vctx *c, struct scn_pos p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = scn__vfail(c->err, p.line, p.col, fmt, ap);
    va_end(ap);
    return rc;
}

/* The node of services[svc].operations[op].<key> (the item itself when key is NULL). */
static int op_node(const struct scn_tree *t, int svc, int op, const char *key)
{
    int item = scn__seq_at(t, scn__item_node(t, "services", svc, "operations"), op);
    /* svc is the YAML item's index here (scn_service.item), not the service's */
    return key ? scn__map_get(t, item, key) : item;
}

/* " (did you mean 'x'?)" into buf, or "". */
static const char *hint(char *buf, size_t n, const char *s, const struct nindex *x)
{
    const char *best = scn__suggest(s, x->v, x->n, sizeof(*x->v), offsetof(struct nref, name));
    if (!best)
        return "";
    snprintf(buf, n, " (did you mean '%s'?)", best);
    return buf;
}

/* ---- names ----------------------------------------------------------------------------- */
static int dup_error(struct vctx *c, struct scn_pos at, const char *path, const char *what,
                     const char *name, struct scn_pos first)
{
    return fail_pos(c, at, "%s.name: duplicate %s name '%s' (first defined at line %d)", path, what,
                    name, first.line);
}

static int check_top_dups(struct vctx *c)
{
    struct scenario *s = c->s;
    struct nindex faults = {0};
    char path[SCN_PATH_MAX];
    int a, b, rc = 0;
    if (index_dup(&c->hosts, &a, &b))
        return dup_error(
            c,
            node_pos(c, scn__item_node(c->t, "hosts", s->hosts[b].item, "name"), s->hosts[b].pos),
            scn__path_idx(path, "hosts", s->hosts[b].item), "host", s->hosts[b].name,
            s->hosts[a].pos);
    if (index_dup(&c->services, &a, &b))
        return dup_error(c,
                         node_pos(c, scn__item_node(c->t, "services", s->services[b].item, "name"),
                                  s->services[b].pos),
                         scn__path_idx(path, "services", s->services[b].item), "service",
                         s->services[b].name, s->services[a].pos);
    if (index_dup(&c->models, &a, &b))
        return dup_error(
            c, node_pos(c, scn__item_node(c->t, "models", b, "name"), s->models[b].pos),
            scn__path_idx(path, "models", b), "model", s->models[b].name, s->models[a].pos);
    index_build(&faults, &s->faults[0].name, s->nfaults, sizeof(*s->faults));
    if (index_dup(&faults, &a, &b))
        rc = dup_error(c, node_pos(c, scn__item_node(c->t, "faults", b, "name"), s->faults[b].pos),
                       scn__path_idx(path, "faults", b), "fault", s->faults[b].name,
                       s->faults[a].pos);
    core_free(faults.v);
    return rc;
}

static int build_indexes(struct vctx *c)
{
    struct scenario *s = c->s;
    index_build(&c->hosts, &s->hosts[0].name, s->nhosts, sizeof(*s->hosts));
    index_build(&c->services, &s->services[0].name, s->nservices, sizeof(*s->services));
    index_build(&c->models, &s->models[0].name, s->nmodels, sizeof(*s->models));
    c->ops = core_calloc((size_t)s->nservices + 1, sizeof(*c->ops));
    c->op_base = core_calloc((size_t)s->nservices + 1, sizeof(*c->op_base));
    for (int i = 0; i < s->nservices; i++) {
        struct scn_service *sv = &s->services[i];
        index_build(&c->ops[i], &sv->ops[0].name, sv->nops, sizeof(*sv->ops));
        c->op_base[i] = c->total_ops;
        c->total_ops += sv->nops;
        int a, b;
        if (index_dup(&c->ops[i], &a, &b)) {
            char path[SCN_PATH_MAX];
            snprintf(path, sizeof(path), "services[%d].operations[%d]", sv->item, b);
            return dup_error(c, node_pos(c, op_node(c->t, sv->item, b, "name"), sv->ops[b].pos),
                             path, "operation", sv->ops[b].name, sv->ops[a].pos);
        }
    }
    return check_top_dups(c);
}

static void free_indexes(struct vctx *c)
{
    core_free(c->hosts.v);
    core_free(c->services.v);
    core_free(c->models.v);
    for (int i = 0; c->ops && i < c->s->nservices; i++)
        core_free(c->ops[i].v);
    core_free(c->ops);
    core_free(c->op_base);
    core_free(c->reach);
}

/* ---- references ------------------------------------------------------------------------ */
static int resolve_hosts(struct vctx *c)
{
    for (int i = 0; i < c->s->nservices; i++) {
        struct scn_service *sv = &c->s->services[i];
        if (!sv->host)
            continue;
        sv->host_idx = index_find(&c->hosts, sv->host);
        if (sv->host_idx >= 0)
            continue;
        char h[SCN_MAX_NAME + 32];
        int node = scn__item_node(c->t, "services", sv->item, "host");
        return fail_pos(c, node_pos(c, node, sv->pos), "services[%d].host: unknown host '%s'%s",
                        sv->item, sv->host, hint(h, sizeof(h), sv->host, &c->hosts));
    }
    return 0;
}

/* Resolves "svc" + "op" into indices; on failure reports `what` at `at`. */
static int resolve_op(struct vctx *c, struct scn_pos at, const char *what, const char *svc,
                      const char *op, int *svc_idx, int *op_idx)
{
    char h[SCN_MAX_NAME + 32];
    *svc_idx = index_find(&c->services, svc);
    if (*svc_idx < 0)
        return fail_pos(c, at, "%s: unknown service '%.64s'%s", what, svc,
                        hint(h, sizeof(h), svc, &c->services));
    *op_idx = index_find(&c->ops[*svc_idx], op);
    if (*op_idx < 0)
        return fail_pos(c, at, "%s: service '%s' has no operation '%.64s'%s", what, svc, op,
                        hint(h, sizeof(h), op, &c->ops[*svc_idx]));
    return 0;
}

static int resolve_calls(struct vctx *c)
{
    for (int i = 0; i < c->s->nservices; i++) {
        struct scn_service *sv = &c->s->services[i];
        for (int j = 0; j < sv->nops; j++) {
            for (int k = 0; k < sv->ops[j].ncalls; k++) {
                struct scn_call *cl = &sv->ops[j].calls[k];
                char path[SCN_PATH_MAX];
                snprintf(path, sizeof(path), "services[%d].operations[%d].calls[%d]", sv->item, j,
                         k);
                if (resolve_op(c, cl->pos, path, cl->service, cl->operation, &cl->svc, &cl->op))
                    return DIO_EPARSE;
            }
        }
    }
    return 0;
}

/* ---- call graph ------------------------------------------------------------------------ */
struct frame {
    int svc;
    int op;
    int next; /* next call to follow */
};

static int gid(const struct vctx *c, int svc, int op)
{
    return c->op_base[svc] + op;
}

/* "a/x -> b/y -> a/x" from the stack frames from the call's target up to the top. */
static int cycle_error(struct vctx *c, const struct frame *st, int top, const struct scn_call *cl,
                       int k)
{
    char msg[320];
    size_t len = 0;
    int b = top;
    while (b > 0 && (st[b].svc != cl->svc || st[b].op != cl->op))
        b--;
    for (int i = b; i <= top + 1 && len < sizeof(msg); i++) {
        const struct frame *f = i <= top ? &st[i] : &st[b];
        const struct scn_service *sv = &c->s->services[f->svc];
        int w = snprintf(msg + len, sizeof(msg) - len, "%s%s/%s", i > b ? " -> " : "", sv->name,
                         sv->ops[f->op].name);
        len += w > 0 ? (size_t)w : 0;
    }
    if (len >= sizeof(msg))
        memcpy(msg + sizeof(msg) - 4, "...", 4); /* a long cycle is cut, the start is enough */
    return fail_pos(c, cl->pos, "services[%d].operations[%d].calls[%d]: call cycle: %s",
                    c->s->services[st[top].svc].item, st[top].op, k, msg);
}

/* Post-order: when an operation is finished all its callees are, so its reach is known. */
static void finish(struct vctx *c, const struct frame *f)
{
    const struct scn_operation *o = &c->s->services[f->svc].ops[f->op];
    int r = o->inference ? f->svc : -1;
    for (int k = 0; r < 0 && k < o->ncalls; k++)
        r = c->reach[gid(c, o->calls[k].svc, o->calls[k].op)];
    c->reach[gid(c, f->svc, f->op)] = r;
}

/* Iterative depth-first walk from (svc, op). state: 0 new, 1 on the stack, 2 done. */
static int walk(struct vctx *c, int svc, int op, unsigned char *state, struct frame *st)
{
    int top = 0;
    st[0] = (struct frame){svc, op, 0};
    state[gid(c, svc, op)] = 1;
    while (top >= 0) {
        struct frame *f = &st[top];
        const struct scn_operation *o = &c->s->services[f->svc].ops[f->op];
        if (f->next == o->ncalls) {
            finish(c, f);
            state[gid(c, f->svc, f->op)] = 2;
            top--;
            continue;
        }
        const struct scn_call *cl = &o->calls[f->next++];
        int g = gid(c, cl->svc, cl->op);
        if (state[g] == 1)
            return cycle_error(c, st, top, cl, f->next - 1);
        if (state[g] == 0) {
            state[g] = 1;
            st[++top] = (struct frame){cl->svc, cl->op, 0};
        }
    }
    return 0;
}

static int check_cycles(struct vctx *c)
{
    unsigned char *state = core_calloc((size_t)c->total_ops + 1, 1);
    struct frame *st = core_calloc((size_t)c->total_ops + 1, sizeof(*st));
    int rc = 0;
    c->reach = core_calloc((size_t)c->total_ops + 1, sizeof(*c->reach));
    for (int i = 0; i < c->s->nservices && !rc; i++)
        for (int j = 0; j < c->s->services[i].nops && !rc; j++)
            if (!state[gid(c, i, j)])
                rc = walk(c, i, j, state, st);
    core_free(state);
    core_free(st);
    return rc;
}

/* ---- models and faults ----------------------------------------------------------------- */
/* Splits "svc/op" at the first '/' into svc (copied into buf) and *op. -1 if malformed. */
static int split_ref(const char *s, char *buf, size_t n, const char **op)
{
    const char *slash = strchr(s, '/');
    if (!slash || slash == s || !slash[1] || (size_t)(slash - s) >= n)
        return -1;
    memcpy(buf, s, (size_t)(slash - s));
    buf[slash - s] = '\0';
    *op = slash + 1;
    return 0;
}

static int resolve_model(struct vctx *c, int i)
{
    struct scn_model *m = &c->s->models[i];
    struct scn_pos at = node_pos(c, scn__item_node(c->t, "models", i, "entry"), m->pos);
    char path[SCN_PATH_MAX], svc[SCN_MAX_NAME + 1];
    const char *op;
    snprintf(path, sizeof(path), "models[%d].entry", i);
    if (split_ref(m->entry, svc, sizeof(svc), &op))
        return fail_pos(c, at, "%s: expected 'service/operation', got '%s'", path, m->entry);
    if (resolve_op(c, at, path, svc, op, &m->entry_svc, &m->entry_op))
        return DIO_EPARSE;
    int inf_svc = c->reach[gid(c, m->entry_svc, m->entry_op)];
    if (inf_svc < 0)
        return fail_pos(c, at, "%s: '%s' does not reach an operation with inference: true", path,
                        m->entry);
    int host = c->s->services[inf_svc].host_idx;
    if (!m->gpu && host >= 0 && c->s->hosts[host].gpu_model)
        m->gpu = core_strdup(c->s->hosts[host].gpu_model); /* the GPU it runs on */
    return 0;
}

/* A business metric's `per: service/operation`. */
static int resolve_business(struct vctx *c, int i)
{
    struct scn_biz *b = &c->s->business[i];
    if (!b->per)
        return 0;
    struct scn_pos at = node_pos(c, scn__item_node(c->t, "business", i, "per"), b->pos);
    char path[SCN_PATH_MAX], svc[SCN_MAX_NAME + 1];
    const char *op;
    snprintf(path, sizeof(path), "business[%d].per", i);
    if (split_ref(b->per, svc, sizeof(svc), &op))
        return fail_pos(c, at, "%s: expected 'service/operation', got '%s'", path, b->per);
    return resolve_op(c, at, path, svc, op, &b->per_svc, &b->per_op);
}

/* The readings of a fault target that resolve: *m a model, *sv + *op a service (op -1) or an
 * operation. Model names come first because they may hold a '/' ("meta-llama/Llama-3"). */
static void lookup_target(const struct vctx *c, const char *target, int *m, int *sv, int *op)
{
    char svc[SCN_MAX_NAME + 1];
    const char *op_name;
    *m = index_find(&c->models, target);
    *sv = *op = -1;
    if (!strchr(target, '/')) {
        *sv = index_find(&c->services, target);
    } else if (!split_ref(target, svc, sizeof(svc), &op_name)) {
        *sv = index_find(&c->services, svc);
        *op = *sv >= 0 ? index_find(&c->ops[*sv], op_name) : -1;
        if (*op < 0)
            *sv = -1;
    }
}

/* Explains why a target resolved to nothing, with the closest names. */
static int target_error(struct vctx *c, struct scn_pos at, const char *path, const char *target)
{
    char svc[SCN_MAX_NAME + 1], h[SCN_MAX_NAME + 32];
    const char *op;
    int si, oi;
    if (strchr(target, '/')) {
        if (split_ref(target, svc, sizeof(svc), &op))
            return fail_pos(c, at,
                            "%s: expected a model, a service or 'service/operation', got '%s'",
                            path, target);
        return resolve_op(c, at, path, svc, op, &si, &oi);
    }
    const char *hm = hint(h, sizeof(h), target, &c->models);
    if (!*hm)
        hm = hint(h, sizeof(h), target, &c->services);
    if (!*hm)
        hm = hint(h, sizeof(h), target, &c->hosts);
    return fail_pos(c, at,
                    "%s: unknown target '%s' (not a model, service, service/operation or host)%s",
                    path, target, hm);
}

/* A variant's named dependency: a service. */
static int resolve_dep(struct vctx *c, int i, const struct scn_fault_fx *fx, const char *name,
                       const char *key, int *out)
{
    char path[SCN_PATH_MAX], h[SCN_MAX_NAME + 32];
    if (!name)
        return 0;
    *out = index_find(&c->services, name);
    if (*out >= 0)
        return 0;
    if (c->s->faults[i].nvariants > 1)
        snprintf(path, sizeof path, "faults[%d].variants.%s.%s", i, fx->name, key);
    else
        snprintf(path, sizeof path, "faults[%d].effect.%s", i, key);
    /* point at the value: effect.dependency_down or effect.slow_dependency.service */
    int n = scn__item_node(c->t, "faults", i, "effect");
    n = scn__map_get(c->t, n, fx->slow == name ? "slow_dependency" : "dependency_down");
    n = fx->slow == name ? scn__map_get(c->t, n, "service") : n;
    struct scn_pos at =
        n >= 0 && c->s->faults[i].nvariants == 1 ? node_pos(c, n, fx->pos) : fx->pos;
    return fail_pos(c, at, "%s: unknown service '%s'%s", path, name,
                    hint(h, sizeof h, name, &c->services));
}

/* Host effects (cpu, memory_leak) need a host to act on; dependencies must name services. */
static int check_fault_fx(struct vctx *c, int i)
{
    struct scn_fault *f = &c->s->faults[i];
    for (int v = 0; v < f->nvariants; v++) {
        struct scn_fault_fx *fx = &f->variants[v];
        if ((fx->cpu >= 0 || fx->memory_leak > 0) && f->target_kind != SCN_TARGET_HOST)
            return fail_pos(c, fx->pos,
                            "faults[%d]: cpu and memory_leak act on a host: target a host, not "
                            "'%s'",
                            i, f->target);
        if (resolve_dep(c, i, fx, fx->down, "dependency_down", &fx->down_svc) ||
            resolve_dep(c, i, fx, fx->slow, "slow_dependency.service", &fx->slow_svc))
            return DIO_EPARSE;
    }
    return 0;
}

static int resolve_fault(struct vctx *c, int i)
{
    struct scn_fault *f = &c->s->faults[i];
    struct scn_pos at = node_pos(c, scn__item_node(c->t, "faults", i, "target"), f->pos);
    char path[SCN_PATH_MAX];
    int m, sv, op;
    snprintf(path, sizeof(path), "faults[%d].target", i);
    lookup_target(c, f->target, &m, &sv, &op);
    int h = strchr(f->target, '/') ? -1 : index_find(&c->hosts, f->target);
    if (m >= 0 && sv >= 0) /* refuse to guess which one the user meant */
        return fail_pos(c, at, "%s: '%s' names both a model and %s; rename one", path, f->target,
                        op >= 0 ? "an operation" : "a service");
    if (h >= 0 && (m >= 0 || sv >= 0))
        return fail_pos(c, at, "%s: '%s' names both a host and a %s; rename one", path, f->target,
                        m >= 0 ? "model" : "service");
    if (m < 0 && sv < 0 && h < 0)
        return target_error(c, at, path, f->target);
    f->target_kind = m >= 0    ? SCN_TARGET_MODEL
                     : h >= 0  ? SCN_TARGET_HOST
                     : op >= 0 ? SCN_TARGET_OPERATION
                               : SCN_TARGET_SERVICE;
    f->target_idx = m >= 0 ? m : h >= 0 ? h : sv;
    f->target_op = m >= 0 || h >= 0 ? -1 : op;
    return check_fault_fx(c, i);
}

/* ---- timeline -------------------------------------------------------------------------- */
static int resolve_change(struct vctx *c, int i)
{
    struct scn_change *ch = &c->s->timeline[i];
    const struct scn_tree *t = c->t;
    char path[SCN_PATH_MAX], h[SCN_MAX_NAME + 32];
    int found = 0;
    const struct nindex *idx[] = {&c->hosts, &c->services, &c->models}; /* scn_entity_kind */
    for (int k = 0; k < 3; k++) {
        int j = index_find(idx[k], ch->target);
        if (j >= 0 && found++ == 0) {
            ch->target_kind = k;
            ch->target_idx = j;
        }
    }
    snprintf(path, sizeof path, "timeline[%d].target", i);
    struct scn_pos at = node_pos(c, scn__item_node(t, "timeline", i, "target"), ch->pos);
    if (found > 1)
        return fail_pos(c, at, "%s: '%s' names more than one of a host, a service and a model",
                        path, ch->target);
    if (!found) {
        const char *hm = hint(h, sizeof h, ch->target, &c->hosts);
        hm = *hm ? hm : hint(h, sizeof h, ch->target, &c->services);
        hm = *hm ? hm : hint(h, sizeof h, ch->target, &c->models);
        return fail_pos(c, at, "%s: unknown target '%s' (not a host, service or model)%s", path,
                        ch->target, hm);
    }
    for (int k = 0; k < c->s->nstates; k++)
        if (!strcmp(c->s->states[k].name, ch->state))
            ch->state_idx = k;
    if (ch->state_idx >= 0)
        return 0;
    snprintf(path, sizeof path, "timeline[%d].state", i);
    at = node_pos(c, scn__item_node(t, "timeline", i, "state"), ch->pos);
    const char *best = scn__suggest(ch->state, c->s->states, c->s->nstates, sizeof *c->s->states,
                                    offsetof(struct scn_state, name));
    if (best)
        snprintf(h, sizeof h, " (did you mean '%s'?)", best);
    return fail_pos(c, at, "%s: unknown state '%s'%s", path, ch->state, best ? h : "");
}

int scn__validate(const struct scn_tree *t, struct scenario *s, struct scn_error *err)
{
    struct vctx c = {.t = t, .s = s, .err = err};
    int rc = build_indexes(&c);
    if (!rc)
        rc = resolve_hosts(&c);
    if (!rc)
        rc = resolve_calls(&c);
    if (!rc)
        rc = check_cycles(&c);
    for (int i = 0; !rc && i < s->nmodels; i++)
        rc = resolve_model(&c, i);
    for (int i = 0; !rc && i < s->nfaults; i++)
        rc = resolve_fault(&c, i);
    for (int i = 0; !rc && i < s->ntimeline; i++)
        rc = resolve_change(&c, i);
    for (int i = 0; !rc && i < s->nbusiness; i++)
        rc = resolve_business(&c, i);
    free_indexes(&c);
    return rc;
}
