/* `states:` and `timeline:` (docs/scenario-format.md).
 *
 *   states:                          # optional: healthy, degrading, critical always exist
 *     degrading: {cpu: 80%, latency_factor: 2}       # overrides a built-in's effects
 *     overheating: {gpu_util: 100%, latency_factor: 1.5}
 *   timeline:
 *     - {at: 2h, target: ppdb002, state: degrading, over: 30m}
 *     - {at: 3h, target: ppdb002, state: critical}
 *
 * A state named in `states` replaces the built-in of that name whole (unset effects are then
 * unset, not the built-in's). Names and targets are resolved by validate.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenario/scn_internal.h"

static const char *const fx_keys[] = {"cpu",          "memory_leak", "latency_factor", "error_rate",
                                      "error_status", "gpu_util",    "queue_depth",    NULL};
static const char *const change_keys[] = {"at", "target", "state", "over", NULL};

#define UNSET                                                                                      \
    {                                                                                              \
        -1, -1, -1, -1, -1, -1, -1                                                                 \
    }

/* The built-ins: a degrading entity is busy, leaks a little and is slower with a few errors;
 * a critical one is saturated, leaks fast, is much slower and fails a fifth of its requests. */
static const struct {
    const char *name;
    struct scn_effects fx;
} builtin_states[] = {
    {"healthy", UNSET},
    {"degrading", {0.78, 8, 1.8, 0.01, 500, 0.9, -1}},
    {"critical", {0.97, 40, 5, 0.2, 503, 1.0, -1}},
};

static void effects_unset(struct scn_effects *fx)
{
    static const struct scn_effects none = UNSET;
    *fx = none;
}

static int decode_effects(const struct scn_dec *d, int node, const char *path,
                          struct scn_effects *fx)
{
    effects_unset(fx);
    if (scn__expect(d, node, path, SCN_N_MAP) || scn__check_keys(d, node, path, fx_keys))
        return DIO_EPARSE;
    int64_t status = -1, queue = -1;
    if (scn__get_frac(d, node, path, "cpu", 0, &fx->cpu) ||
        scn__get_num(d, node, path, "memory_leak", 0, 0, 1e6, &fx->memory_leak) ||
        scn__get_num(d, node, path, "latency_factor", 0, 1, 1e6, &fx->latency_factor) ||
        scn__get_frac(d, node, path, "error_rate", 0, &fx->error_rate) ||
        scn__get_int(d, node, path, "error_status", 100, 599, &status) ||
        scn__get_frac(d, node, path, "gpu_util", 0, &fx->gpu_util) ||
        scn__get_int(d, node, path, "queue_depth", 0, 1000000000, &queue))
        return DIO_EPARSE;
    fx->error_status = (int)status;
    fx->queue_depth = (int)queue;
    return 0;
}

static int find_state(const struct scenario *s, const char *name)
{
    for (int i = 0; i < s->nstates; i++)
        if (!strcmp(s->states[i].name, name))
            return i;
    return -1;
}

static int decode_state(const struct scn_dec *d, int key, struct scenario *s)
{
    const struct scn_node *k = &d->t->v[key];
    char path[SCN_PATH_MAX];
    scn__path(path, "states", k->s);
    if (!*k->s || strlen(k->s) > SCN_MAX_NAME)
        return scn__fail_at(d, key, "states: a state name is 1 to %d bytes long", SCN_MAX_NAME);
    int i = find_state(s, k->s);
    if (i >= 0 && s->states[i].pos.line)
        return scn__fail_at(d, key, "states: '%s' is defined twice (first at line %d)", k->s,
                            s->states[i].pos.line);
    if (i < 0 && s->nstates == SCN_MAX_STATES)
        return scn__fail_at(d, key, "states: at most %d states", SCN_MAX_STATES);
    if (i < 0) {
        i = s->nstates++;
        s->states[i].name = core_strdup(k->s);
    }
    s->states[i].pos.line = k->line;
    s->states[i].pos.col = k->col;
    return decode_effects(d, k->val, path, &s->states[i].fx);
}

int scn__decode_states(const struct scn_dec *d, int root, struct scenario *s)
{
    int n = sizeof builtin_states / sizeof builtin_states[0];
    s->states = core_calloc(SCN_MAX_STATES, sizeof *s->states);
    for (s->nstates = 0; s->nstates < n; s->nstates++) {
        s->states[s->nstates].name = core_strdup(builtin_states[s->nstates].name);
        s->states[s->nstates].fx = builtin_states[s->nstates].fx;
    }
    int map = scn__field(d, root, "states");
    if (map < 0)
        return 0;
    if (scn__expect(d, map, "states", SCN_N_MAP))
        return DIO_EPARSE;
    for (int k = d->t->v[map].first; k >= 0; k = d->t->v[k].next)
        if (decode_state(d, k, s))
            return DIO_EPARSE;
    return 0;
}

