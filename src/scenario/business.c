/* The `business:` list: metrics of what the simulated app does for its users (rides requested,
 * dispatch time, drivers available), as docs/scenario-format.md ("business") describes.
 *
 *   - name: rides.requested          an OTel metric name
 *     type: counter                  counter | histogram | gauge
 *     per: frontend/GET /dispatch    counters, histograms: once per request of this operation
 *     by: {city: {SF: 3, NYC: {weight: 4, shape: {diurnal: {peak: "13:00"}}}}}
 *
 * Ownership as in decode.c: arrays get their final length first, counts rise before an item is
 * decoded, so scenario_free finds everything a failed item already owns. */
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "scenario/scn_internal.h"

static const char *const biz_keys[] = {"name",  "type",    "description", "unit", "per", "factor",
                                       "value", "buckets", "shape",       "load", "by",  NULL};
static const char *const biz_types[] = {"counter", "histogram", "gauge", NULL};
static const char *const walk_keys[] = {"base", "step", "range", NULL};
static const char *const weight_keys[] = {"weight", "shape", NULL};

/* Histogram buckets when none are given: around the distribution's base. */
static const double dflt_buckets[] = {0.125, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 20};
#define NDFLT (int)(sizeof dflt_buckets / sizeof dflt_buckets[0])

