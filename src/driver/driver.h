#ifndef DIORAMA_DRIVER_H
#define DIORAMA_DRIVER_H
/* driver: the HTTP load generator behind `diorama load`. Uses core only.
 *
 *   url        "http[s]://host[:port][/path]" -> host, port, path, tls
 *   schedule   rate stages ("0:100,30s 100,2m") -> intended send time of request k
 *   threshold  "p99<200ms,errors<0.1%,rate>990" -> checks against the results
 *   http       a streaming HTTP/1.1 response parser (status, Content-Length, chunked)
 *   modes      request bodies: built-in corpus, --corpus FILE, the failure modes
 *   run        per-thread epoll loops, open-loop scheduler, connection pools, results
 *
 * Open loop: request k has an intended send time taken from the schedule; its latency is
 * measured from that time, so a stalled target or a lack of connections shows up in the
 * percentiles instead of silently lowering the rate (no coordinated omission). */
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* ---- url ------------------------------------------------------------------------------- */
struct driver_url {
    char host[256];
    char port[8];
    char path[2048]; /* path + query, "/" when empty */
    int tls;
};
/* 0, or DIO_EPARSE with a reason in err. */
int driver_url_parse(const char *s, struct driver_url *u, char *err, size_t errn);

/* A request header as given to -H: "Name: value", a token name, no CR/LF. 1 if usable. */
int driver_header_ok(const char *h);

/* ---- schedule -------------------------------------------------------------------------- */
#define DRIVER_MAX_STAGES 64

/* A stage ramps linearly from `from` to `to` requests/s over `dur_ns` (a hold has from == to). */
struct driver_stage {
    double from, to;
    uint64_t dur_ns;
};

struct driver_schedule {
    struct driver_stage st[DRIVER_MAX_STAGES];
    int n;
    double total;      /* expected requests over all stages */
    uint64_t total_ns; /* length of all stages */
};

/* "100" (constant for dflt_ns), "0:100,30s 100,2m 100:0,30s" (stages separated by spaces);
 * rates also as "6000/m". 0, or DIO_EPARSE with a reason in err. */
int driver_schedule_parse(const char *s, uint64_t dflt_ns, struct driver_schedule *sc, char *err,
                          size_t errn);
/* Time (ns since the start) at which `count` requests are due: the inverse of the
 * cumulative count. Returns UINT64_MAX when count is beyond the schedule. */
uint64_t driver_schedule_time(const struct driver_schedule *sc, double count);
/* Expected number of requests due by time t (ns since the start). */
double driver_schedule_count(const struct driver_schedule *sc, uint64_t t_ns);
double driver_schedule_peak(const struct driver_schedule *sc);

/* ---- threshold ------------------------------------------------------------------------- */
enum driver_metric { DRV_M_PCT, DRV_M_MAX, DRV_M_MEAN, DRV_M_ERRORS, DRV_M_RATE };

struct driver_threshold {
    char expr[64];
    int metric;
    double pct;   /* DRV_M_PCT: 50, 99.9 ... */
    int op;       /* '<', '>', 'l' (<=), 'g' (>=) */
    double limit; /* in `unit_ns` units for latency; fraction (0..1) for errors; req/s */
    double unit;  /* latency: ns per unit of the expression ("ms" -> 1e6); errors: 100 for % */
};

#define DRIVER_MAX_THRESHOLDS 32
/* "p99<200ms,errors<0.1%" -> up to max entries. Returns the count or DIO_EPARSE (err set). */
int driver_threshold_parse(const char *s, struct driver_threshold *t, int max, char *err,
                           size_t errn);

/* ---- http response parser --------------------------------------------------------------- */
struct driver_http {
    int state;
    int status;
    int head;       /* the request was HEAD: no body whatever the headers say */
    int chunked;    /* Transfer-Encoding: chunked */
    int close;      /* Connection: close, or HTTP/1.0 without keep-alive */
    int until_eof;  /* no length: the body ends when the server closes */
    int64_t remain; /* body or chunk bytes still to come; -1 unknown */
    uint32_t header_bytes;
    uint16_t linelen;
    char line[128]; /* the current line's first bytes: all we need to recognise */
};

void driver_http_reset(struct driver_http *p, int head);
/* Feed n bytes. Returns 1 when a response is complete (*used = bytes consumed, the rest
 * belongs to the next response), 0 when more is needed (all consumed), DIO_EPARSE on bad
 * input. */
int driver_http_feed(struct driver_http *p, const char *data, size_t n, size_t *used);
/* The server closed the connection: 1 if that completes the response, else 0. */
int driver_http_eof(struct driver_http *p);

/* ---- modes and bodies ------------------------------------------------------------------- */
enum driver_mode { DRV_NORMAL, DRV_LATENCY, DRV_ERROR, DRV_BLOAT, DRV_NMODES };
const char *driver_mode_name(int mode);
int driver_mode_parse(const char *s); /* -1 if unknown */

/* One ready-to-write request: the exact bytes on the wire. */
struct driver_req {
    char *buf;
    size_t len;
    int injected; /* carries the mode's failure (delay header, malformed body, bloat) */
    int head;     /* a HEAD request: its response has no body */
    int route;    /* index into driver_opts.routes (0 without) */
    uint32_t client_delay_ms;
};

/* ---- request templates from a scenario (--scenario) --------------------------------------- */
/* One HTTP entry point of the simulated system: what its users call. */
struct driver_route {
    const char *method; /* "GET", "POST" ... (points into the scenario) */
    const char *path;   /* "/checkout": appended to the URL's path */
    double weight;      /* requests per second the scenario sends there */
};
#define DRIVER_MAX_ROUTES 64

