#ifndef DIORAMA_WIRE_H
#define DIORAMA_WIRE_H
/* wire: encoders (and later decoders) for the formats diorama speaks. Uses core (+ zlib).
 *
 *   pb      a minimal protobuf writer (canonical encoding, fields in field-number order)
 *   otlp    ExportTrace/Metrics/LogsServiceRequest as protobuf and as OTLP/JSON
 *   prom    Prometheus text exposition 0.0.4 from metric points
 *   gzip    whole-buffer gzip for Content-Encoding: gzip
 *
 * Encoders append to a core_buf and return 0 or DIO_EFULL (the buffer's cap was reached; the
 * buffer's content is then unspecified and the caller should reset it). The OTLP encoders also
 * return DIO_EINVAL for a batch whose records point outside it (resource index, attribute or
 * bucket range, missing metric descriptor); they write nothing then.
 *
 * docs/otlp-mapping.md says field by field what is written; docs/verification.md what the
 * verification attributes mean. All encoders are thread-safe (no global state). */
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

struct wire_otlp_opts {
    int verify_attrs; /* emit diorama.seq / diorama.gen_time_unix_nano (see docs/verification.md) */
};

/* One Export<Signal>ServiceRequest holding the whole batch, grouped by resource (stable).
 * Cost: two passes (measure, then write with unchecked pointer ops into room reserved once),
 * about 100 ns for a span with 10 attributes. On DIO_EFULL the buffer is left unchanged.
 * o may be NULL (no verification attributes). */
int wire_otlp_pb_encode(struct core_buf *out, const struct rec_batch *b,
                        const struct wire_otlp_opts *o);
/* The same request as OTLP/JSON on a single line terminated by '\n' (the OpenTelemetry
 * Collector file exporter / otlpjsonfile receiver format). */
int wire_otlp_json_encode(struct core_buf *out, const struct rec_batch *b,
                          const struct wire_otlp_opts *o);

/* Prometheus text 0.0.4 for a set of metric point batches (one scrape's worth). Families are
 * kept together; names follow the OTel->Prometheus mapping (dots to _, unit suffixes, _total
 * for monotonic sums); resource job/instance become labels. A series present several times
 * keeps its last point; delta-temporality sums and histograms are left out (Prometheus can only
 * show cumulative values). DIO_EINVAL for points that reference outside their batch. */
#define WIRE_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
int wire_prom_encode(struct core_buf *out, const struct rec_batch *const *batches, size_t n);
/* The Prometheus name of an OTel metric (e.g. "http_server_request_duration_seconds") into
 * out (n bytes, NUL-terminated). 0, DIO_ERANGE when it does not fit, DIO_EINVAL without name. */
int wire_prom_name(const struct rec_metric *m, char *out, size_t n);

/* InfluxDB line protocol (influx.c, docs/influx.md) for a batch of metric points, appended:
 * one line per gauge/sum point (`<prom name>,<tags> value=<v> <ns>`), buckets/_sum/_count lines
 * per histogram point. *skipped: points left out (a NaN or infinite value: line protocol has
 * no such floats). 0, DIO_EFULL (out unchanged) or DIO_EINVAL (points outside the batch). */
int wire_influx_encode(struct core_buf *out, const struct rec_batch *b, uint32_t *skipped);

/* OpenMetrics 1.0 text (openmetrics.c, docs/openmetrics.md), written a family at a time.
 * A family is one Prometheus name (counters without _total); type 0 counter, 1 gauge,
 * 2 histogram. unit is the UNIT metadata ("seconds", "" for none: only when the name ends
 * with it, as OpenMetrics requires). */
#define WIRE_OM_CONTENT_TYPE "application/openmetrics-text; version=1.0.0; charset=utf-8"
struct wire_om_family {
    char name[256];
    char unit[64];
    int type;
};
/* The family of metric m: 0, or DIO_EINVAL when it has no OpenMetrics form (no name, or delta
 * temporality, which Prometheus cannot store). */
int wire_om_family(const struct rec_metric *m, struct wire_om_family *f);
/* "# TYPE", "# UNIT" (when set) and "# HELP" lines of f (help from m's description). */
int wire_om_meta(struct core_buf *out, const struct wire_om_family *f, const struct rec_metric *m);
/* The sample lines of one point of family f, with its timestamp (seconds, ms precision):
 * labels job, instance and the point's attributes as on /metrics. 0, DIO_EFULL, or DIO_EINVAL
 * (outside the batch, or a value OpenMetrics refuses: a NaN or infinite counter). */
