#ifndef DIORAMA_SCENARIO_H
#define DIORAMA_SCENARIO_H
/* scenario: parsing and validating scenario files (YAML) into a plain description of a world.
 * Uses core only. Everything here is owned by the struct scenario and freed by scenario_free.
 * All cross references (call targets, fault targets, model entry points, hosts) are resolved
 * to indices during validation; a loaded scenario is always consistent.
 * The format is documented in docs/scenario-format.md. */
#include <stddef.h>
#include <stdint.h>

#include "scenario/builtin.h"

struct scn_pos {
    int line; /* 1-based; 0 when unknown */
    int col;  /* 1-based */
};

struct scn_error {
    char file[256]; /* path, or "builtin:<name>" */
    int line;
    int col;
    char msg[512]; /* e.g. "models[1].max_batch: expected a positive integer, got 'x'" */
};

/* Writes "file:line:col: msg" (or "file: msg" without a position). */
void scenario_format_error(const struct scn_error *e, char *out, size_t n);

/* A user attribute. The scalar's YAML type decides the OTLP type: plain integers become ints,
 * decimals doubles, true/false bools, everything else (and quoted scalars) strings. */
enum scn_attr_type { SCN_STR, SCN_INT, SCN_DBL, SCN_BOOL };
struct scn_attr {
    char *key;
    char *str; /* the scalar as written, always set */
    int type;
    int64_t i;
    double d;
};

/* How a rate (or a host's baseline CPU) changes over simulated time: the product of the parts
 * that are set (docs/scenario-format.md, "shape"). Times of day are UTC on the simulated clock. */
#define SCN_MAX_MAINT 8
struct scn_shape {
    int set;             /* 0: constant (no part set) */
    double diurnal;      /* amplitude 0..1: factor 1 + a*cos(2pi (day time - peak) / 24h) */
    int peak_min;        /* minute of the day of the daily peak */
    double weekend;      /* factor on Saturdays and Sundays; < 0: unset */
    double burst_p;      /* chance per simulated minute that a burst starts */
    double burst_factor; /* rate multiplier during a burst */
    uint64_t burst_ns;   /* how long a burst lasts */
    double ramp_from;    /* factor at the run start ... */
    double ramp_to;      /* ... reached after ramp_ns, kept after */
    uint64_t ramp_ns;    /* 0: no ramp */
    double noise;        /* relative +-noise, redrawn every simulated minute */
    int nmaint;          /* daily windows: factor applies from at_min for duration_ns */
    struct {
        int at_min;
        uint64_t duration_ns;
        double factor;
    } maint[SCN_MAX_MAINT];
};

struct scn_latency {
    uint64_t base_ns;   /* median own latency */
    double jitter;      /* relative, uniform +-jitter (0.2 = +-20%) */
    double tail_p;      /* probability of a tail event */
    double tail_factor; /* latency multiplier of a tail event */
};

enum scn_span_kind {
    SCN_KIND_INTERNAL = 1,
    SCN_KIND_SERVER = 2,
    SCN_KIND_CLIENT = 3,
    SCN_KIND_PRODUCER = 4,
    SCN_KIND_CONSUMER = 5
};
enum scn_arrival { SCN_POISSON = 0, SCN_CONSTANT = 1 };

struct scn_call {
    char *service; /* as written */
    char *operation;
    int svc; /* resolved index into scenario->services */
    int op;  /* resolved index into that service's ops */
    struct scn_pos pos;
};

struct scn_operation {
    char *name;   /* span name, e.g. "POST /v1/chat/completions" or "SELECT orders" */
    int kind;     /* enum scn_span_kind; default server */
    char *method; /* HTTP method when the name starts with one, else NULL */
    char *route;  /* HTTP route when the name has one, else NULL */
    struct scn_latency latency;
    double error_rate;      /* 0..1 */
    int error_status;       /* HTTP status of errors; default 500 */
    double rate;            /* arrivals per second when this is an entry operation, else 0 */
    int arrival;            /* enum scn_arrival */
    struct scn_shape shape; /* how the rate changes over the day, week, run */
    int parallel;           /* calls run in parallel (1) or one after another (0, default) */
    int inference;          /* 1: runs the request's model (latency, gen_ai attrs from the model) */
    struct scn_call *calls;
    int ncalls;
    int pool;                 /* connections in its pool (`pool:`), 0: no pool */
    uint64_t pool_timeout_ns; /* a request waits at most this long for one (default 5s) */
    int pool_status;          /* ... then fails with this status (default 503) */
    struct scn_pos pos;
};

