#ifndef DIORAMA_WIRE_DECODE_INT_H
#define DIORAMA_WIRE_DECODE_INT_H
/* Internals shared by the decoders (decode_*.c); not API.
 *
 * Memory: protobuf-c unpacks into many small allocations (one per message, string and
 * repeated array). They all come from one wire__arena per request: a bump allocator over a
 * few large chunks whose total is capped by a byte budget, so hostile input (thousands of
 * empty sub-messages, each costing 2 bytes on the wire and ~50 bytes unpacked) fails cleanly
 * instead of deciding how much memory the sink uses. free() is a no-op; the whole arena goes
 * at once in wire__arena_free, which also makes protobuf_c_message_free_unpacked unnecessary.
 *
 * Stack: protobuf-c recurses once per nesting level and has no depth limit, while
 * AnyValue -> ArrayValue -> AnyValue ... nests without end. wire__pb_depth_ok walks the wire
 * format with the message descriptors first and refuses nesting deeper than WIRE__MAX_DEPTH. */
#include <protobuf-c/protobuf-c.h>

#include "wire/wire.h"

#define WIRE__MAX_DEPTH 64
#define WIRE__BUDGET_FACTOR 16               /* unpacked bytes allowed per input byte */
#define WIRE__BUDGET_FLOOR (64u << 10)       /* ... plus this, for tiny requests */
#define WIRE__BUDGET_MAX ((size_t)256 << 20) /* ... and never more than this */

struct wire__chunk;
struct wire__arena {
    ProtobufCAllocator pa; /* hand &pa to protobuf-c (allocator_data points back here) */
    struct wire__chunk *head;
    size_t used;   /* bytes taken from the system for chunks (what the budget limits) */
    size_t budget; /* maximum for used */
    int refused;   /* an allocation failed because of the budget */
};

/* The budget for an input of n bytes (factor * n + floor, capped). */
size_t wire__budget_for(size_t n);
void wire__arena_init(struct wire__arena *a, size_t budget);
void *wire__arena_alloc(struct wire__arena *a, size_t n); /* NULL past the budget */
void wire__arena_free(struct wire__arena *a);

/* 1 when the message in [p, p+n) parses as wire format and nests at most WIRE__MAX_DEPTH
 * messages deep (fields are resolved through d); 0 otherwise. */
int wire__pb_depth_ok(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t n);

/* err[0..errlen) gets a message (always NUL-terminated when errlen > 0). Returns rc. */
int wire__fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The walker over unpacked requests (decode_otlp_pb.c), shared by the protobuf and JSON paths:
 * the JSON decoder builds the same protobuf-c structs, so both report identical items. */
struct wire__sink {
    wire_item_fn fn;
    void *ctx;
    struct wire_decode_stats *st;
    int stopped;
};
/* req is an Export{Trace,Metrics,Logs}ServiceRequest for signal. */
void wire__walk_request(struct wire__sink *s, int signal, const ProtobufCMessage *req);

/* Item rules and hand-out, shared by the unpack walker and the in-place one. */
void wire__item_reset(struct wire_item *it);
void wire__invalid(struct wire_item *it, const char *problem); /* keeps the first problem */
void wire__emit(struct wire__sink *s, const struct wire_item *it);
void wire__check_span(const ProtobufCBinaryData *tid, const ProtobufCBinaryData *sid,
                      const ProtobufCBinaryData *pid, uint64_t start, uint64_t end,
                      struct wire_item *it);

/* A protobuf Export*ServiceRequest walked in place, nothing allocated (decode_otlp_walk.c):
 * what wire_otlp_decode uses for protobuf. 0 or DIO_EPARSE; no item is handed out from a
 * request that fails. */
int wire__otlp_walk(int signal, const void *body, size_t n, struct wire__sink *s, char *err,
                    size_t errlen);
/* The same request unpacked by protobuf-c and walked over the structs: the reference the
 * in-place walker is tested against (same items on every request this accepts). */
int wire__otlp_unpack(int signal, const void *body, size_t n, struct wire__sink *s, char *err,
                      size_t errlen);

/* OTLP/JSON into the same structs, then the walker (decode_otlp_json.c). */
int wire__otlp_json_decode(int signal, const void *body, size_t n, struct wire__sink *s, char *err,
                           size_t errlen);

extern const ProtobufCMessageDescriptor *const wire__request_desc[REC_NSIGNALS];

#endif