int wire_om_point(struct core_buf *out, const struct wire_om_family *f, const struct rec_batch *b,
                  const struct rec_point *pt);

/* gzip (RFC 1952) of in into out (appended). level 1..9. */
int wire_gzip(struct core_buf *out, const void *in, size_t n, int level);

/* ---- decoders (used by sink/; implemented in decode_*.c) ----------------------------------
 * Decoding never trusts input lengths: bodies are capped before decompression (the output
 * buffer's max), protobuf is unpacked by protobuf-c (generated from proto/) through an
 * allocator with a byte budget, JSON by jansson with a depth limit. Each decoded item is handed
 * to a callback as a view valid only during the call. */
#define WIRE_SAMPLES 3 /* signal index for remote-write samples, after REC_LOGS */

struct wire_item {
    int signal;             /* REC_SPANS, REC_METRICS, REC_LOGS or WIRE_SAMPLES */
    struct rec_str service; /* resource service.name (remote write: job label) */
    struct rec_str run_id;  /* resource diorama.run_id; empty when absent */
    struct rec_str name;    /* span name, metric name, log event name or body prefix, __name__ */
    int64_t seq;            /* diorama.seq, -1 when absent; metrics: the Metric's first seq */
    uint32_t count;         /* items this view stands for: 1, or the data points of a Metric,
                             * or the samples of a remote-write series */
    uint64_t gen_ns;        /* diorama.gen_time_unix_nano, 0 when absent */
    uint64_t time_ns;       /* span end, point time, log time, newest sample time */
    int valid;              /* ids, timestamps and histogram invariants are right */
    const char *problem;    /* when !valid: what is wrong, e.g. "span id is all zero" */
};

/* Return non-zero from the callback to stop decoding. */
typedef int (*wire_item_fn)(void *ctx, const struct wire_item *it);

struct wire_decode_stats {
    uint64_t items;    /* spans / data points / log records / samples seen */
    uint64_t rejected; /* of those, invalid (reported as partial success) */
};

/* An Export<Signal>ServiceRequest, protobuf (json = 0) or OTLP/JSON (json = 1), already
 * decompressed. 0, or DIO_EPARSE (undecodable: answer 400) with err filled. */
int wire_otlp_decode(int signal, int json, const void *body, size_t n, wire_item_fn fn, void *ctx,
                     struct wire_decode_stats *st, char *err, size_t errlen);
/* A Prometheus remote-write 1.0 WriteRequest, snappy block-compressed. */
int wire_rw_decode(const void *body, size_t n, size_t max_uncompressed, wire_item_fn fn, void *ctx,
                   struct wire_decode_stats *st, char *err, size_t errlen);
/* A remote-write 2.0 io.prometheus.write.v2.Request, snappy block-compressed. One item per
 * series (count = its samples + histograms). *w (may be NULL) gets what was written: the
 * samples, histograms and exemplars of valid series (the X-Prometheus-Remote-Write-*-Written
 * answer). Invalid series (bad symbol refs, unsorted labels, no __name__ ...) are counted in
 * st->rejected; an undecodable request is DIO_EPARSE, an oversized one DIO_EFULL. */
struct wire_rw2_written {
    uint64_t samples, histograms, exemplars;
};
int wire_rw2_decode(const void *body, size_t n, size_t max_uncompressed, wire_item_fn fn, void *ctx,
                    struct wire_decode_stats *st, struct wire_rw2_written *w, char *err,
                    size_t errlen);

/* ---- remote write encoder (rw.c; mapping in docs/remote-write.md) ------------------------
 * A request is built from metric points (wire_rw_req_add) in a version-neutral form that
 * keeps no pointer into the batches, then encoded as a 1.0 WriteRequest or a 2.0 Request and
 * snappy-compressed (wire_rw_req_encode), as often as needed (a 415 answer to 2.0 re-encodes
 * the same samples as 1.0). Points of one series in one request share one TimeSeries, in the
 * order they were added. Not thread-safe: one builder per thread. */
