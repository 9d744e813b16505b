#ifndef DIORAMA_SINK_H
#define DIORAMA_SINK_H
/* sink: an OTLP/HTTP and Prometheus remote-write receiver that verifies what arrived.
 * Uses core, wire (decoders) and httpd (the listener base).
 *
 *   server.c   the listener (httpd base): body accumulation with a hard cap, faults (delay,
 *              down windows)
 *   handle.c   one request -> route, content type/encoding, decode, verify, response bytes;
 *              works without sockets (sink_handle) for tests and the benchmark
 *   verify.c   counters per signal / service / name (bounded), per-stream sequence windows
 *              (loss, duplicates, reordering), end-to-end latency histogram
 *   expect.c   reading a `diorama run --summary-json` and the verdict
 *   result.c   the result as JSON (docs/sink.md) and as text
 *
 * Memory is bounded by the configuration: raw request bodies by max_buffered over all
 * connections (and max_request each), decompressed copies by max_request per server thread
 * (per connection with --delay), sequence windows by max_runs x 3 x 2^window_log2
 * bits, name tables by max_names. Thread-safety: sink_handle may be called from any number of
 * threads; counters are taken under one mutex per request. */
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "httpd/httpd.h"

#define SINK_NSIGNALS 4 /* spans, metric points, logs, remote-write samples (WIRE_SAMPLES) */
#define SINK_MAX_FAULTS 8
#define SINK_MAX_DOWN 8
/* --delay at most this: a held response holds a connection (not a thread) */
#define SINK_MAX_DELAY_NS (30ULL * 1000000000ULL)

extern const char *const sink_signal_names[SINK_NSIGNALS];

struct sink_fault {
    unsigned status; /* HTTP status to answer with, 400..599 */
    double share;    /* of data requests, 0..1 */
};

struct sink_window {
    uint64_t at_ns;  /* after the start */
    uint64_t for_ns; /* how long connections are refused */
};

struct sink_cfg {
    const char *listen;       /* "127.0.0.1:4318", ":0" ... (httpd_addr_parse) */
    size_t max_request;       /* decompressed (and raw) body limit; 0 = 64 MiB */
    size_t max_buffered;      /* raw bodies held at once, all connections; 0 = 4 x max_request */
    unsigned threads;         /* listener worker threads; 0 = number of CPUs */
    struct httpd_config http; /* connection cap and timeouts; zeros = the httpd defaults */
    uint64_t seed;            /* fault choices */
    struct sink_fault faults[SINK_MAX_FAULTS];
    int nfaults;
    int64_t retry_after_s; /* Retry-After on fault responses; -1 = none */
    uint64_t delay_ns;     /* hold every data response this long (<= SINK_MAX_DELAY_NS) */
    struct sink_window down[SINK_MAX_DOWN];
    int ndown;
    uint32_t max_names;     /* distinct services / names kept per signal; 0 = 1000 */
    uint32_t max_runs;      /* distinct run ids with sequence tracking; 0 = 16 */
    unsigned window_log2;   /* sequence window per stream, 2^n; 0 = 20 */
    const char *record_dir; /* write every accepted data request body here; NULL = off */
    /* OTLP/gRPC over h2c on this address too (httpd_addr_parse syntax); NULL = off. Same
     * caps and timeouts (http), body limits, faults and down windows; --delay not applied. */
    const char *grpc_listen;
};

struct sink;

/* 0 or DIO_EINVAL with err. The sink is idle until sink_start (sink_handle works at once). */
int sink_new(struct sink **out, const struct sink_cfg *cfg, char *err, size_t errlen);
void sink_free(struct sink *s);
/* Binds and starts serving. 0, or DIO_EIO/DIO_EINVAL with err. */
int sink_start(struct sink *s, char *err, size_t errlen);
int sink_port(const struct sink *s);
/* The OTLP/gRPC port (0 without grpc_listen). */
int sink_grpc_port(const struct sink *s);
/* Drives the --down-for windows; call every few tens of ms from one thread. */
void sink_poll(struct sink *s);
/* Stops accepting and waits for requests in progress (idempotent); responses held by --delay
 * are answered at once. */
void sink_stop(struct sink *s);

/* ---- one request, without sockets -------------------------------------------------------- */
struct sink_request {
    const char *method;
    const char *path;
    const char *content_type;     /* NULL = absent */
    const char *content_encoding; /* NULL = absent */
    const void *body;
    size_t len;
    uint64_t arrival_ns; /* wall clock; 0 = now */
};

struct sink_response {
    unsigned status;
    const char *content_type; /* static string */
    int64_t retry_after;      /* Retry-After seconds; -1 = no header */
    /* Remote write 2.0: X-Prometheus-Remote-Write-{Samples,Histograms,Exemplars}-Written;
     * rw_written[0] < 0 = no such headers. */
    int64_t rw_written[3];
    struct core_buf body; /* owned by the caller: init before, free after */
};

/* Answers rq into rs (rs->body is reset first). Never fails: every problem is a status. */
void sink_handle(struct sink *s, const struct sink_request *rq, struct sink_response *rs);
/* A request refused without looking at its body: 413 (over --max-request-size) or 503 (the
 * server's --max-buffered budget is used up; with Retry-After: 1). Counts it, fills rs. */
void sink_refuse(struct sink *s, const struct sink_request *rq, unsigned status,
                 struct sink_response *rs);
size_t sink_max_request(const struct sink *s);

/* ---- what arrived ------------------------------------------------------------------------ */
struct sink_totals {
    uint64_t received[SINK_NSIGNALS]; /* accepted items (points for metrics) */
    uint64_t invalid[SINK_NSIGNALS];  /* rejected in a partial success */
    uint64_t requests, bytes;         /* data requests, raw body bytes */
    uint64_t status[6];               /* responses by class: [2]=2xx ... [5]=5xx */
    uint64_t faults;                  /* requests answered by --fail */
    uint64_t lost, duplicates, reordered;
    int64_t e2e_p50_us, e2e_p99_us, e2e_max_us;
};
void sink_totals(struct sink *s, struct sink_totals *t);

/* ---- verdict ----------------------------------------------------------------------------- */
struct sink_expect {
    char run_id[64];
    uint64_t generated[3], delivered[3], dropped[3]; /* spans, metric_points, logs */
    double speed; /* the run's --speed: 0 = max, -1 = not in the summary */
};
/* Reads a diorama.run.summary/v1 file. 0, DIO_ENOENT (missing or empty: not written yet),
 * DIO_EPARSE (not such a summary, or still being written) with err. */
int sink_expect_load(const char *path, struct sink_expect *e, char *err, size_t errlen);
/* 1 when every expected record of e's run has been received (received >= delivered). */
int sink_expect_complete(struct sink *s, const struct sink_expect *e);

enum { SINK_VERDICT_NONE, SINK_VERDICT_PASS, SINK_VERDICT_FAIL };

/* The full result (schema diorama.sink.result/v1, docs/sink.md) as one JSON object + '\n';
 * e may be NULL (verdict "none"). Returns the verdict. */
int sink_result_json(struct sink *s, const struct sink_expect *e, double wall_s,
                     struct core_buf *out);
/* The same for people, several lines. Returns the verdict. */
int sink_result_text(struct sink *s, const struct sink_expect *e, double wall_s,
                     struct core_buf *out);
/* One status line (no newline); prev is the totals of an earlier sample, dt_s the seconds
 * between the two. */
void sink_status_line(const struct sink_totals *prev, const struct sink_totals *cur, double dt_s,
                      struct core_buf *out);

#endif