struct scn_service {
    char *name;
    int item;         /* index of the YAML list item it came from (count: makes several) */
    char *version;    /* default "1.0.0" */
    char *namespace_; /* service.namespace, default the scenario name */
    char *host;       /* host name; resolved to host index */
    int host_idx;     /* -1 when none */
    int instances;    /* replicas, default 1: service.instance.id = <name>-<i> */
    struct scn_attr *attrs;
    int nattrs;
    struct scn_operation *ops;
    int nops;
    struct scn_pos pos;
};

/* Host profiles (profile.c): the baselines a host of a kind starts from. A host's own keys
 * (cpu, cpus, memory_gib, gpus) override the first four; world/host.c moves the rest with the
 * host's load and state. Documented in docs/scenario-format.md ("profiles"). */
enum scn_profile_id {
    SCN_PROF_GENERAL,
    SCN_PROF_WEB,
    SCN_PROF_DB,
    SCN_PROF_ML,
    SCN_PROF_GPU,
    SCN_PROF_CACHE,
    SCN_PROF_QUEUE,
    SCN_PROF_EDGE,
    SCN_NPROFILES
};
struct scn_profile {
    const char *name;
    double cpu;        /* baseline CPU utilisation */
    int cpus;          /* logical CPUs */
    double memory_gib; /* total memory */
    int gpus;          /* GPU devices */
    double mem_used;   /* share of memory used by processes at idle (load adds up to +20%) */
    double mem_cached; /* share in the page cache */
    int disks;         /* block devices, each with a filesystem: sda on /, sdb on /data ... */
    double disk_gib;   /* size of each filesystem */
    double disk_used;  /* share of it used */
    double disk_read, disk_write; /* bytes/s per disk at baseline load */
    double disk_iops;             /* operations/s per disk (reads + writes) at baseline load */
    double net_rx, net_tx;        /* bytes/s on eth0 at baseline load */
    int procs;                    /* processes */
    double gpu_util;              /* per GPU device: utilisation at baseline load */
    double gpu_mem_gib;           /* per GPU device: memory */
    double gpu_watts;             /* per GPU device: power at full utilisation */
};
/* The profile with this id (SCN_PROF_*), or NULL; by name: -1 when unknown. */
const struct scn_profile *scenario_profile(int id);
int scenario_profile_find(const char *name);

struct scn_host {
    char *name;
    int item;               /* index of the YAML list item it came from (count: makes several) */
    char *profile;          /* a profile's name (scenario_profile_find) */
    int profile_id;         /* enum scn_profile_id */
    double cpu;             /* baseline CPU utilisation 0..1 */
    double memory_gib;      /* total memory */
    int cpus;               /* logical CPUs, default 4: system.cpu.utilization per CPU and mode */
    struct scn_shape shape; /* the baseline CPU over the day, week, run */
    int gpus;               /* GPU count */
    char *gpu_model;        /* e.g. "A100" */
    struct scn_attr *attrs;
    int nattrs;
    struct scn_pos pos;
};

struct scn_model {
    char *name;      /* gen_ai.request.model */
    char *provider;  /* gen_ai.provider.name, default "diorama" */
    char *operation; /* gen_ai.operation.name, default "chat" */
    uint64_t base_latency_ns;
    double jitter; /* relative, default 0.2 */
    int max_batch;
    double rate; /* requests per second */
    int arrival; /* enum scn_arrival */
    struct scn_shape shape;
    char *gpu;       /* GPU model name, e.g. "A100" */
    double gpu_util; /* typical GPU utilisation 0..1, default 0.75 */
    int tokens_in;   /* mean input tokens, default 0 = model does not report tokens */
    int tokens_out;  /* mean output tokens */
    char *entry;     /* "service/operation" where its requests enter */
    int entry_svc;   /* resolved */
    int entry_op;    /* resolved */
    struct scn_pos pos;
};

enum scn_trigger { SCN_EVERY_N = 0, SCN_PROBABILITY = 1, SCN_WINDOW = 2 };
enum scn_target_kind {
    SCN_TARGET_MODEL = 0,
    SCN_TARGET_OPERATION = 1,
    SCN_TARGET_SERVICE = 2,
    SCN_TARGET_HOST = 3
};

/* What a fault does while it fires: one per variant. A double <= 0 (< 0 where 0 is a value)
 * or an int < 0 (status: <= 0) means "not set". */
struct scn_fault_fx {
    char *name;            /* the variant's name ("default" when the fault has no variants) */
    double latency_factor; /* multiply latency */
    int error_status;      /* the status of the requests it fails */
    double error_rate;     /* share of the requests it fires on that fail (< 0: all, if a status) */
    double gpu_util;       /* report this GPU utilisation (0..1); < 0 = unset */
    int queue_depth;       /* report this queue depth; < 0 = unset */
    double tokens_factor;  /* multiply token counts */
    double cpu;            /* host targets: the host's CPU utilisation (0..1); < 0 = unset */
    double memory_leak;    /* host targets: MiB per minute; <= 0 = unset */
    char *down;            /* dependency_down: calls to this service fail fast; NULL = unset */
    int down_svc;          /* resolved, -1 */
    char *slow;            /* slow_dependency: calls to this service take longer; NULL = unset */
    int slow_svc;          /* resolved, -1 */
    double slow_factor;    /* the call's time is multiplied by this (default 1) ... */
    uint64_t slow_add_ns;  /* ... and this is added */
    struct scn_pos pos;
};

