/* The route table. Scenarios are small (a few dozen routes), so matching is a linear scan
 * over segment patterns: no allocation per request, and the first match in table order wins,
 * which is also the documented precedence (built-ins, then scenario file order). */
#include <stdio.h>
#include <string.h>

#include "server/internal.h"

static void add(struct server__routes *rt, const char *method, const char *path, int kind)
{
    rt->r = core_realloc(rt->r, (size_t)(rt->n + 1) * sizeof *rt->r);
    struct server__route *r = &rt->r[rt->n++];
    memset(r, 0, sizeof *r);
    r->method = method;
    r->path = path;
    r->kind = kind;
    r->svc = r->op = -1;
    size_t n = strlen(method) + strlen(path) + 2;
    r->name = core_malloc(n);
    snprintf(r->name, n, "%s %s", method, path);
}

static int exists(const struct server__routes *rt, const char *method, const char *path)
{
    for (int i = 0; i < rt->n; i++)
        if (!strcmp(rt->r[i].method, method) && !strcmp(rt->r[i].path, path))
            return 1;
    return 0;
}

/* The last segment of the path is "classify" ("/classify", "/v1/classify"). */
static int is_classify(const char *path)
{
    const char *last = strrchr(path, '/');
    return last && !strcmp(last + 1, "classify");
}

/* Models whose requests enter at (svc, op), with cumulative rates for a weighted choice. */
static void attach_models(struct server__route *r, const struct world *w)
{
    double sum = 0;
    for (int i = 0; i < w->nmodels; i++) {
        const struct scn_model *m = w->models[i].scn;
        if (m->entry_svc != r->svc || m->entry_op != r->op)
            continue;
        r->models = core_realloc(r->models, (size_t)(r->nmodels + 1) * sizeof *r->models);
        r->cum = core_realloc(r->cum, (size_t)(r->nmodels + 1) * sizeof *r->cum);
        sum += m->rate > 0 ? m->rate : 1;
        r->models[r->nmodels] = i;
        r->cum[r->nmodels++] = sum;
    }
    r->tokens = r->nmodels > 0 || r->classify;
}

void server__routes_build(struct server__routes *rt, const struct world *w)
{
    memset(rt, 0, sizeof *rt);
    add(rt, "GET", "/metrics", SERVER__R_METRICS);
    add(rt, "GET", "/healthz", SERVER__R_HEALTH);
    for (int i = 0; i < w->nsvcs; i++) {
        for (int k = 0; k < w->svcs[i].nops; k++) {
            const struct scn_operation *op = w->svcs[i].ops[k].scn;
            if (op->kind != SCN_KIND_SERVER || !op->method || !op->route)
                continue;
            if (exists(rt, op->method, op->route)) {
                core_info("serve: %s of %s is shadowed by an earlier route", op->name,
                          w->svcs[i].scn->name);
                continue;
            }
            add(rt, op->method, op->route, SERVER__R_SCENARIO);
            struct server__route *r = &rt->r[rt->n - 1];
            r->svc = i;
            r->op = k;
            r->classify = is_classify(op->route);
            size_t ms = world_max_spans(w, i, k);
            r->max_spans = (uint32_t)(ms < WORLD_MAX_SPANS ? ms : WORLD_MAX_SPANS);
            attach_models(r, w);
        }
    }
}

void server__routes_free(struct server__routes *rt)
{
    for (int i = 0; i < rt->n; i++) {
        core_free(rt->r[i].name);
        core_free(rt->r[i].models);
        core_free(rt->r[i].cum);
    }
    core_free(rt->r);
    memset(rt, 0, sizeof *rt);
}

/* Length of the segment at s (up to '/' or the end). */
static size_t seg_len(const char *s)
{
    return strcspn(s, "/");
}

int server__path_match(const char *pattern, const char *path)
{
    const char *p = pattern, *q = path;
    for (;;) {
        if (*p != *q || (*p && *p != '/'))
            return 0; /* both are at a '/' or both at the end */
        if (!*p)
            return 1;
        p++, q++;
        size_t pl = seg_len(p), ql = seg_len(q);
        int param = pl >= 3 && p[0] == '{' && p[pl - 1] == '}'; /* "{name}" */
        if (param ? ql == 0 : pl != ql || memcmp(p, q, pl) != 0)
            return 0;
        p += pl, q += ql;
    }
}

static int method_matches(const char *route_method, const char *method)
{
    return !strcmp(route_method, method) ||
           (!strcmp(method, "HEAD") && !strcmp(route_method, "GET"));
}

/* Appends m to the ", "-separated allow list unless it is there already. */
static void allow_add(char *allow, size_t n, const char *m)
{
    size_t ml = strlen(m);
    for (const char *a = allow; *a;) {
        size_t l = strcspn(a, ",");
        if (l == ml && !memcmp(a, m, ml))
            return;
        a += l;
        while (*a == ',' || *a == ' ')
            a++;
    }
    size_t len = strlen(allow);
    snprintf(allow + len, n - len, "%s%s", len ? ", " : "", m);
}

int server__route_find(const struct server__routes *rt, const char *method, const char *path,
                       char *allow, size_t allow_len)
{
    int path_seen = 0;
    if (allow_len)
        allow[0] = 0;
    for (int i = 0; i < rt->n; i++) {
        if (!server__path_match(rt->r[i].path, path))
            continue;
        if (method_matches(rt->r[i].method, method))
            return i;
        path_seen = 1;
        if (allow_len) {
            allow_add(allow, allow_len, rt->r[i].method);
            if (!strcmp(rt->r[i].method, "GET"))
                allow_add(allow, allow_len, "HEAD");
        }
    }
    return path_seen ? -2 : -1;
}
