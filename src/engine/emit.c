/* Emission of a finished trace: its spans, one access log per server span (plus a warning when
 * a GPU fault fired), the metric updates its requests cause, and the labels of the faults that
 * fired in it. Attribute keys are string literals; values point into the world, the engine or
 * the batch's string arena. */
#include <stdio.h>
#include <string.h>

#include "engine/engine_int.h"

#define SPAN_MAX_ATTRS 12
#define LOG_MAX_ATTRS 4
#define LOG_MAX_BODY 160

struct rec_batch *engine__batch(struct engine *e, int signal, uint32_t nattrs, uint32_t nbuckets,
                                uint32_t nstr)
{
    struct rec_batch *b = e->cur[signal];
    if (b && rec_batch_fits(b, nattrs, nbuckets, nstr))
        return b;
    engine__flush(e, signal);
    b = e->out.batch(e->out.ctx, signal);
    if (!b)
        return NULL;
    b->resources = e->w->res;
    b->nresources = (uint32_t)e->w->nres;
    b->created_ns = core_mono_ns();
    e->cur[signal] = b;
    return rec_batch_fits(b, nattrs, nbuckets, nstr) ? b : NULL;
}

void engine__flush(struct engine *e, int signal)
{
    struct rec_batch *b = e->cur[signal];
    if (!b)
        return;
    e->cur[signal] = NULL;
    atomic_fetch_add_explicit(&e->p_generated[signal], b->n, memory_order_relaxed);
    e->out.submit(e->out.ctx, b);
}

static void dropped(struct engine *e, int signal)
{
    atomic_fetch_add_explicit(&e->p_generated[signal], 1, memory_order_relaxed);
    e->out.drop(e->out.ctx, signal, 1);
}

static int is_inference(const struct engine *e, const struct world_span *s)
{
    return s->model >= 0 && e->w->svcs[s->svc].ops[s->op].scn->inference;
}

static uint32_t http_attrs(struct rec_attr *a, const struct scn_operation *so, uint16_t status)
{
    uint32_t n = 0;
    if (so->method)
        rec_attr_str(&a[n++], REC_KEY("http.request.method"), so->method,
                     (uint32_t)strlen(so->method));
    if (so->route)
        rec_attr_str(&a[n++], REC_KEY("http.route"), so->route, (uint32_t)strlen(so->route));
    if (so->method || so->route)
        rec_attr_int(&a[n++], REC_KEY("http.response.status_code"), status);
    return n;
}

static uint32_t genai_attrs(const struct engine *e, struct rec_attr *a, const struct world_span *s,
                            int server)
{
    const struct scn_model *m = e->w->models[s->model].scn;
    uint32_t n = 0;
    rec_attr_str(&a[n++], REC_KEY("gen_ai.operation.name"), m->operation,
                 (uint32_t)strlen(m->operation));
    rec_attr_str(&a[n++], REC_KEY("gen_ai.provider.name"), m->provider,
                 (uint32_t)strlen(m->provider));
    rec_attr_str(&a[n++], REC_KEY("gen_ai.request.model"), m->name, (uint32_t)strlen(m->name));
    if (m->tokens_in > 0) {
        rec_attr_int(&a[n++], REC_KEY("gen_ai.usage.input_tokens"), s->tok_in);
        rec_attr_int(&a[n++], REC_KEY("gen_ai.usage.output_tokens"), s->tok_out);
    }
    if (!server)
        return n;
    rec_attr_str(&a[n++], REC_KEY("gen_ai.response.model"), m->name, (uint32_t)strlen(m->name));
    rec_attr_int(&a[n++], REC_KEY("inference.batch_size"), s->batch);
    rec_attr_int(&a[n++], REC_KEY("inference.queue_depth"), s->queue);
    rec_attr_dbl(&a[n++], REC_KEY("gpu.utilization"), (double)s->gpu);
    if (m->gpu)
        rec_attr_str(&a[n++], REC_KEY("gpu.model"), m->gpu, (uint32_t)strlen(m->gpu));
    return n;
}

static uint32_t span_attrs(const struct engine *e, struct rec_attr *a, const struct world_span *s)
{
    const struct scn_operation *so = e->w->svcs[s->svc].ops[s->op].scn;
    uint32_t n = 0;
    if (s->call) {
        const char *peer = e->w->svcs[s->svc].scn->name;
        rec_attr_str(&a[n++], REC_KEY("server.address"), peer, (uint32_t)strlen(peer));
        const struct world_span *callee = s + 1; /* call 2: the callee was down, none */
        if (s->call == 1 && callee->model >= 0 && is_inference(e, callee))
            return n + genai_attrs(e, a + n, callee, 0);
    } else if (is_inference(e, s)) {
        n += genai_attrs(e, a + n, s, 1);
    }
    n += http_attrs(a + n, so, s->status);
    if (s->status >= 400 && s->status < ENGINE_MAX_STATUS_CODE) /* semconv: the code as text */
        rec_attr_str(&a[n++], REC_KEY("error.type"), e->status_str[s->status], 3);
    return n;
}

