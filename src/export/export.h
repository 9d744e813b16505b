#ifndef DIORAMA_EXPORT_H
#define DIORAMA_EXPORT_H
/* export: moving record batches out of the process, with delivery accounting.
 * Uses core and wire.
 *
 * Data flow: the engine takes an empty batch from the hub (export_hub_batch), fills it and
 * submits it (export_hub_submit). The hub hands every submitted batch to every output; each
 * output runs on its own thread (or inline, for the null output used by benchmarks) and
 * returns the batch when done with it. Batches come from a fixed pool per signal, so memory is
 * bounded by configuration (queue_batches x batch size), never by run length.
 *
 * Accounting, per output and signal, always holds:
 *     generated == delivered + sum(dropped[reason]) + timed_out + in_flight
 * where in_flight counts records queued, being sent or waiting for a retry, and timed_out
 * counts records given up on after a request carrying them was sent in full and never
 * answered (timeout, connection lost, shutdown deadline): they may have arrived, so they are
 * neither delivered nor dropped. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/core.h"
#include "httpd/httpd.h"

enum export_drop_reason {
    EXPORT_DROP_QUEUE_FULL = 0, /* the queue had no room (real-time mode) */
    EXPORT_DROP_REJECTED,       /* non-retryable status (4xx but 429), or partial success */
    EXPORT_DROP_RETRIES,        /* retry budget exhausted */
    EXPORT_DROP_SHUTDOWN,       /* still queued or unsent at the shutdown deadline */
    EXPORT_DROP_ENCODE,         /* could not be encoded (too large for a request) */
    EXPORT_DROP_IO,             /* file output: write error */
    EXPORT_DROP_NREASONS
};
extern const char *const export_drop_reason_names[EXPORT_DROP_NREASONS];

struct export_signal_stats {
    uint64_t generated;
    uint64_t delivered;
    uint64_t dropped[EXPORT_DROP_NREASONS];
    uint64_t in_flight;
    uint64_t timed_out;       /* given up on unanswered: may have arrived (see above) */
    uint64_t retried;         /* records re-sent */
    uint64_t requests;        /* requests attempted (incl. retries) */
    uint64_t failed_requests; /* attempts that did not succeed */
    uint64_t bytes;           /* payload bytes sent (after compression) */
    uint64_t latency_p50_us;  /* export request latency, successful requests */
    uint64_t latency_p99_us;
    uint64_t latency_max_us;
};

struct export_stats {
    struct export_signal_stats s[REC_NSIGNALS];
};

static inline uint64_t export_dropped_total(const struct export_signal_stats *s)
{
    uint64_t t = 0;
    for (int i = 0; i < EXPORT_DROP_NREASONS; i++)
        t += s->dropped[i];
    return t;
}

/* ---- outputs --------------------------------------------------------------------------- */
struct export_output;

struct export_otlp_http_cfg {
    char *url[REC_NSIGNALS]; /* full URLs (".../v1/traces" ...); NULL = signal not exported */
    char **headers;          /* "Name: value" strings, NULL-terminated, may be NULL */
    int gzip;
    int verify_attrs;
    uint64_t timeout_ns;       /* per request, default 10s */
    uint64_t retry_initial_ns; /* first backoff, default 1s (OTel SDK: 1s, x1.5... we use x2) */
    uint64_t retry_max_ns;     /* cap on one backoff, default 5s */
    uint64_t retry_budget_ns;  /* give up on a batch after this long, default 30s */
    int max_concurrent;        /* requests in flight per signal, default 4 */
    uint64_t seed;             /* for backoff jitter */
    /* Added by export/: per-signal settings from OTEL_EXPORTER_OTLP_<SIGNAL>_HEADERS and
     * _<SIGNAL>_COMPRESSION. signal_headers[s] are sent after `headers` (NULL-terminated,
     * may be NULL); signal_gzip[s]: 0 = as `gzip`, 1 = gzip, -1 = none. */
    char **signal_headers[REC_NSIGNALS];
    int signal_gzip[REC_NSIGNALS];
    /* Per signal, from the URL scheme (grpc://) or OTEL_EXPORTER_OTLP_[<SIGNAL>_]PROTOCOL.
     * For EXPORT_OTLP_GRPC url[s] is "http://host:port" (the authority; the path is the
     * service's /opentelemetry.proto.collector.<signal>.v1.<Signal>Service/Export). */
    int protocol[REC_NSIGNALS];
    /* OTEL_EXPORTER_OTLP_CERTIFICATE: a PEM file of CAs that OTLP/gRPC over TLS trusts
     * instead of the system's ("": the system's). An array, so copies of cfg own it. */
    char certificate[1024];
};

