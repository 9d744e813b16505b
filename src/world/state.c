/* Entity states: what hosts, services and models are doing now (healthy, degrading, critical,
 * or a scenario's own), how they get there, and the one path that changes them.
 *
 * Changes are commands. The scenario's timeline and live callers (the control API, a chaos
 * scheduler) describe a change the same way; live ones are queued (world_command, any thread)
 * and every change is applied by the world's own thread in world_advance, at a tick boundary,
 * where it is also labelled. So state has one writer and planners never wait on a lock.
 *
 * A change starts a transition: each effect drifts linearly from where it is to the new
 * state's value over `over` (0: at once), recomputed at every world_advance (the engine calls
 * it at least once per WORLD_TICK_NS of simulated time while a transition runs). The values a
 * request plan reads (latency factor, error rate and status) are atomics written by the world's
 * thread, so serve's threads read them without locks; the rest (host CPU and memory, model GPU
 * and queue) is read by the world's own thread only.
 *
 * Memory leaks accumulate while a state leaks and are given back when the entity enters a state
 * that does not leak (a restart, as an operator would do to recover). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "world/world.h"

#define MIB 1048576.0

static const char *const source_names[WORLD_NSOURCES] = {"schedule",    "command", "every",
                                                         "probability", "window",  "chaos"};

const char *world_source_name(int source)
{
    return source >= 0 && source < WORLD_NSOURCES ? source_names[source] : "unknown";
}

/* The effects an entity has in state st, with every unset value replaced by the entity's own
 * (what it does when healthy). */
static struct world_fx resolve(const struct world *w, const struct world_entity *en, int st)
{
    const struct scn_effects *e = &w->scn->states[st].fx;
    struct world_fx fx = {0};
    double cpu0 = en->kind == SCN_ENT_HOST ? w->hosts[en->idx].scn->cpu : 0;
    double gpu0 = en->kind == SCN_ENT_MODEL ? w->models[en->idx].scn->gpu_util : -1;
    fx.cpu = e->cpu >= 0 ? e->cpu : cpu0;
    fx.leak = e->memory_leak >= 0 ? e->memory_leak : 0;
    fx.latency = e->latency_factor > 0 ? e->latency_factor : 1;
    fx.error_rate = e->error_rate >= 0 ? e->error_rate : 0;
    fx.status = e->error_status > 0 ? e->error_status : 500;
    fx.gpu = e->gpu_util >= 0 ? e->gpu_util : gpu0;
    fx.queue = e->queue_depth;
    return fx;
}

static double lerp(double a, double b, double p)
{
    return a + (b - a) * p;
}

static void publish(struct world *w, struct world_entity *en, const struct world_fx *fx)
{
    int was = en->active;
    en->cur = *fx;
    en->active = fx->latency != 1 || fx->error_rate > 0 || fx->queue >= 0 ||
                 (en->kind == SCN_ENT_MODEL && fx->gpu != w->models[en->idx].scn->gpu_util);
    atomic_store_explicit(&en->latency, fx->latency, memory_order_relaxed);
    atomic_store_explicit(&en->error_rate, fx->error_rate, memory_order_relaxed);
    atomic_store_explicit(&en->status, fx->status, memory_order_relaxed);
    atomic_store_explicit(&en->gpu, fx->gpu, memory_order_relaxed);
    atomic_store_explicit(&en->queue, fx->queue, memory_order_relaxed);
    if (was != en->active)
        atomic_fetch_add_explicit(&w->nactive, en->active ? 1 : -1, memory_order_relaxed);
}

/* The effects at t: interpolated while the transition runs, the target's after. */
static void update(struct world *w, struct world_entity *en, uint64_t t)
{
    struct world_fx fx = en->to;
    if (t < en->t1 && en->t1 > en->t0) {
        double p = (double)(t - en->t0) / (double)(en->t1 - en->t0);
        fx.cpu = lerp(en->from.cpu, en->to.cpu, p);
        fx.leak = lerp(en->from.leak, en->to.leak, p);
        fx.latency = lerp(en->from.latency, en->to.latency, p);
        fx.error_rate = lerp(en->from.error_rate, en->to.error_rate, p);
        if (en->from.gpu >= 0 && en->to.gpu >= 0)
            fx.gpu = lerp(en->from.gpu, en->to.gpu, p);
    }
    if (t > en->t_leak) { /* integrate the leak over the time since the last update */
        double dt = (double)(t - en->t_leak) / 60e9;
        en->leaked += en->cur.leak * MIB * dt;
        en->fault_leaked += en->fault_leak * MIB * dt; /* the faults' part, given back at end */
    }
    en->t_leak = t;
    en->base = fx;
    if (en->fault_cpu >= 0 && en->fault_cpu > fx.cpu) /* host faults (fault.c) on top */
        fx.cpu = en->fault_cpu;
    fx.leak += en->fault_leak;
    publish(w, en, &fx);
}