static int decode_change(const struct scn_dec *d, int node, const char *path, struct scn_change *c)
{
    static const char *const req[] = {"at", "target", "state", NULL};
    c->target_idx = c->state_idx = -1;
    c->pos.line = d->t->v[node].line;
    c->pos.col = d->t->v[node].col;
    if (scn__expect(d, node, path, SCN_N_MAP) || scn__check_keys(d, node, path, change_keys))
        return DIO_EPARSE;
    for (int i = 0; req[i]; i++)
        if (scn__require(d, node, path, req[i]))
            return DIO_EPARSE;
    if (scn__get_dur(d, node, path, "at", 0, &c->at_ns) ||
        scn__get_dur(d, node, path, "over", 0, &c->over_ns) ||
        scn__get_name(d, node, path, "target", &c->target) ||
        scn__get_name(d, node, path, "state", &c->state))
        return DIO_EPARSE;
    return 0;
}

int scn__decode_timeline(const struct scn_dec *d, int root, struct scenario *s)
{
    int seq, n, i = 0;
    if (scn__get_list(d, root, "", "timeline", SCN_MAX_TIMELINE, &seq, &n))
        return DIO_EPARSE;
    s->timeline = core_calloc((size_t)n + 1, sizeof *s->timeline);
    for (int it = n ? d->t->v[seq].first : -1; it >= 0; it = d->t->v[it].next, i++) {
        char path[SCN_PATH_MAX];
        s->ntimeline = i + 1;
        if (decode_change(d, it, scn__path_idx(path, "timeline", i), &s->timeline[i]))
            return DIO_EPARSE;
    }
    return 0;
}

/* ---- shapes ---------------------------------------------------------------------------- */
static const char *const shape_keys[] = {"diurnal",     "weekly", "bursts", "ramp",
                                         "maintenance", "noise",  NULL};

/* "14:00" or "7:30": a minute of the day. */
static int get_clock(const struct scn_dec *d, int map, const char *path, const char *key, int *out)
{
    int v = scn__field(d, map, key);
    if (v < 0)
        return 0;
    const char *s = d->t->v[v].s;
    unsigned h, m;
    char end;
    char p[SCN_PATH_MAX];
    if (d->t->v[v].type != SCN_N_SCALAR || sscanf(s ? s : "", "%2u:%2u%c", &h, &m, &end) != 2 ||
        h > 23 || m > 59)
        return scn__fail_at(d, v, "%s: expected a time of day like 14:00 (UTC)",
                            scn__path(p, path, key));
    *out = (int)(h * 60 + m);
    return 0;
}

/* A non-negative factor: a number (2.5) or a percentage ("40%", "250%"), at most 1000. */
static int get_factor(const struct scn_dec *d, int map, const char *path, const char *key,
                      double *out)
{
    int v = scn__field(d, map, key);
    if (v < 0)
        return 0;
    const char *s = d->t->v[v].type == SCN_N_SCALAR ? d->t->v[v].s : NULL;
    size_t n = s ? strlen(s) : 0;
    if (!n || s[n - 1] != '%')
        return scn__get_num(d, map, path, key, 0, 0, 1000, out);
    char *end, p[SCN_PATH_MAX];
    double x = strtod(s, &end);
    if (end != s + n - 1 || !(x >= 0 && x <= 100000))
        return scn__fail_at(d, v, "%s: expected a factor like 0.4 or 40%%, got '%s'",
                            scn__path(p, path, key), s);
    *out = x / 100;
    return 0;
}

static int open_part(const struct scn_dec *d, int sh, const char *path, const char *key,
                     const char *const *keys, const char *const *req, char *pp, int *node)
{
    *node = scn__field(d, sh, key);
    if (*node < 0)
        return 0;
    scn__path(pp, path, key);
    if (scn__expect(d, *node, pp, SCN_N_MAP) || scn__check_keys(d, *node, pp, keys))
        return DIO_EPARSE;
    for (int i = 0; req[i]; i++)
        if (scn__require(d, *node, pp, req[i]))
            return DIO_EPARSE;
    return 0;
}