enum export_otlp_protocol {
    EXPORT_OTLP_HTTP_PROTOBUF = 0,
    EXPORT_OTLP_HTTP_JSON = 1, /* http/json: OTLP/JSON bodies, Content-Type application/json */
    EXPORT_OTLP_GRPC = 2
};

/* Fills cfg from the flag URL (may be NULL) and the standard environment: flag beats
 * OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT beats OTEL_EXPORTER_OTLP_ENDPOINT (a base URL to which
 * v1/<signal> is appended); OTEL_EXPORTER_OTLP_HEADERS, _<SIGNAL>_HEADERS,
 * OTEL_EXPORTER_OTLP_COMPRESSION (gzip|none), OTEL_EXPORTER_OTLP_TIMEOUT (ms).
 * Returns 0, DIO_ENOENT (no endpoint anywhere) or DIO_EINVAL/DIO_EPARSE (err says why).
 * A signal gets a URL from the flag or OTEL_EXPORTER_OTLP_ENDPOINT (all three signals) or its
 * own _<SIGNAL>_ENDPOINT; signals without one stay NULL. OTEL_EXPORTER_OTLP_PROTOCOL (and
 * _<SIGNAL>_PROTOCOL) sets protocol[] (export_otlp_protocol_parse; an unknown value is
 * DIO_EINVAL). Every field is (re)initialised
 * (cfg may be uninitialised on entry): apply flag overrides after the call. signal_gzip[s]
 * (from _<SIGNAL>_COMPRESSION) wins over gzip for that signal, so a flag that must beat the
 * environment for all signals also clears signal_gzip[]. On error cfg holds nothing to free
 * (calling export_otlp_http_cfg_free is still fine). */
int export_otlp_http_cfg_resolve(struct export_otlp_http_cfg *cfg, const char *flag_url, char *err,
                                 size_t errlen);
void export_otlp_http_cfg_free(struct export_otlp_http_cfg *cfg);
/* An OTEL_EXPORTER_OTLP_PROTOCOL / --otlp-protocol value ("http/protobuf", "http/json") into
 * *protocol (enum export_otlp_protocol). 0 or DIO_EINVAL. */
int export_otlp_protocol_parse(const char *v, int *protocol);
/* Checks an OTLP/HTTP endpoint the way export_otlp_http_cfg_resolve does (http or https,
 * a host, a port 1..65535 when given, no spaces or control characters), so a flag can be
 * refused while parsing. 0 or DIO_EINVAL with err naming `from` and the URL. */
int export_otlp_url_check(const char *url, const char *from, char *err, size_t errlen);
/* Parses an OTEL_EXPORTER_OTLP_HEADERS list ("k=v,k2=v2", values percent-decoded) and appends
 * "Name: value" strings to the NULL-terminated array *headers (allocated; free with
 * export_headers_free). Names must be HTTP tokens; values may not contain control characters
 * (so a percent-encoded CR/LF cannot inject headers). 0 or DIO_EPARSE/DIO_EINVAL (err says why;
 * *headers keeps what it had). */
int export_headers_parse(const char *list, char ***headers, char *err, size_t errlen);
void export_headers_free(char **headers);

struct export_output *export_otlp_http_new(const struct export_otlp_http_cfg *cfg);
/* OTLP/gRPC (otlp_grpc.c): unary Export calls over HTTP/2 (libnghttp2), cleartext (prior
 * knowledge) for http:// urls, TLS (ALPN h2) for https://; the n-th call in flight of every
 * signal is a stream on the n-th of cfg.max_concurrent connections per authority.
 * Exports the signals whose protocol[s] is EXPORT_OTLP_GRPC; the rest of cfg as for HTTP
 * (gzip = grpc-encoding gzip, timeout_ns = grpc-timeout and the call's deadline). */
