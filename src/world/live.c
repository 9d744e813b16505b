/* Live control of the world's traffic and the chaos scheduler.
 *
 * Traffic sources are the engine's: every entry operation with a rate, then every model with
 * a rate. A live factor per source scales its scenario rate (and composes with its load
 * shape); pause sets every effective factor to 0 until resume; speed is the real-time pacing
 * the engine follows. All of it changes only through world commands, applied by the world's
 * thread in world_advance and labelled there (docs/labels.md, "Live control"), like states.
 * Readers on other threads (the control API) see atomics.
 *
 * The chaos scheduler runs on the world's thread too, on the simulated clock: it is due at
 * world_next_due like the timeline, so at --speed max the same seed gives the same changes at
 * the same simulated times. Its picks come from its own RNG stream (seed, "chaos"); each
 * change is an ordinary state command with source "chaos". Its settings are guarded by a
 * mutex only so that a reader can copy them (GET /api/world); the world's thread takes it
 * once per chaos event, never per request. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "world/world.h"

#define CHAOS_MAX_HOLDS 64
#define MAX_FACTOR 1000.0
#define MAX_RPS 10000000.0
#define MAX_SPEED 1000000.0

struct hold {
    int entity, state; /* what chaos set; entity -1 - i: fault i */
    uint64_t until;    /* offset it reverts at */
};

struct world_chaos {
    pthread_mutex_t mu; /* guards cfg and nholds for readers on other threads */
    struct world_chaos_cfg cfg;
    struct core_rng rng;
    uint64_t next_at; /* offset of the next pick; UINT64_MAX when off */
    struct hold holds[CHAOS_MAX_HOLDS];
    int nholds;
};

/* ---- traffic sources -------------------------------------------------------------------- */
static void add_traffic(struct world *w, const char *a, const char *b, int svc, int op, int model,
                        double base)
{
    struct world_traffic *t = &w->traffic[w->ntraffic++];
    size_t n = strlen(a) + (b ? strlen(b) + 1 : 0) + 1;
    t->name = core_malloc(n);
    snprintf(t->name, n, b ? "%s/%s" : "%s", a, b ? b : "");
    t->svc = svc;
    t->op = op;
    t->model = model;
    t->base = base;
    atomic_init(&t->factor, 1.0);
}

void world__live_build(struct world *w)
{
    int n = w->nmodels;
    for (int s = 0; s < w->nsvcs; s++)
        n += w->svcs[s].nops;
    w->traffic = core_calloc((size_t)n + 1, sizeof *w->traffic);
    for (int s = 0; s < w->nsvcs; s++)
        for (int o = 0; o < w->svcs[s].nops; o++)
            if (w->svcs[s].ops[o].scn->rate > 0)
                add_traffic(w, w->svcs[s].scn->name, w->svcs[s].ops[o].scn->name, s, o, -1,
                            w->svcs[s].ops[o].scn->rate);
    for (int m = 0; m < w->nmodels; m++) {
        const struct scn_model *sm = w->models[m].scn;
        if (sm->rate > 0)
            add_traffic(w, sm->name, NULL, sm->entry_svc, sm->entry_op, m, sm->rate);
    }
    w->chaos = core_calloc(1, sizeof *w->chaos);
    pthread_mutex_init(&w->chaos->mu, NULL);
    w->chaos->next_at = UINT64_MAX;
}

void world__live_free(struct world *w)
{
    for (int i = 0; i < w->ntraffic; i++)
        core_free(w->traffic[i].name);
    core_free(w->traffic);
    if (w->chaos)
        pthread_mutex_destroy(&w->chaos->mu);
    core_free(w->chaos);
}

int world_traffic_find(const struct world *w, const char *name)
{
    for (int i = 0; i < w->ntraffic; i++)
        if (!strcmp(w->traffic[i].name, name))
            return i;
    return -1;
}

int world_traffic_of(const struct world *w, int svc, int op, int model)
{
    for (int i = 0; i < w->ntraffic; i++) {
        const struct world_traffic *t = &w->traffic[i];
        if (t->model == model && (model >= 0 || (t->svc == svc && t->op == op)))
            return i;
    }
    return -1;
}

double world_traffic_factor(const struct world *w, int i)
{
    struct world *m = (struct world *)w; /* atomics: read only */
    if (i < 0 || i >= w->ntraffic || atomic_load_explicit(&m->paused, memory_order_relaxed))
        return i < 0 || i >= w->ntraffic ? 1 : 0;
    return atomic_load_explicit(&m->traffic[i].factor, memory_order_relaxed);
}

