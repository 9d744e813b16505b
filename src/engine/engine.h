#ifndef DIORAMA_ENGINE_H
#define DIORAMA_ENGINE_H
/* engine: runs the world. A discrete-event simulation on a simulated clock: arrivals (Poisson
 * or constant per entry operation and per model), request flows that become traces following
 * the call graph, and, derived from the same requests, metrics (cumulative, one tick per
 * metric interval) and access logs. Uses core and world; hands record batches to whoever
 * called it through struct engine_out (the CLI wires that to export/).
 *
 * Time: events are processed in simulated-time order. With speed > 0 the engine sleeps so
 * that simulated time advances `speed` times faster than the monotonic clock; with speed 0
 * ("max") it never sleeps. Emitted timestamps are start_unix_ns + simulated offset.
 *
 * A trace is generated whole when its request arrives and emitted when its root span ends,
 * as an SDK would export it; metrics count requests when they complete, so a metric tick and
 * the spans emitted before it always agree. Requests still running when the run stops are
 * neither emitted nor counted (they show in the in-flight gauge).
 *
 * Determinism: all randomness comes from core_rng streams keyed by (seed, entity, stream)
 * and events are processed in a total order, so the same world, seed and options produce the
 * same records. Single-threaded: all of engine_run happens on the caller's thread. */
#include <signal.h>
#include <stdint.h>

#include "core/core.h"
#include "world/world.h"

struct engine_out {
    void *ctx;
    /* An empty batch, or NULL when none is free (the engine then counts its records via
     * drop). */
    struct rec_batch *(*batch)(void *ctx, int signal);
    void (*submit)(void *ctx, struct rec_batch *b);
    void (*drop)(void *ctx, int signal, uint64_t n);
    /* Optional: every metric tick's cumulative points, in an engine-owned batch valid only
     * during the call (for the Prometheus listener). */
    void (*tick)(void *ctx, const struct rec_batch *points);
    /* Optional: a fault fired (ground truth). */
    void (*label)(void *ctx, const struct world_label *l);
};

struct engine_opts {
    double speed;                /* 1 = real time, N = N times faster, 0 = as fast as possible */
    uint64_t start_unix_ns;      /* simulated clock at offset 0 */
    uint64_t duration_ns;        /* simulated run length; 0 = until *stop */
    uint64_t metric_interval_ns; /* default: the scenario's */
    uint64_t batch_timeout_ns;   /* real-time modes: flush partial batches this old */
    int signals;                 /* bit per enum rec_signal; 0 = all */
    volatile sig_atomic_t *stop; /* set by a signal handler; may be NULL */
    int inject;                  /* accept real requests' plans (engine_inject) */
    struct world_agg *agg;       /* per-second aggregates to count into and publish, or NULL */
};

/* engine_inject: a plan of at most this many spans; the queue holds this many plans. */
#define ENGINE_INJECT_SPANS 64
#define ENGINE_INJECT_SLOTS 256

struct engine_progress {
    uint64_t sim_offset_ns;
    uint64_t requests; /* completed requests */
    uint64_t generated[REC_NSIGNALS];
    uint64_t labels;
    uint64_t pending; /* requests in flight */
};

struct engine;

int engine_new(struct engine **out, struct world *w, const struct engine_opts *o,
               const struct engine_out *sink, char *err, size_t errlen);
/* Runs until the duration is reached or *stop is set; submits every partial batch before
 * returning. Returns 0. */
int engine_run(struct engine *e);
/* Safe to call from another thread while engine_run runs (relaxed atomic reads). */
void engine_progress(const struct engine *e, struct engine_progress *p);
/* Records per simulated second the scenario produces on average (spans, points, logs). */
void engine_target_rates(const struct engine *e, double per_sim_sec[REC_NSIGNALS]);
void engine_free(struct engine *e);

/* Real requests (opts.inject; any thread): a request planned by world_plan_request outside the
 * engine, e.g. by the server answering the scenario's routes in the same process. Its spans are
 * emitted, logged and counted in metrics like a simulated trace's, through the same outputs.
 * 0, or -1 when the queue is full or the plan has more than ENGINE_INJECT_SPANS spans: its
 * spans are then counted generated and dropped (queue full). */
int engine_inject(struct engine *e, const struct world_span *spans, uint32_t n, int model);
/* The simulated offset now (any thread): the clock real requests are planned on. */
uint64_t engine_sim_now(const struct engine *e);
/* Real requests that change the world's own state (a request reaching a connection pool: its
 * connections are the world's, which the engine's thread owns): runs fn(arg) on the engine's
 * thread between two events, waking it from a pacing sleep, and returns once fn returned. 0,
 * or -1 without calling fn when the engine does not take calls (no opts.inject) or has
 * stopped (engine_run returned: nothing touches the world's state any more). Any thread but
 * the engine's; blocks the caller for about one event's time. */
int engine_call(struct engine *e, void (*fn)(void *arg), void *arg);

#endif
