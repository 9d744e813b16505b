#ifndef DIORAMA_REPORT_H
#define DIORAMA_REPORT_H
/* report: what the user reads. Run summaries as text and JSON (schema: docs/summary-json.md),
 * and the live status line. Uses core only: callers copy their figures into these structs. */
#include <stdint.h>

#include "core/core.h"

#define REPORT_MAX_DROP_REASONS 8

struct report_signal {
    uint64_t generated, delivered, dropped, in_flight;
    uint64_t timed_out; /* sent, never answered, given up on: may have arrived */
    uint64_t dropped_by[REPORT_MAX_DROP_REASONS];
    uint64_t retried, requests, failed_requests, bytes;
    uint64_t latency_p50_us, latency_p99_us, latency_max_us;
    double target_rate; /* records per wall second the scenario asks for */
};

struct report_output {
    const char *name;
    struct report_signal s[REC_NSIGNALS];
};

/* Remote write beyond the point accounting (samples, series, the 2.0 Written answers). */
struct report_rw {
    int version, requested_version; /* in use at the end; asked for (differs: fell back) */
    uint64_t samples_sent, samples_delivered, series;
    int series_capped; /* series is a lower bound */
    uint64_t unwritable_points;
    uint64_t written_samples, written_histograms, written_exemplars;
    uint64_t written_mismatch, written_missing;
};

struct report_run {
    const char *scenario;
    const char *scenario_file;
    const char *run_id;
    uint64_t seed;
    double speed; /* 0 = max */
    uint64_t start_unix_ns;
    double wall_seconds;
    double simulated_seconds;
    uint64_t requests;
    uint64_t labels;
    const char *stopped_by; /* "duration" or "signal" */
    int exit_code;
    const char *const *drop_reason_names;
    int ndrop_reasons;
    const struct report_output *outputs; /* [0] is the primary one, reported as "signals" */
    int noutputs;
    const struct report_rw *remote_write; /* NULL: no --remote-write */
};

/* The whole summary as one JSON object + '\n'. */
int report_summary_json(const struct report_run *r, struct core_buf *out);
/* A human summary, several lines. */
int report_summary_text(const struct report_run *r, struct core_buf *out);

/* One status line (no newline): per signal achieved vs target rate, delivered, retried,
 * dropped, export latency. `prev` is the previous sample for rates (may equal cur). */
struct report_sample {
    double wall_seconds;
    double simulated_seconds;
    struct report_output out; /* primary output */
};
int report_status_line(const struct report_sample *prev, const struct report_sample *cur,
                       struct core_buf *out);

/* ---- diorama load results (report/load_*.c) ------------------------------------------ */
/* One second of a load run: the timeline behind the charts. By intended send time: the
 * requests due in [t_s, t_s + width_s), whenever they went out or finished. */
struct report_load_second {
    double t_s;  /* seconds since the start */
    double sent; /* requests sent, per second */
    double done; /* responses, per second */
    uint64_t errors;
    int64_t p50_us, p90_us, p99_us, max_us;
    double width_s; /* seconds covered (0 = 1); below 1 for a last second cut short */
    uint64_t late;  /* sent late */
};

struct report_threshold {
    const char *expr; /* as written: "p99<200ms" */
    double actual;    /* the measured value, in the expression's unit */
    int passed;
    const char *unit; /* of actual: "ms", "us", "s", "m", "%", "/s"; "" a fraction; NULL none */
};

/* load --scenario: one route's share of the requests and its results. */
struct report_route {
    const char *method, *path;
    double share; /* of the requests asked for, 0..1 */
    uint64_t requests, errors;
    const struct core_hdr *latency; /* us */
};

struct report_load {
    const char *url, *method, *mode;
    const char *scenario;     /* load --scenario: its name (the routes are under url), else NULL */
    int threads, connections; /* connections: the cap (-c) */
    int connections_open;     /* the most open at once (0: not known) */
    int closed_loop;          /* --rate max */
    double planned_s;         /* the duration asked for (0: not known) */
    double target_rate;       /* requests/s asked (mean over the stages); 0 when closed loop */
    double achieved_rate;
    double duration_s;
    uint64_t sent;       /* requests written (each once, whatever became of it) */
    uint64_t unfinished; /* sent, still waiting for the response when a stop ended the run */
    uint64_t requests;   /* responses received (any status) */
    uint64_t errors;     /* connect + timeout + read/write + 4xx/5xx */
    uint64_t late;       /* sent more than the lateness bound after their intended time */
    uint64_t dropped;    /* never sent (no connection free before the run ended) */
    uint64_t injected;   /* sent carrying the mode's failure */
    uint64_t connect_errors, timeouts, read_errors, write_errors;
    uint64_t status[6];         /* by class: [1]=1xx ... [5]=5xx */
    uint64_t status_codes[600]; /* by code */
    uint64_t bytes_read, bytes_written;
    const struct core_hdr *latency; /* merged, microseconds, from the intended send time */
    /* open loop (NULL or empty when closed): the scheduler's jitter and the send delay, us,
     * and the requests that found every connection busy (driver.h explains each) */
    const struct core_hdr *jitter, *send_delay;
    uint64_t conn_waits;
    const struct report_route *routes; /* --scenario, else NULL */
    size_t nroutes;
    const struct report_load_second *timeline;
    size_t ntimeline;
    const struct report_threshold *thresholds;
    size_t nthresholds;
};

/* A threshold's measured value in the unit it was written in: "12.3ms", "2.5%", "990.1/s",
 * "0.0012 (0.12%)" for an error share written as a fraction. */
void report_threshold_format(const struct report_threshold *t, char *out, size_t n);

/* wrk-style text report. */
int report_load_text(const struct report_load *r, struct core_buf *out);
/* --json: the documented schema (docs/load-json.md), hdr_b64 = wire_hdr_encode output. */
int report_load_json(const struct report_load *r, const char *hdr_b64, struct core_buf *out);
/* --html: one self-contained page (uPlot embedded) with latency over time and distribution. */
int report_load_html(const struct report_load *r, struct core_buf *out);

/* "1.2k", "3.4M": into out (>= 16 bytes). */
void report_si(double v, char *out, size_t n);

#endif
