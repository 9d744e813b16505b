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
    int down_svc, slow_svc; /* dependency faults: calls to this service fail fast / are slow */
    double slow_factor;
    uint64_t slow_add_ns;
    uint16_t fired, nfired; /* the first fault that fired (index + 1; 0 none) and how many */
};

/* A fault rule and what it is doing now. The world's thread (fault.c) opens and closes its
 * windows and live activations; planners on any thread read the atomics. */
struct world_fault {
    const struct scn_fault *scn;
    const char *kind;          /* from the default variant's first effect (world.c fault_kind) */
    _Atomic int live_variant;  /* started by a command: its variant; -1 not started */
    _Atomic uint64_t live_end; /* ... until this offset (UINT64_MAX: until stopped) */
    _Atomic int act_variant;   /* in force now by any cause (world_fault_active); -1 none */
    _Atomic uint64_t act_end;  /* ... until (offset; UINT64_MAX: open-ended) */
    _Atomic uint64_t mute_end; /* a stopped window stays off before this offset */
    /* the world's thread only */
    uint64_t win_next;   /* next window start (UINT64_MAX: none) */
    uint64_t win_end;    /* the open window's end; 0 = no window open */
    uint64_t win_label;  /* the open window's label id */
    uint64_t live_since; /* offset the live activation began */
    uint64_t live_label; /* its label id, 0 = none */
    int live_source;     /* WORLD_SRC_COMMAND or a scheduler's */
};

/* A connection pool in front of an operation (`pool:`): N slots, each busy until an offset.
 * A request takes the slot that frees first and waits for it; one that would wait longer than
 * timeout_ns fails after waiting that long. One writer at a time: the engine's thread (which
 * also plans run --serve's real requests that reach a pool, engine_call), or serve's handlers
 * one at a time under its lock (server/model.c). */
struct world_pool {
    uint64_t *busy; /* [n]: offset the slot is free again */
    int n;          /* 0: no pool */
    uint64_t timeout_ns;
    int status;               /* of a request that timed out */
    uint64_t waits, timeouts; /* requests that waited / that gave up */
    uint64_t wait_ns;         /* their waiting, summed */
};

struct world_op {
    const struct scn_operation *scn;
    int svc;
    uint8_t kind;
    uint64_t count; /* requests so far (every-N triggers) */
    struct world_pool pool;
    int *faults; /* indices into world->faults that target this op or its service */
    int nfaults;
};