static int span_is_error(const struct world_span *s)
{
    return s->kind == SCN_KIND_SERVER ? s->status >= 500 : s->status >= 400;
}

static void emit_span(struct engine *e, const struct ptrace *tr, int i, uint64_t now)
{
    const struct world_span *s = &tr->spans[i];
    struct rec_batch *b = engine__batch(e, REC_SPANS, SPAN_MAX_ATTRS, 0, 0);
    if (!b) {
        dropped(e, REC_SPANS);
        return;
    }
    struct rec_span *r = &b->r.spans[b->n++];
    const struct world_span *owner = s->call ? &tr->spans[s->parent] : s; /* a call: the caller's */
    memcpy(r->trace_id, tr->trace_id, 16);
    memcpy(r->span_id, s->span_id, 8);
    if (s->parent >= 0)
        memcpy(r->parent_id, tr->spans[s->parent].span_id, 8);
    else
        memset(r->parent_id, 0, 8);
    r->start_ns = engine__unix(e, s->start);
    r->end_ns = engine__unix(e, s->end);
    r->seq = e->seq[REC_SPANS]++;
    r->gen_ns = engine__unix(e, now);
    const char *name = s->model >= 0 && (is_inference(e, s) || s->call)
                           ? e->models[s->model].span_name
                           : e->w->svcs[s->svc].ops[s->op].scn->name;
    r->name.p = name;
    r->name.len = (uint32_t)strlen(name);
    r->status = span_is_error(s) ? 2 : 0;
    r->status_msg.p = NULL;
    r->status_msg.len = 0;
    r->kind = s->kind;
    r->res = (uint16_t)(e->w->svcs[owner->svc].res + owner->inst);
    struct rec_attr *a = rec_batch_attrs(b, 0, &r->attr_off);
    r->nattrs = span_attrs(e, a, s);
    b->nattrs += r->nattrs;
}

/* A log line about span s at offset `at` (most are at its end). */
static void emit_log_at(struct engine *e, const struct ptrace *tr, const struct world_span *s,
                        uint64_t at, uint64_t now, const char *body, int sev)
{
    uint32_t blen = (uint32_t)strlen(body);
    struct rec_batch *b = engine__batch(e, REC_LOGS, LOG_MAX_ATTRS, 0, blen);
    if (!b) {
        dropped(e, REC_LOGS);
        return;
    }
    struct rec_log *l = &b->r.logs[b->n++];
    l->time_ns = engine__unix(e, at);
    l->observed_ns = engine__unix(e, now);
    l->seq = e->seq[REC_LOGS]++;
    l->gen_ns = l->observed_ns;
    memcpy(l->trace_id, tr->trace_id, 16);
    memcpy(l->span_id, s->span_id, 8);
    l->body = rec_batch_str(b, body, blen);
    l->severity = (uint8_t)(sev == 0 ? 9 : sev == 1 ? 13 : 17);
    l->res = (uint16_t)(e->w->svcs[s->svc].res + s->inst);
    struct rec_attr *a = rec_batch_attrs(b, 0, &l->attr_off);
    const struct scn_operation *so = e->w->svcs[s->svc].ops[s->op].scn;
    l->nattrs = 0;
    rec_attr_int(&a[l->nattrs++], REC_KEY("http.response.status_code"), s->status);
    const char *route = so->route ? so->route : so->name;
    rec_attr_str(&a[l->nattrs++], REC_KEY("http.route"), route, (uint32_t)strlen(route));
    if (s->model >= 0) {
        const char *m = e->w->models[s->model].scn->name;
        rec_attr_str(&a[l->nattrs++], REC_KEY("gen_ai.request.model"), m, (uint32_t)strlen(m));
    }
    b->nattrs += l->nattrs;
}

static void emit_log(struct engine *e, const struct ptrace *tr, const struct world_span *s,
                     uint64_t now, const char *body, int sev)
{
    emit_log_at(e, tr, s, s->end, now, body, sev);
}

/* A request that queued for a connection of a pooled operation (`pool:`, world/plan.c): a line
 * when it got one, on the operation's span, at that moment; a warning when it gave up. HotROD
 * logs "Waiting for lock behind N transactions" on its MySQL span the same way. OTel carries
 * such events as log records with the span's ids (it is retiring span events for them). */
static void pool_log(struct engine *e, const struct ptrace *tr, const struct world_span *s,
                     uint64_t now)
{
    int n = e->w->svcs[s->svc].ops[s->op].pool.n;
    char body[LOG_MAX_BODY];
    double ms = (double)s->wait_us / 1e3;
    int gave_up = s->cause == WORLD_CAUSE_POOL;
    snprintf(body, sizeof body,
             gave_up ? "gave up after waiting %.3fms for a connection (pool of %d)"
                     : "waited %.3fms for a connection (pool of %d)",
             ms, n);
    emit_log_at(e, tr, s, s->start + (uint64_t)s->wait_us * 1000, now, body, gave_up);
}

/* A warning per fault that fired on an inference span, saying what the model server would
 * notice: a starved GPU, a slow batch, a bloated prompt (errors already log at ERROR). */