void world__entity_refresh(struct world *w, struct world_entity *en, uint64_t t)
{
    update(w, en, t);
}

static void label_state(struct world *w, struct world_entity *en, uint64_t t, int open,
                        const struct world_out *out)
{
    if (!out || !out->label)
        return;
    struct world_label l = {.start_ns = out->start_unix_ns + en->since,
                            .end_ns = open ? 0 : out->start_unix_ns + t,
                            .target = en->name,
                            .state = &w->scn->states[en->state],
                            .from = &w->scn->states[en->prev],
                            .source = en->source,
                            .open = open,
                            .id = en->label_id,
                            .wall_ns = out->wall_ns ? out->wall_ns(out->ctx) : 0};
    out->label(out->ctx, &l);
}

static void apply_change(struct world *w, const struct world_cmd *c, uint64_t t,
                         const struct world_out *out)
{
    struct world_entity *en = &w->ents[c->entity];
    if (en->label_id)
        label_state(w, en, t, 0, out); /* the period that ends now, complete */
    update(w, en, t);
    en->from = en->base; /* without the faults' overlay */
    en->to = resolve(w, en, c->state);
    if (en->to.leak <= 0)
        en->leaked = 0;
    en->t0 = t;
    en->t1 = t + c->over_ns;
    en->prev = en->state;
    en->state = c->state;
    en->since = t;
    en->source = c->source;
    en->label_id = c->state == SCN_STATE_HEALTHY ? 0 : ++w->label_seq;
    update(w, en, t);
    w->changes++;
    if (en->label_id)
        label_state(w, en, t, 1, out);
}

/* ---- the command queue ---------------------------------------------------------------- */
/* One change, by kind: states here, live control in live.c. */
void world__apply(struct world *w, const struct world_cmd *c, uint64_t t,
                  const struct world_out *out)
{
    if (c->kind == WORLD_CMD_STATE)
        apply_change(w, c, t, out);
    else if (c->kind == WORLD_CMD_FAULT_START || c->kind == WORLD_CMD_FAULT_STOP)
        world__fault_apply(w, c, t, out);
    else
        world__live_apply(w, c, t, out);
}

int world_command(struct world *w, const struct world_cmd *c)
{
    if (c->kind == WORLD_CMD_STATE &&
        (c->entity < 0 || c->entity >= w->nents || c->state < 0 || c->state >= w->scn->nstates))
        return DIO_EINVAL;
    int fault = c->kind == WORLD_CMD_FAULT_START || c->kind == WORLD_CMD_FAULT_STOP;
    if (fault && world__fault_check(w, c))
        return DIO_EINVAL;
    if (c->kind != WORLD_CMD_STATE && !fault && world__live_check(w, c))
        return DIO_EINVAL;
    pthread_mutex_lock(&w->cmd_mu);
    int rc = DIO_EFULL;
    if (w->ncmd < WORLD_CMD_QUEUE) {
        w->cmdq[(w->cmd_head + w->ncmd++) % WORLD_CMD_QUEUE] = *c;
        atomic_store_explicit(&w->cmd_pending, 1, memory_order_release);
        rc = 0;
    }
    pthread_mutex_unlock(&w->cmd_mu);
    return rc;
}

static void drain_commands(struct world *w, uint64_t t, const struct world_out *out)
{
    if (!atomic_load_explicit(&w->cmd_pending, memory_order_acquire))
        return;
    struct world_cmd batch[WORLD_CMD_QUEUE];
    int n = 0;
    pthread_mutex_lock(&w->cmd_mu);
    while (w->ncmd > 0) {
        batch[n++] = w->cmdq[w->cmd_head];
        w->cmd_head = (w->cmd_head + 1) % WORLD_CMD_QUEUE;
        w->ncmd--;
    }
    atomic_store_explicit(&w->cmd_pending, 0, memory_order_relaxed);
    pthread_mutex_unlock(&w->cmd_mu);
    for (int i = 0; i < n; i++)
        world__apply(w, &batch[i], t, out);
}

