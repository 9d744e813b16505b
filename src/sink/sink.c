/* The sink object: configuration defaults, life cycle, totals. */
#include <stdio.h>
#include <string.h>

#include "sink/internal.h"

const char *const sink_signal_names[SINK_NSIGNALS] = {"spans", "metric_points", "logs", "samples"};

#define DEFAULT_MAX_REQUEST ((size_t)64 << 20)

static int check_cfg(const struct sink_cfg *c, char *err, size_t errlen)
{
    double total = 0;
    for (int i = 0; i < c->nfaults; i++) {
        if (c->faults[i].status < 400 || c->faults[i].status > 599 || c->faults[i].share < 0) {
            snprintf(err, errlen, "fault %d: status must be 400..599 and share >= 0", i + 1);
            return DIO_EINVAL;
        }
        total += c->faults[i].share;
    }
    if (total > 1.0 + 1e-9) {
        snprintf(err, errlen, "fault shares add up to more than 100%%");
        return DIO_EINVAL;
    }
    if (c->delay_ns > SINK_MAX_DELAY_NS) {
        snprintf(err, errlen, "delay above %llu s", SINK_MAX_DELAY_NS / 1000000000ULL);
        return DIO_EINVAL;
    }
    if (c->nfaults < 0 || c->nfaults > SINK_MAX_FAULTS || c->ndown < 0 ||
        c->ndown > SINK_MAX_DOWN || c->window_log2 > 30 || (c->window_log2 && c->window_log2 < 6)) {
        snprintf(err, errlen, "bad sink configuration");
        return DIO_EINVAL;
    }
    return 0;
}

int sink_new(struct sink **out, const struct sink_cfg *cfg, char *err, size_t errlen)
{
    *out = NULL;
    if (check_cfg(cfg, err, errlen))
        return DIO_EINVAL;
    struct sink *s = core_calloc(1, sizeof *s);
    s->cfg = *cfg;
    if (!s->cfg.max_request)
        s->cfg.max_request = DEFAULT_MAX_REQUEST;
    if (!s->cfg.max_buffered)
        s->cfg.max_buffered = 4 * s->cfg.max_request;
    if (s->cfg.max_buffered < s->cfg.max_request)
        s->cfg.max_buffered = s->cfg.max_request;
    if (!s->cfg.max_names)
        s->cfg.max_names = 1000;
    if (!s->cfg.max_runs)
        s->cfg.max_runs = 16;
    if (!s->cfg.window_log2)
        s->cfg.window_log2 = 20;
    sink__verify_init(&s->v, s->cfg.max_names, s->cfg.max_runs, s->cfg.window_log2);
    *out = s;
    return 0;
}

void sink_free(struct sink *s)
{
    if (!s)
        return;
    sink_stop(s);
    sink__verify_free(&s->v);
    core_free(s);
}

int sink_start(struct sink *s, char *err, size_t errlen)
{
    return sink__server_start(s, err, errlen);
}

int sink_port(const struct sink *s)
{
    return sink__server_port(s);
}

int sink_grpc_port(const struct sink *s)
{
    return sink__server_grpc_port(s);
}

void sink_poll(struct sink *s)
{
    sink__server_poll(s);
}

void sink_stop(struct sink *s)
{
    sink__server_stop(s);
}

void sink_totals(struct sink *s, struct sink_totals *t)
{
    memset(t, 0, sizeof *t);
    t->requests = atomic_load(&s->requests);
    t->bytes = atomic_load(&s->bytes);
    t->faults = atomic_load(&s->faults);
    for (int i = 0; i < 6; i++)
        t->status[i] = atomic_load(&s->status[i]);
    struct sink__verify *v = &s->v;
    pthread_mutex_lock(&v->mu);
    for (int i = 0; i < SINK_NSIGNALS; i++) {
        t->received[i] = v->received[i];
        t->invalid[i] = v->invalid[i];
    }
    for (uint32_t r = 0; r < v->nruns; r++)
        for (int i = 0; i < REC_NSIGNALS; i++) {
            const struct sink__seqwin *w = &v->runs[r].w[i];
            t->lost += sink__seqwin_missing(w, 0);
            t->duplicates += w->dups;
            t->reordered += w->reordered;
        }
    t->e2e_p50_us = v->e2e.total ? core_hdr_value_at(&v->e2e, 50) : 0;
    t->e2e_p99_us = v->e2e.total ? core_hdr_value_at(&v->e2e, 99) : 0;
    t->e2e_max_us = v->e2e.total ? v->e2e.max : 0;
    pthread_mutex_unlock(&v->mu);
}