struct world_service {
    const struct scn_service *scn;
    int res;   /* resource index of instance 0; instance k's is res + k */
    int ninst; /* instances (replicas): requests are spread over them round-robin */
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

struct world_host_sim;
struct world_host {
    const struct scn_host *scn;
    int res;
    struct world_host_sim *sim; /* host.c: the host's random walks and counters */
};

/* ---- live control: traffic, pause, speed, chaos (live.c) -------------------------------- */
struct world;
struct world_cmd;
struct world_out;
struct world_label;
struct world_chaos;
/* --chaos every=10m,hold=1-3m,max=2[,seed=N]: a random fault or state change about every
 * `every` (exponential gaps), each held for a uniform time in [hold_min, hold_max], never more
 * than max at once. Seeded from the run's seed unless seed= is given. */
struct world_chaos_cfg {
    int enabled;
    uint64_t every_ns, hold_min_ns, hold_max_ns;
    int max;
    int has_seed;
    uint64_t seed;
};
#define WORLD_CHAOS_SPEC_MAX 128
/* Parses a --chaos spec ("off" disables). 0, or DIO_EINVAL with err naming the problem. */
int world_chaos_parse(const char *spec, struct world_chaos_cfg *c, char *err, size_t errlen);
/* The spec back as text ("every=10m,hold=1m-3m,max=2,seed=7"; "off"). */
void world_chaos_format(const struct world_chaos_cfg *c, char *out, size_t n);

/* A traffic source: an entry operation with a rate, or a model with a rate, in the engine's
 * order (operations in scenario order, then models). */
struct world_traffic {
    char *name;            /* "service/operation" or the model's name */
    int svc, op, model;    /* model -1: the operation's own traffic */
    double base;           /* the scenario's rate, requests per simulated second */
    _Atomic double factor; /* the live factor (1 = the scenario's rate); world's thread writes */
};
int world_traffic_find(const struct world *w, const char *name);
/* The source of (svc, op) traffic (model -1) or of a model's, or -1. */
int world_traffic_of(const struct world *w, int svc, int op, int model);
/* The factor the engine applies now: 0 while paused. Any thread. */
double world_traffic_factor(const struct world *w, int i);
/* Before the world's thread runs: the speed it starts at and the chaos scheduler (c may be
 * NULL: off). */
void world_live_init(struct world *w, double speed, const struct world_chaos_cfg *c);
/* The chaos scheduler's settings and holds now (any thread: a copy under its lock). */
void world_chaos_get(const struct world *w, struct world_chaos_cfg *c, int *active);
/* Internals (state.c, live.c). */
void world__apply(struct world *w, const struct world_cmd *c, uint64_t t,
                  const struct world_out *out);
int world__live_check(const struct world *w, const struct world_cmd *c);
void world__live_apply(struct world *w, const struct world_cmd *c, uint64_t t,
                       const struct world_out *out);
void world__chaos_advance(struct world *w, uint64_t t, const struct world_out *out);
uint64_t world__chaos_due(const struct world *w);
void world__live_build(struct world *w);
void world__live_free(struct world *w);
int world__live_label_json(const struct world_label *l, struct core_buf *out);

/* ---- per-second aggregates (agg.c) ----------------------------------------------------- */
/* The world's thread counts requests (world_agg_count, no lock) and polls once in a while;
 * once per wall second a snapshot (JSON, docs/control-api.md "AGG") goes into a ring of
 * WORLD_AGG_KEPT that readers on any thread copy from. */
#define WORLD_AGG_KEPT 300
#define WORLD_AGG_OUTPUTS 8
struct world_acct {
    char name[32];
    uint64_t generated, delivered, dropped, timed_out, in_flight;
};
struct world_agg;
struct world_agg *world_agg_new(const struct world *w);
void world_agg_free(struct world_agg *a);
/* Before the run: fn fills the outputs' accounting (world's thread, once per snapshot). */
void world_agg_set_accounting(struct world_agg *a,
                              int (*fn)(void *ctx, struct world_acct *out, int max), void *ctx);
/* fn runs after every snapshot is published (world's thread, no agg lock held). */
void world_agg_set_notify(struct world_agg *a, void (*fn)(void *ctx), void *ctx);
/* World's thread: one finished request of traffic source src. */
void world_agg_count(struct world_agg *a, int src, uint64_t latency_ns, int error);
/* serve (no engine): the "entries" are these routes ("POST /classify"), counted from any
 * thread by world_agg_count_route (route: index into names; error: a 5xx answer). Before the
 * first publish. */
void world_agg_set_routes(struct world_agg *a, const char *const *names, int n);
void world_agg_count_route(struct world_agg *a, int route, uint64_t latency_ns, int error);
/* World's thread: publishes when a wall second passed since the last (mono: core_mono_ns). */
void world_agg_poll(struct world_agg *a, uint64_t off, uint64_t start_unix_ns, uint64_t mono);
void world_agg_publish(struct world_agg *a, uint64_t off, uint64_t start_unix_ns);
/* Readers. The number of snapshots published so far (seqs are 1..); snapshot seq's JSON
 * appended to out (DIO_ENOENT: not kept); the JSON of every kept snapshot whose t (sim unix
 * ms) is after after_ms, comma-separated (returns how many); the last accounting. */
uint64_t world_agg_last(struct world_agg *a);
int world_agg_get(struct world_agg *a, uint64_t seq, struct core_buf *out);
int world_agg_after(struct world_agg *a, uint64_t after_ms, struct core_buf *out);
int world_agg_accounting(struct world_agg *a, struct world_acct *out, int max);

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
    WORLD_SRC_CHAOS, /* the chaos scheduler (live.c) */
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
    /* host faults in force (fault.c): the CPU they set (-1 none) and the leak they add */
    double fault_cpu, fault_leak, fault_leaked;
    struct world_fx base; /* cur without the faults' overlay (what transitions start from) */
};

