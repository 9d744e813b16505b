#ifndef DIORAMA_SERVER_INTERNAL_H
#define DIORAMA_SERVER_INTERNAL_H
/* server/ internals shared by its files (and its unit tests and fuzzer): not API. */
#include <pthread.h>
#include <stdatomic.h>

#include "server/server.h"

/* ---- routes (routes.c) ------------------------------------------------------------------ */
enum { SERVER__R_SCENARIO = 0, SERVER__R_METRICS = 1, SERVER__R_HEALTH = 2 };

struct server__route {
    const char *method; /* "GET"; points into the scenario or a literal */
    const char *path;   /* pattern: "/users/{id}" matches one non-empty segment per {..} */
    char *name;         /* "GET /users/{id}": the route label (owned) */
    int kind;           /* SERVER__R_* */
    int svc, op;        /* the scenario operation behind a SERVER__R_SCENARIO route */
    int classify;       /* the last path segment is "classify": text required, label answer */
    int *models;        /* models whose entry is this operation */
    double *cum;        /* their cumulative rates (the choice is weighted by rate) */
    int nmodels;
    int tokens;         /* reports llm_tokens_used_total (a model enters here, or classify) */
    uint32_t max_spans; /* spans in this route's plan (world_max_spans, capped) */
};

struct server__routes {
    struct server__route *r;
    int n;
};

/* Built-ins first (GET /metrics, GET /healthz), then the scenario's server operations in
 * file order; a method+path already present is skipped (the first one wins). */
void server__routes_build(struct server__routes *rt, const struct world *w);
void server__routes_free(struct server__routes *rt);
/* 1 when path matches pattern segment by segment ("{x}" = any one non-empty segment). */
int server__path_match(const char *pattern, const char *path);
/* The route index for method + path (HEAD also matches GET routes), or -1 when no route has
 * this path (404), or -2 when some have it with other methods (405; allow gets "GET, POST"). */
int server__route_find(const struct server__routes *rt, const char *method, const char *path,
                       char *allow, size_t allow_len);

/* ---- validation (validate.c) ------------------------------------------------------------ */
/* X-Diorama-Delay: "3500ms", "2s", "250us", "1.5s", or a bare number of milliseconds ("3500").
 * 0, DIO_EPARSE (malformed) or DIO_ERANGE (over max_ns); msg says which, naming the header. */
int server__parse_delay(const char *value, uint64_t max_ns, uint64_t *ns, char *msg, size_t n);

enum {
    SERVER__LABEL_JOB,
    SERVER__LABEL_INTERVIEW,
    SERVER__LABEL_REJECTION,
    SERVER__LABEL_OFFER,
    SERVER__LABEL_OTHER,
    SERVER__NLABELS
};
extern const char *const server__labels[SERVER__NLABELS];

/* What a valid body said that the answer needs. */
struct server__text {
    int has_text;    /* a string field "text" was present */
    size_t text_len; /* its length in bytes */
    int label;       /* SERVER__LABEL_* of the text (when has_text) */
    double confidence;
};

/* Checks a body for a POST/PUT/PATCH route: Content-Type application/json (parameters
 * allowed; 415 otherwise), a JSON object (400 otherwise), and with need_text a non-empty
 * string "text" (422 otherwise). 0 with *t filled, or the status with msg. */
int server__validate_body(const char *content_type, const void *body, size_t len, int need_text,
                          struct server__text *t, char *msg, size_t n);
/* The label of an e-mail: keyword rules in a fixed order, else "other"; the confidence is a
 * hash of the text, so the same text always gets the same answer. */
void server__classify(const char *text, size_t len, int *label, double *confidence);

/* ---- the latency model (model.c) -------------------------------------------------------- */
#define SERVER__PLAN_SPANS 64 /* a plan of up to this many spans lives on the stack */

struct server__model {
    const struct world *w;
    uint64_t seed;
    _Atomic uint64_t *op_count; /* per operation (flat index): every-N triggers */
    int *op_base;               /* flat index of each service's first operation */
    _Atomic uint64_t *model_count;
    int *fault_kind; /* per world fault: index into server_fault_kinds */
    void (*planned)(void *ctx, const struct world_span *spans, uint32_t n, int model);
    int (*on_world)(void *ctx, void (*fn)(void *arg), void *arg); /* server_cfg.on_world */
    void *hook_ctx;
    uint8_t *pooled;         /* per operation (flat index): its plan may reach a pool */
    pthread_mutex_t pool_mu; /* plans that reach a pool, without on_world: one at a time */
};