/* ---- commands --------------------------------------------------------------------------- */
int world__live_check(const struct world *w, const struct world_cmd *c)
{
    switch (c->kind) {
    case WORLD_CMD_RATE:
    case WORLD_CMD_RPS:
        return c->entity < -1 || c->entity >= w->ntraffic || !isfinite(c->value) || c->value < 0 ||
               c->value > (c->kind == WORLD_CMD_RATE ? MAX_FACTOR : MAX_RPS);
    case WORLD_CMD_SPEED:
        return !isfinite(c->value) || c->value <= 0 || c->value > MAX_SPEED;
    case WORLD_CMD_CHAOS:
        return c->chaos.enabled && (!c->chaos.every_ns || c->chaos.max < 1 ||
                                    c->chaos.hold_min_ns > c->chaos.hold_max_ns);
    default: /* states and faults are checked by their owners (state.c, fault.c) */
        return c->kind != WORLD_CMD_PAUSE && c->kind != WORLD_CMD_RESUME;
    }
}

static void live_label(struct world *w, const char *kind, const char *target, double value,
                       const char *spec, int source, uint64_t t, const struct world_out *out)
{
    atomic_fetch_add_explicit(&w->state_gen, 1, memory_order_release);
    if (!out || !out->label)
        return;
    struct world_label l = {.start_ns = out->start_unix_ns + t,
                            .end_ns = out->start_unix_ns + t,
                            .target = target,
                            .source = source,
                            .wall_ns = out->wall_ns ? out->wall_ns(out->ctx) : 0,
                            .control = kind,
                            .amount = value,
                            .spec = spec};
    out->label(out->ctx, &l);
}

/* A factor for one source, or for all (entity -1); rps for all is the total, shared in
 * proportion to the sources' scenario rates. */
static double set_rate(struct world *w, const struct world_cmd *c)
{
    double sum = 0;
    for (int i = 0; i < w->ntraffic; i++)
        sum += c->entity < 0 || c->entity == i ? w->traffic[i].base : 0;
    double f = c->kind == WORLD_CMD_RATE ? c->value : sum > 0 ? c->value / sum : 0;
    for (int i = 0; i < w->ntraffic; i++)
        if (c->entity < 0 || c->entity == i)
            atomic_store_explicit(&w->traffic[i].factor, f, memory_order_relaxed);
    return f;
}

static void set_chaos(struct world *w, const struct world_chaos_cfg *cfg, uint64_t t)
{
    struct world_chaos *ch = w->chaos;
    pthread_mutex_lock(&ch->mu);
    ch->cfg = *cfg;
    pthread_mutex_unlock(&ch->mu);
    uint64_t seed = cfg->has_seed ? cfg->seed : w->seed;
    core_rng_init(&ch->rng, seed, core_hash64("chaos", 5), 9);
    ch->next_at =
        cfg->enabled ? t + (uint64_t)core_rng_exp(&ch->rng, (double)cfg->every_ns) : UINT64_MAX;
}

void world__live_apply(struct world *w, const struct world_cmd *c, uint64_t t,
                       const struct world_out *out)
{
    const char *target =
        c->entity >= 0 && c->entity < w->ntraffic ? w->traffic[c->entity].name : "*";
    char spec[WORLD_CHAOS_SPEC_MAX];
    switch (c->kind) {
    case WORLD_CMD_RATE:
    case WORLD_CMD_RPS:
        live_label(w, "rate", target, set_rate(w, c), NULL, c->source, t, out);
        break;
    case WORLD_CMD_PAUSE:
    case WORLD_CMD_RESUME:
        atomic_store(&w->paused, c->kind == WORLD_CMD_PAUSE);
        live_label(w, c->kind == WORLD_CMD_PAUSE ? "pause" : "resume", "*", 0, NULL, c->source, t,
                   out);
        break;
    case WORLD_CMD_SPEED:
        atomic_store(&w->speed, c->value);
        live_label(w, "speed", "*", c->value, NULL, c->source, t, out);
        break;
    case WORLD_CMD_CHAOS:
        set_chaos(w, &c->chaos, t);
        world_chaos_format(&c->chaos, spec, sizeof spec);
        live_label(w, "chaos", "*", 0, spec, c->source, t, out);
        return; /* traffic did not change */
    default:
        return;
    }
    atomic_fetch_add_explicit(&w->live_gen, 1, memory_order_release);
}

void world_live_init(struct world *w, double speed, const struct world_chaos_cfg *c)
{
    atomic_store(&w->speed, speed);
    if (c && c->enabled)
        set_chaos(w, c, 0);
}

/* ---- chaos ------------------------------------------------------------------------------ */
static int held(const struct world_chaos *ch, int entity)
{
    for (int i = 0; i < ch->nholds; i++)
        if (ch->holds[i].entity == entity)
            return 1;
    return 0;
}

