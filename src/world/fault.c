/* Faults over time: the windows a scenario schedules and the activations commands start, each
 * an incident with a label that is written when it begins and completed when it ends.
 *
 * Whether a fault fires on a request is decided by the planner (world.c in_force and
 * world_faults_apply) on whatever thread plans it: a window from the request's own offset (so
 * output does not depend on when the world's thread last ran), a live activation from the
 * atomics written here. This file is the world's thread's side: it opens and closes windows at
 * their edges (world_next_due includes them, so the engine advances exactly there), starts and
 * stops activations from the command queue, labels all of them, keeps what world_fault_active
 * reports, and folds the CPU and memory leak of host faults into the host's entity, where the
 * host metrics read them.
 *
 * Per-request faults (every N, probability, without a window) are blips, labelled per request
 * by the emitter with scope "request"; they are not "active" in the incident sense. */
#include <string.h>

#include "world/world.h"

static int is_host_fault(const struct world_fault *wf)
{
    return wf->scn->target_kind == SCN_TARGET_HOST;
}

static void label_fault(struct world *w, int fi, int variant, int source, int open, uint64_t id,
                        uint64_t start, uint64_t end, uint64_t planned_end,
                        const struct world_out *out)
{
    if (!out || !out->label)
        return;
    const struct world_fault *wf = &w->faults[fi];
    uint64_t base = out->start_unix_ns;
    struct world_label l = {.start_ns = base + start,
                            .end_ns = open ? 0 : base + end,
                            .target = wf->scn->target,
                            .fault = wf,
                            .source = source,
                            .open = open,
                            .id = id,
                            .wall_ns = out->wall_ns ? out->wall_ns(out->ctx) : 0,
                            .variant = variant,
                            .planned_start_ns = base + start,
                            .planned_end_ns = planned_end == UINT64_MAX ? 0 : base + planned_end};
    out->label(out->ctx, &l);
}

/* What world_fault_active reports: a live activation first, else an open window. */
static void publish(struct world_fault *wf)
{
    int lv = atomic_load_explicit(&wf->live_variant, memory_order_relaxed);
    int v = lv >= 0 ? lv : wf->win_end ? wf->scn->default_variant : -1;
    uint64_t end =
        lv >= 0 ? atomic_load_explicit(&wf->live_end, memory_order_relaxed) : wf->win_end;
    atomic_store_explicit(&wf->act_end, end, memory_order_relaxed);
    atomic_store_explicit(&wf->act_variant, v, memory_order_release);
}

/* The CPU (the highest) and leak (the sum) of the faults in force on host h, into its entity;
 * a leak that stops gives its memory back (the process was fixed or restarted). */
static void host_overlay(struct world *w, int h, uint64_t t)
{
    double cpu = -1, leak = 0;
    for (int i = 0; i < w->nfaults; i++) {
        const struct world_fault *wf = &w->faults[i];
        int v = atomic_load_explicit((atomic_int *)&wf->act_variant, memory_order_relaxed);
        if (!is_host_fault(wf) || wf->scn->target_idx != h || v < 0)
            continue;
        const struct scn_fault_fx *fx = &wf->scn->variants[v];
        cpu = fx->cpu > cpu ? fx->cpu : cpu;
        leak += fx->memory_leak > 0 ? fx->memory_leak : 0;
    }
    struct world_entity *en = &w->ents[world__entity_of(w, SCN_ENT_HOST, h)];
    world__entity_refresh(w, en, t); /* integrate the leak so far at the old rate */
    en->fault_cpu = cpu;
    en->fault_leak = leak;
    if (leak <= 0) {
        en->leaked -= en->fault_leaked;
        en->leaked = en->leaked > 0 ? en->leaked : 0;
        en->fault_leaked = 0;
    }
    world__entity_refresh(w, en, t);
}

static void changed(struct world *w, struct world_fault *wf, uint64_t t)
{
    publish(wf);
    if (is_host_fault(wf))
        host_overlay(w, wf->scn->target_idx, t);
    atomic_fetch_add_explicit(&w->state_gen, 1, memory_order_relaxed);
}

static void stop_live(struct world *w, int fi, uint64_t t, const struct world_out *out)
{
    struct world_fault *wf = &w->faults[fi];
    int v = atomic_load_explicit(&wf->live_variant, memory_order_relaxed);
    uint64_t end = atomic_load_explicit(&wf->live_end, memory_order_relaxed);
    atomic_store_explicit(&wf->live_variant, -1, memory_order_release);
    label_fault(w, fi, v, wf->live_source, 0, wf->live_label, wf->live_since, t, end, out);
    wf->live_label = 0;
    changed(w, wf, t);
}