struct server__plan {
    uint64_t latency_ns;            /* the modelled time to answer */
    int status;                     /* 200, or the error the scenario decided */
    int model;                      /* the model that ran, -1 none */
    uint32_t tokens_in, tokens_out; /* from the model (0 when it does not report tokens) */
    double tokens_factor;           /* token_bloat effect on this request, 1 when none */
    uint32_t faults[SERVER_NFAULT_KINDS];
    uint64_t pool_wait_ns; /* the longest wait for a pool's connection in the plan */
    int pool_svc, pool_op; /* the pool a request gave up waiting for (-1: none) */
};

void server__model_init(struct server__model *m, const struct world *w, uint64_t seed);
void server__model_free(struct server__model *m);
/* Request number k (1-based, in arrival order) on route r at t_ns since the start. Draws
 * come from the RNG (seed, k); every-N faults count per operation and model, so the same
 * seed and the same request order give the same plans. Safe from any number of threads. */
void server__plan(struct server__model *m, const struct server__route *r, uint64_t k, uint64_t t_ns,
                  struct server__plan *p);

/* ---- metrics (metrics.c) ---------------------------------------------------------------- */
#define SERVER__NBOUNDS 15
#define SERVER__NTRAFFIC 18 /* "none", 16 values as sent, "other" */
#define SERVER__TRAFFIC_MAX 64
#define SERVER__NMETHODS 8
#define SERVER__SERIES_CAP 4096 /* slots of the request counter table (a power of two) */

extern const double server__bounds[SERVER__NBOUNDS];

struct server__hist {
    _Atomic uint64_t b[SERVER__NBOUNDS + 1];
    _Atomic uint64_t sum_ns;
};

struct server__series {
    _Atomic uint64_t key; /* 0 = free; else 1 + packed (route, method, traffic, status) */
    _Atomic uint64_t n;
};

struct server__metrics {
    int nroutes;                /* hist and tokens have nroutes + 1 entries: last = unmatched */
    struct server__series *tab; /* SERVER__SERIES_CAP */
    _Atomic uint64_t lost;      /* requests whose series found the table full */
    struct server__hist *hist;  /* per route */
    _Atomic uint64_t (*tokens)[2];
    _Atomic uint64_t classes[6], delayed, cut;
    _Atomic uint64_t faults[SERVER_NFAULT_KINDS];
    _Atomic int64_t inflight;
    char traffic[SERVER__NTRAFFIC][SERVER__TRAFFIC_MAX + 1];
    atomic_int ntraffic; /* slots published (release after the string is written) */
    pthread_mutex_t traffic_mu;
};

void server__metrics_init(struct server__metrics *m, int nroutes);
void server__metrics_free(struct server__metrics *m);
/* The label index of an X-Traffic-Type value (NULL = "none"); the first 16 distinct values
 * keep their own label, later ones (and values over 64 bytes) count as "other". */
int server__traffic_index(struct server__metrics *m, const char *value);
int server__method_index(const char *method);
extern const char *const server__methods[SERVER__NMETHODS];

/* ---- one request (handle.c) ------------------------------------------------------------- */
struct server__request {
    const char *method;
    const char *path;
    const char *content_type; /* NULL = absent */
    const char *delay;        /* X-Diorama-Delay, NULL = absent */
    const char *traffic;      /* X-Traffic-Type, NULL = absent */
    const void *body;
    size_t len;
    int body_over; /* the body grew past max_body while arriving: 413 */
};

struct server__answer {
    int status;
    int route; /* index, or -1 (unmatched) */
    int method, traffic;
    const char *content_type;
    char allow[96];   /* 405: the Allow header */
    uint64_t wait_ns; /* hold the answer this long after the request arrived */
    int delayed;      /* a non-zero X-Diorama-Delay is part of wait_ns */
    uint32_t tokens_in, tokens_out;
    uint32_t faults[SERVER_NFAULT_KINDS];
    struct core_buf body;
};

/* ---- the control API (control.c) ------------------------------------------------------- */
struct server__control_req {
    const char *method, *path;
    const char *auth;  /* the Authorization header, or NULL */
    const char *after; /* ?after= of /api/labels, or NULL */
    const char *body;
    size_t len;
    int body_over; /* the body was over max_body (not kept) */
};
/* One request -> the answer (no sockets: the listener, the unit tests and the fuzzer). */
void server__control_handle(struct server_control *c, const struct server__control_req *rq,
                            struct server__answer *a);

