#ifndef DIORAMA_WORLD_H
#define DIORAMA_WORLD_H
/* world: the simulated system built from a scenario: services and their operations, hosts,
 * models, the resources (service.name, host.name ...) their telemetry carries, the fault rules
 * and the labels (ground truth) of every fault that fires. Uses core and scenario.
 *
 * The world owns everything it builds; the scenario must outlive it. Resource and attribute
 * memory is stable for the world's lifetime, so records may point into it. */
#include <stdint.h>

#include "core/core.h"
#include "scenario/scenario.h"

struct world_opts {
    uint64_t seed;
    int verify_attrs;        /* add diorama.run_id to every resource */
    const char *ns_override; /* OTEL_SERVICE_NAME: becomes every service's service.namespace */
    const char *extra_attrs; /* OTEL_RESOURCE_ATTRIBUTES "k=v,..." added to every resource */
    uint32_t shard, nshards; /* reserved for --shard i/N (run id only for now) */
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

struct world {
    const struct scenario *scn;
    uint64_t seed;
    char run_id[17]; /* hex of hash(scenario, seed, shard): identifies this run's streams */
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
    /* storage behind the resources */
    struct rec_attr *attr_store;
    char **str_store;
    int nstr;
};

int world_build(struct world **out, const struct scenario *s, const struct world_opts *o, char *err,
                size_t errlen);
void world_free(struct world *w);

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

/* ---- the plan of a request (plan.c) ---------------------------------------------------- */
#define WORLD_MAX_SPANS 4096 /* spans in one request's plan (validation keeps traces within) */

enum { WORLD_CAUSE_NONE, WORLD_CAUSE_FAULT, WORLD_CAUSE_ERROR_RATE, WORLD_CAUSE_CALLEE };

/* One span of a planned request. Times are offsets in ns on the caller's clock (the planner
 * adds to the `t` it was given). span_id is the emitter's: the planner leaves it zero. */
struct world_span {
    uint64_t start, end;
    uint8_t span_id[8];
    int16_t parent;   /* index in the plan, -1 for the root */
    uint16_t svc, op; /* the operation this span belongs to (client spans: the callee's) */
    uint8_t kind;     /* OTLP SpanKind */
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
};

/* One JSON object + '\n': {"start":"RFC3339","end":...,"start_unix_nano":..,"end_unix_nano":..,
 * "target":..,"kind":..,"fault":..,"params":{..},"trace_id":..}. Schema: docs/labels.md. */
int world_label_json(const struct world_label *l, struct core_buf *out);

/* RFC 3339 UTC with nanoseconds: "2026-01-01T00:00:00.123456789Z". out >= 32 bytes. */
void world_format_time(uint64_t unix_ns, char *out, size_t n);

#endif