static void open_window(struct world *w, int fi, const struct world_out *out)
{
    struct world_fault *wf = &w->faults[fi];
    const struct scn_fault *f = wf->scn;
    uint64_t start = wf->win_next;
    wf->win_end = start + f->duration_ns;
    wf->win_next = f->repeat_ns ? start + f->repeat_ns : UINT64_MAX;
    wf->win_label = ++w->label_seq;
    label_fault(w, fi, f->default_variant, WORLD_SRC_SCHEDULE, 1, wf->win_label, start, 0,
                wf->win_end, out);
    changed(w, wf, start);
}

static void close_window(struct world *w, int fi, const struct world_out *out)
{
    struct world_fault *wf = &w->faults[fi];
    uint64_t end = wf->win_end;
    if (wf->win_label) /* 0: a command stopped it early and labelled it then */
        label_fault(w, fi, wf->scn->default_variant, WORLD_SRC_SCHEDULE, 0, wf->win_label,
                    end - wf->scn->duration_ns, end, end, out);
    wf->win_end = 0;
    wf->win_label = 0;
    changed(w, wf, end);
}

static uint64_t fault_due(const struct world_fault *wf)
{
    uint64_t due = wf->win_end ? wf->win_end : wf->win_next;
    if (wf->live_label) {
        uint64_t e = atomic_load_explicit((_Atomic uint64_t *)&wf->live_end, memory_order_relaxed);
        due = e < due ? e : due;
    }
    return due;
}

static void recompute_due(struct world *w)
{
    uint64_t due = UINT64_MAX;
    for (int i = 0; i < w->nfaults; i++) {
        uint64_t d = fault_due(&w->faults[i]);
        due = d < due ? d : due;
    }
    w->fault_due = due;
}

void world__faults_advance(struct world *w, uint64_t t, const struct world_out *out)
{
    if (t < w->fault_due)
        return;
    for (int i = 0; i < w->nfaults; i++) {
        struct world_fault *wf = &w->faults[i];
        if (fault_due(wf) > t)
            continue;
        if (wf->live_label && atomic_load_explicit(&wf->live_end, memory_order_relaxed) <= t)
            stop_live(w, i, atomic_load_explicit(&wf->live_end, memory_order_relaxed), out);
        for (;;) { /* a long step may pass several edges */
            if (wf->win_end && wf->win_end <= t)
                close_window(w, i, out);
            else if (!wf->win_end && wf->win_next <= t)
                open_window(w, i, out);
            else
                break;
        }
    }
    recompute_due(w);
}

uint64_t world__faults_due(const struct world *w)
{
    return w->fault_due;
}

void world__faults_finish(struct world *w, uint64_t t, const struct world_out *out)
{
    for (int i = 0; i < w->nfaults; i++) {
        struct world_fault *wf = &w->faults[i];
        if (wf->live_label)
            label_fault(w, i, atomic_load_explicit(&wf->live_variant, memory_order_relaxed),
                        wf->live_source, 0, wf->live_label, wf->live_since, t,
                        atomic_load_explicit(&wf->live_end, memory_order_relaxed), out);
        if (wf->win_label)
            label_fault(w, i, wf->scn->default_variant, WORLD_SRC_SCHEDULE, 0, wf->win_label,
                        wf->win_end - wf->scn->duration_ns, t < wf->win_end ? t : wf->win_end,
                        wf->win_end, out);
        wf->live_label = wf->win_label = 0;
    }
}

/* ---- commands ------------------------------------------------------------------------- */
int world__fault_check(const struct world *w, const struct world_cmd *c)
{
    if (c->fault < 0 || c->fault >= w->nfaults)
        return DIO_EINVAL;
    if (c->kind == WORLD_CMD_FAULT_START &&
        (c->variant < -1 || c->variant >= w->faults[c->fault].scn->nvariants))
        return DIO_EINVAL;
    return 0;
}

