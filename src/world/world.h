#ifndef DIORAMA_WORLD_H
#define DIORAMA_WORLD_H
/* world: the simulated system built from a scenario: services and their operations, hosts,
 * models, the resources (service.name, host.name ...) their telemetry carries, the fault rules
 * and the labels (ground truth) of every fault that fires. Uses core and scenario.
 *
 * The world owns everything it builds; the scenario must outlive it. Resource and attribute
 * memory is stable for the world's lifetime, so records may point into it. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "core/core.h"
#include "scenario/scenario.h"

struct world_opts {
    uint64_t seed;
    int verify_attrs;        /* add diorama.run_id to every resource */
    const char *ns_override; /* OTEL_SERVICE_NAME: becomes every service's service.namespace */
    const char *extra_attrs; /* OTEL_RESOURCE_ATTRIBUTES "k=v,..." added to every resource */
    uint32_t shard, nshards; /* reserved for --shard i/N (run id only for now) */
    uint64_t start_ns;       /* simulated start (unix ns): part of the run id */
    const char *run_id;      /* --run-id (checked by the caller), or NULL to derive one */
};

/* What the faults firing on one request do to it. Doubles <= 0 and ints < 0 mean unset. */
struct world_effect {
    double latency_factor;
    int error_status;
    double gpu_util;
    int queue_depth;
    double tokens_factor;
    uint32_t fired; /* bit i: world->faults[i] fired (first 32 faults are labelled per bit) */
};

struct world_fault {
    const struct scn_fault *scn;
    const char *kind; /* "latency_spike", "error", "gpu_degradation", "token_bloat" */
};

struct world_op {
    const struct scn_operation *scn;
    int svc;
    uint8_t kind;
    uint64_t count; /* requests so far (every-N triggers) */
    int *faults;    /* indices into world->faults that target this op or its service */
    int nfaults;
};

struct world_service {
    const struct scn_service *scn;
    int res; /* resource index */
    struct world_op *ops;
    int nops;
};

struct world_model {
    const struct scn_model *scn;
    uint64_t count;
    int *faults;
    int nfaults;
    double rate;
};

struct world_host {
    const struct scn_host *scn;
    int res;
};

/* ---- states (state.c) ------------------------------------------------------------------ */
#define WORLD_TICK_NS 1000000000ULL /* transitions and leaks advance at least this often */
#define WORLD_CMD_QUEUE 256         /* live commands waiting for the next tick */

/* Where a change or fault came from (labels' "source"). */
enum {
    WORLD_SRC_SCHEDULE,
    WORLD_SRC_COMMAND,
    WORLD_SRC_EVERY,
    WORLD_SRC_PROBABILITY,
    WORLD_SRC_WINDOW,
    WORLD_NSOURCES
};
const char *world_source_name(int source);

/* An entity's effects with every unset value resolved to its own (healthy) behaviour. */
struct world_fx {
    double cpu, leak, latency, error_rate, gpu; /* leak: MiB/min; gpu < 0: the model's own */
    int status, queue;                          /* queue < 0: the model's own */
};

struct world_entity {
    int kind, idx; /* enum scn_entity_kind and the index in hosts/svcs/models */
    const char *name;
    int state, prev;                         /* index into scenario->states */
    int source;                              /* WORLD_SRC_* of the change that set it */
    uint64_t since;                          /* when the state began (offset) */
    uint64_t t0, t1;                         /* the transition: from -> to between these offsets */
    struct world_fx from, to;                /* the effects the transition runs between */
    struct world_fx cur;                     /* the effects now (world's thread) */
    int active;                              /* cur changes what requests do */
    double leaked;                           /* bytes leaked so far (hosts) */
    uint64_t t_leak;                         /* offset the leak was last integrated to */
    uint64_t label_id;                       /* the open label of this period, 0 = none (healthy) */
    _Atomic double latency, error_rate, gpu; /* cur, for planners on any thread */
    _Atomic int status, queue;
};

enum { WORLD_CMD_STATE };
struct world_cmd {
    int kind;         /* WORLD_CMD_* */
    int entity;       /* index into world->ents (world_entity_find) */
    int state;        /* index into scenario->states (world_state_find) */
    uint64_t over_ns; /* transition length */
    int source;       /* WORLD_SRC_SCHEDULE or WORLD_SRC_COMMAND */
};

