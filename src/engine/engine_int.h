#ifndef DIORAMA_ENGINE_INT_H
#define DIORAMA_ENGINE_INT_H
/* Internals shared by the engine's files (engine__ prefix). Not part of the module API. */
#include <stdatomic.h>

#include "engine/engine.h"

#define ENGINE_MAX_STATUS_CODE 600
#define ENGINE_MAX_STATUSES 8 /* distinct status codes tracked per route; more share the last */

struct ptrace {
    uint64_t end;   /* root end: when the trace is emitted */
    uint64_t order; /* arrival number: ties in `end` are broken by it (determinism) */
    struct ptrace *next_free;
    uint8_t trace_id[16];
    uint16_t nspans;
    int16_t model;
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

struct op_state {
    struct core_rng rng;
    struct status_series st[ENGINE_MAX_STATUSES];
    int nst;
    struct series *active;
    int64_t active_n;
};

struct model_state {
    struct core_rng rng;
    int svc, op;     /* the inference operation its requests reach */
    char *span_name; /* "chat gpt-4" */
    int64_t inflight;
    struct series *duration, *tokens_in, *tokens_out, *queue, *batch, *gpu;
};

struct host_state {
    struct core_rng rng;
    uint64_t requests;   /* completed on this host's services since the last tick */
    struct series **cpu; /* cpus x 3 modes (user, system, idle) */
    int ncpu;
    struct series *mem_used, *mem_free;
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
    uint32_t max_spans; /* spans in the largest trace a source can make */
    uint64_t arrivals;
    struct op_state **ops; /* [svc][op] */
    struct model_state *models;
    struct host_state *hosts;
    struct series **series;
    int nseries, series_cap;
    struct rec_metric *metrics; /* descriptors, engine-owned */
    struct rec_batch *cur[REC_NSIGNALS];
    struct rec_batch *tickb; /* engine-owned batch for out.tick */
    uint64_t seq[REC_NSIGNALS];
    uint64_t next_tick;
    uint64_t now;          /* offset of the event being processed */
    uint64_t *window_next; /* per fault: next window start to label (UINT64_MAX: none) */
    uint64_t mono0;
    char status_str[ENGINE_MAX_STATUS_CODE][4]; /* "100".."599" for error.type */
    _Atomic uint64_t p_offset, p_requests, p_labels, p_pending;
    _Atomic uint64_t p_generated[REC_NSIGNALS];
};

static inline uint64_t engine__unix(const struct engine *e, uint64_t off)
{
    return e->o.start_unix_ns + off;
}

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
struct status_series *engine__status_series(struct engine *e, int svc, int op, uint16_t status);
void engine__hist_observe(struct series *s, double v);

#endif
