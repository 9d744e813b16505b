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