struct world_label;
/* Where world_advance reports what it did. */
struct world_out {
    void *ctx;
    uint64_t start_unix_ns;                                /* simulated clock at offset 0 */
    void (*label)(void *ctx, const struct world_label *l); /* may be NULL */
    uint64_t (*wall_ns)(void *ctx);                        /* may be NULL: no wall time */
};

struct world {
    const struct scenario *scn;
    uint64_t seed;
    char run_id[64]; /* names this run's streams: see world_build */
    struct world_service *svcs;
    int nsvcs;
    struct world_host *hosts;
    int nhosts;
    struct world_model *models;
    int nmodels;
    struct world_fault *faults;
    int nfaults;
    struct rec_resource *res; /* services first, then hosts */
    int nres;
    /* states (state.c): hosts, then services, then models; written by the world's thread */
    struct world_entity *ents;
    int nents;
    _Atomic int nactive; /* entities whose state changes what requests do */
    int *order;          /* the scenario's timeline sorted by time */
    int next_change;     /* next entry of order[] to apply */
    uint64_t now;        /* offset of the last world_advance */
    int nticking;        /* entities in a transition or leaking: advance every tick */
    uint64_t label_seq, changes;
    pthread_mutex_t cmd_mu; /* guards the queue below (writers: any thread) */
    struct world_cmd cmdq[WORLD_CMD_QUEUE];
    int cmd_head, ncmd;
    atomic_int cmd_pending;
    /* storage behind the resources */
    struct rec_attr *attr_store;
    char **str_store;
    int nstr;
};

int world_build(struct world **out, const struct scenario *s, const struct world_opts *o, char *err,
                size_t errlen);
void world_free(struct world *w);

/* Queues a change for the next world_advance; any thread. 0, DIO_EINVAL (bad entity or state)
 * or DIO_EFULL (WORLD_CMD_QUEUE changes already wait). */
int world_command(struct world *w, const struct world_cmd *c);
/* Index of the entity (host, service or model) or state named `name`, or -1. */
int world_entity_find(const struct world *w, const char *name);
int world_state_find(const struct world *w, const char *name);
/* The world's thread, at a tick boundary at offset t: applies the timeline's changes due by t
 * and the queued commands (each labelled through out), and moves transitions and leaks on. */
void world_advance(struct world *w, uint64_t t, const struct world_out *out);
/* The next offset world_advance has work at (UINT64_MAX: none scheduled). Queued commands are
 * not included: callers poll world_pending. */
uint64_t world_next_due(const struct world *w);
static inline int world_pending(const struct world *w)
{
    return atomic_load_explicit((atomic_int *)&w->cmd_pending, memory_order_relaxed);
}
/* Completes the labels of states still in effect at the end of the run (offset t). */
void world_finish(struct world *w, uint64_t t, const struct world_out *out);

/* What states do to one request at one operation: latency multiplies, error rates combine. */
struct world_req_fx {
    double latency;    /* start at 1 */
    double error_rate; /* start at 0 */
    int status;        /* start at 0 */
    double gpu;        /* start at -1: the last entity's that sets one wins */
    int queue;         /* start at -1 */
};
void world_state_effect(const struct world *w, int entity, struct world_req_fx *fx);
int world__entity_of(const struct world *w, int kind, int idx);
int world__state_label_json(const struct world_label *l, struct core_buf *out);
void world__states_build(struct world *w);
void world__states_free(struct world *w);

/* Applies the faults in idx[0..n) to one request of a target that has seen `count` requests
 * (1-based) at offset `t_ns` from the run start. rng decides probability triggers. */
void world_faults_apply(const struct world *w, const int *idx, int n, uint64_t count, uint64_t t_ns,
                        struct core_rng *rng, struct world_effect *eff);
void world_effect_clear(struct world_effect *eff);

/* The scenario's latency model, one draw. Shared by the engine (simulated spans) and serve (real
 * answers) so both take the same time for the same draws: base x (1 +- jitter), uniform. */
uint64_t world_jittered(struct core_rng *r, uint64_t base_ns, double jitter);
/* An operation's own latency: jittered base, times tail_factor with probability tail_p. */
uint64_t world_op_latency(struct core_rng *r, const struct scn_latency *l);

/* ---- load shapes (shape.c) ------------------------------------------------------------- */
/* The factor a shaped rate is multiplied by at simulated time unix_ns (off_ns since the run
 * start, for ramps); 1 when the shape is not set. Deterministic in (shape, key, time). */