#define WIRE_RW_DEFAULT_SAMPLES 2000 /* Prometheus' max_samples_per_send */
struct wire_rw_req;
struct wire_rw_req *wire_rw_req_new(uint32_t max_samples);
void wire_rw_req_free(struct wire_rw_req *r);
void wire_rw_req_reset(struct wire_rw_req *r); /* empty again (descriptor names are kept) */
/* Adds a point's samples: 1 for a gauge or sum, nbounds + 3 for a histogram (buckets with
 * +Inf, _sum, _count). Returns the samples added, 0 for a point that cannot be written
 * (delta temporality, a name that maps to nothing), DIO_EINVAL for a point that references
 * outside its batch. */
int wire_rw_req_add(struct wire_rw_req *r, const struct rec_batch *b, const struct rec_point *pt);
uint64_t wire_rw_req_samples(const struct wire_rw_req *r);
uint64_t wire_rw_req_series(const struct wire_rw_req *r); /* distinct series in the request */
int wire_rw_req_full(const struct wire_rw_req *r);        /* samples >= max_samples */
/* Calls fn with a 64-bit hash of every series in the request (same series, same hash) that
 * this builder has not given to fn before (it forgets when its series cache is dropped, so a
 * series may come again: fn must be idempotent, e.g. a set). */
void wire_rw_req_each_new_series(struct wire_rw_req *r, void (*fn)(void *ctx, uint64_t hash),
                                 void *ctx);
/* version 1 or 2; appends the snappy-compressed body to out. 0 or DIO_EFULL. */
int wire_rw_req_encode(struct wire_rw_req *r, int version, struct core_buf *out);
/* The same without snappy (tests and benchmarks). */
int wire_rw_req_encode_raw(struct wire_rw_req *r, int version, struct core_buf *out);
/* gunzip into out, refusing to grow past out->max (DIO_EFULL): the decompressed-size limit. */
int wire_gunzip(struct core_buf *out, const void *in, size_t n);
/* An Export*ServiceResponse with partial_success {rejected, message} (rejected 0: empty). */
int wire_otlp_response_pb(struct core_buf *out, int signal, uint64_t rejected, const char *msg);

/* ---- gRPC length-prefixed messages (grpc.c; gRPC over HTTP/2 spec) ----------------------
 * A message is a 1-byte compressed flag (0 or 1), a 4-byte big-endian length and the bytes.
 * OTLP/gRPC is unary: a request or response body is exactly one message. */
#define WIRE_GRPC_PREFIX 5
/* Appends prefix + msg[0..n) to out (compressed: the flag says msg is gzip). */
int wire_grpc_frame(struct core_buf *out, const void *msg, size_t n, int compressed);
/* The one message of a unary body. A compressed message (flag 1) is gunzipped into scratch
 * (capped at scratch->max: DIO_EFULL) when gzip_ok, else DIO_EINVAL (no grpc-encoding, or one
 * we do not speak); an uncompressed one points into body. DIO_EPARSE: truncated, a bad flag,
 * more than one message or trailing bytes, bad gzip. *msg and *n only set on 0. */
int wire_grpc_unframe(const void *body, size_t len, int gzip_ok, struct core_buf *scratch,
                      const void **msg, size_t *n);

/* ---- HDR histogram interchange (implemented in hdr_codec.c) -----------------------------
 * The HdrHistogram V2 compressed form, base64 ("HISTF..."), as HdrHistogram_c and the Java
 * library write it, so runs can be merged by any HdrHistogram tool. */
int wire_hdr_encode(const struct core_hdr *h, struct core_buf *out);
/* Decodes into a new histogram (initialised here; free with core_hdr_free). Refuses inputs
 * whose configuration would need more than 2^22 counters. 0 or DIO_EPARSE. */
int wire_hdr_decode(const char *b64, size_t n, struct core_hdr *out);