static void start_live(struct world *w, const struct world_cmd *c, uint64_t t,
                       const struct world_out *out)
{
    struct world_fault *wf = &w->faults[c->fault];
    const struct scn_fault *f = wf->scn;
    if (wf->live_label)
        stop_live(w, c->fault, t, out); /* a restart: the old activation ends now */
    uint64_t len = c->for_ns ? c->for_ns : f->windowed ? f->duration_ns : WORLD_FAULT_DEFAULT_NS;
    uint64_t end = len >= UINT64_MAX - t ? UINT64_MAX : t + len;
    int v = c->variant >= 0 ? c->variant : f->default_variant;
    atomic_store_explicit(&wf->live_end, end, memory_order_relaxed);
    atomic_store_explicit(&wf->live_variant, v, memory_order_release);
    wf->live_since = t;
    wf->live_source = c->source;
    wf->live_label = ++w->label_seq;
    label_fault(w, c->fault, v, c->source, 1, wf->live_label, t, 0, end, out);
    changed(w, wf, t);
}

/* Stop ends a live activation and, when a scheduled window is open, that window too (it stays
 * off until the window's own end: mute_end). */
static void stop_any(struct world *w, const struct world_cmd *c, uint64_t t,
                     const struct world_out *out)
{
    struct world_fault *wf = &w->faults[c->fault];
    if (wf->live_label)
        stop_live(w, c->fault, t, out);
    if (wf->win_end && wf->win_label) {
        atomic_store_explicit(&wf->mute_end, wf->win_end, memory_order_relaxed);
        label_fault(w, c->fault, wf->scn->default_variant, WORLD_SRC_SCHEDULE, 0, wf->win_label,
                    wf->win_end - wf->scn->duration_ns, t, wf->win_end, out);
        wf->win_label = 0;
        wf->win_end = 0; /* the window is over for world_fault_active */
        changed(w, wf, t);
    }
}

void world__fault_apply(struct world *w, const struct world_cmd *c, uint64_t t,
                        const struct world_out *out)
{
    if (c->kind == WORLD_CMD_FAULT_START)
        start_live(w, c, t, out);
    else
        stop_any(w, c, t, out);
    w->changes++;
    recompute_due(w);
}

/* ---- lookups -------------------------------------------------------------------------- */
int world_fault_find(const struct world *w, const char *name)
{
    for (int i = 0; name && i < w->nfaults; i++)
        if (!strcmp(w->faults[i].scn->name, name))
            return i;
    return -1;
}

int world_fault_variant_find(const struct world *w, int fault, const char *name)
{
    if (fault < 0 || fault >= w->nfaults || !name)
        return -1;
    const struct scn_fault *f = w->faults[fault].scn;
    for (int i = 0; i < f->nvariants; i++)
        if (!strcmp(f->variants[i].name, name))
            return i;
    return -1;
}

int world_fault_active(const struct world *w, int i, uint64_t *until, int *variant)
{
    if (i < 0 || i >= w->nfaults)
        return 0;
    struct world_fault *wf = (struct world_fault *)&w->faults[i]; /* atomics: read only */
    int v = atomic_load_explicit(&wf->act_variant, memory_order_acquire);
    if (until)
        *until = v >= 0 ? atomic_load_explicit(&wf->act_end, memory_order_relaxed) : 0;
    if (variant)
        *variant = v;
    return v >= 0;
}

void world__faults_build(struct world *w)
{
    for (int i = 0; i < w->nfaults; i++) {
        struct world_fault *wf = &w->faults[i];
        const struct scn_fault *f = wf->scn;
        atomic_init(&wf->live_variant, -1);
        atomic_init(&wf->live_end, 0);
        atomic_init(&wf->act_variant, -1);
        atomic_init(&wf->act_end, 0);
        atomic_init(&wf->mute_end, 0);
        wf->win_next = f->windowed && !f->manual ? f->start_ns : UINT64_MAX;
    }
    for (int i = 0; i < w->nents; i++)
        w->ents[i].fault_cpu = -1;
    recompute_due(w);
}

/* ---- labels --------------------------------------------------------------------------- */
static void put_sep(struct core_buf *out, const char **sep)
{
    core_buf_puts(out, *sep);
    *sep = ",";
}