struct export_output *export_otlp_grpc_new(const struct export_otlp_http_cfg *cfg);
/* OTLP/JSON lines, one Export*ServiceRequest per line. NULL and err on open failure. */
struct export_output *export_otlp_file_new(const char *path, int verify_attrs, char *err,
                                           size_t errlen);
/* Encodes (OTLP protobuf) and discards, inline on the submitting thread: for benchmarks. */
struct export_output *export_null_new(int verify_attrs);

/* ---- InfluxDB line protocol (influx.c; docs/influx.md) ---------------------------------- */
struct export_influx_cfg {
    const char *url; /* http[s]://[user:password@]host:port[/write?db=NAME[&u=..&p=..]] */
    int gzip;        /* Content-Encoding: gzip */
    uint64_t timeout_ns, retry_initial_ns, retry_max_ns, retry_budget_ns; /* 0 = as OTLP */
    uint64_t seed;                                                        /* backoff jitter */
};
/* Checks url as --influx takes it (http/https, host, port; no precision other than ns).
 * 0 or DIO_EINVAL with err (credentials masked). */
int export_influx_url_check(const char *url, char *err, size_t errlen);
/* Metric points as line protocol to url (a bare http://host:port gets /write); credentials
 * from the URL or $INFLUX_USERNAME/$INFLUX_PASSWORD/$INFLUX_TOKEN. NULL and err on a bad URL. */
struct export_output *export_influx_new(const struct export_influx_cfg *cfg, char *err,
                                        size_t errlen);
/* How an InfluxDB /write answer counts (exposed for tests and the fuzzer): 1 when the request
 * was taken, *rejected of its `records` points refused (400 "partial write ... dropped=N"),
 * 0 when it was not (retry or reject by status). body may be NULL when n is 0. */
int export_influx_answer(long status, const void *body, size_t n, uint64_t records,
                         uint64_t *rejected);
/* url with the password of user:password@ and the values of p=, password=, token= and
 * access_token= replaced by ****, into out (n bytes, NUL-terminated). */
void export_url_mask(const char *url, char *out, size_t n);

/* ---- OpenMetrics file (openmetrics_file.c; docs/openmetrics.md) ------------------------ */
/* The whole run's metric points as one OpenMetrics text file that `promtool tsdb
 * create-blocks-from openmetrics` accepts: families never interleave, so points are spooled
 * per family into unlinked temporary files next to path (64 KiB of memory each, at most
 * EXPORT_OM_MAX_FAMILIES) and the file is assembled when the hub stops: written to
 * path + ".tmp" and renamed, so path is always whole. Points count as in flight until then,
 * delivered once the file is complete. NULL and err when path's directory is not writable. */
#define EXPORT_OM_MAX_FAMILIES 256
struct export_output *export_om_file_new(const char *path, char *err, size_t errlen);

/* ---- PostgreSQL (postgres.c; schema and behaviour: docs/postgres.md) ------------------- */
struct export_pg_cfg {
    const char *url;    /* postgresql://[user[:password]@]host[:port]/db[?param=value...] */
    const char *run_id; /* the world's run id, a column of every row */
    int verify_attrs;   /* fill the seq / gen_time columns */
    uint64_t retry_initial_ns, retry_max_ns; /* backoff: default 500ms, 5s */
    uint64_t retry_budget_ns;                /* give up on a batch after this, default 60s */
    uint64_t seed;                           /* backoff jitter */
};
/* Checks that url is a postgresql:// or postgres:// URI libpq can parse. 0, or DIO_EPARSE
 * and err says why (the password, if any, masked). Does not connect. */
int export_pg_url_check(const char *url, char *err, size_t errlen);
/* url with the password (userinfo or ?password=) replaced by "****", into out. */
void export_pg_url_mask(const char *url, char *out, size_t n);
/* Connects (credentials from the URL, else PGUSER, PGPASSWORD, ~/.pgpass ... as libpq does)
 * and creates the tables if missing. NULL and err (password masked) when that fails. */