/* ---- protobuf writer (used by the encoders, exposed for tests) --------------------------- */
enum { WIRE_PB_VARINT = 0, WIRE_PB_I64 = 1, WIRE_PB_LEN = 2, WIRE_PB_I32 = 5 };
int wire_pb_varint(struct core_buf *b, uint64_t v);
int wire_pb_tag(struct core_buf *b, uint32_t field, int wt);
int wire_pb_bytes(struct core_buf *b, uint32_t field, const void *p, size_t n);
int wire_pb_u64(struct core_buf *b, uint32_t field, uint64_t v); /* varint */
int wire_pb_fixed64(struct core_buf *b, uint32_t field, uint64_t v);
int wire_pb_fixed32(struct core_buf *b, uint32_t field, uint32_t v);
int wire_pb_double(struct core_buf *b, uint32_t field, double v);
/* Nested messages: begin reserves room for the length, end writes it (moving the body when
 * the length needs another size than reserved). Returns the start offset, or (size_t)-1. */
size_t wire_pb_begin(struct core_buf *b, uint32_t field);
int wire_pb_end(struct core_buf *b, size_t start);

/* ---- internals shared by the wire/ sources (not API; may change) ------------------------ */
/* Bytes a varint of v takes (1..10). */
static inline size_t wire__varint_len(uint64_t v)
{
    if (__builtin_expect(v < 0x80, 1)) /* keys, short strings, small ints */
        return 1;
    /* ceil(bits / 7) for bits = 1..64, without a loop. */
    unsigned bits = 64 - (unsigned)__builtin_clzll(v | 1);
    return (bits * 9 + 64) / 64;
}
/* Unchecked writers: the caller has reserved room. They return the new write position. */
static inline uint8_t *wire__put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}
static inline uint8_t *wire__put_le64(uint8_t *p, uint64_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    __builtin_memcpy(p, &v, 8);
#else
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
#endif
    return p + 8;
}

/* A record's attributes (b->attrs may be NULL in a batch without any). */
static inline const struct rec_attr *wire__attrs(const struct rec_batch *b, uint32_t off)
{
    return b->attrs ? b->attrs + off : NULL;
}

/* Stable grouping of a batch's records by resource (a counting sort of indices).
 * idx[start[r] .. start[r+1]) are the records of resource r in batch order. */
struct wire__groups {
    uint32_t *idx;   /* b->n record indices */
    uint32_t *start; /* b->nresources + 1 offsets into idx */
    uint32_t nres;
};
/* 0, or DIO_EINVAL when a record names a resource outside b->resources. Free with
 * wire__groups_free (also after an error). */
int wire__groups_init(struct wire__groups *g, const struct rec_batch *b);
void wire__groups_free(struct wire__groups *g);

/* End (exclusive) of the metric run starting at grouped position k (< hi): the maximal run of
 * points with the same descriptor and consecutive sequence numbers. One run = one Metric. */
uint32_t wire__metric_run_end(const struct rec_batch *b, const uint32_t *idx, uint32_t k,
                              uint32_t hi);
/* "TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL" for SeverityNumber 1..24, else NULL. */
const char *wire__severity_text(unsigned severity);

/* Length of the valid UTF-8 sequence at s (n >= 1 bytes available): 1 for ASCII, 2..4 for a
 * well-formed sequence (RFC 3629: no overlongs, surrogates or values above U+10FFFF), 0 when
 * s[0] does not start one. */
size_t wire__utf8_len(const uint8_t *s, size_t n);
/* Size of s[0..n) once every byte that does not belong to a valid sequence is replaced by
 * U+FFFD (EF BF BD), and the copy itself (dst has room for that size). */
size_t wire__utf8_sanitized_len(const char *s, size_t n);
uint8_t *wire__utf8_copy_sanitized(uint8_t *dst, const char *s, size_t n);

/* Prometheus label name of an attribute key (invalid characters -> '_') into out (cap bytes,
 * NUL-terminated); 0 when the name is reserved (job, instance, le, __*) or empty (prom.c). */
size_t wire__prom_label(const char *key, size_t n, char *out, size_t cap);
/* The unit suffix wire_prom_name appends ("seconds", "bytes", "ratio", "" for none). */
void wire__prom_unit(const struct rec_metric *m, char *out, size_t cap);

/* A double as the shortest decimal that reads back to the same value, in the style of Go's
 * strconv 'g' with precision -1 (what Prometheus and its client libraries print): "0.005",
 * "2.5", "100", "1e+06", "6.7108864e+07". NaN and infinities as "NaN", "+Inf", "-Inf".
 * out needs 32 bytes. Returns the length. */
size_t wire__fmt_double(char *out, double v);

#endif
