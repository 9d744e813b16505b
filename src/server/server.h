#ifndef DIORAMA_SERVER_H
#define DIORAMA_SERVER_H
/* server: the world as real HTTP services (`diorama serve`), the demo target of `diorama load`.
 * Uses core, world, wire (Prometheus text) and httpd (the listener base).
 *
 *   routes.c    the route table: every server operation named "METHOD /path" of every service,
 *               plus GET /metrics and GET /healthz; matching, 404 vs 405 + Allow
 *   validate.c  X-Diorama-Delay, request bodies (content type, JSON object, /classify's text),
 *               the classifier's label
 *   model.c     the latency model: an operation's own latency, its calls, the model of an
 *               inference operation, the scenario's faults; deterministic per (seed, request)
 *   metrics.c   counters updated from many threads (atomics only) and their /metrics text
 *   handle.c    one request -> status, body and how long to hold the answer; no sockets
 *   timer.c     one thread and a min-heap of deadlines: held answers wait deferred in the
 *               listener, never in a thread of their own
 *   http.c      the listener (httpd base's HTTP/1.1): whole requests, deferred answers, stop
 *
 * Memory is bounded by the configuration: a body by max_body per connection, held answers by
 * max_connections (one per connection), metric series by fixed tables (docs/serve.md).
 * docs/serve.md describes routes, the latency model, status codes and metrics. */
#include <stddef.h>
#include <stdint.h>

#include "httpd/httpd.h"
#include "world/world.h"

/* Kinds counted in diorama_serve_faults_total{kind}: the world's fault kinds, then the
 * operations' own error_rate. */
#define SERVER_NFAULT_KINDS 9
extern const char *const server_fault_kinds[SERVER_NFAULT_KINDS];

struct server_cfg {
    const char *listen;       /* "127.0.0.1:8000", ":8000", "[::1]:8000"; port 0 = any */
    uint64_t seed;            /* latency draws, model choices, probability faults */
    unsigned threads;         /* listener worker threads; 0 = number of CPUs */
    uint64_t max_delay_ns;    /* X-Diorama-Delay above this gets 400 */
    size_t max_body;          /* request bodies above this get 413; 0 = 1 MiB */
    struct httpd_config http; /* connection cap and timeouts; zeros = the httpd defaults */
    /* Optional, for a server inside a run (run/up --serve): the world's clock (the simulated
     * offset now, which time-window faults, states and shapes are read at) and where each
     * request's whole plan goes (the engine emits its spans, logs and metrics). NULL: serve's
     * own clock from server_new, and the plan is only answered. */
    uint64_t (*clock)(void *ctx);
    void (*planned)(void *ctx, const struct world_span *spans, uint32_t n, int model);
    /* Optional, with the above: runs fn(arg) on the thread that runs the world and returns 0
     * once it ran, or -1 without running it when the world stopped. A request whose plan
     * reaches a connection pool (`pool:`) is planned through it, so that it queues on the
     * world's connections with the simulated requests. NULL: such plans take a lock instead
     * (serve: the pools are the server's alone). */
    int (*on_world)(void *ctx, void (*fn)(void *arg), void *arg);
    void *hook_ctx;
    /* Optional (serve --control): every answer of a scenario route is counted here, route i
     * (server_route_name) as world_agg route i - SERVER_BUILTIN_ROUTES, 5xx as errors. */
    struct world_agg *agg;
};

struct server_stats {
    uint64_t requests;
    uint64_t by_class[6]; /* [1] = 1xx ... [5] = 5xx */
    uint64_t delayed;     /* answers that honoured a non-zero X-Diorama-Delay */
    uint64_t cut;         /* held answers cut short by a stop (answered 503) */
    uint64_t faults[SERVER_NFAULT_KINDS];
    int64_t inflight;
};

struct server;

/* Builds the route table for w (which must outlive the server). 0, or DIO_EINVAL with err
 * (a scenario without any "METHOD /path" server operation still serves /metrics and /healthz,
 * so that is not an error). handle works at once; nothing listens until server_start. */
int server_new(struct server **out, const struct world *w, const struct server_cfg *cfg, char *err,
               size_t errlen);
void server_free(struct server *s);
/* Binds, listens and starts the worker threads. 0, DIO_EINVAL (bad address) or DIO_EIO
 * (cannot bind: err says why, e.g. "address already in use"). */
int server_start(struct server *s, char *err, size_t errlen);
int server_port(const struct server *s);
/* Stops accepting, lets requests in progress finish for up to grace_ns (held answers keep
 * their deadline), answers those still held with 503, then stops the threads. Idempotent. */
void server_stop(struct server *s, uint64_t grace_ns);
void server_stats(const struct server *s, struct server_stats *out);

/* ---- the control API (control.c, docs/control-api.md) ----------------------------------- */
#define SERVER_CONTROL_DEFAULT_LISTEN "127.0.0.1:8080"
struct server_control_cfg {
    const char *listen;       /* NULL: SERVER_CONTROL_DEFAULT_LISTEN */
    const char *token;        /* NULL or "": changes need none (loopback only) */
    size_t max_body;          /* 0: 64 KiB */
    double speed;             /* the run's --speed (0 = max: PUT /api/speed is refused) */
    struct httpd_config http; /* zeros: the httpd defaults */
    struct world_agg *agg;    /* per-second aggregates (/api/aggregates, SSE); NULL: none */
    uint64_t start_unix_ns;   /* the simulated clock at the world's offset 0 (faults' until) */
};
struct server_control;
/* Checks the address and the token rule (a non-loopback address needs a token): 0, or
 * DIO_EINVAL with err. w must outlive it; its commands go to w's queue. */
int server_control_new(struct server_control **out, struct world *w,
                       const struct server_control_cfg *cfg, char *err, size_t errlen);
/* Binds and serves. 0 or DIO_EIO with err. */
int server_control_start(struct server_control *c, char *err, size_t errlen);
int server_control_port(const struct server_control *c);
/* The world's thread: every label, as it happens (fills GET /api/labels and the entity
 * states GET shows). NULL c is fine. */
void server_control_label(struct server_control *c, const struct world_label *l);
/* The world stopped (its run ended; GETs still answer, e.g. during --linger): changes get 503.
 * NULL c is fine. */
void server_control_end(struct server_control *c);
void server_control_free(struct server_control *c);

/* The routes in match order: i in [0, server_nroutes), "GET /metrics" style names owned by
 * the server. */
#define SERVER_BUILTIN_ROUTES 2 /* GET /metrics, GET /healthz: the scenario's routes follow */
int server_nroutes(const struct server *s);
const char *server_route_name(const struct server *s, int i);

#endif
