#ifndef DIORAMA_REPORT_H
#define DIORAMA_REPORT_H
/* report: what the user reads. Run summaries as text and JSON (schema: docs/summary-json.md),
 * and the live status line. Uses core only: callers copy their figures into these structs. */
#include <stdint.h>

#include "core/core.h"

#define REPORT_MAX_DROP_REASONS 8

struct report_signal {
    uint64_t generated, delivered, dropped, in_flight;
    uint64_t dropped_by[REPORT_MAX_DROP_REASONS];
    uint64_t retried, requests, failed_requests, bytes;
    uint64_t latency_p50_us, latency_p99_us, latency_max_us;
    double target_rate; /* records per wall second the scenario asks for */
};

struct report_output {
    const char *name;
    struct report_signal s[REC_NSIGNALS];
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

/* "1.2k", "3.4M": into out (>= 16 bytes). */
void report_si(double v, char *out, size_t n);

#endif
