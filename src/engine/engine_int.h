#ifndef DIORAMA_ENGINE_INT_H
#define DIORAMA_ENGINE_INT_H
/* Internals shared by the engine's files (engine__ prefix). Not part of the module API. */
#include <stdatomic.h>

#include "engine/engine.h"

#define ENGINE_MAX_STATUS_CODE 600
#define ENGINE_MAX_STATUSES 8 /* distinct status codes tracked per route; more share the last */
#define ENGINE_SLAB 4096      /* series per slab (metrics.c) */

struct ptrace {
    uint64_t end;   /* root end: when the trace is emitted */
    uint64_t order; /* arrival number: ties in `end` are broken by it (determinism) */
    struct ptrace *next_free;
    uint8_t trace_id[16];
    uint16_t nspans;
    int16_t model;
    uint32_t nmore;
    struct world_fired *more;  /* faults beyond a span's first (world_fired_next); owned, or NULL */
    struct world_span spans[]; /* planned by world_plan_request */
};

struct series {
    const struct rec_metric *m;
    uint16_t res;
    uint16_t metric_id; /* sort key: emission is resource-major, metric-minor */
    uint32_t nattrs;
    struct rec_attr attrs[4];
    int64_t ivalue;
    double dvalue;
    const double *src; /* host series: the value lives here (host_state.vals), not above */
    uint64_t count;
    double sum, min, max;
    uint64_t *buckets; /* m->nbounds + 1 */
};

/* Per (route, status code): the duration histogram and request counter. */
struct status_series {
    uint16_t status;
    struct series *duration;
    struct series *requests;
};

/* An operation's series on one instance of its service (each instance has its own). */
struct op_inst {
    struct status_series st[ENGINE_MAX_STATUSES];
    int nst;
    struct series *active;
    int64_t active_n;
};

struct op_state {
    struct core_rng rng;
    struct op_inst *inst; /* [world_service.ninst] */
    int live;             /* the world's traffic source entering here (aggregates), -1 none */
};

struct model_state {
    struct core_rng rng;
    int svc, op;     /* the inference operation its requests reach */
    char *span_name; /* "chat gpt-4" */
    int64_t inflight;
    int live; /* the model's traffic source (aggregates), -1 none */
    struct series *duration, *tokens_in, *tokens_out, *queue, *batch, *gpu;
};

struct host_state {
    uint64_t requests; /* completed on this host's services since the last tick */
    double *vals;      /* world_host_sample's values in layout order; its series point here */
    uint32_t n;
};

struct source {
    uint64_t next; /* next arrival, simulated offset */
    struct core_rng rng;
    double mean_gap_ns;
    int constant;
    const struct scn_shape *shape; /* NULL: a constant rate */
    double shape_max;              /* world_shape_max(shape): arrivals are thinned against it */
    uint64_t key;                  /* the shape's key (bursts, noise) */
    int svc, op;                   /* entry operation */
    int model;                     /* -1: plain operation traffic */
    uint32_t nspans;               /* spans per trace (every call is always made) */
    uint32_t nserver;              /* server spans per trace: access logs and requests */
    int live;                      /* index in world->traffic: its live rate factor */
    double factor;                 /* that factor as last applied (0: paused or stopped) */
};