enum {
    WORLD_CMD_STATE,
    /* live control (live.c): entity = traffic source (world_traffic_find) or -1 = all */
    WORLD_CMD_RATE,  /* value: factor of the source's scenario rate */
    WORLD_CMD_RPS,   /* value: requests per second (a factor of value / scenario rate) */
    WORLD_CMD_PAUSE, /* no new traffic until WORLD_CMD_RESUME */
    WORLD_CMD_RESUME,
    WORLD_CMD_SPEED, /* value: the real-time pacing speed (> 0) */
    WORLD_CMD_CHAOS  /* chaos: the scheduler's new settings (enabled = 0: off) */
};
struct world_cmd {
    int kind;                     /* WORLD_CMD_* */
    int entity;                   /* index into world->ents (world_entity_find) */
    int state;                    /* index into scenario->states (world_state_find) */
    uint64_t over_ns;             /* transition length */
    int source;                   /* WORLD_SRC_SCHEDULE or WORLD_SRC_COMMAND */
    double value;                 /* WORLD_CMD_RATE/RPS/SPEED */
    struct world_chaos_cfg chaos; /* WORLD_CMD_CHAOS */
    /* WORLD_CMD_FAULT_START / _STOP (fault.c): fault index (world_fault_find), variant index
     * (world_fault_variant_find; -1: the fault's default), for_ns (0: the window's duration, or
     * WORLD_FAULT_DEFAULT_NS without a window; UINT64_MAX: until stopped) */
    int fault, variant;
    uint64_t for_ns;
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
    const struct world_kind *kind; /* what this world is (kind.c): its functions */
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
    uint64_t fault_due;     /* fault.c: the next window edge or live end (UINT64_MAX: none) */
    pthread_mutex_t cmd_mu; /* guards the queue below (writers: any thread) */
    struct world_cmd cmdq[WORLD_CMD_QUEUE];
    int cmd_head, ncmd;
    atomic_int cmd_pending;
    /* live control (live.c): written by the world's thread, read anywhere (atomics) */
    struct world_traffic *traffic; /* traffic sources: see world_traffic_find */
    int ntraffic;
    _Atomic int paused;
    _Atomic double speed;       /* real-time pacing (0 = max); the engine follows it */
    _Atomic uint64_t live_gen;  /* bumped by every rate/pause/resume/speed change */
    _Atomic uint64_t state_gen; /* bumped by every applied change of any kind (readers poll) */
    struct world_chaos *chaos;  /* the chaos scheduler (live.c), NULL until configured */
    struct world_biz *biz;      /* business metrics (biz.c), NULL when the scenario has none */
    /* storage behind the resources */
    struct rec_attr *attr_store;
    char **str_store;
    int nstr;
};

/* ---- kinds of world (kind.c) -------------------------------------------------------------
 * What the engine and serve do with a world goes through its kind, a small table of functions
 * the way curl plugs transports behind Curl_cftype: a new kind of world (an event stream of
 * users, a ride-sharing app) is a new file with one of these, named by the scenario's `kind:`.
 * The public functions below (world_build, world_advance, world_plan_request ...) call through
 * it. Today there is one kind, "services": services, hosts and models (world.c). */