struct export_output *export_pg_new(const struct export_pg_cfg *cfg, char *err, size_t errlen);
/* A fault label for the diorama_labels table; json is the whole label object (no newline
 * needed). Called on the engine thread; copied into a bounded queue (overflow is counted and
 * reported when the output stops). Strings and trace_id may die after the call. */
struct export_label {
    uint64_t start_ns, end_ns;
    const char *target, *kind, *fault;
    const uint8_t *trace_id; /* 16 bytes or NULL */
    const char *json;
    size_t json_len;
};
void export_pg_label(struct export_output *o, const struct export_label *l);
/* COPY text format encoders (exposed for the table test). copy_text appends s[0..n) as one
 * field: backslash, tab, newline and CR escaped, invalid UTF-8 and NUL bytes replaced by
 * U+FFFD (PostgreSQL text holds neither). json_str appends s[0..n) as a JSON string literal
 * that jsonb accepts (same replacements: jsonb refuses an escaped NUL). */
int export_pg_copy_text(struct core_buf *out, const char *s, size_t n);
int export_pg_json_str(struct core_buf *out, const char *s, size_t n);
const char *export_output_name(const struct export_output *o);
unsigned export_output_signals(const struct export_output *o); /* bit per REC_* it exports */
/* Only for an output that was never handed to a hub (the hub frees its outputs). */
void export_output_free(struct export_output *o);

/* ---- Prometheus remote write (remote_write.c; docs/remote-write.md) ------------------- */
struct export_rw_cfg {
    const char *url;      /* http(s)://[user:password@]host[:port]/path (user:password: basic) */
    const char *bearer;   /* Authorization: Bearer token, or NULL */
    char **headers;       /* extra "Name: value" strings, NULL-terminated, may be NULL */
    int version;          /* 1 (default) or 2; 2 falls back to 1 on a 415 */
    uint32_t max_samples; /* per request, default WIRE_RW_DEFAULT_SAMPLES (2000) */
    int shards;           /* requests in flight, each for its own share of series; default 1 */
    uint64_t timeout_ns;  /* per request, default 30s */
    uint64_t retry_initial_ns, retry_max_ns; /* backoff: default 30ms, 5s (Prometheus') */
    uint64_t retry_budget_ns;                /* give up on a request after this, default 60s */
    uint64_t seed;                           /* backoff jitter */
};
/* What the output wrote beyond the hub's record (point) accounting. */
struct export_rw_stats {
    int version, requested_version; /* in use now (1 after a 415 fallback), and asked for */
    uint64_t samples_sent;          /* in requests, retries and fallbacks included */
    uint64_t samples_delivered;     /* in requests answered 2xx */
    uint64_t series;                /* distinct series delivered (valid once the hub stopped) */
    int series_capped;              /* more distinct series than it remembers: a lower bound */
    uint64_t unwritable_points;     /* delta temporality or malformed: dropped(encode) */
    /* 2.0: the receiver's X-Prometheus-Remote-Write-*-Written answers, summed */
    uint64_t written_samples, written_histograms, written_exemplars;
    uint64_t written_mismatch; /* 2xx answers whose Written counts differ from what was sent */
    uint64_t written_missing;  /* 2xx answers to 2.0 without the Written headers (-> 1.0) */
};
/* An http:// or https:// URL with a host. 0 or DIO_EINVAL (err names the URL, masked). */
int export_rw_url_check(const char *url, char *err, size_t errlen);
/* url with user:password@ shown as ****@. */
void export_rw_url_mask(const char *url, char *out, size_t n);
struct export_output *export_rw_new(const struct export_rw_cfg *cfg);
/* 0, or DIO_EINVAL when o is not a remote-write output. */
int export_rw_stats(const struct export_output *o, struct export_rw_stats *st);