struct scn_fault {
    char *name;
    char *target;       /* "gpt-4" (a model), "svc/op" (an operation), "svc" (a service), a host */
    int target_kind;    /* enum scn_target_kind */
    int target_idx;     /* model, service or host index */
    int target_op;      /* operation index for SCN_TARGET_OPERATION, else -1 */
    int trigger;        /* enum scn_trigger: which requests it fires on while in force */
    int windowed;       /* 1: in force only within `window` (trigger may still be every/p) */
    int manual;         /* 1: never in force by schedule, only when started by a command */
    uint64_t every_n;   /* SCN_EVERY_N: every Nth request of the target (N >= 1) */
    double probability; /* SCN_PROBABILITY: 0..1 per request */
    uint64_t start_ns;  /* window: offset from run start */
    uint64_t duration_ns; /* window: length */
    uint64_t repeat_ns;   /* window: period, 0 = once */
    /* variants[0..nvariants): the effects; at least one. Scheduled firings use the default */
    struct scn_fault_fx *variants;
    int nvariants;
    int default_variant;
    /* the default variant's effects, copied (what most readers need) */
    double latency_factor;
    int error_status;
    double gpu_util;
    int queue_depth;
    double tokens_factor;
    struct scn_pos pos;
};

/* What a state does to its entity while the entity is in it (docs/scenario-format.md,
 * "states"). A value < 0 is not set: the entity's own behaviour holds for it. */
struct scn_effects {
    double cpu;            /* hosts: the CPU utilisation (0..1) the host drifts to */
    double memory_leak;    /* hosts: memory growth in MiB per minute */
    double latency_factor; /* multiplies the latency of the entity's work (a host: its services') */
    double error_rate;     /* share of the entity's requests that fail (0..1) */
    int error_status;      /* their HTTP status; default 500 */
    double gpu_util;       /* models (and hosts' GPUs): utilisation 0..1 */
    int queue_depth;       /* models: the queue depth reported */
};

/* healthy, degrading and critical always exist (indices 0..2, with documented effects a
 * scenario may override); a scenario may add states of its own. */
#define SCN_STATE_HEALTHY 0
#define SCN_STATE_DEGRADING 1
#define SCN_STATE_CRITICAL 2
#define SCN_MAX_STATES 64
struct scn_state {
    char *name;
    struct scn_effects fx;
    struct scn_pos pos;
};

enum scn_entity_kind { SCN_ENT_HOST = 0, SCN_ENT_SERVICE = 1, SCN_ENT_MODEL = 2 };

/* One scheduled state change: at `at` the target enters `state`, its effects drifting from
 * where they were over `over` (0: at once). */
struct scn_change {
    uint64_t at_ns;   /* offset from the run start */
    uint64_t over_ns; /* transition length */
    char *target;     /* a host, service or model name */
    int target_kind;  /* enum scn_entity_kind (resolved) */
    int target_idx;   /* resolved */
    char *state;
    int state_idx; /* resolved index into scenario->states */
    struct scn_pos pos;
};

/* Business metrics (`business:`, docs/scenario-format.md): one metric, its series split over
 * the values of one attribute. */
enum scn_biz_type { SCN_BIZ_COUNTER, SCN_BIZ_HISTOGRAM, SCN_BIZ_GAUGE };
#define SCN_MAX_BIZ 256        /* business metrics per scenario */
#define SCN_MAX_BIZ_VALUES 256 /* values of its `by` attribute */
#define SCN_MAX_BIZ_BUCKETS 32
struct scn_biz_value {
    char *name;             /* the attribute's value, e.g. "SF" */
    double weight;          /* share of the metric (normalised over the values) */
    struct scn_shape shape; /* how the weight changes over the day (unset: constant) */
    struct scn_pos pos;
};
struct scn_biz {
    char *name; /* OTel metric name, e.g. "rides.requested" */
    char *description;
    char *unit;               /* UCUM; default "1", histograms "s" */
    int type;                 /* enum scn_biz_type */
    char *per;                /* "service/operation": counters and histograms count its requests */
    int per_svc;              /* resolved, -1 when per is NULL (gauges may go without) */
    int per_op;               /* resolved */
    double factor;            /* counters: added per request (default 1) */
    struct scn_latency value; /* histograms: the distribution of one observation */
    double base;              /* gauges: the total (over every value) the walk moves around */
    double step;              /* gauges: relative step of the walk per tick (default 0.02) */
    double range;             /* gauges: the walk stays within base x (1 +- range) (default 0.2) */
    struct scn_shape shape;   /* gauges: base over the day */
    double load; /* histograms, gauges: x (1 + load x (per's rate / its scenario rate - 1)) */
    char *by;    /* the attribute key, NULL: one series */
    struct scn_biz_value *values;
    int nvalues;
    double *bounds; /* histograms: bucket bounds in seconds, increasing */
    int nbounds;
    struct scn_pos pos;
};