/* Reverts the holds due by t, in the order they were taken (deterministic). */
static void chaos_release(struct world *w, uint64_t t, const struct world_out *out)
{
    struct world_chaos *ch = w->chaos;
    for (int i = 0; i < ch->nholds;) {
        struct hold *h = &ch->holds[i];
        if (h->until > t) {
            i++;
            continue;
        }
        const struct world_entity *en = h->entity >= 0 ? &w->ents[h->entity] : NULL;
        /* a fault (entity < 0) ends by itself (its for_ns); a state only if not changed since */
        if (en && en->source == WORLD_SRC_CHAOS && en->state == h->state) {
            struct world_cmd c = {.kind = WORLD_CMD_STATE,
                                  .entity = h->entity,
                                  .state = SCN_STATE_HEALTHY,
                                  .source = WORLD_SRC_CHAOS};
            world__apply(w, &c, h->until > w->now ? h->until : w->now, out);
        }
        memmove(h, h + 1, (size_t)(ch->nholds - i - 1) * sizeof *h);
        pthread_mutex_lock(&ch->mu);
        ch->nholds--;
        pthread_mutex_unlock(&ch->mu);
    }
}

/* One random pick among every entity and every fault: an entity goes into a random state
 * other than healthy, a fault starts with a random variant; either for a random hold. Three
 * draws every time, whatever is picked, so the sequence never depends on what was skipped. */
static void chaos_pick(struct world *w, uint64_t at, const struct world_out *out)
{
    struct world_chaos *ch = w->chaos;
    int nst = w->scn->nstates - 1; /* every state but healthy (index 0) */
    uint64_t n = (uint64_t)(nst >= 1 ? w->nents : 0) + (uint64_t)w->nfaults;
    if (ch->nholds >= ch->cfg.max || ch->nholds >= CHAOS_MAX_HOLDS || !n)
        return;
    int r = (int)(core_rng_u64(&ch->rng) % n);
    uint64_t which = core_rng_u64(&ch->rng);
    double span = (double)(ch->cfg.hold_max_ns - ch->cfg.hold_min_ns);
    uint64_t hold = ch->cfg.hold_min_ns + (uint64_t)(core_rng_unit(&ch->rng) * span);
    hold = hold ? hold : 1;
    int fault = nst >= 1 ? r - w->nents : r; /* >= 0: a fault */
    int e = fault >= 0 ? -1 - fault : r, st = 0;
    uint64_t until;
    int v;
    if (held(ch, e) || (fault >= 0 && world_fault_active(w, fault, &until, &v)))
        return; /* the draws are spent either way */
    struct world_cmd c = {.entity = e, .source = WORLD_SRC_CHAOS};
    if (fault >= 0) {
        c.kind = WORLD_CMD_FAULT_START;
        c.fault = fault;
        c.variant = (int)(which % (uint64_t)w->faults[fault].scn->nvariants);
        c.for_ns = hold;
    } else {
        c.kind = WORLD_CMD_STATE;
        c.state = st = 1 + (int)(which % (uint64_t)nst);
    }
    world__apply(w, &c, at, out);
    pthread_mutex_lock(&ch->mu);
    ch->holds[ch->nholds++] = (struct hold){e, st, at + hold};
    pthread_mutex_unlock(&ch->mu);
}

void world__chaos_advance(struct world *w, uint64_t t, const struct world_out *out)
{
    struct world_chaos *ch = w->chaos;
    if (!ch)
        return;
    chaos_release(w, t, out);
    while (ch->next_at <= t) {
        uint64_t at = ch->next_at;
        chaos_pick(w, at > w->now ? at : w->now, out);
        uint64_t gap = (uint64_t)core_rng_exp(&ch->rng, (double)ch->cfg.every_ns);
        ch->next_at = at + (gap ? gap : 1);
    }
}

uint64_t world__chaos_due(const struct world *w)
{
    const struct world_chaos *ch = w->chaos;
    if (!ch)
        return UINT64_MAX;
    uint64_t due = ch->next_at;
    for (int i = 0; i < ch->nholds; i++)
        due = ch->holds[i].until < due ? ch->holds[i].until : due;
    return due;
}

void world_chaos_get(const struct world *w, struct world_chaos_cfg *c, int *active)
{
    struct world_chaos *ch = w->chaos;
    pthread_mutex_lock(&ch->mu);
    *c = ch->cfg;
    *active = ch->nholds;
    pthread_mutex_unlock(&ch->mu);
}