/* ---- hub ------------------------------------------------------------------------------- */
struct export_hub_cfg {
    uint32_t batch_size[REC_NSIGNALS]; /* records per batch (default 1024 / 4096 / 1024) */
    uint64_t batch_timeout_ns;         /* flush a partial batch after this long (default 1s) */
    uint32_t queue_batches;            /* batches per signal in the pool (default 64) */
    int block_when_full;               /* 1: export_hub_batch waits (--speed max); 0: drops */
};

struct export_hub;

/* Takes ownership of the outputs. */
struct export_hub *export_hub_new(const struct export_hub_cfg *cfg, struct export_output **outs,
                                  size_t nouts);
int export_hub_start(struct export_hub *h);
/* An empty batch for signal, owned by the caller until submitted. NULL when the pool is empty
 * and block_when_full is 0: the caller must then count what it could not emit with
 * export_hub_drop(..., EXPORT_DROP_QUEUE_FULL). */
struct rec_batch *export_hub_batch(struct export_hub *h, int signal);
/* Hands a filled batch to every output (an empty batch is just recycled). */
void export_hub_submit(struct export_hub *h, struct rec_batch *b);
void export_hub_drop(struct export_hub *h, int signal, uint64_t n, int reason);
/* Stop accepting, deliver what is queued until deadline (monotonic ns), count the rest as
 * dropped(shutdown), join threads. */
void export_hub_shutdown(struct export_hub *h, uint64_t deadline_ns);
size_t export_hub_noutputs(const struct export_hub *h);
const struct export_output *export_hub_output(const struct export_hub *h, size_t i);
/* A consistent-enough snapshot (each counter read atomically). */
void export_hub_stats(const struct export_hub *h, size_t output, struct export_stats *out);
void export_hub_free(struct export_hub *h);

/* ---- retry policy (pure; exposed for the table test) ----------------------------------- */
enum export_verdict { EXPORT_OK = 0, EXPORT_RETRY = 1, EXPORT_FAIL = 2 };
/* status: HTTP status, or 0 for a transport failure (refused, reset, timeout).
 * retry_after: the Retry-After header value or NULL. attempt: 1 for the first retry.
 * Sets *delay_ns for EXPORT_RETRY: Retry-After when given (seconds or HTTP-date relative to
 * now_wall_ns), else min(initial * 2^(attempt-1), max) with full jitter in [d/2, d]. */
int export_retry_policy(int status, const char *retry_after, int attempt, uint64_t initial_ns,
                        uint64_t max_ns, uint64_t now_wall_ns, struct core_rng *rng,
                        uint64_t *delay_ns);
/* The exponential backoff export_retry_policy uses: min(initial * 2^(attempt-1), max) with
 * jitter in [d/2, d] (rng NULL: no jitter). */
uint64_t export_retry_backoff(int attempt, uint64_t initial_ns, uint64_t max_ns,
                              struct core_rng *rng);
/* gRPC (grpc_status.c). code: a gRPC status code, or -1 for a transport failure (refused,
 * reset, no grpc-status). Retryable per the OTLP spec: CANCELLED, DEADLINE_EXCEEDED, ABORTED,
 * OUT_OF_RANGE, UNAVAILABLE, DATA_LOSS, and RESOURCE_EXHAUSTED only with a RetryInfo. The
 * delay is the RetryInfo's retry_delay when there is one (has_retry_info), else the backoff. */
int export_grpc_policy(int code, int has_retry_info, uint64_t retry_info_ns, int attempt,
                       uint64_t initial_ns, uint64_t max_ns, struct core_rng *rng,
                       uint64_t *delay_ns);
/* "UNAVAILABLE" ...; "code 42" style names are not needed: unknown codes are "UNKNOWN". */
const char *export_grpc_code_name(int code);
/* grpc-status-details-bin: base64 (padded or not) of a google.rpc.Status. Finds a
 * google.rpc.RetryInfo among its details: *has = 1 and *delay_ns (capped at one day).
 * msg (may be NULL) gets the Status message. Bounded by n; 0 or DIO_EPARSE. */
int export_grpc_status_details(const char *b64, size_t n, int *has, uint64_t *delay_ns, char *msg,
                               size_t msglen);