/* ---- the world's clock ---------------------------------------------------------------- */
void world__svc_advance(struct world *w, uint64_t t, const struct world_out *out)
{
    const struct scenario *s = w->scn;
    while (w->next_change < s->ntimeline && s->timeline[w->order[w->next_change]].at_ns <= t) {
        const struct scn_change *ch = &s->timeline[w->order[w->next_change++]];
        struct world_cmd c = {.kind = WORLD_CMD_STATE,
                              .entity = world__entity_of(w, ch->target_kind, ch->target_idx),
                              .state = ch->state_idx,
                              .over_ns = ch->over_ns,
                              .source = WORLD_SRC_SCHEDULE};
        apply_change(w, &c, ch->at_ns, out);
    }
    world__faults_advance(w, t, out);
    drain_commands(w, t, out);
    world__chaos_advance(w, t, out);
    int ticking = 0;
    for (int i = 0; i < w->nents; i++) {
        struct world_entity *en = &w->ents[i];
        if (en->t1 > w->now || en->cur.leak > 0) /* w->now: the previous advance */
            update(w, en, t);
        ticking += en->t1 > t || en->cur.leak > 0;
    }
    w->nticking = ticking;
    w->now = t;
}

uint64_t world__svc_next_due(const struct world *w)
{
    const struct scenario *s = w->scn;
    uint64_t next =
        w->next_change < s->ntimeline ? s->timeline[w->order[w->next_change]].at_ns : UINT64_MAX;
    if (w->nticking > 0 && w->now + WORLD_TICK_NS < next) /* a transition or leak runs */
        next = w->now + WORLD_TICK_NS;
    uint64_t chaos = world__chaos_due(w), faults = world__faults_due(w);
    next = faults < next ? faults : next;
    return chaos < next ? chaos : next;
}

void world__svc_finish(struct world *w, uint64_t t, const struct world_out *out)
{
    world__faults_finish(w, t, out);
    for (int i = 0; i < w->nents; i++)
        if (w->ents[i].label_id)
            label_state(w, &w->ents[i], t, 0, out);
}

/* ---- entities ------------------------------------------------------------------------- */
int world__entity_of(const struct world *w, int kind, int idx)
{
    return kind == SCN_ENT_HOST      ? idx
           : kind == SCN_ENT_SERVICE ? w->nhosts + idx
                                     : w->nhosts + w->nsvcs + idx;
}

int world_entity_find(const struct world *w, const char *name)
{
    for (int i = 0; i < w->nents; i++)
        if (!strcmp(w->ents[i].name, name))
            return i;
    return -1;
}

int world_state_find(const struct world *w, const char *name)
{
    for (int i = 0; i < w->scn->nstates; i++)
        if (!strcmp(w->scn->states[i].name, name))
            return i;
    return -1;
}

struct due {
    uint64_t at;
    int i;
};

static int due_cmp(const void *a, const void *b)
{
    const struct due *x = a, *y = b;
    if (x->at != y->at)
        return x->at < y->at ? -1 : 1;
    return x->i - y->i; /* stable: file order at equal times */
}

static void add_entity(struct world *w, int kind, int idx, const char *name)
{
    struct world_entity *en = &w->ents[w->nents++];
    en->kind = kind;
    en->idx = idx;
    en->name = name;
    en->to = resolve(w, en, SCN_STATE_HEALTHY);
    en->from = en->base = en->to;
    publish(w, en, &en->to);
}