struct scenario;
/* The scenario's entry points that are HTTP routes (an operation named "METHOD /route" with a
 * rate, or a model's entry operation), weighted by the arrival rate they get in the
 * scenario. Returns how many (at most max); *total is the sum of the weights. */
int driver_routes_from_scenario(const struct scenario *s, struct driver_route *out, int max,
                                double *total);

/* A corpus: bodies ready for a request (JSON objects). Owns its strings. */
struct driver_corpus {
    char **body;
    size_t n;
};
/* Lines (each a JSON object used as is, or text wrapped as {"text": ...}) or a JSON array
 * (strings wrapped, objects as is). Caps: 64 MiB input, 100,000 bodies, 1 MiB each.
 * 0, or DIO_EPARSE with a reason in err. */
int driver_corpus_parse(const char *data, size_t n, struct driver_corpus *c, char *err,
                        size_t errn);
void driver_corpus_builtin(struct driver_corpus *c);
void driver_corpus_free(struct driver_corpus *c);

/* ---- run ------------------------------------------------------------------------------ */
#define DRIVER_MAX_HEADERS 32

struct driver_opts {
    struct driver_url url;
    const char *method;                      /* NULL: POST with a body, else GET */
    const char *headers[DRIVER_MAX_HEADERS]; /* "Name: value" */
    int nheaders;
    const struct driver_route *routes; /* --scenario: requests spread over these, by weight */
    int nroutes;                       /* 0: every request goes to url */
    const char *body;                  /* --body / --body-file contents; NULL: the mode's corpus */
    size_t body_len;
    const struct driver_corpus *corpus; /* NULL: built-in */
    int mode;
    double share; /* fraction of requests that carry the failure; < 0: the mode's default */
    uint64_t client_delay_ns;
    const char *tag_header, *tag_value; /* NULL value: DIORAMA_<MODE> */
    uint64_t seed;
    int closed_loop; /* --rate max */
    int poisson;
    struct driver_schedule sched; /* open loop */
    uint64_t duration_ns;         /* closed loop (open loop: the schedule's length) */
    int threads, connections;
    uint64_t timeout_ns;
    uint64_t late_ns; /* a request sent later than this after its intended time is late */
    const volatile sig_atomic_t *stop; /* set by a signal handler: end early, still report */
};

/* One entry of the timeline: the requests *due* in [t_s, t_s + width), whenever they were sent
 * or finished (so every entry holds its fast and its slow requests, and the timeline spans the
 * schedule, not the wait for the last responses). Percentiles at 2 significant digits. */
struct driver_second {
    double t_s;
    uint64_t sent, done, errors, late;
    int64_t p50, p90, p99, max;
    double width; /* seconds this entry covers (>1 after merging; <1 for a cut-short last one) */
};

struct driver_result {
    uint64_t sent, requests, errors, late, dropped, unfinished;
    uint64_t connect_errors, timeouts, read_errors, write_errors;
    uint64_t status[6];
    uint64_t status_codes[600];
    uint64_t bytes_read, bytes_written;
    uint64_t injected;
    uint64_t conn_waits;     /* open loop: found every connection busy when due (-c reached) */
    struct core_hdr latency; /* us, from the intended send time (closed loop: actual send) */
    /* Open loop, us. jitter: the scheduler's own error, the moment a due request was handed to
     * a connection minus its due time, for requests that found a connection (idle, or a free
     * slot to open). send_delay: first byte written minus due time, for every request; it adds
     * the connect time of new connections and the wait of conn_waits requests for a busy
     * target. Both are in the latency already (it runs from the intended time). */
    struct core_hdr jitter;
    struct core_hdr send_delay;
    /* --scenario: per route (driver_opts.routes order); latency at 2 significant digits */
    struct driver_route_result {
        uint64_t requests, errors; /* errors: connect/timeout/read/write + 4xx/5xx */
        struct core_hdr latency;
    } * routes;
    int nroutes;
    struct driver_second *timeline;
    size_t ntimeline;
    double send_seconds; /* length of the sending phase as run */
    double wall_seconds;
    int stopped; /* ended by the stop flag */
    int max_connections;
};

/* Live figures for the progress line (read by another thread while the run goes on). */
struct driver_progress {
    double elapsed_s;
    uint64_t sent, done, errors, late;
    int64_t p50_us, p99_us;
    int connections;
};

struct driver_run;
/* Builds the requests and starts the worker threads. NULL and err set on failure. */
struct driver_run *driver_start(const struct driver_opts *o, char *err, size_t errn);
/* Snapshot for progress output; returns 1 while the run goes on, 0 once finished. */
int driver_poll(struct driver_run *r, struct driver_progress *p);
/* Joins the threads and fills res (which the caller frees with driver_result_free). */
void driver_finish(struct driver_run *r, struct driver_result *res);
void driver_result_free(struct driver_result *res);

/* The unit of a threshold's measured value: "us", "ms", "s", "m", "%", "/s", or "" (an error
 * share written as a fraction). */
const char *driver_threshold_unit(const struct driver_threshold *t);
/* Evaluates thresholds; fills actual[i] (in the expression's unit) and returns the number
 * that failed. */
int driver_threshold_check(const struct driver_threshold *t, int n, const struct driver_result *r,
                           double target_rate, double *actual, int *passed);

#endif