/* Retry-After: delta-seconds or an HTTP-date (IMF-fixdate, RFC 850 or asctime form), as a
 * delay from now_wall_ns (0 for a date in the past; capped at one day). 0 or DIO_EPARSE. */
int export_retry_after_parse(const char *v, uint64_t now_wall_ns, uint64_t *delay_ns);
/* Reads an Export{Trace,Metrics,Logs}ServiceResponse (protobuf): *rejected = partial_success
 * .rejected_<items> (0 when absent), msg = its error_message (truncated, NUL-terminated; may
 * be NULL). Bounded, never reads past n. 0 or DIO_EPARSE. */
int export_otlp_partial_success(const void *body, size_t n, int64_t *rejected, char *msg,
                                size_t msglen);
/* The same from an OTLP/JSON response (http/json; partial_json.c): partialSuccess
 * .rejected<Items> (a number or decimal string), errorMessage. 0 or DIO_EPARSE. */
int export_otlp_partial_success_json(const void *body, size_t n, int64_t *rejected, char *msg,
                                     size_t msglen);

/* ---- Parquet writer (parquet.c): flat tables, snappy pages, plain encoding ------------- */
#define EXPORT_PQ_MAX_COLS 64
#define EXPORT_PQ_MAX_NAME 127                   /* bytes in a column name */
#define EXPORT_PQ_GROUP_ROWS 65536               /* default rows per row group */
#define EXPORT_PQ_GROUP_SLACK 65536              /* rows a group may take past its cap */
#define EXPORT_PQ_GROUP_BYTES ((size_t)64 << 20) /* value bytes that make a group full */
#define EXPORT_PQ_MAX_VALUE ((size_t)16 << 20)   /* bytes in one string value */
enum export_pq_type { EXPORT_PQ_TIMESTAMP_MS, EXPORT_PQ_DOUBLE, EXPORT_PQ_STRING };
struct export_pq_col {
    const char *name; /* copied */
    int type;         /* enum export_pq_type: INT64 TIMESTAMP(MILLIS, UTC), DOUBLE, UTF8 */
    int optional;     /* 1: may be null (definition levels are written) */
};
struct export_pq;
/* Writes "PAR1" to f (which stays the caller's; the writer never seeks). NULL for a bad
 * schema (no columns, more than EXPORT_PQ_MAX_COLS, an empty or too long name). */
struct export_pq *export_pq_new(FILE *f, const struct export_pq_col *cols, int ncols,
                                uint32_t group_rows);
/* One value per column per row, then export_pq_end_row. DIO_EINVAL for a wrong column, type
 * or a second value in the row, DIO_ERANGE for a string over EXPORT_PQ_MAX_VALUE, DIO_EFULL
 * past the group's caps (flush first), DIO_EIO once a write failed. Strings are bytes as
 * given (the caller keeps them UTF-8). */
int export_pq_put_i64(struct export_pq *p, int col, int64_t v);
int export_pq_put_double(struct export_pq *p, int col, double v);
int export_pq_put_str(struct export_pq *p, int col, const char *s, size_t n);
int export_pq_put_null(struct export_pq *p, int col);
int export_pq_end_row(struct export_pq *p); /* DIO_EINVAL: a column has no value */
/* 1 when the buffered rows reached group_rows or EXPORT_PQ_GROUP_BYTES: flush now. */
int export_pq_full(const struct export_pq *p);
/* Writes the buffered rows as one row group (nothing when there are none). 0 or DIO_EIO. */
int export_pq_flush(struct export_pq *p);
/* Flushes and writes the footer; then fflush(f). 0 or DIO_EIO. The caller closes f. */
int export_pq_close(struct export_pq *p);
uint64_t export_pq_rows_written(const struct export_pq *p); /* in row groups written */
void export_pq_free(struct export_pq *p);

/* ---- training data: --dataset DIR (dataset.c; docs/dataset.md) ------------------------- */
enum { EXPORT_DATASET_CSV = 1, EXPORT_DATASET_PARQUET = 2 };
/* An entity whose metric points become rows: points of resource `res` (without a
 * gen_ai.request.model attribute) belong to it, or, with model = 1, the points carrying
 * gen_ai.request.model = name. Strings are copied. */
