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
 * buffer's content is then unspecified and the caller should reset it). */
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

struct wire_otlp_opts {
    int verify_attrs; /* emit diorama.seq / diorama.gen_time_unix_nano (see docs/verification.md) */
};

/* One Export<Signal>ServiceRequest holding the whole batch, grouped by resource. */
int wire_otlp_pb_encode(struct core_buf *out, const struct rec_batch *b,
                        const struct wire_otlp_opts *o);
/* The same request as OTLP/JSON on a single line terminated by '\n' (the OpenTelemetry
 * Collector file exporter / otlpjsonfile receiver format). */
int wire_otlp_json_encode(struct core_buf *out, const struct rec_batch *b,
                          const struct wire_otlp_opts *o);

/* Prometheus text 0.0.4 for a set of metric point batches (one scrape's worth). Families are
 * kept together; names follow the OTel->Prometheus mapping (dots to _, unit suffixes, _total
 * for monotonic sums); resource job/instance become labels. */
#define WIRE_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
int wire_prom_encode(struct core_buf *out, const struct rec_batch *const *batches, size_t n);
/* The Prometheus name of an OTel metric (e.g. "http_server_request_duration_seconds"). */
int wire_prom_name(const struct rec_metric *m, char *out, size_t n);

/* gzip (RFC 1952) of in into out (appended). level 1..9. */
int wire_gzip(struct core_buf *out, const void *in, size_t n, int level);

/* ---- protobuf writer (used by the encoders, exposed for tests) --------------------------- */
enum { WIRE_PB_VARINT = 0, WIRE_PB_I64 = 1, WIRE_PB_LEN = 2, WIRE_PB_I32 = 5 };
int wire_pb_varint(struct core_buf *b, uint64_t v);
int wire_pb_tag(struct core_buf *b, uint32_t field, int wt);
int wire_pb_bytes(struct core_buf *b, uint32_t field, const void *p, size_t n);
int wire_pb_u64(struct core_buf *b, uint32_t field, uint64_t v);  /* varint */
int wire_pb_fixed64(struct core_buf *b, uint32_t field, uint64_t v);
int wire_pb_fixed32(struct core_buf *b, uint32_t field, uint32_t v);
int wire_pb_double(struct core_buf *b, uint32_t field, double v);
/* Nested messages: begin reserves room for the length, end writes it (moving the body when
 * the length needs another size than reserved). Returns the start offset, or (size_t)-1. */
size_t wire_pb_begin(struct core_buf *b, uint32_t field);
int wire_pb_end(struct core_buf *b, size_t start);

#endif