/* The variant's effects and the fault's trigger, as the scenario wrote them. */
static void put_params(const struct scn_fault *f, const struct scn_fault_fx *fx,
                       struct core_buf *out)
{
    const char *sep = "";
    static const char *const dk[] = {"latency_factor", "error_rate", "gpu_util",
                                     "tokens_factor",  "cpu",        "memory_leak"};
    double dv[] = {fx->latency_factor > 0 ? fx->latency_factor : -1,
                   fx->error_rate,
                   fx->gpu_util,
                   fx->tokens_factor > 0 ? fx->tokens_factor : -1,
                   fx->cpu,
                   fx->memory_leak > 0 ? fx->memory_leak : -1};
    core_buf_putc(out, '{');
    for (int i = 0; i < 6; i++) {
        if (i == 1 && fx->error_status > 0) { /* error_status in its historical place */
            put_sep(out, &sep);
            core_buf_printf(out, "\"error_status\":%d", fx->error_status);
        }
        if (i == 3 && fx->queue_depth >= 0) {
            put_sep(out, &sep);
            core_buf_printf(out, "\"queue_depth\":%d", fx->queue_depth);
        }
        if (dv[i] < 0)
            continue;
        put_sep(out, &sep);
        core_buf_printf(out, "\"%s\":%g", dk[i], dv[i]);
    }
    if (fx->down) {
        put_sep(out, &sep);
        core_buf_puts(out, "\"dependency_down\":");
        core_buf_put_json_str(out, fx->down);
    }
    if (fx->slow) {
        put_sep(out, &sep);
        core_buf_puts(out, "\"slow_dependency\":{\"service\":");
        core_buf_put_json_str(out, fx->slow);
        core_buf_printf(out, ",\"factor\":%g,\"add_ms\":%g}", fx->slow_factor,
                        (double)fx->slow_add_ns / 1e6);
    }
    if (f->trigger == SCN_EVERY_N) {
        put_sep(out, &sep);
        core_buf_printf(out, "\"every\":%llu", (unsigned long long)f->every_n);
    } else if (f->trigger == SCN_PROBABILITY) {
        put_sep(out, &sep);
        core_buf_printf(out, "\"probability\":%g", f->probability);
    }
    core_buf_putc(out, '}');
}

static void put_time(struct core_buf *out, const char *key, uint64_t ns, int null)
{
    if (null)
        core_buf_printf(out, "\"%s_unix_nano\":null", key);
    else
        core_buf_printf(out, "\"%s_unix_nano\":%llu", key, (unsigned long long)ns);
}

/* Schema: docs/labels.md. The first fields are those of the one-line labels of old. */
int world__fault_label_json(const struct world_label *l, struct core_buf *out)
{
    const struct scn_fault *f = l->fault->scn;
    int v = l->variant >= 0 && l->variant < f->nvariants ? l->variant : f->default_variant;
    char a[40], b[40];
    world_format_time(l->start_ns, a, sizeof a);
    world_format_time(l->end_ns, b, sizeof b);
    core_buf_printf(out, "{\"start\":\"%s\",", a);
    if (l->open)
        core_buf_puts(out, "\"end\":null,");
    else
        core_buf_printf(out, "\"end\":\"%s\",", b);
    core_buf_printf(out, "\"start_unix_nano\":%llu,", (unsigned long long)l->start_ns);
    if (l->open)
        core_buf_puts(out, "\"end_unix_nano\":null,\"target\":");
    else
        core_buf_printf(out, "\"end_unix_nano\":%llu,\"target\":", (unsigned long long)l->end_ns);
    core_buf_put_json_str(out, l->target);
    core_buf_printf(out, ",\"kind\":\"%s\",\"fault\":", l->fault->kind);
    core_buf_put_json_str(out, f->name);
    core_buf_puts(out, ",\"params\":");
    put_params(f, &f->variants[v], out);
    core_buf_puts(out, ",\"variant\":");
    core_buf_put_json_str(out, f->variants[v].name);
    core_buf_printf(out, ",\"scope\":\"%s\",\"source\":\"%s\",",
                    l->trace_id ? "request" : "incident", world_source_name(l->source));
    put_time(out, "planned_start", l->planned_start_ns, 0);
    core_buf_putc(out, ',');
    put_time(out, "planned_end", l->planned_end_ns, l->planned_end_ns == 0);
    if (l->trace_id) {
        core_buf_puts(out, ",\"trace_id\":\"");
        for (int i = 0; i < 16; i++)
            core_buf_printf(out, "%02x", l->trace_id[i]);
        core_buf_putc(out, '"');
    } else {
        core_buf_printf(out, ",\"id\":%llu,\"phase\":\"%s\"", (unsigned long long)l->id,
                        l->open ? "begin" : "end");
    }
    if (l->wall_ns)
        core_buf_printf(out, ",\"wall_unix_nano\":%llu", (unsigned long long)l->wall_ns);
    return core_buf_puts(out, "}\n");
}