struct world_msink;
struct world_plan;
struct world_plan_env;
struct world_kind {
    const char *name;
    /* Fills w (scn, seed, run_id and kind are set); err on failure. free undoes it (not w). */
    int (*build)(struct world *w, const struct world_opts *o, char *err, size_t errlen);
    void (*free)(struct world *w);
    /* The world's clock: see world_advance, world_next_due, world_finish. */
    void (*advance)(struct world *w, uint64_t t, const struct world_out *out);
    uint64_t (*next_due)(const struct world *w);
    void (*finish)(struct world *w, uint64_t t, const struct world_out *out);
    /* Requests: see world_plan_request and world_max_spans. */
    uint64_t (*plan_request)(const struct world *w, const struct world_plan_env *env,
                             struct world_plan *p, int svc, int op, uint64_t t);
    size_t (*max_spans)(const struct world *w, int svc, int op);
    /* The world's own metrics (beyond those the engine derives from spans): world_metrics. */
    void (*sample_metrics)(struct world *w, uint64_t off, uint64_t unix_ns, double interval_s,
                           const struct world_msink *sink);
};
/* The kind named `name` (NULL: the default, "services"), or NULL when there is none. */
const struct world_kind *world_kind_find(const char *name);
extern const struct world_kind world__kind_services; /* world.c */

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
/* ---- faults (fault.c) ------------------------------------------------------------------ */
#define WORLD_FAULT_DEFAULT_NS 300000000000ULL /* a live start without a length: 5 minutes */
enum { WORLD_CMD_FAULT_START = 100, WORLD_CMD_FAULT_STOP };
/* Index of the fault named `name`, or -1; of its variant `name`, or -1. */
int world_fault_find(const struct world *w, const char *name);
int world_fault_variant_find(const struct world *w, int fault, const char *name);
/* Whether fault i is in force now (a window open or started by a command), with its variant
 * and the offset it ends at (UINT64_MAX: until stopped). Any thread (atomics). */
int world_fault_active(const struct world *w, int i, uint64_t *until, int *variant);
/* Internals: fault.c, called by state.c's world_advance / world_command / world_finish. */
int world__fault_check(const struct world *w, const struct world_cmd *c);
void world__fault_apply(struct world *w, const struct world_cmd *c, uint64_t t,
                        const struct world_out *out);
void world__faults_advance(struct world *w, uint64_t t, const struct world_out *out);
uint64_t world__faults_due(const struct world *w);
void world__faults_finish(struct world *w, uint64_t t, const struct world_out *out);
void world__faults_build(struct world *w);
int world__fault_label_json(const struct world_label *l, struct core_buf *out);
/* state.c: recomputes an entity's effects at t (transition, leak, the faults' overlay). */
void world__entity_refresh(struct world *w, struct world_entity *en, uint64_t t);

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
 * (1-based) at offset `t_ns` from the run start. rng decides probability triggers and error
 * rates. Faults past the first that fire go to p->more as fired on span `span`. */
struct world_plan;
void world_faults_apply(const struct world *w, const int *idx, int n, uint64_t count, uint64_t t_ns,
                        struct core_rng *rng, struct world_effect *eff, struct world_plan *p,
                        uint32_t span);
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

/* ---- host metrics (host.c) ------------------------------------------------------------- */
/* What a host's agent (the OTel hostmetrics receiver, NVIDIA DCGM for GPUs) would report, as
 * bounded random walks around the host's profile baseline, moved by its load (the requests its
 * services served), its shape and its state. docs/metrics.md lists names, units, attributes. */
enum {
    WORLD_HM_CPU_TIME,
    WORLD_HM_CPU_UTIL,
    WORLD_HM_LOAD1,
    WORLD_HM_LOAD5,
    WORLD_HM_LOAD15,
    WORLD_HM_MEM_USAGE,
    WORLD_HM_MEM_UTIL,
    WORLD_HM_DISK_IO,
    WORLD_HM_DISK_OPS,
    WORLD_HM_FS_USAGE,
    WORLD_HM_NET_IO,
    WORLD_HM_NET_ERR,
    WORLD_HM_NET_PKT,
    WORLD_HM_PROCS,
    WORLD_HM_GPU_UTIL,
    WORLD_HM_GPU_MEM,
    WORLD_HM_GPU_TEMP,
    WORLD_HM_GPU_POWER,
    WORLD_HM_COUNT
};
struct world_hmetric {
    const char *name, *description, *unit;
    uint8_t sum;       /* 0 gauge, 1 sum (cumulative) */
    uint8_t monotonic; /* sums: a counter */
    uint8_t is_int;    /* values are whole numbers (bytes, counts) */
};
extern const struct world_hmetric world_host_metrics[WORLD_HM_COUNT];