struct scenario {
    char *kind; /* the kind of world (`kind:`), default "services" (world_kind_find) */
    char *name;
    char *description;
    char *file;                      /* path or "builtin:<name>" */
    uint64_t hash;                   /* core_hash64 of the source bytes (part of the run id) */
    uint64_t seed;                   /* default seed (1 when not given) */
    uint64_t duration_ns;            /* default run duration, 0 = until stopped */
    uint64_t metric_interval_ns;     /* default 10s */
    struct scn_attr *resource_attrs; /* added to every service's resource */
    int nresource_attrs;
    struct scn_host *hosts;
    int nhosts;
    struct scn_service *services;
    int nservices;
    struct scn_model *models;
    int nmodels;
    struct scn_fault *faults;
    int nfaults;
    struct scn_state *states; /* the three built-ins first, then the scenario's own */
    int nstates;
    struct scn_change *timeline; /* in file order; the world sorts by time */
    int ntimeline;
    struct scn_biz *business; /* `business:` metrics */
    int nbusiness;
};
/* NULL-terminated names of the kinds of world a scenario may ask for (world/kind.c has one
 * struct world_kind for each). */
extern const char *const scenario_kinds[];

/* Exit-code-relevant outcomes: 0, DIO_EPARSE (syntax or validation; err filled), DIO_EIO (file
 * unreadable; err filled), DIO_ERANGE (file larger than SCENARIO_MAX_BYTES; err filled). */
#define SCENARIO_MAX_BYTES (4u << 20)
int scenario_load_string(const char *file, const char *text, size_t len, struct scenario **out,
                         struct scn_error *err);
int scenario_load_file(const char *path, struct scenario **out, struct scn_error *err);
/* A built-in name ("inference") or else a path. All loads apply the SCENARIO_MAX_SERIES cap. */
int scenario_load(const char *name_or_path, struct scenario **out, struct scn_error *err);
void scenario_free(struct scenario *s);

const struct scenario_builtin *scenario_builtin_find(const char *name);
/* The name closest to s (edit distance <= 2) among n names read at base + i * stride + off (a
 * char * field of an array of structs), or NULL: for "did you mean" hints elsewhere too. */
const char *scenario_suggest(const char *s, const void *base, int n, size_t stride, size_t off);

/* ---- metric series (series.c) -----------------------------------------------------------
 * What a run's memory grows with is the world's metric series (about 220 bytes each, about
 * 770 with --prom-listen; docs/scenario-format.md#limits), so loading refuses a scenario whose
 * world could have more than a cap: SCENARIO_MAX_SERIES unless the caller gives another. */
#define SCENARIO_MAX_SERIES 1000000ULL
#define SCENARIO_ROUTE_STATUSES 8 /* status codes a route keeps series for (engine's limit) */

enum scn_part { SCN_PART_HOST, SCN_PART_SERVICE, SCN_PART_MODEL };

struct scenario_series {
    uint64_t initial; /* series the engine creates at start (routes: status 200 only) */
    uint64_t total;   /* most series the world can reach: routes with every status they can get */
    uint64_t samples; /* Prometheus samples of `total` (histogram: a bucket each, _sum, _count) */
    uint64_t prom_bytes; /* estimated /metrics size with all of them (host lines: +-3%) */
    uint64_t hosts, services, models; /* `total` by where the series come from */
    int worst_part;                   /* enum scn_part of the largest single contributor */
    int worst;             /* its YAML list index (a counted item: all of it); -1: none */
    uint64_t worst_series; /* its series */
};

/* Series of one host's metrics (world/host.c lays them out in this number). */
uint64_t scenario_host_series(const struct scn_host *h);
/* Counts the series the way engine/metrics.c lays them out (the layout is in series.c). */
void scenario_series_count(const struct scenario *s, struct scenario_series *out);
/* scenario_load with a series cap: max_series 0 means SCENARIO_MAX_SERIES. Over the cap the
 * error (DIO_EPARSE) points at the largest contributor (a host's cpus, a service's operations). */
int scenario_load_max(const char *name_or_path, uint64_t max_series, struct scenario **out,
                      struct scn_error *err);

#endif