void server__answer_init(struct server__answer *a);
void server__answer_free(struct server__answer *a);
/* Routes, validates, plans and writes the answer; wait_ns says how long to hold it. */
void server__handle(struct server *s, const struct server__request *rq, struct server__answer *a);
/* Makes a an error answer: {"error":msg,"status":status} (msg must be printable ASCII). */
void server__answer_error(struct server__answer *a, int status, const char *msg);
/* Counts an answer that was sent, dur_ns after its request arrived. */
void server__count(struct server *s, const struct server__answer *a, uint64_t dur_ns);
/* /metrics: the Prometheus text of every counter. */
int server__metrics_text(struct server *s, struct core_buf *out);

/* ---- the web console (console.c, docs/console.md) ------------------------------------- */
/* web/console's files, embedded at build time (scripts/embed_console.cmake). Ends with a NULL
 * name; data is NUL-terminated, len excludes the NUL; etag is a quoted hash of the data. */
struct server__console_asset {
    const char *name; /* the file name: "index.html", "app.js", "uPlot.esm.js" ... */
    const unsigned char *data;
    size_t len;
    const char *etag;
};
extern const struct server__console_asset server__console_assets[];

/* One console answer, without sockets. body points into the embedded data or into dyn. */
struct server__console_reply {
    int status;
    const char *type; /* Content-Type */
    const char *etag; /* NULL: none (and Cache-Control: no-store) */
    const void *body;
    size_t len;
    char allow[16];      /* 405: the Allow header */
    struct core_buf dyn; /* generated answers (graph.json, errors); the caller frees it */
};

/* 1 when the console answers url: "/", "/index.html" or anything under "/console/". */
int server__console_wants(const char *url);
/* GET/HEAD of a console file (304 when if_none_match names its ETag), or of
 * /console/graph.json (the world's shape; 401 unless may_read). 404 and 405 otherwise. */
void server__console_answer(const struct world *w, const char *method, const char *url,
                            const char *if_none_match, int may_read,
                            struct server__console_reply *r);
/* The listener's side: answers with the console's headers (CSP, ETag, nosniff). */
void server__console_respond(struct httpd_h1_request *rq, struct httpd_h1_response *rs,
                             const struct world *w, int may_read);

/* ---- the timer (timer.c) ---------------------------------------------------------------- */
/* fire(item, cut) runs on the timer thread when item's deadline passed (cut = 0), or on the
 * thread calling server__timer_drain (cut = 1). */
typedef void (*server__fire_fn)(void *item, int cut);

struct server__timer_entry {
    uint64_t at_ns;
    void *item;
};

struct server__timer {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct server__timer_entry *heap; /* min-heap on at_ns, cap entries, fixed */
    size_t n, cap;
    int stop, draining, running;
    int firing; /* the timer thread is firing an item it popped (outside the lock) */
    pthread_t thread;
    server__fire_fn fire;
};

/* cap: most items held at once (one per connection). 0 or DIO_EIO (no thread). */
int server__timer_start(struct server__timer *t, size_t cap, server__fire_fn fire);
/* Holds item until at_ns: under the timer's lock, calls before(item) (which suspends the
 * connection) and queues it, so an item is never fired before it was suspended. -1 without
 * calling before when draining or full: the caller answers at once. */
int server__timer_add(struct server__timer *t, uint64_t at_ns, void *item,
                      void (*before)(void *item));
/* Fires every held item with cut = 1 and refuses new ones from now on; returns once every
 * item ever added has been fired (none is left suspended). */
void server__timer_drain(struct server__timer *t);
/* Joins the thread (drain first: held items are dropped otherwise). */
void server__timer_stop(struct server__timer *t);
size_t server__timer_held(struct server__timer *t);

/* ---- the server ------------------------------------------------------------------------- */
struct server__http; /* http.c */

struct server {
    struct server_cfg cfg;
    const struct world *w;
    struct server__routes rt;
    struct server__model model;
    struct server__metrics m;
    struct server__timer timer;
    struct server__http *http;
    uint64_t t0_ns;      /* monotonic, at server_new: time-window faults count from here */
    _Atomic uint64_t k;  /* requests that reached the model so far */
    atomic_int stopping; /* answers carry Connection: close */
    int port;
};

int server__http_start(struct server *s, char *err, size_t errlen);
void server__http_stop(struct server *s, uint64_t grace_ns);

#endif