struct engine {
    struct world *w;
    struct engine_opts o;
    struct engine_out out;
    struct core_rng ids;
    struct source *src;
    int nsrc;
    /* pending traces: a binary min-heap on (end, order), blocks from a free list */
    struct ptrace **heap;
    size_t nheap, heap_cap;
    struct ptrace *free;
    size_t trace_bytes;
    struct world_fired *fired_buf; /* the plans' `more` buffer, reused (flow.c) */
    uint32_t fired_cap;
    uint32_t max_spans; /* spans in the largest trace a source can make */
    uint64_t arrivals;
    struct op_state **ops; /* [svc][op] */
    struct model_state *models;
    struct host_state *hosts;
    struct series **state_series; /* diorama.state: [entity * nstates + state] */
    struct series **fault_series; /* diorama.fault.active: [fault] */
    struct series **series;
    struct series **slabs; /* series live in slabs of ENGINE_SLAB, in creation order */
    int nslabs, slab_used;
    int nseries, series_cap;
    struct rec_metric *metrics; /* descriptors, engine-owned */
    struct rec_batch *cur[REC_NSIGNALS];
    struct rec_batch *tickb; /* engine-owned batch for out.tick */
    uint64_t seq[REC_NSIGNALS];
    uint64_t next_tick;
    uint64_t now; /* offset of the event being processed */
    uint64_t mono0;
    uint64_t t_base;   /* simulated offset paced from mono0 (moves when the speed changes) */
    uint64_t live_gen; /* world->live_gen last applied (rates, pause, speed) */
    uint32_t agg_k;    /* events since the aggregates were last polled */
    char status_str[ENGINE_MAX_STATUS_CODE][4]; /* "100".."599" for error.type */
    struct engine_inject *inject; /* real requests (o.inject), NULL otherwise: inject.c */
    struct series **biz;          /* business metrics' series (biz.c), by biz_off[metric] + value */
    int *biz_off;
    int biz_first; /* their first metric id */
    /* The pacing clock (mono0, t_base, speed) for engine_sim_now on other threads: written
     * under a sequence count (odd while it changes) at the start and at every speed change. */
    _Atomic uint64_t p_clock_seq, p_mono0, p_tbase;
    _Atomic double p_speed;
    _Atomic uint64_t p_offset, p_requests, p_labels, p_pending;
    _Atomic uint64_t p_generated[REC_NSIGNALS];
};

static inline uint64_t engine__unix(const struct engine *e, uint64_t off)
{
    return e->o.start_unix_ns + off;
}

void engine__heap_push(struct engine *e, struct ptrace *t);
/* inject.c: real requests' plans (engine_inject) drained into the pending traces */
void engine__inject_init(struct engine *e);
void engine__inject_free(struct engine *e);
void engine__inject_drain(struct engine *e); /* runs the waiting calls first */
/* engine_call's calls: run those waiting (the engine's thread, between events); the last run
 * and refuse new ones (the end of engine_run); sleep until a deadline or a new call. */
void engine__calls_run(struct engine *e);
void engine__calls_close(struct engine *e);
void engine__sleep_until(struct engine *e, uint64_t deadline_ns);
void engine__publish_clock(struct engine *e);
/* flow.c: build a trace at arrival */
struct ptrace *engine__flow(struct engine *e, const struct source *s, uint64_t t);
/* emit.c: spans and logs of a finished trace; metric updates */
void engine__emit_trace(struct engine *e, struct ptrace *tr);
struct rec_batch *engine__batch(struct engine *e, int signal, uint32_t nattrs, uint32_t nbuckets,
                                uint32_t nstr);
void engine__flush(struct engine *e, int signal);
/* metrics.c */
int engine__metrics_init(struct engine *e);
void engine__metrics_free(struct engine *e);
void engine__tick(struct engine *e, uint64_t t);
struct status_series *engine__status_series(struct engine *e, int svc, int op, int inst,
                                            uint16_t status);
/* A planned span begins: in flight until emit.c's observe_request ends it (flow.c, inject.c). */
static inline void engine__span_begin(struct engine *e, const struct world_span *s)
{
    if (s->kind != SCN_KIND_CLIENT)
        e->ops[s->svc][s->op].inst[s->inst].active_n++;
}
void engine__hist_observe(struct series *s, double v);
struct series *engine__new_series(struct engine *e, int metric, int res, const char *const *kv);
/* biz.c: world's business metrics as series */
int engine__biz_count(const struct engine *e);
void engine__biz_defs(struct engine *e, struct rec_metric *out);
void engine__biz_init(struct engine *e, int first);
void engine__biz_tick(struct engine *e, uint64_t t);
void engine__biz_free(struct engine *e);

#endif