static int decode_cycles(const struct scn_dec *d, int sh, const char *path, struct scn_shape *o)
{
    static const char *const diurnal_keys[] = {"peak", "amplitude", NULL};
    static const char *const weekly_keys[] = {"weekend", NULL};
    static const char *const req_amp[] = {"amplitude", NULL}, *const req_we[] = {"weekend", NULL};
    char pp[SCN_PATH_MAX];
    int n;
    if (open_part(d, sh, path, "diurnal", diurnal_keys, req_amp, pp, &n))
        return DIO_EPARSE;
    o->peak_min = 14 * 60;
    if (n >= 0 && (get_clock(d, n, pp, "peak", &o->peak_min) ||
                   scn__get_frac(d, n, pp, "amplitude", 0, &o->diurnal)))
        return DIO_EPARSE;
    if (open_part(d, sh, path, "weekly", weekly_keys, req_we, pp, &n))
        return DIO_EPARSE;
    return n >= 0 ? get_factor(d, n, pp, "weekend", &o->weekend) : 0;
}

static int decode_bursts_ramp(const struct scn_dec *d, int sh, const char *path,
                              struct scn_shape *o)
{
    static const char *const burst_keys[] = {"probability", "factor", "duration", NULL};
    static const char *const ramp_keys[] = {"from", "to", "over", NULL};
    static const char *const req_b[] = {"probability", "factor", NULL};
    static const char *const req_r[] = {"over", NULL};
    char pp[SCN_PATH_MAX];
    int n;
    if (open_part(d, sh, path, "bursts", burst_keys, req_b, pp, &n))
        return DIO_EPARSE;
    o->burst_ns = 60000000000ULL;
    if (n >= 0 && (scn__get_frac(d, n, pp, "probability", 1, &o->burst_p) ||
                   scn__get_num(d, n, pp, "factor", 0, 1, 1000, &o->burst_factor) ||
                   scn__get_dur(d, n, pp, "duration", 60000000000ULL, &o->burst_ns)))
        return DIO_EPARSE;
    if (open_part(d, sh, path, "ramp", ramp_keys, req_r, pp, &n))
        return DIO_EPARSE;
    o->ramp_from = 0;
    o->ramp_to = 1;
    return n >= 0 ? get_factor(d, n, pp, "from", &o->ramp_from) ||
                        get_factor(d, n, pp, "to", &o->ramp_to) ||
                        scn__get_dur(d, n, pp, "over", 1, &o->ramp_ns)
                  : 0;
}

static int decode_maint(const struct scn_dec *d, int sh, const char *path, struct scn_shape *o)
{
    static const char *const keys[] = {"at", "duration", "factor", NULL};
    static const char *const req[] = {"at", "duration", NULL};
    int seq, n, i = 0;
    if (scn__get_list(d, sh, path, "maintenance", SCN_MAX_MAINT, &seq, &n))
        return DIO_EPARSE;
    for (int it = n ? d->t->v[seq].first : -1; it >= 0; it = d->t->v[it].next, i++) {
        char lp[SCN_PATH_MAX], pp[SCN_PATH_MAX];
        scn__path_idx(pp, scn__path(lp, path, "maintenance"), i);
        o->nmaint = i + 1;
        o->maint[i].factor = 0;
        if (scn__expect(d, it, pp, SCN_N_MAP) || scn__check_keys(d, it, pp, keys) ||
            scn__require(d, it, pp, req[0]) || scn__require(d, it, pp, req[1]) ||
            get_clock(d, it, pp, "at", &o->maint[i].at_min) ||
            scn__get_dur(d, it, pp, "duration", 1, &o->maint[i].duration_ns) ||
            get_factor(d, it, pp, "factor", &o->maint[i].factor))
            return DIO_EPARSE;
    }
    return 0;
}

int scn__decode_shape(const struct scn_dec *d, int map, const char *path, struct scn_shape *o)
{
    memset(o, 0, sizeof *o);
    o->weekend = -1;
    int sh = scn__field(d, map, "shape");
    if (sh < 0)
        return 0;
    char sp[SCN_PATH_MAX];
    scn__path(sp, path, "shape");
    if (scn__expect(d, sh, sp, SCN_N_MAP) || scn__check_keys(d, sh, sp, shape_keys) ||
        decode_cycles(d, sh, sp, o) || decode_bursts_ramp(d, sh, sp, o) ||
        decode_maint(d, sh, sp, o) || scn__get_frac(d, sh, sp, "noise", 0, &o->noise))
        return DIO_EPARSE;
    o->set = 1;
    return 0;
}