static void fault_logs(struct engine *e, const struct ptrace *tr, const struct world_span *s,
                       uint64_t now)
{
    const struct scn_model *m = e->w->models[s->model].scn;
    char body[LOG_MAX_BODY];
    uint32_t it = 0, si = (uint32_t)(s - tr->spans);
    for (int fi; (fi = world_fired_next(s, si, tr->more, tr->nmore, &it)) >= 0;) {
        const struct scn_fault *f = e->w->faults[fi].scn;
        if (f->gpu_util >= 0 || f->queue_depth >= 0)
            snprintf(body, sizeof body, "model %.60s: GPU utilisation %.0f%%, queue depth %u",
                     m->name, (double)s->gpu * 100, s->queue);
        else if (f->latency_factor > 0)
            snprintf(body, sizeof body, "model %.60s: slow inference %.1fms (%gx)", m->name,
                     (double)(s->end - s->start) / 1e6, f->latency_factor);
        else if (f->tokens_factor > 0)
            snprintf(body, sizeof body, "model %.60s: oversized request, %u input tokens", m->name,
                     s->tok_in);
        else
            continue;
        emit_log(e, tr, s, now, body, 1);
    }
}

static void access_log(struct engine *e, const struct ptrace *tr, const struct world_span *s,
                       uint64_t now)
{
    const struct scn_operation *so = e->w->svcs[s->svc].ops[s->op].scn;
    char body[LOG_MAX_BODY];
    int sev = s->status >= 500 ? 2 : s->status >= 400 ? 1 : 0;
    snprintf(body, sizeof body, "%.100s %u %.3fms", so->name, s->status,
             (double)(s->end - s->start) / 1e6);
    emit_log(e, tr, s, now, body, sev);
    if (is_inference(e, s) && s->fired)
        fault_logs(e, tr, s, now);
}

static void observe_request(struct engine *e, const struct world_span *s)
{
    struct status_series *ss = engine__status_series(e, s->svc, s->op, s->inst, s->status);
    double secs = (double)(s->end - s->start) / 1e9;
    engine__hist_observe(ss->duration, secs);
    ss->requests->ivalue++;
    e->ops[s->svc][s->op].inst[s->inst].active_n--;
    int host = e->w->svcs[s->svc].scn->host_idx;
    if (host >= 0)
        e->hosts[host].requests++;
    if (!is_inference(e, s))
        return;
    struct model_state *ms = &e->models[s->model];
    engine__hist_observe(ms->duration, secs);
    engine__hist_observe(ms->batch, s->batch);
    if (ms->tokens_in) {
        engine__hist_observe(ms->tokens_in, s->tok_in);
        engine__hist_observe(ms->tokens_out, s->tok_out);
    }
    ms->queue->ivalue = s->queue;
    ms->gpu->dvalue = s->gpu;
}

/* Labels of the per-request faults (every N, probability, without a window or command) that
 * fired on span s: one blip each, with the trace. Windows and live activations are incidents,
 * labelled by the world when they begin and end (world/fault.c). */
static void label_span(struct engine *e, const struct ptrace *tr, const struct world_span *s)
{
    uint32_t it = 0, si = (uint32_t)(s - tr->spans);
    for (int fi; (fi = world_fired_next(s, si, tr->more, tr->nmore, &it)) >= 0;) {
        const struct world_fault *f = &e->w->faults[fi];
        if (f->scn->trigger == SCN_WINDOW || f->scn->windowed || f->scn->manual)
            continue;
        struct world_label l = {engine__unix(e, s->start),
                                engine__unix(e, s->end),
                                f->scn->target,
                                f,
                                tr->trace_id,
                                (int64_t)((s->end - s->start) / 1000),
                                .source = f->scn->trigger == SCN_EVERY_N ? WORLD_SRC_EVERY
                                                                         : WORLD_SRC_PROBABILITY,
                                .variant = f->scn->default_variant,
                                .planned_start_ns = engine__unix(e, s->start),
                                .planned_end_ns = engine__unix(e, s->end)};
        atomic_fetch_add_explicit(&e->p_labels, 1, memory_order_relaxed);
        if (e->out.label)
            e->out.label(e->out.ctx, &l);
    }
}

void engine__emit_trace(struct engine *e, struct ptrace *tr)
{
    uint64_t now = tr->end;
    int spans = e->o.signals & (1 << REC_SPANS), logs = e->o.signals & (1 << REC_LOGS);
    for (int i = 0; i < tr->nspans; i++) {
        const struct world_span *s = &tr->spans[i];
        if (spans)
            emit_span(e, tr, i, now);
        if (s->fired) /* client-kind operations (a db call) fire faults too */
            label_span(e, tr, s);
        if (logs && !s->call && (s->wait_us || s->cause == WORLD_CAUSE_POOL))
            pool_log(e, tr, s, now);
        if (s->kind == SCN_KIND_CLIENT)
            continue;
        if (logs)
            access_log(e, tr, s, now);
        observe_request(e, s);
    }
    if (tr->model >= 0)
        e->models[tr->model].inflight--;
    atomic_fetch_add_explicit(&e->p_requests, 1, memory_order_relaxed);
}