struct export_dataset_entity {
    const char *name, *kind, *profile;
    int res;
    int model;
};
/* A business metric (the scenario's `business:`) whose points become rows of the business
 * table (business.csv / business.parquet): points of the metric named `name`, one series per
 * value of attribute `key` (NULL: one series). Strings are copied. */
struct export_dataset_biz {
    const char *name, *unit, *key;
    int type; /* enum rec_metric_type: REC_SUM (a counter), REC_GAUGE, REC_HISTOGRAM */
    const char *const *values; /* [nvalues] */
    int nvalues;
};
struct export_dataset_cfg {
    const char *dir; /* exists (export_dataset_check_dir); metrics.csv / metrics.parquet */
    int formats;     /* EXPORT_DATASET_* bits */
    const struct export_dataset_entity *ents;
    size_t nents;
    uint64_t start_ns;                    /* the run's start: the first interval begins here */
    uint32_t group_rows;                  /* Parquet rows per row group, 0 = EXPORT_PQ_GROUP_ROWS */
    const struct export_dataset_biz *biz; /* none (nbiz 0): no business files */
    size_t nbiz;
};
/* Creates dir if missing (one level). 0, or DIO_EINVAL with err saying why (a file is in the
 * way, cannot create, not writable). */
int export_dataset_check_dir(const char *dir, char *err, size_t errlen);
/* Opens the files (truncating them). NULL and err when a file cannot be created. */
struct export_output *export_dataset_new(const struct export_dataset_cfg *cfg, char *err,
                                         size_t errlen);
/* The state and active fault labels of every entity (cfg order) at a metric tick, given on
 * the thread that submits metric batches, before that tick's points (strings copied). The
 * output matches them to the points with the same timestamp. */
struct export_dataset_state {
    const char *state;  /* "healthy", "degrading" ... */
    double progress;    /* 0..1 through the transition into state; 1 when settled */
    const char *faults; /* active fault names, ';'-joined, "" when none */
};
void export_dataset_annotate(struct export_output *o, uint64_t time_ns,
                             const struct export_dataset_state *st);
uint64_t export_dataset_rows(const struct export_output *o);     /* rows written so far */
uint64_t export_dataset_biz_rows(const struct export_output *o); /* business rows so far */
/* CSV field encoding (exposed for the table test): s[0..n) as one RFC 4180 field, quoted
 * when it holds a comma, quote, CR or LF (quotes doubled) or starts/ends with a space. */
int export_csv_field(struct core_buf *out, const char *s, size_t n);

/* ---- Prometheus pull listener ----------------------------------------------------------- */
struct export_prom;
/* The largest /metrics answer served, world and self-metrics together (--prom-max-bytes
 * changes it). A scrape that would be larger is answered 503, logged and counted in
 * diorama_prom_scrapes_too_large_total, never cut short silently. */
#define EXPORT_PROM_MAX_BYTES ((size_t)64 << 20)

struct export_prom_cfg {
    const char *listen;       /* httpd_addr_parse syntax: "127.0.0.1:9464", "9464" ... */
    struct httpd_config http; /* cap and timeouts; zeros = the httpd defaults */
    size_t max_bytes;         /* 0 = EXPORT_PROM_MAX_BYTES */
};
/* NULL and err on failure: *rc (may be NULL) is DIO_EINVAL for a bad address, DIO_EIO when
 * it cannot be bound. */
struct export_prom *export_prom_start(const struct export_prom_cfg *cfg, int *rc, char *err,
                                      size_t errlen);
/* Replace the exposition body served for the simulated world's metrics (copied). */
void export_prom_publish(struct export_prom *p, const void *text, size_t len);
/* The hub whose self-metrics (diorama_*) are appended to every scrape; may be NULL. */
void export_prom_set_hub(struct export_prom *p, const struct export_hub *h);
void export_prom_stop(struct export_prom *p);
/* The port actually bound (useful with port 0). */
int export_prom_port(const struct export_prom *p);
/* GET /metrics requests answered so far (any thread). */
uint64_t export_prom_scrapes(const struct export_prom *p);

#endif