#define WORLD_HS_ATTRS 3
struct world_hattr {
    const char *key;
    const char *str; /* NULL: the value is `i` */
    int64_t i;
};
/* One series of a host: its metric and attributes (strings live as long as the world). */
struct world_hseries {
    uint8_t metric; /* WORLD_HM_* */
    uint8_t nattrs;
    struct world_hattr attrs[WORLD_HS_ATTRS];
};
/* The host's series, grouped by metric in WORLD_HM_* order; *n = scenario_host_series(). */
const struct world_hseries *world_host_layout(const struct world *w, int h, uint32_t *n);
/* The world's thread, once per metric tick at offset off (unix_ns on the simulated clock): the
 * host's values in layout order into vals. rps: requests per second its services completed
 * since the last sample. Moves the host's walks and counters on (deterministic per host). */
void world_host_sample(struct world *w, int h, uint64_t off, uint64_t unix_ns, double interval_s,
                       double rps, double *vals);
void world__hosts_build(struct world *w);
void world__hosts_free(struct world *w);

/* ---- business metrics (biz.c) ---------------------------------------------------------- */
/* The scenario's `business:` metrics (docs/metrics.md): counters of an operation's requests,
 * histograms drawn per request, gauges as bounded walks, each split over one attribute's values
 * (city: SF, NYC ...) by weights that may follow a shape over the day. Series j of metric m
 * carries attribute key = values[j] (none when key is NULL: one series). */
struct world_bmetric {
    struct rec_metric def; /* descriptor: name, unit, type, bounds (world-owned) */
    int res;               /* the resource its series are on */
    const char *key;       /* attribute key, NULL: one series without attributes */
    char *const *values;   /* [nvalues] */
    int nvalues;
};
/* Where a sample goes: counter: x is added; gauge: x is the value; histogram: one observation. */
struct world_msink {
    void *ctx;
    void (*observe)(void *ctx, int metric, int series, double x);
};
/* The world's business metrics (*n of them; NULL and 0 when none). Stable for its lifetime. */
const struct world_bmetric *world_metrics(const struct world *w, int *n);
/* The world's thread, once per metric tick at offset off: what happened since the last tick
 * (deterministic: its own streams, counts of the requests planned so far). Through the kind. */
void world_sample_metrics(struct world *w, uint64_t off, uint64_t unix_ns, double interval_s,
                          const struct world_msink *sink);
void world__biz_build(struct world *w);
void world__biz_free(struct world *w);
void world__biz_sample(struct world *w, uint64_t off, uint64_t unix_ns, double interval_s,
                       const struct world_msink *sink);

/* ---- the plan of a request (plan.c) ---------------------------------------------------- */
#define WORLD_MAX_SPANS 4096 /* spans in one request's plan (validation keeps traces within) */

enum {
    WORLD_CAUSE_NONE,
    WORLD_CAUSE_FAULT,
    WORLD_CAUSE_ERROR_RATE,
    WORLD_CAUSE_CALLEE,
    WORLD_CAUSE_STATE,
    WORLD_CAUSE_POOL /* waited longer than its pool's timeout */
};

/* One span of a planned request. Times are offsets in ns on the caller's clock (the planner
 * adds to the `t` it was given). span_id is the emitter's: the planner leaves it zero. */
struct world_span {
    uint64_t start, end;
    uint8_t span_id[8];
    int16_t parent;   /* index in the plan, -1 for the root */
    uint16_t svc, op; /* the operation this span belongs to (client spans: the callee's) */
    uint16_t inst;    /* the instance of svc that served it (client spans: the callee's) */
    uint8_t kind;     /* OTLP SpanKind */
    uint8_t call;     /* 1: the caller's CLIENT span around a call; its callee's span follows */
    uint8_t error;
    uint8_t cause;   /* WORLD_CAUSE_*: what decided a non-200 status */
    uint16_t status; /* HTTP status */
    int16_t model;   /* inference spans (server and the client calling it): model index */
    uint16_t batch, queue;
    float gpu;
    uint32_t tok_in, tok_out;
    uint16_t fired;   /* the first fault that fired on this span: index + 1, 0 = none ... */
    uint16_t nfired;  /* ... and how many did: the others are in the plan's `more` list */
    uint32_t wait_us; /* a pooled operation: us it waited for a connection (its timeout when
                         it gave up, cause WORLD_CAUSE_POOL); saturates */
};