/* ---- the spec --------------------------------------------------------------------------- */
static int chaos_field(const char *k, const char *v, struct world_chaos_cfg *c, char *err,
                       size_t errlen)
{
    char *end;
    if (!strcmp(k, "every")) {
        if (core_parse_duration(v, &c->every_ns) || !c->every_ns)
            return snprintf(err, errlen, "every=%s: expected a duration like 10m", v), 1;
    } else if (!strcmp(k, "hold")) {
        char lo[32];
        const char *dash = strchr(v, '-');
        snprintf(lo, sizeof lo, "%.*s", dash ? (int)(dash - v) : 31, v);
        if (core_parse_duration(lo, &c->hold_min_ns) ||
            core_parse_duration(dash ? dash + 1 : lo, &c->hold_max_ns) ||
            c->hold_min_ns > c->hold_max_ns)
            return snprintf(err, errlen, "hold=%s: expected a duration or a range like 1m-3m", v),
                   1;
    } else if (!strcmp(k, "max")) {
        long m = strtol(v, &end, 10);
        if (!*v || *end || m < 1 || m > CHAOS_MAX_HOLDS)
            return snprintf(err, errlen, "max=%s: expected 1..%d", v, CHAOS_MAX_HOLDS), 1;
        c->max = (int)m;
    } else if (!strcmp(k, "seed")) {
        c->seed = strtoull(v, &end, 10);
        if (!*v || *end || *v == '-')
            return snprintf(err, errlen, "seed=%s: expected an unsigned integer", v), 1;
        c->has_seed = 1;
    } else {
        return snprintf(err, errlen, "unknown chaos setting '%s' (every, hold, max, seed)", k), 1;
    }
    return 0;
}

int world_chaos_parse(const char *spec, struct world_chaos_cfg *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    if (!spec || !strcmp(spec, "off"))
        return 0;
    if (strlen(spec) >= WORLD_CHAOS_SPEC_MAX) {
        snprintf(err, errlen, "the chaos spec is over %d characters", WORLD_CHAOS_SPEC_MAX - 1);
        return DIO_EINVAL;
    }
    *c = (struct world_chaos_cfg){1, 600000000000ULL, 60000000000ULL, 180000000000ULL, 2, 0, 0};
    char buf[WORLD_CHAOS_SPEC_MAX];
    snprintf(buf, sizeof buf, "%s", spec);
    for (char *save = NULL, *f = strtok_r(buf, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(f, '=');
        if (!eq) {
            snprintf(err, errlen, "'%s': expected key=value (every=10m,hold=1m-3m,max=2)", f);
            return DIO_EINVAL;
        }
        *eq = 0;
        if (chaos_field(f, eq + 1, c, err, errlen))
            return DIO_EINVAL;
    }
    return 0;
}

void world_chaos_format(const struct world_chaos_cfg *c, char *out, size_t n)
{
    if (!c->enabled) {
        snprintf(out, n, "off");
        return;
    }
    char e[32], lo[32], hi[32];
    core_format_duration(c->every_ns, e, sizeof e);
    core_format_duration(c->hold_min_ns, lo, sizeof lo);
    core_format_duration(c->hold_max_ns, hi, sizeof hi);
    int k = snprintf(out, n, "every=%s,hold=%s-%s,max=%d", e, lo, hi, c->max);
    if (c->has_seed && k > 0 && (size_t)k < n)
        snprintf(out + k, n - (size_t)k, ",seed=%llu", (unsigned long long)c->seed);
}

/* ---- labels ----------------------------------------------------------------------------- */
int world__live_label_json(const struct world_label *l, struct core_buf *out)
{
    char a[40];
    world_format_time(l->start_ns, a, sizeof a);
    core_buf_printf(out,
                    "{\"start\":\"%s\",\"end\":\"%s\",\"start_unix_nano\":%llu,"
                    "\"end_unix_nano\":%llu,\"target\":",
                    a, a, (unsigned long long)l->start_ns, (unsigned long long)l->start_ns);
    core_buf_put_json_str(out, l->target);
    core_buf_printf(out, ",\"kind\":\"%s\",\"params\":{", l->control);
    if (!strcmp(l->control, "rate"))
        core_buf_printf(out, "\"factor\":%g", l->amount);
    else if (!strcmp(l->control, "speed"))
        core_buf_printf(out, "\"speed\":%g", l->amount);
    else if (l->spec) {
        core_buf_puts(out, "\"spec\":");
        core_buf_put_json_str(out, l->spec);
    }
    core_buf_printf(out, "},\"source\":\"%s\"", world_source_name(l->source));
    if (l->wall_ns)
        core_buf_printf(out, ",\"wall_unix_nano\":%llu", (unsigned long long)l->wall_ns);
    return core_buf_puts(out, "}\n");
}