double world_shape_factor(const struct scn_shape *sh, uint64_t key, uint64_t unix_ns,
                          uint64_t off_ns);
/* An upper bound of world_shape_factor over all times (for thinning arrivals). */
double world_shape_max(const struct scn_shape *sh);

/* ---- the plan of a request (plan.c) ---------------------------------------------------- */
#define WORLD_MAX_SPANS 4096 /* spans in one request's plan (validation keeps traces within) */

enum {
    WORLD_CAUSE_NONE,
    WORLD_CAUSE_FAULT,
    WORLD_CAUSE_ERROR_RATE,
    WORLD_CAUSE_CALLEE,
    WORLD_CAUSE_STATE
};

/* One span of a planned request. Times are offsets in ns on the caller's clock (the planner
 * adds to the `t` it was given). span_id is the emitter's: the planner leaves it zero. */
struct world_span {
    uint64_t start, end;
    uint8_t span_id[8];
    int16_t parent;   /* index in the plan, -1 for the root */
    uint16_t svc, op; /* the operation this span belongs to (client spans: the callee's) */
    uint8_t kind;     /* OTLP SpanKind */
    uint8_t call;     /* 1: the caller's CLIENT span around a call; its callee's span follows */
    uint8_t error;
    uint8_t cause;   /* WORLD_CAUSE_*: what decided a non-200 status */
    uint16_t status; /* HTTP status */
    int16_t model;   /* inference spans (server and the client calling it): model index */
    uint16_t batch, queue;
    float gpu;
    uint32_t tok_in, tok_out;
    uint32_t fired; /* faults that fired on this span (bit per fault index, first 32) */
};

/* Where a plan's draws and counts come from: the caller's streams and counters (see plan.c).
 * op_count/model_count count the request and return the 1-based count (every-N faults);
 * model_load is the model's requests in flight including this one (NULL: 1, no batching). */
struct world_plan_env {
    struct core_rng *(*op_rng)(void *ctx, int svc, int op);
    struct core_rng *(*model_rng)(void *ctx, int model);
    uint64_t (*op_count)(void *ctx, int svc, int op);
    uint64_t (*model_count)(void *ctx, int model);
    int64_t (*model_load)(void *ctx, int model);
    void *ctx;
};

struct world_plan {
    struct world_span *spans; /* the caller's buffer of cap spans; spans[0] is the root */
    uint32_t n, cap;
    int model;            /* in: the model this request runs at its inference op, -1 none */
    int truncated;        /* out: the graph did not fit in cap spans (calls were skipped) */
    double tokens_factor; /* out: token_bloat effect on this request, 1 when none */
};

/* Plans one request entering at (svc, op) at offset t; returns the root's end. Preorder: a
 * client span is followed by its callee's subtree. */
uint64_t world_plan_request(const struct world *w, const struct world_plan_env *env,
                            struct world_plan *p, int svc, int op, uint64_t t);
/* Spans in a plan entering at (svc, op), saturating just above WORLD_MAX_SPANS. */
size_t world_max_spans(const struct world *w, int svc, int op);

/* Ground truth for one injected fault. */
struct world_label {
    uint64_t start_ns; /* unix ns (simulated clock) */
    uint64_t end_ns;
    const char *target;
    const struct world_fault *fault;
    const uint8_t *trace_id; /* 16 bytes, or NULL for a time-window fault */
    int64_t value;           /* observed value where it applies (e.g. latency in us) */
    /* A state change has fault == NULL and these: */
    const struct scn_state *state, *from;
    int source;       /* WORLD_SRC_* */
    int open;         /* 1: the period began (end unknown); 0: it is complete */
    uint64_t id;      /* pairs the begin and end lines of one period */
    uint64_t wall_ns; /* wall clock when it was applied (real-time runs), 0 = not given */
};

/* One JSON object + '\n': {"start":"RFC3339","end":...,"start_unix_nano":..,"end_unix_nano":..,
 * "target":..,"kind":..,"fault":..,"params":{..},"trace_id":..}. Schema: docs/labels.md. */
int world_label_json(const struct world_label *l, struct core_buf *out);

/* RFC 3339 UTC with nanoseconds: "2026-01-01T00:00:00.123456789Z". out >= 32 bytes. */
void world_format_time(uint64_t unix_ns, char *out, size_t n);

#endif