/* A fault that fired on a span beyond the span's first (rare: most spans fire none or one).
 * SCN_MAX_FAULTS and WORLD_MAX_SPANS fit in 16 bits. */
struct world_fired {
    uint16_t span, fault;
};
/* The faults that fired on span si (index spans[si]), one per call: start with *it = 0; -1
 * after the last. more/nmore: the plan's list (world_plan.more) kept with the spans. */
static inline int world_fired_next(const struct world_span *s, uint32_t si,
                                   const struct world_fired *more, uint32_t nmore, uint32_t *it)
{
    if (*it == 0) {
        *it = 1;
        if (s->fired)
            return s->fired - 1;
    }
    for (uint32_t j = *it - 1; s->nfired > 1 && j < nmore; j++)
        if (more[j].span == si) {
            *it = j + 2;
            return more[j].fault;
        }
    return -1;
}

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
    /* The pool of (svc, op) this caller queues on (NULL, or a pool with n = 0: no waiting). */
    struct world_pool *(*op_pool)(void *ctx, int svc, int op);
};

struct world_plan {
    struct world_span *spans; /* the caller's buffer of cap spans; spans[0] is the root */
    uint32_t n, cap;
    int model;            /* in: the model this request runs at its inference op, -1 none */
    int truncated;        /* out: the graph did not fit in cap spans (calls were skipped) */
    double tokens_factor; /* out: token_bloat effect on this request, 1 when none */
    /* out: faults beyond a span's first (world_fired_next). A growable buffer the caller owns
     * (core_free it; may be kept across plans: the planner resets nmore, reallocs as needed) */
    struct world_fired *more;
    uint32_t nmore, more_cap;
};

/* Plans one request entering at (svc, op) at offset t; returns the root's end. Preorder: a
 * client span is followed by its callee's subtree. */
uint64_t world_plan_request(const struct world *w, const struct world_plan_env *env,
                            struct world_plan *p, int svc, int op, uint64_t t);
/* Spans in a plan entering at (svc, op), saturating just above WORLD_MAX_SPANS. */
size_t world_max_spans(const struct world *w, int svc, int op);
/* The "services" kind's implementations (plan.c, state.c) behind the functions above. */
uint64_t world__svc_plan(const struct world *w, const struct world_plan_env *env,
                         struct world_plan *p, int svc, int op, uint64_t t);
size_t world__svc_max_spans(const struct world *w, int svc, int op);
void world__svc_advance(struct world *w, uint64_t t, const struct world_out *out);
uint64_t world__svc_next_due(const struct world *w);
void world__svc_finish(struct world *w, uint64_t t, const struct world_out *out);

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
    /* A live control change (live.c) has fault == NULL, state == NULL and: */
    const char *control; /* "rate", "pause", "resume", "speed", "chaos"; NULL otherwise */
    double amount;       /* the new factor or speed */
    const char *spec;    /* chaos: the new spec */
    /* A fault (fault != NULL): the variant (index into fault->scn->variants), the planned
     * period (planned_end 0: open-ended) and, when trace_id is NULL, an incident with
     * open/id/source like a state's. trace_id set: one request's blip (scope "request"). */
    int variant;
    uint64_t planned_start_ns, planned_end_ns;
};

/* One JSON object + '\n': {"start":"RFC3339","end":...,"start_unix_nano":..,"end_unix_nano":..,
 * "target":..,"kind":..,"fault":..,"params":{..},"trace_id":..}. Schema: docs/labels.md. */
int world_label_json(const struct world_label *l, struct core_buf *out);

/* RFC 3339 UTC with nanoseconds: "2026-01-01T00:00:00.123456789Z". out >= 32 bytes. */
void world_format_time(uint64_t unix_ns, char *out, size_t n);

#endif
