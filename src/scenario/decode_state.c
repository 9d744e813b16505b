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