/* OTel instrument name syntax: a letter, then up to 254 of [A-Za-z0-9_.-/]. */
static int bad_name(const char *n)
{
    if (!((*n >= 'a' && *n <= 'z') || (*n >= 'A' && *n <= 'Z')))
        return 1;
    for (const char *p = n; *p; p++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-/", *p))
            return 1;
    return strncmp(n, "diorama.", 8) == 0; /* the tool's own metrics */
}

static int decode_name(const struct scn_dec *d, int node, const char *path, struct scn_biz *b,
                       const struct scenario *s)
{
    char p[SCN_PATH_MAX];
    if (scn__get_name(d, node, path, "name", &b->name))
        return DIO_EPARSE;
    int nn = scn__field(d, node, "name");
    if (bad_name(b->name))
        return scn__fail_at(d, nn,
                            "%s: expected a metric name like rides.requested (a letter, then "
                            "letters, digits, '.', '_', '-', '/'; not diorama.*), got '%s'",
                            scn__path(p, path, "name"), b->name);
    for (int i = 0; i < s->nbusiness - 1; i++)
        if (!strcmp(s->business[i].name, b->name))
            return scn__fail_at(d, nn, "%s: duplicate metric '%s' (first at line %d)",
                                scn__path(p, path, "name"), b->name, s->business[i].pos.line);
    return 0;
}

/* `value: 400` or `value: {base: 400, step: 2%, range: 20%}`: a gauge's walk. */
static int decode_walk(const struct scn_dec *d, int node, const char *path, struct scn_biz *b)
{
    static const char *const req[] = {"base", NULL};
    int v = scn__field(d, node, "value");
    char p[SCN_PATH_MAX];
    b->step = 0.02;
    b->range = 0.2;
    if (v < 0 || d->t->v[v].type == SCN_N_SCALAR)
        return scn__get_num(d, node, path, "value", 0, 0, 1e15, &b->base);
    scn__path(p, path, "value");
    if (scn__expect(d, v, p, SCN_N_MAP) || scn__check_keys(d, v, p, walk_keys) ||
        scn__require(d, v, p, req[0]) || scn__get_num(d, v, p, "base", 0, 0, 1e15, &b->base) ||
        scn__get_frac(d, v, p, "step", 0, &b->step) ||
        scn__get_frac(d, v, p, "range", 0, &b->range))
        return DIO_EPARSE;
    return 0;
}

static int decode_buckets(const struct scn_dec *d, int node, const char *path, struct scn_biz *b)
{
    int seq, n, i = 0;
    char p[SCN_PATH_MAX], g[64];
    if (scn__get_list(d, node, path, "buckets", SCN_MAX_BIZ_BUCKETS, &seq, &n))
        return DIO_EPARSE;
    scn__path(p, path, "buckets");
    if (seq < 0) { /* around the base: base/8 .. 20 x base */
        double base = (double)b->value.base_ns / 1e9;
        b->bounds = core_calloc(NDFLT, sizeof *b->bounds);
        for (b->nbounds = 0; b->nbounds < NDFLT; b->nbounds++)
            b->bounds[b->nbounds] = dflt_buckets[b->nbounds] * base;
        return 0;
    }
    if (n == 0)
        return scn__fail_at(d, seq, "%s: at least one bucket bound is required", p);
    b->bounds = core_calloc((size_t)n, sizeof *b->bounds);
    for (int it = d->t->v[seq].first; it >= 0; it = d->t->v[it].next, i++) {
        uint64_t ns;
        const struct scn_node *nd = &d->t->v[it];
        if (nd->type != SCN_N_SCALAR || core_parse_duration(nd->s, &ns) || ns == 0)
            return scn__fail_at(d, it, "%s[%d]: expected a duration like 500ms or 2m, got %s", p, i,
                                scn__got(d->t, it, g, sizeof g));
        if (i > 0 && (double)ns / 1e9 <= b->bounds[i - 1])
            return scn__fail_at(d, it, "%s[%d]: bounds must increase, got '%s' after %gs", p, i,
                                nd->s, b->bounds[i - 1]);
        b->bounds[b->nbounds++] = (double)ns / 1e9;
    }
    return 0;
}

/* One value of the `by` attribute: `SF: 3` or `SF: {weight: 3, shape: {...}}`. */
static int decode_weight(const struct scn_dec *d, int vals, int key, const char *path,
                         struct scn_biz_value *v)
{
    int val = d->t->v[key].val;
    char p[SCN_PATH_MAX];
    v->name = core_strdup(d->t->v[key].s);
    v->weight = 1;
    v->pos = (struct scn_pos){d->t->v[key].line, d->t->v[key].col};
    if (strlen(v->name) == 0 || strlen(v->name) > SCN_MAX_NAME)
        return scn__fail_at(d, key, "%s: a value must be 1 to %d bytes", path, SCN_MAX_NAME);
    if (val < 0 || d->t->v[val].type != SCN_N_MAP)
        return scn__get_num(d, vals, path, v->name, 0, 1, 1e9, &v->weight);
    scn__path(p, path, v->name);
    if (scn__check_keys(d, val, p, weight_keys) ||
        scn__get_num(d, val, p, "weight", 0, 1, 1e9, &v->weight) ||
        scn__decode_shape(d, val, p, &v->shape))
        return DIO_EPARSE;
    return 0;
}

/* `by: {city: [SF, NYC]}` (equal weights) or `by: {city: {SF: 3, NYC: 4}}`. */
static int decode_by(const struct scn_dec *d, int node, const char *path, struct scn_biz *b)
{
    int by = scn__field(d, node, "by");
    char p[SCN_PATH_MAX], vp[SCN_PATH_MAX], g[64];
    if (by < 0)
        return 0;
    scn__path(p, path, "by");
    if (scn__expect(d, by, p, SCN_N_MAP))
        return DIO_EPARSE;
    if (d->t->v[by].n != 1)
        return scn__fail_at(d, by, "%s: expected one attribute like {city: [SF, NYC]}, got %d", p,
                            d->t->v[by].n);
    int key = d->t->v[by].first, vals = d->t->v[key].val;
    b->by = core_strdup(d->t->v[key].s);
    scn__path(vp, p, b->by);
    int type = vals < 0 ? -1 : d->t->v[vals].type;
    if ((type != SCN_N_SEQ && type != SCN_N_MAP) || d->t->v[vals].n == 0)
        return scn__fail_at(d, vals < 0 ? key : vals,
                            "%s: expected a list of values or a mapping value: weight, got %s", vp,
                            vals < 0 ? "nothing" : scn__got(d->t, vals, g, sizeof g));
    if (d->t->v[vals].n > SCN_MAX_BIZ_VALUES)
        return scn__fail_at(d, vals, "%s: too many values (%d, the limit is %d)", vp,
                            d->t->v[vals].n, SCN_MAX_BIZ_VALUES);
    b->values = core_calloc((size_t)d->t->v[vals].n, sizeof *b->values);
    for (int it = d->t->v[vals].first; it >= 0; it = d->t->v[it].next) {
        struct scn_biz_value *v = &b->values[b->nvalues++];
        if (type == SCN_N_MAP) {
            if (decode_weight(d, vals, it, vp, v))
                return DIO_EPARSE;
        } else if (d->t->v[it].type != SCN_N_SCALAR || !*d->t->v[it].s ||
                   strlen(d->t->v[it].s) > SCN_MAX_NAME) {
            return scn__fail_at(d, it, "%s[%d]: expected a value name, got %s", vp, b->nvalues - 1,
                                scn__got(d->t, it, g, sizeof g));
        } else {
            v->name = core_strdup(d->t->v[it].s);
            v->weight = 1;
            v->pos = (struct scn_pos){d->t->v[it].line, d->t->v[it].col};
        }
        for (int j = 0; j < b->nvalues - 1; j++)
            if (!strcmp(b->values[j].name, v->name))
                return scn__fail_at(d, it, "%s: duplicate value '%s'", vp, v->name);
    }
    return 0;
}

/* Keys that only some types take. */
static int check_type_keys(const struct scn_dec *d, int node, const char *path,
                           const struct scn_biz *b)
{
    static const char *const only[][3] = {{"factor", "counter", NULL},
                                          {"buckets", "histogram", NULL},
                                          {"shape", "gauge", NULL},
                                          {"load", "histogram", "gauge"}};
    char p[SCN_PATH_MAX];
    for (size_t i = 0; i < sizeof only / sizeof only[0]; i++) {
        int n = scn__field(d, node, only[i][0]);
        if (n >= 0 && strcmp(only[i][1], biz_types[b->type]) &&
            (!only[i][2] || strcmp(only[i][2], biz_types[b->type])))
            return scn__fail_at(d, n, "%s: not a key of a %s (only of a %s%s%s)",
                                scn__path(p, path, only[i][0]), biz_types[b->type], only[i][1],
                                only[i][2] ? " or a " : "", only[i][2] ? only[i][2] : "");
    }
    int per = scn__field(d, node, "per"), load = scn__field(d, node, "load");
    if (per < 0 && b->type != SCN_BIZ_GAUGE)
        return scn__fail_at(d, node,
                            "%s: a %s needs per: service/operation (whose requests it "
                            "counts)",
                            path, biz_types[b->type]);
    if (per < 0 && load >= 0)
        return scn__fail_at(d, load,
                            "%s: load needs per: service/operation (whose rate it "
                            "follows)",
                            scn__path(p, path, "load"));
    if (b->type == SCN_BIZ_HISTOGRAM)
        return scn__require(d, node, path, "value");
    return 0;
}

static int decode_biz(const struct scn_dec *d, int node, const char *path, struct scn_biz *b,
                      const struct scenario *s)
{
    static const char *const req[] = {"name", "type", NULL};
    b->per_svc = b->per_op = -1;
    b->factor = 1;
    b->value = (struct scn_latency){1000000000ULL, 0.2, 0, 1};
    b->pos = (struct scn_pos){d->t->v[node].line, d->t->v[node].col};
    if (scn__expect(d, node, path, SCN_N_MAP) || scn__check_keys(d, node, path, biz_keys))
        return DIO_EPARSE;
    for (int i = 0; req[i]; i++)
        if (scn__require(d, node, path, req[i]))
            return DIO_EPARSE;
    if (decode_name(d, node, path, b, s) ||
        scn__get_enum(d, node, path, "type", biz_types, &b->type) ||
        check_type_keys(d, node, path, b) ||
        scn__get_str(d, node, path, "description", &b->description) ||
        scn__get_str(d, node, path, "unit", &b->unit) ||
        scn__get_str(d, node, path, "per", &b->per) ||
        scn__get_num(d, node, path, "factor", 0, 1, 1e9, &b->factor) ||
        scn__get_num(d, node, path, "load", -10, 0, 10, &b->load) || decode_by(d, node, path, b))
        return DIO_EPARSE;
    if (b->type == SCN_BIZ_HISTOGRAM)
        return scn__decode_dist(d, node, path, "value", &b->value) ||
                       decode_buckets(d, node, path, b)
                   ? DIO_EPARSE
                   : 0;
    if (b->type == SCN_BIZ_GAUGE)
        return decode_walk(d, node, path, b) || scn__decode_shape(d, node, path, &b->shape)
                   ? DIO_EPARSE
                   : 0;
    return 0;
}

int scn__decode_business(const struct scn_dec *d, int root, struct scenario *s)
{
    int seq, n, i = 0;
    if (scn__get_list(d, root, "", "business", SCN_MAX_BIZ, &seq, &n))
        return DIO_EPARSE;
    s->business = core_calloc((size_t)n + 1, sizeof *s->business);
    for (int it = n ? d->t->v[seq].first : -1; it >= 0; it = d->t->v[it].next, i++) {
        char path[SCN_PATH_MAX];
        s->nbusiness = i + 1;
        if (decode_biz(d, it, scn__path_idx(path, "business", i), &s->business[i], s))
            return DIO_EPARSE;
        if (!s->business[i].unit)
            s->business[i].unit = core_strdup(s->business[i].type == SCN_BIZ_HISTOGRAM ? "s" : "1");
    }
    return 0;
}

void scn__free_business(struct scenario *s)
{
    for (int i = 0; i < s->nbusiness; i++) {
        struct scn_biz *b = &s->business[i];
        core_free(b->name);
        core_free(b->description);
        core_free(b->unit);
        core_free(b->per);
        core_free(b->by);
        for (int k = 0; k < b->nvalues; k++)
            core_free(b->values[k].name);
        core_free(b->values);
        core_free(b->bounds);
    }
    core_free(s->business);
}