void world__states_build(struct world *w)
{
    const struct scenario *s = w->scn;
    pthread_mutex_init(&w->cmd_mu, NULL);
    w->ents = core_calloc((size_t)(w->nhosts + w->nsvcs + w->nmodels + 1), sizeof *w->ents);
    for (int i = 0; i < w->nhosts; i++)
        add_entity(w, SCN_ENT_HOST, i, w->hosts[i].scn->name);
    for (int i = 0; i < w->nsvcs; i++)
        add_entity(w, SCN_ENT_SERVICE, i, w->svcs[i].scn->name);
    for (int i = 0; i < w->nmodels; i++)
        add_entity(w, SCN_ENT_MODEL, i, w->models[i].scn->name);
    struct due *v = core_calloc((size_t)s->ntimeline + 1, sizeof *v);
    for (int i = 0; i < s->ntimeline; i++)
        v[i] = (struct due){s->timeline[i].at_ns, i};
    qsort(v, (size_t)s->ntimeline, sizeof *v, due_cmp);
    w->order = core_calloc((size_t)s->ntimeline + 1, sizeof *w->order);
    for (int i = 0; i < s->ntimeline; i++)
        w->order[i] = v[i].i;
    core_free(v);
}

void world__states_free(struct world *w)
{
    core_free(w->ents);
    core_free(w->order);
    pthread_mutex_destroy(&w->cmd_mu);
}

/* ---- what a request plan reads -------------------------------------------------------- */
void world_state_effect(const struct world *w, int entity, struct world_req_fx *fx)
{
    struct world_entity *en = (struct world_entity *)&w->ents[entity]; /* atomics: read only */
    double lf = atomic_load_explicit(&en->latency, memory_order_relaxed);
    double er = atomic_load_explicit(&en->error_rate, memory_order_relaxed);
    double gpu = atomic_load_explicit(&en->gpu, memory_order_relaxed);
    int queue = atomic_load_explicit(&en->queue, memory_order_relaxed);
    fx->latency *= lf;
    if (gpu >= 0)
        fx->gpu = gpu;
    if (queue >= 0)
        fx->queue = queue;
    if (er > 0) {
        fx->error_rate = 1 - (1 - fx->error_rate) * (1 - er);
        if (!fx->status)
            fx->status = atomic_load_explicit(&en->status, memory_order_relaxed);
    }
}

/* ---- labels --------------------------------------------------------------------------- */
static void put_effects(const struct scn_effects *e, struct core_buf *out)
{
    static const char *const keys[] = {"cpu",        "memory_leak",  "latency_factor",
                                       "error_rate", "error_status", "gpu_util",
                                       "queue_depth"};
    double v[] = {e->cpu,          e->memory_leak, e->latency_factor, e->error_rate,
                  e->error_status, e->gpu_util,    e->queue_depth};
    const char *sep = "";
    core_buf_putc(out, '{');
    for (int i = 0; i < 7; i++) {
        if (v[i] < 0 || (i == 2 && v[i] == 0))
            continue;
        core_buf_printf(out, "%s\"%s\":%g", sep, keys[i], v[i]);
        sep = ",";
    }
    core_buf_putc(out, '}');
}

int world__state_label_json(const struct world_label *l, struct core_buf *out)
{
    char a[40], b[40];
    world_format_time(l->start_ns, a, sizeof a);
    core_buf_printf(out, "{\"start\":\"%s\",", a);
    if (l->open) {
        core_buf_puts(out, "\"end\":null,");
    } else {
        world_format_time(l->end_ns, b, sizeof b);
        core_buf_printf(out, "\"end\":\"%s\",", b);
    }
    core_buf_printf(out, "\"start_unix_nano\":%llu,", (unsigned long long)l->start_ns);
    if (l->open)
        core_buf_puts(out, "\"end_unix_nano\":null,\"target\":");
    else
        core_buf_printf(out, "\"end_unix_nano\":%llu,\"target\":", (unsigned long long)l->end_ns);
    core_buf_put_json_str(out, l->target);
    core_buf_puts(out, ",\"kind\":\"state\",\"state\":");
    core_buf_put_json_str(out, l->state->name);
    core_buf_puts(out, ",\"from\":");
    core_buf_put_json_str(out, l->from->name);
    core_buf_puts(out, ",\"params\":");
    put_effects(&l->state->fx, out);
    core_buf_printf(out, ",\"source\":\"%s\",\"id\":%llu,\"phase\":\"%s\"",
                    world_source_name(l->source), (unsigned long long)l->id,
                    l->open ? "begin" : "end");
    if (l->wall_ns)
        core_buf_printf(out, ",\"wall_unix_nano\":%llu", (unsigned long long)l->wall_ns);
    return core_buf_puts(out, "}\n");
}
