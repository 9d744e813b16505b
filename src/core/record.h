#ifndef DIORAMA_CORE_RECORD_H
#define DIORAMA_CORE_RECORD_H
/* The telemetry data model shared by engine/ (which fills batches), wire/ (which encodes them)
 * and export/ (which moves them). Part of core so that those modules need not see each other.
 *
 * Ownership: a batch owns its record, attribute, bucket and string arrays, all allocated once
 * at rec_batch_new with fixed capacities, so a batch never grows (memory is bounded by
 * configuration). Attribute keys, metric descriptors and resources are owned by the world and
 * live for the whole run; string values point either into the world or into the batch's
 * string arena (valid until rec_batch_reset).
 *
 * Grouping: encoders group records by resource (stable: order within a resource is kept).
 * For metrics, a run of consecutive points with the same descriptor and consecutive sequence
 * numbers forms one Metric message; the engine emits points metric-major to make runs long. */
#include <stddef.h>
#include <stdint.h>

enum rec_signal { REC_SPANS = 0, REC_METRICS = 1, REC_LOGS = 2, REC_NSIGNALS = 3 };
extern const char *const rec_signal_names[REC_NSIGNALS]; /* "spans", "metric_points", "logs" */

/* Verification attributes (see docs/verification.md). */
#define REC_ATTR_SEQ "diorama.seq"
#define REC_ATTR_GEN "diorama.gen_time_unix_nano"
#define REC_ATTR_POINTS "diorama.points" /* metric metadata: points in this Metric */
#define REC_ATTR_RUN "diorama.run_id"    /* resource attribute */

struct rec_str {
    const char *p;
    uint32_t len;
};

enum rec_attr_type { REC_STR, REC_INT, REC_DBL, REC_BOOL };

struct rec_attr {
    const char *key; /* NUL-terminated, world-owned */
    uint32_t key_len;
    uint8_t type;
    union {
        struct rec_str s;
        int64_t i;
        double d;
        int b;
    } v;
};

struct rec_resource {
    const struct rec_attr *attrs;
    uint32_t nattrs;
    const char *scope_name; /* instrumentation scope */
    const char *scope_version;
    const char *job;      /* Prometheus job label: service.namespace/service.name */
    const char *instance; /* Prometheus instance label: service.instance.id */
};

struct rec_span {
    uint8_t trace_id[16];
    uint8_t span_id[8];
    uint8_t parent_id[8]; /* all zero: a root span */
    uint64_t start_ns;
    uint64_t end_ns;
    uint64_t seq;    /* per-stream sequence number */
    uint64_t gen_ns; /* generation time */
    struct rec_str name;
    struct rec_str status_msg;
    uint32_t attr_off; /* into batch->attrs */
    uint32_t nattrs;
    uint16_t res;   /* index into batch->resources */
    uint8_t kind;   /* OTLP SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer */
    uint8_t status; /* 0 unset, 1 ok, 2 error */
};

enum rec_metric_type { REC_GAUGE, REC_SUM, REC_HISTOGRAM };

struct rec_metric {
    const char *name; /* OTel name, e.g. "http.server.request.duration" */
    const char *description;
    const char *unit; /* UCUM: "s", "1", "{request}", "{token}", "By" */
    uint8_t type;     /* enum rec_metric_type */
    uint8_t monotonic;
    uint8_t temporality;  /* 1 delta, 2 cumulative */
    uint8_t is_int;       /* gauge/sum values are integers */
    const double *bounds; /* histogram explicit bounds, strictly increasing */
    uint32_t nbounds;
};

struct rec_point {
    const struct rec_metric *metric;
    uint64_t start_ns;
    uint64_t time_ns;
    uint64_t seq;
    uint64_t gen_ns;
    union {
        double d;
        int64_t i;
    } value;        /* gauge, sum */
    uint64_t count; /* histogram */
    double sum, min, max;
    uint32_t bucket_off; /* histogram: metric->nbounds + 1 counts in batch->buckets */
    uint32_t attr_off;
    uint32_t nattrs;
    uint16_t res;
};

struct rec_log {
    uint64_t time_ns;
    uint64_t observed_ns;
    uint64_t seq;
    uint64_t gen_ns;
    uint8_t trace_id[16]; /* all zero: not correlated */
    uint8_t span_id[8];
    struct rec_str body;
    uint32_t attr_off;
    uint32_t nattrs;
    uint16_t res;
    uint8_t severity; /* OTLP SeverityNumber: 9 INFO, 13 WARN, 17 ERROR ... */
};

struct rec_batch {
    int signal;
    uint32_t n, cap;
    union {
        struct rec_span *spans;
        struct rec_point *points;
        struct rec_log *logs;
    } r;
    struct rec_attr *attrs;
    uint32_t nattrs, attrs_cap;
    uint64_t *buckets;
    uint32_t nbuckets, buckets_cap;
    char *strs;
    uint32_t strs_len, strs_cap;
    const struct rec_resource *resources; /* world-owned table */
    uint32_t nresources;
    uint64_t created_ns; /* monotonic time of the first record (for batch timeouts) */
};

/* cap records; attrs_per_rec attributes, buckets and string bytes per record on average. */
struct rec_batch *rec_batch_new(int signal, uint32_t cap, uint32_t attrs_per_rec,
                                uint32_t buckets_per_rec, uint32_t str_bytes_per_rec);
void rec_batch_free(struct rec_batch *b);
void rec_batch_reset(struct rec_batch *b);
/* Room for one more record with nattrs attributes, nbuckets buckets and nstr string bytes? */
int rec_batch_fits(const struct rec_batch *b, uint32_t nattrs, uint32_t nbuckets, uint32_t nstr);
/* Append helpers: return NULL when the batch is full (callers check rec_batch_fits first). */
struct rec_attr *rec_batch_attrs(struct rec_batch *b, uint32_t n, uint32_t *off);
uint64_t *rec_batch_buckets(struct rec_batch *b, uint32_t n, uint32_t *off);
struct rec_str rec_batch_str(struct rec_batch *b, const char *s, uint32_t len);

/* Attribute constructors (key must outlive the batch). */
static inline void rec_attr_str(struct rec_attr *a, const char *key, uint32_t klen, const char *s,
                                uint32_t len)
{
    a->key = key;
    a->key_len = klen;
    a->type = REC_STR;
    a->v.s.p = s;
    a->v.s.len = len;
}
static inline void rec_attr_int(struct rec_attr *a, const char *key, uint32_t klen, int64_t i)
{
    a->key = key;
    a->key_len = klen;
    a->type = REC_INT;
    a->v.i = i;
}
static inline void rec_attr_dbl(struct rec_attr *a, const char *key, uint32_t klen, double d)
{
    a->key = key;
    a->key_len = klen;
    a->type = REC_DBL;
    a->v.d = d;
}
static inline void rec_attr_bool(struct rec_attr *a, const char *key, uint32_t klen, int b)
{
    a->key = key;
    a->key_len = klen;
    a->type = REC_BOOL;
    a->v.b = b;
}
#define REC_KEY(lit) lit, (uint32_t)(sizeof(lit) - 1)

#endif
