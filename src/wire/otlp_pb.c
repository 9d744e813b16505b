/* OTLP protobuf encoder: Export{Trace,Metrics,Logs}ServiceRequest from one record batch.
 *
 * Layout of every request (the three signals share the field numbers):
 *
 *   request     1: Resource{Spans,Metrics,Logs}   one per resource present, in resource order
 *   ResourceX   1: Resource {1: KeyValue...}  2: ScopeX
 *   ScopeX      1: InstrumentationScope {1: name, 2: version}  2: Span | Metric | LogRecord ...
 *
 * Cost model: two passes and no moves. The measure pass computes the exact size of every
 * message (record body sizes go to a scratch array, per-resource item totals to another), the
 * output buffer is grown once to the exact total, and the write pass emits every byte with
 * unchecked pointer ops. Length prefixes are therefore written once, already minimal
 * (canonical), and nothing is memmoved. The only per-attribute work done twice is the size
 * arithmetic, which is a few adds. When the buffer cannot hold the request (DIO_EFULL) it is
 * left as it was.
 *
 * Every tag used here has a field number below 16, so tags are single bytes. Fields are
 * written in field-number order and proto3 defaults (0, "") are omitted, except inside
 * oneofs (AnyValue, NumberDataPoint.value) where presence is the value. */
#include <assert.h>
#include <string.h>

#include "wire/wire.h"

#define TAG(field, wt) ((uint8_t)(((field) << 3) | (wt)))
#define T_LEN(field) TAG(field, WIRE_PB_LEN)
#define T_VAR(field) TAG(field, WIRE_PB_VARINT)
#define T_I64(field) TAG(field, WIRE_PB_I64)

/* ---- sizes and unchecked writers ------------------------------------------------------- */

/* A length-delimited field with a one-byte tag and an n-byte body. */
static inline size_t len_field(size_t n)
{
    return 1 + wire__varint_len(n) + n;
}

static inline uint8_t *put_len(uint8_t *p, uint8_t tag, size_t n)
{
    *p++ = tag;
    return wire__put_varint(p, n);
}

/* Copies n bytes. Most strings here are short keys and values, for which a call to memcpy
 * costs more than the copy: up to 16 bytes move as two overlapping loads and stores. */
static inline void copy_bytes(uint8_t *p, const void *s, size_t n)
{
    const uint8_t *q = s;
    if (n > 16) {
        memcpy(p, s, n);
    } else if (n >= 8) {
        uint64_t a, b;
        memcpy(&a, q, 8);
        memcpy(&b, q + n - 8, 8);
        memcpy(p, &a, 8);
        memcpy(p + n - 8, &b, 8);
    } else if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, q, 4);
        memcpy(&b, q + n - 4, 4);
        memcpy(p, &a, 4);
        memcpy(p + n - 4, &b, 4);
    } else {
        for (size_t i = 0; i < n; i++)
            p[i] = q[i];
    }
}

static inline uint8_t *put_str(uint8_t *p, uint8_t tag, const void *s, size_t n)
{
    p = put_len(p, tag, n);
    copy_bytes(p, s, n);
    return p + n;
}

/* Strings: proto3 requires valid UTF-8 in string fields and strict decoders (Go's, hence the
 * Collector's) reject a request that has none, so a byte that is not part of valid UTF-8 is
 * written as U+FFFD (3 bytes). text_len is the field body size after that; it equals n
 * exactly when the string is valid. The common all-ASCII case costs one OR per 8 bytes. */
#define HI_BITS 0x8080808080808080ULL

/* The OR of all bytes of s, folded into 64 bits: (result & HI_BITS) == 0 iff s is ASCII. */
static inline uint64_t or_bytes(const char *s, size_t n)
{
    /* Overlapping loads instead of a byte loop: short strings (keys, values) dominate. */
    uint64_t acc = 0, w;
    if (n >= 8 && n <= 16) {
        memcpy(&acc, s, 8);
        memcpy(&w, s + n - 8, 8);
        acc |= w;
    } else if (n >= 8) {
        for (size_t i = 0; i + 8 < n; i += 8) {
            memcpy(&w, s + i, 8);
            acc |= w;
        }
        memcpy(&w, s + n - 8, 8);
        acc |= w;
    } else if (n >= 4) {
        uint32_t x, y;
        memcpy(&x, s, 4);
        memcpy(&y, s + n - 4, 4);
        acc = x | y;
    } else {
        for (size_t i = 0; i < n; i++)
            acc |= (uint8_t)s[i];
    }
    return acc;
}

static inline int is_ascii(const char *s, size_t n)
{
    return (or_bytes(s, n) & HI_BITS) == 0;
}

static inline size_t text_len(const char *s, size_t n)
{
    return is_ascii(s, n) ? n : wire__utf8_sanitized_len(s, n);
}

static inline uint8_t *put_text(uint8_t *p, uint8_t tag, const char *s, size_t n)
{
    size_t m = text_len(s, n);
    if (m == n)
        return put_str(p, tag, s, n);
    p = put_len(p, tag, m);
    return wire__utf8_copy_sanitized(p, s, n);
}

/* Record strings (names, attribute keys and values, bodies) are checked once per record, not
 * once per string and pass: the measure pass takes them as valid and ORs their bytes together
 * (mode MEASURE); a record in which a high bit shows up (non-ASCII text, rare) is measured again
 * with every string checked (CHECKED) and flagged, so that the write pass sanitizes only that
 * record's strings and copies everyone else's as they are. */
struct strmode {
    uint8_t checked; /* size strings after U+FFFD replacement */
    uint8_t track;   /* OR their bytes into acc */
    uint64_t acc;
};
#define MODE_MEASURE                                                                               \
    {                                                                                              \
        0, 1, 0                                                                                    \
    }
#define MODE_CHECKED                                                                               \
    {                                                                                              \
        1, 0, 0                                                                                    \
    }

static inline size_t slen(struct strmode *m, const char *s, size_t n)
{
    if (m->checked)
        return text_len(s, n);
    if (m->track)
        m->acc |= or_bytes(s, n);
    return n;
}

static inline uint8_t *put_rtext(uint8_t *p, uint8_t tag, const char *s, size_t n, int checked)
{
    return checked ? put_text(p, tag, s, n) : put_str(p, tag, s, n);
}

static inline uint8_t *put_u64(uint8_t *p, uint8_t tag, uint64_t v)
{
    *p++ = tag;
    return wire__put_varint(p, v);
}

static inline uint8_t *put_f64(uint8_t *p, uint8_t tag, uint64_t v)
{
    *p++ = tag;
    return wire__put_le64(p, v);
}

static inline uint64_t dbl_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static inline int is_zero(const uint8_t *id, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= id[i];
    return acc == 0;
}

/* Fixed-size fields: tag + 8 bytes; tag + 1-byte length + id. */
enum { F64_SZ = 9, TRACE_ID_SZ = 18, SPAN_ID_SZ = 10 };

/* ---- attributes (KeyValue / AnyValue) -------------------------------------------------- */

static inline size_t anyvalue_size(const struct rec_attr *a, struct strmode *m)
{
    switch (a->type) {
    case REC_STR:
        return len_field(slen(m, a->v.s.p, a->v.s.len));
    case REC_INT:
        return 1 + wire__varint_len((uint64_t)a->v.i);
    case REC_DBL:
        return F64_SZ;
    default: /* REC_BOOL */
        return 2;
    }
}

/* Size of the KeyValue body; *av gets the AnyValue body size. */
static inline size_t kv_size(const struct rec_attr *a, size_t *av, struct strmode *m)
{
    *av = anyvalue_size(a, m);
    return len_field(slen(m, a->key, a->key_len)) + len_field(*av);
}

/* attrs_size in MODE_MEASURE (every record's first measurement): one switch a value, the
 * bytes' OR kept in a register. */
static size_t attrs_size_track(const struct rec_attr *a, uint32_t n, uint64_t *acc)
{
    size_t total = 0;
    uint64_t bits = 0;
    for (uint32_t i = 0; i < n; i++, a++) {
        size_t klen = a->key_len, av;
        bits |= or_bytes(a->key, klen);
        switch (a->type) {
        case REC_STR:
            bits |= or_bytes(a->v.s.p, a->v.s.len);
            av = 1 + wire__varint_len(a->v.s.len) + a->v.s.len;
            break;
        case REC_INT:
            av = 1 + wire__varint_len((uint64_t)a->v.i);
            break;
        case REC_DBL:
            av = F64_SZ;
            break;
        default:
            av = 2;
        }
        total += len_field(1 + wire__varint_len(klen) + klen + len_field(av));
    }
    *acc |= bits;
    return total;
}

static size_t attrs_size(const struct rec_attr *a, uint32_t n, struct strmode *m)
{
    if (!m->checked && m->track)
        return attrs_size_track(a, n, &m->acc);
    size_t total = 0, av;
    for (uint32_t i = 0; i < n; i++)
        total += len_field(kv_size(&a[i], &av, m));
    return total;
}

/* put_attrs of a record whose strings are all valid (the common case): one switch a value. */
static uint8_t *put_attrs_raw(uint8_t *p, uint8_t tag, const struct rec_attr *a, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++, a++) {
        size_t klen = a->key_len, kf = 1 + wire__varint_len(klen) + klen;
        switch (a->type) {
        case REC_STR: {
            size_t vlen = a->v.s.len, av = 1 + wire__varint_len(vlen) + vlen;
            p = put_len(p, tag, kf + 1 + wire__varint_len(av) + av);
            p = put_str(p, T_LEN(1), a->key, klen);
            p = put_len(p, T_LEN(2), av);
            p = put_str(p, T_LEN(1), a->v.s.p, vlen);
            break;
        }
        case REC_INT: {
            size_t av = 1 + wire__varint_len((uint64_t)a->v.i);
            p = put_len(p, tag, kf + 1 + 1 + av); /* av < 128 */
            p = put_str(p, T_LEN(1), a->key, klen);
            p = put_len(p, T_LEN(2), av);
            p = put_u64(p, T_VAR(3), (uint64_t)a->v.i);
            break;
        }
        case REC_DBL:
            p = put_len(p, tag, kf + 2 + F64_SZ);
            p = put_str(p, T_LEN(1), a->key, klen);
            p = put_len(p, T_LEN(2), F64_SZ);
            p = put_f64(p, T_I64(4), dbl_bits(a->v.d));
            break;
        default:
            p = put_len(p, tag, kf + 2 + 2);
            p = put_str(p, T_LEN(1), a->key, klen);
            p = put_len(p, T_LEN(2), 2);
            *p++ = T_VAR(2);
            *p++ = a->v.b != 0;
            break;
        }
    }
    return p;
}

static uint8_t *put_attrs(uint8_t *p, uint8_t tag, const struct rec_attr *a, uint32_t n,
                          int checked)
{
    if (!checked)
        return put_attrs_raw(p, tag, a, n);
    struct strmode m = {(uint8_t)checked, 0, 0};
    for (uint32_t i = 0; i < n; i++, a++) {
        size_t av, kv = kv_size(a, &av, &m);
        p = put_len(p, tag, kv);
        p = put_rtext(p, T_LEN(1), a->key, a->key_len, checked);
        p = put_len(p, T_LEN(2), av);
        switch (a->type) {
        case REC_STR:
            p = put_rtext(p, T_LEN(1), a->v.s.p, a->v.s.len, checked);
            break;
        case REC_INT:
            p = put_u64(p, T_VAR(3), (uint64_t)a->v.i);
            break;
        case REC_DBL:
            p = put_f64(p, T_I64(4), dbl_bits(a->v.d));
            break;
        default:
            *p++ = T_VAR(2);
            *p++ = a->v.b != 0;
            break;
        }
    }
    return p;
}

/* An integer KeyValue with a literal key (the verification attributes). */
#define KEY_SEQ REC_ATTR_SEQ
#define KEY_GEN REC_ATTR_GEN
#define KEY_POINTS REC_ATTR_POINTS
#define KLEN(lit) (sizeof(lit) - 1)

static inline size_t kv_int_size(size_t klen, uint64_t v)
{
    return len_field(len_field(klen) + len_field(1 + wire__varint_len(v)));
}

static inline uint8_t *put_kv_int(uint8_t *p, uint8_t tag, const char *k, size_t klen, uint64_t v)
{
    size_t av = 1 + wire__varint_len(v);
    p = put_len(p, tag, len_field(klen) + len_field(av));
    p = put_str(p, T_LEN(1), k, klen);
    p = put_len(p, T_LEN(2), av);
    return put_u64(p, T_VAR(3), v);
}

static inline size_t verify_size(uint64_t seq, uint64_t gen)
{
    return kv_int_size(KLEN(KEY_SEQ), seq) + kv_int_size(KLEN(KEY_GEN), gen);
}

static inline uint8_t *put_verify(uint8_t *p, uint8_t tag, uint64_t seq, uint64_t gen)
{
    p = put_kv_int(p, tag, KEY_SEQ, KLEN(KEY_SEQ), seq);
    return put_kv_int(p, tag, KEY_GEN, KLEN(KEY_GEN), gen);
}

static inline int attrs_ok(const struct rec_batch *b, uint32_t off, uint32_t n)
{
    return (uint64_t)off + n <= b->nattrs;
}

/* ---- encoder state --------------------------------------------------------------------- */

/* A metric descriptor's name, description and unit fields, measured once per request, not
 * once per Metric message and pass: a fleet's batch holds thousands of short runs of a few
 * dozen descriptors. A direct-mapped cache; a collision only costs a new measurement. */
#define DESC_SLOTS 32
struct desc {
    const struct rec_metric *m;
    uint32_t len[3]; /* strlen of name, description, unit */
    uint32_t size;   /* the three fields (absent when empty) */
    uint8_t ascii;   /* all three are ASCII: written as they are */
};

/* A distinct attribute set of metric points, encoded once per request (see aset_find). */
struct aset {
    const struct rec_attr *a; /* its first point's attributes; NULL: a free slot */
    uint32_t n;
    uint32_t off, len; /* its KeyValue fields in enc.arena */
    uint8_t tag;       /* the data point's attributes field */
};

struct enc {
    const struct rec_batch *b;
    int verify;
    struct wire__groups g;
    uint32_t *sz;  /* body size of each record, by grouped position */
    uint64_t *isz; /* per resource: size of the items inside its ScopeX (after the scope) */
    struct desc dc[DESC_SLOTS];
    struct aset *sets;  /* ASET_SLOTS, open addressing (on the stack: no heap churn) */
    uint16_t *set_of;   /* per grouped position: its set, or ASET_NONE */
    uint8_t *arena;     /* ASET_ARENA bytes of encoded sets (on the stack) */
    uint32_t arena_len; /* bytes used */
};

/* Record sizes carry the "strings need checking" flag in their top bit. */
#define SZ_CHECKED (1u << 31)

/* Measures a record with fn in MEASURE mode, again in CHECKED mode when it has non-ASCII
 * bytes, and stores the size (flagged) at grouped position k. Adds the field size to *total. */
#define MEASURE_RECORD(e, k, fn, rec, total)                                                       \
    do {                                                                                           \
        struct strmode m_ = MODE_MEASURE;                                                          \
        size_t n_ = fn(e, rec, &m_);                                                               \
        uint32_t flag_ = 0;                                                                        \
        if (m_.acc & HI_BITS) {                                                                    \
            struct strmode c_ = MODE_CHECKED;                                                      \
            n_ = fn(e, rec, &c_);                                                                  \
            flag_ = SZ_CHECKED;                                                                    \
        }                                                                                          \
        if (n_ >= SZ_CHECKED)                                                                      \
            return DIO_ERANGE;                                                                     \
        (e)->sz[k] = (uint32_t)n_ | flag_;                                                         \
        *(total) += len_field(n_);                                                                 \
    } while (0)

/* Per signal: measure the items of grouped positions [lo, hi) (filling e->sz), and write them. */
struct signal_ops {
    int (*measure)(struct enc *e, uint32_t lo, uint32_t hi, uint64_t *items);
    uint8_t *(*write)(struct enc *e, uint8_t *p, uint32_t lo, uint32_t hi);
};

/* ---- spans ----------------------------------------------------------------------------- */

static inline size_t status_size(const struct rec_span *s, struct strmode *m)
{
    size_t msg = s->status_msg.len ? len_field(slen(m, s->status_msg.p, s->status_msg.len)) : 0;
    return msg + (s->status ? 1 + wire__varint_len(s->status) : 0);
}

static size_t span_size(const struct enc *e, const struct rec_span *s, struct strmode *m)
{
    size_t n = TRACE_ID_SZ + SPAN_ID_SZ;
    if (!is_zero(s->parent_id, 8))
        n += SPAN_ID_SZ;
    if (s->name.len)
        n += len_field(slen(m, s->name.p, s->name.len));
    if (s->kind)
        n += 1 + wire__varint_len(s->kind);
    n += (s->start_ns ? F64_SZ : 0) + (s->end_ns ? F64_SZ : 0);
    n += attrs_size(wire__attrs(e->b, s->attr_off), s->nattrs, m);
    if (e->verify)
        n += verify_size(s->seq, s->gen_ns);
    if (s->status || s->status_msg.len)
        n += len_field(status_size(s, m));
    return n;
}

static int spans_measure(struct enc *e, uint32_t lo, uint32_t hi, uint64_t *items)
{
    uint64_t total = 0;
    for (uint32_t k = lo; k < hi; k++) {
        const struct rec_span *s = &e->b->r.spans[e->g.idx[k]];
        if (!attrs_ok(e->b, s->attr_off, s->nattrs))
            return DIO_EINVAL;
        MEASURE_RECORD(e, k, span_size, s, &total);
    }
    *items = total;
    return 0;
}

static uint8_t *span_write(const struct enc *e, uint8_t *p, const struct rec_span *s, int checked)
{
    p = put_str(p, T_LEN(1), s->trace_id, 16);
    p = put_str(p, T_LEN(2), s->span_id, 8);
    if (!is_zero(s->parent_id, 8))
        p = put_str(p, T_LEN(4), s->parent_id, 8);
    if (s->name.len)
        p = put_rtext(p, T_LEN(5), s->name.p, s->name.len, checked);
    if (s->kind)
        p = put_u64(p, T_VAR(6), s->kind);
    if (s->start_ns)
        p = put_f64(p, T_I64(7), s->start_ns);
    if (s->end_ns)
        p = put_f64(p, T_I64(8), s->end_ns);
    p = put_attrs(p, T_LEN(9), wire__attrs(e->b, s->attr_off), s->nattrs, checked);
    if (e->verify)
        p = put_verify(p, T_LEN(9), s->seq, s->gen_ns);
    if (s->status || s->status_msg.len) {
        struct strmode m = {(uint8_t)checked, 0, 0};
        p = put_len(p, T_LEN(15), status_size(s, &m));
        if (s->status_msg.len)
            p = put_rtext(p, T_LEN(2), s->status_msg.p, s->status_msg.len, checked);
        if (s->status)
            p = put_u64(p, T_VAR(3), s->status);
    }
    return p;
}

static uint8_t *spans_write(struct enc *e, uint8_t *p, uint32_t lo, uint32_t hi)
{
    for (uint32_t k = lo; k < hi; k++) {
        p = put_len(p, T_LEN(2), e->sz[k] & ~SZ_CHECKED);
        p = span_write(e, p, &e->b->r.spans[e->g.idx[k]], e->sz[k] >> 31);
    }
    return p;
}

/* ---- logs ------------------------------------------------------------------------------ */

static const char *const severity_texts[6] = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"};

const char *wire__severity_text(unsigned sev)
{
    return sev >= 1 && sev <= 24 ? severity_texts[(sev - 1) / 4] : NULL;
}

static size_t log_size(const struct enc *e, const struct rec_log *l, struct strmode *m)
{
    size_t n = (l->time_ns ? F64_SZ : 0) + (l->observed_ns ? F64_SZ : 0);
    if (l->severity)
        n += 1 + wire__varint_len(l->severity);
    const char *text = wire__severity_text(l->severity);
    if (text)
        n += len_field(strlen(text));
    if (l->body.len)
        n += len_field(len_field(slen(m, l->body.p, l->body.len)));
    n += attrs_size(wire__attrs(e->b, l->attr_off), l->nattrs, m);
    if (e->verify)
        n += verify_size(l->seq, l->gen_ns);
    if (!is_zero(l->trace_id, 16))
        n += TRACE_ID_SZ;
    if (!is_zero(l->span_id, 8))
        n += SPAN_ID_SZ;
    return n;
}

static int logs_measure(struct enc *e, uint32_t lo, uint32_t hi, uint64_t *items)
{
    uint64_t total = 0;
    for (uint32_t k = lo; k < hi; k++) {
        const struct rec_log *l = &e->b->r.logs[e->g.idx[k]];
        if (!attrs_ok(e->b, l->attr_off, l->nattrs))
            return DIO_EINVAL;
        MEASURE_RECORD(e, k, log_size, l, &total);
    }
    *items = total;
    return 0;
}

static uint8_t *log_write(const struct enc *e, uint8_t *p, const struct rec_log *l, int checked)
{
    if (l->time_ns)
        p = put_f64(p, T_I64(1), l->time_ns);
    if (l->severity)
        p = put_u64(p, T_VAR(2), l->severity);
    const char *text = wire__severity_text(l->severity);
    if (text)
        p = put_str(p, T_LEN(3), text, strlen(text));
    if (l->body.len) {
        struct strmode m = {(uint8_t)checked, 0, 0};
        p = put_len(p, T_LEN(5), len_field(slen(&m, l->body.p, l->body.len)));
        p = put_rtext(p, T_LEN(1), l->body.p, l->body.len, checked);
    }
    p = put_attrs(p, T_LEN(6), wire__attrs(e->b, l->attr_off), l->nattrs, checked);
    if (e->verify)
        p = put_verify(p, T_LEN(6), l->seq, l->gen_ns);
    if (!is_zero(l->trace_id, 16))
        p = put_str(p, T_LEN(9), l->trace_id, 16);
    if (!is_zero(l->span_id, 8))
        p = put_str(p, T_LEN(10), l->span_id, 8);
    if (l->observed_ns)
        p = put_f64(p, T_I64(11), l->observed_ns);
    return p;
}

static uint8_t *logs_write(struct enc *e, uint8_t *p, uint32_t lo, uint32_t hi)
{
    for (uint32_t k = lo; k < hi; k++) {
        p = put_len(p, T_LEN(2), e->sz[k] & ~SZ_CHECKED);
        p = log_write(e, p, &e->b->r.logs[e->g.idx[k]], e->sz[k] >> 31);
    }
    return p;
}

/* ---- metrics --------------------------------------------------------------------------- */

/* End (exclusive) of the Metric run starting at grouped position k: same descriptor and
 * consecutive sequence numbers. */
uint32_t wire__metric_run_end(const struct rec_batch *b, const uint32_t *idx, uint32_t k,
                              uint32_t hi)
{
    const struct rec_point *first = &b->r.points[idx[k]];
    uint64_t seq = first->seq;
    for (k++; k < hi; k++) {
        const struct rec_point *pt = &b->r.points[idx[k]];
        if (pt->metric != first->metric || pt->seq != ++seq)
            break;
    }
    return k;
}

/* A point's fields but its attributes. */
static size_t point_base_size(const struct rec_point *pt)
{
    const struct rec_metric *m = pt->metric;
    size_t n = (pt->start_ns ? F64_SZ : 0) + (pt->time_ns ? F64_SZ : 0);
    if (m->type != REC_HISTOGRAM)
        return n + F64_SZ; /* as_double or as_int (sfixed64) */
    n += (pt->count ? F64_SZ : 0) + F64_SZ /* sum */;
    n += len_field(8 * ((size_t)m->nbounds + 1));
    if (m->nbounds)
        n += len_field(8 * (size_t)m->nbounds);
    if (pt->count)
        n += 2 * F64_SZ; /* min, max */
    return n;
}

static size_t point_size(const struct enc *e, const struct rec_point *pt, struct strmode *sm)
{
    return point_base_size(pt) + attrs_size(wire__attrs(e->b, pt->attr_off), pt->nattrs, sm);
}

static inline uint8_t point_attrs_tag(const struct rec_point *pt)
{
    return pt->metric->type == REC_HISTOGRAM ? T_LEN(9) : T_LEN(7);
}

/* ---- attribute sets of metric points ----------------------------------------------------
 * A fleet's batch repeats a few hundred attribute sets thousands of times (every host has
 * cpu 0 in mode user, memory in state used ...), and the attributes were most of the cost of
 * a point. So each distinct set (the same keys and values: same pointers, lengths and
 * numbers) is encoded once per request into an arena, strings checked and sanitized as in
 * put_text, and its points copy the bytes. The cache lives for one encode only, because
 * string values may point into a batch arena that is reused later. Bounded: sets of up to
 * ASET_MAX_ATTRS attributes, ASET_SLOTS sets (probing ASET_PROBE slots), ASET_ARENA bytes; a
 * point whose set does not fit is encoded the ordinary way. */
#define ASET_SLOTS 512 /* a power of two */
#define ASET_PROBE 8
#define ASET_MAX_ATTRS 4
#define ASET_ARENA 24576
#define ASET_NONE UINT16_MAX

static uint64_t attr_hash(uint64_t h, const struct rec_attr *a)
{
    uint64_t v = a->type == REC_STR ? (uint64_t)(uintptr_t)a->v.s.p ^ ((uint64_t)a->v.s.len << 48)
                 : a->type == REC_BOOL ? (uint64_t)(a->v.b != 0)
                                       : (uint64_t)a->v.i; /* int, or a double's bits */
    h = (h ^ (uint64_t)(uintptr_t)a->key ^ ((uint64_t)a->key_len << 40)) * 0x9E3779B97F4A7C15ULL;
    return (h ^ v ^ a->type) * 0xBF58476D1CE4E5B9ULL;
}

static int attr_same(const struct rec_attr *x, const struct rec_attr *y)
{
    if (x->key != y->key || x->key_len != y->key_len || x->type != y->type)
        return 0;
    switch (x->type) {
    case REC_STR:
        return x->v.s.p == y->v.s.p && x->v.s.len == y->v.s.len;
    case REC_BOOL:
        return (x->v.b != 0) == (y->v.b != 0);
    default: /* the same bits: a double's NaN or -0 is not equal to itself, but is the same */
        return x->v.i == y->v.i;
    }
}

static int set_same(const struct aset *s, uint8_t tag, const struct rec_attr *a, uint32_t n)
{
    if (s->tag != tag || s->n != n)
        return 0;
    for (uint32_t i = 0; i < n; i++)
        if (!attr_same(&s->a[i], &a[i]))
            return 0;
    return 1;
}

static uint8_t *put_attrs(uint8_t *p, uint8_t tag, const struct rec_attr *a, uint32_t n,
                          int checked);

/* Encodes a new set into slot s when the arena has room. */
static uint16_t aset_add(struct enc *e, uint32_t s, uint8_t tag, const struct rec_attr *a,
                         uint32_t n)
{
    struct strmode m = MODE_CHECKED;
    size_t len = attrs_size(a, n, &m);
    if (len > ASET_ARENA - e->arena_len)
        return ASET_NONE;
    e->sets[s] = (struct aset){a, n, e->arena_len, (uint32_t)len, tag};
    /* put_attrs writes exactly len bytes (the measure and write passes agree) */
    e->arena_len = (uint32_t)(put_attrs(e->arena + e->arena_len, tag, a, n, 1) - e->arena);
    return (uint16_t)s;
}

/* The set of point pt's attributes (field tag), added when new; ASET_NONE when the point
 * has too many attributes or the cache is full. */
static uint16_t aset_find(struct enc *e, const struct rec_point *pt, uint8_t tag)
{
    if (!e->sets || pt->nattrs > ASET_MAX_ATTRS)
        return ASET_NONE;
    const struct rec_attr *a = wire__attrs(e->b, pt->attr_off);
    uint64_t h = tag ^ ((uint64_t)pt->nattrs << 8);
    for (uint32_t i = 0; i < pt->nattrs; i++)
        h = attr_hash(h, &a[i]);
    for (uint32_t k = 0; k < ASET_PROBE; k++) {
        uint32_t s = ((uint32_t)(h >> 32) + k) & (ASET_SLOTS - 1);
        if (!e->sets[s].a)
            return aset_add(e, s, tag, a, pt->nattrs);
        if (set_same(&e->sets[s], tag, a, pt->nattrs))
            return (uint16_t)s;
    }
    return ASET_NONE;
}

static int point_ok(const struct rec_batch *b, const struct rec_point *pt)
{
    const struct rec_metric *m = pt->metric;
    if (!m || m->type > REC_HISTOGRAM || !attrs_ok(b, pt->attr_off, pt->nattrs))
        return 0;
    return m->type != REC_HISTOGRAM || (uint64_t)pt->bucket_off + m->nbounds + 1 <= b->nbuckets;
}

static size_t str_field(const char *s)
{
    return s && *s ? len_field(text_len(s, strlen(s))) : 0;
}

static const struct desc *desc_of(struct enc *e, const struct rec_metric *m)
{
    struct desc *d = &e->dc[((uintptr_t)m >> 4) % DESC_SLOTS];
    if (d->m == m)
        return d;
    const char *f[3] = {m->name, m->description, m->unit};
    d->m = m;
    d->size = 0;
    d->ascii = 1;
    for (int i = 0; i < 3; i++) {
        d->len[i] = f[i] ? (uint32_t)strlen(f[i]) : 0;
        d->ascii &= is_ascii(f[i], d->len[i]);
        d->size += (uint32_t)(d->len[i] ? len_field(text_len(f[i], d->len[i])) : 0);
    }
    return d;
}

/* Gauge / Sum / Histogram body around data points of total size pts. */
static size_t container_size(const struct rec_metric *m, uint64_t pts)
{
    size_t n = pts;
    if (m->type != REC_GAUGE && m->temporality)
        n += 1 + wire__varint_len(m->temporality);
    if (m->type == REC_SUM && m->monotonic)
        n += 2;
    return n;
}

/* Metric body around data points of total size pts: descriptor, container, metadata. */
static size_t metric_size(struct enc *e, const struct rec_point *first, uint32_t npts, size_t pts)
{
    const struct rec_metric *m = first->metric;
    size_t data = container_size(m, pts);
    size_t n = desc_of(e, m)->size;
    n += len_field(data);
    if (e->verify)
        n += kv_int_size(KLEN(KEY_SEQ), first->seq) + kv_int_size(KLEN(KEY_POINTS), npts) +
             kv_int_size(KLEN(KEY_GEN), first->gen_ns);
    return n;
}

static int metrics_measure(struct enc *e, uint32_t lo, uint32_t hi, uint64_t *items)
{
    uint64_t total = 0;
    for (uint32_t k = lo; k < hi;) {
        uint32_t end = wire__metric_run_end(e->b, e->g.idx, k, hi);
        uint64_t pts = 0;
        for (uint32_t j = k; j < end; j++) {
            const struct rec_point *pt = &e->b->r.points[e->g.idx[j]];
            if (!point_ok(e->b, pt))
                return DIO_EINVAL;
            uint16_t set = e->set_of[j] = aset_find(e, pt, point_attrs_tag(pt));
            if (set == ASET_NONE) {
                MEASURE_RECORD(e, j, point_size, pt, &pts);
                continue;
            }
            size_t n = point_base_size(pt) + e->sets[set].len; /* strings: checked in the set */
            if (n >= SZ_CHECKED)
                return DIO_ERANGE;
            e->sz[j] = (uint32_t)n;
            pts += len_field(n);
        }
        const struct rec_point *first = &e->b->r.points[e->g.idx[k]];
        total += len_field(metric_size(e, first, end - k, pts));
        k = end;
    }
    *items = total;
    return 0;
}

/* A packed fixed64/double array: the host's bytes when it is little-endian. */
static inline uint8_t *put_le64_array(uint8_t *p, const void *src, size_t n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(p, src, 8 * n);
    return p + 8 * n;
#else
    const uint8_t *s = src;
    for (size_t i = 0; i < n; i++) {
        uint64_t v;
        memcpy(&v, s + 8 * i, 8);
        p = wire__put_le64(p, v);
    }
    return p;
#endif
}

/* The point's attributes: its set's bytes, or encoded now. */
static uint8_t *point_attrs(const struct enc *e, uint8_t *p, const struct rec_point *pt,
                            uint16_t set, int checked)
{
    if (set == ASET_NONE)
        return put_attrs(p, point_attrs_tag(pt), wire__attrs(e->b, pt->attr_off), pt->nattrs,
                         checked);
    const struct aset *s = &e->sets[set];
    copy_bytes(p, e->arena + s->off, s->len);
    return p + s->len;
}

static uint8_t *point_write(const struct enc *e, uint8_t *p, const struct rec_point *pt,
                            uint16_t set, int checked)
{
    const struct rec_metric *m = pt->metric;
    if (pt->start_ns)
        p = put_f64(p, T_I64(2), pt->start_ns);
    if (pt->time_ns)
        p = put_f64(p, T_I64(3), pt->time_ns);
    if (m->type != REC_HISTOGRAM) {
        if (m->is_int)
            p = put_f64(p, T_I64(6), (uint64_t)pt->value.i);
        else
            p = put_f64(p, T_I64(4), dbl_bits(pt->value.d));
        return point_attrs(e, p, pt, set, checked);
    }
    if (pt->count)
        p = put_f64(p, T_I64(4), pt->count);
    p = put_f64(p, T_I64(5), dbl_bits(pt->sum));
    const uint64_t *bk = e->b->buckets + pt->bucket_off;
    p = put_len(p, T_LEN(6), 8 * ((size_t)m->nbounds + 1));
    p = put_le64_array(p, bk, m->nbounds + 1);
    if (m->nbounds) {
        p = put_len(p, T_LEN(7), 8 * (size_t)m->nbounds);
        p = put_le64_array(p, m->bounds, m->nbounds);
    }
    p = point_attrs(e, p, pt, set, checked);
    if (pt->count) {
        p = put_f64(p, T_I64(11), dbl_bits(pt->min));
        p = put_f64(p, T_I64(12), dbl_bits(pt->max));
    }
    return p;
}

static uint8_t *put_cstr(uint8_t *p, uint8_t tag, const char *s)
{
    return s && *s ? put_text(p, tag, s, strlen(s)) : p;
}

static uint8_t *put_desc(uint8_t *p, const struct desc *d)
{
    const struct rec_metric *m = d->m;
    if (!d->ascii) {
        p = put_cstr(p, T_LEN(1), m->name);
        p = put_cstr(p, T_LEN(2), m->description);
        return put_cstr(p, T_LEN(3), m->unit);
    }
    if (d->len[0])
        p = put_str(p, T_LEN(1), m->name, d->len[0]);
    if (d->len[1])
        p = put_str(p, T_LEN(2), m->description, d->len[1]);
    if (d->len[2])
        p = put_str(p, T_LEN(3), m->unit, d->len[2]);
    return p;
}

static uint64_t run_points_size(const struct enc *e, uint32_t k, uint32_t end)
{
    uint64_t pts = 0;
    for (; k < end; k++)
        pts += len_field(e->sz[k] & ~SZ_CHECKED);
    return pts;
}

static uint8_t *metric_write(struct enc *e, uint8_t *p, uint32_t k, uint32_t end)
{
    const struct rec_point *first = &e->b->r.points[e->g.idx[k]];
    const struct rec_metric *m = first->metric;
    uint64_t pts = run_points_size(e, k, end);
    p = put_len(p, T_LEN(2), metric_size(e, first, end - k, pts));
    p = put_desc(p, desc_of(e, m));
    static const uint8_t container[] = {T_LEN(5), T_LEN(7), T_LEN(9)};
    size_t data = container_size(m, pts);
    p = put_len(p, container[m->type], data);
    for (uint32_t j = k; j < end; j++) {
        p = put_len(p, T_LEN(1), e->sz[j] & ~SZ_CHECKED);
        p = point_write(e, p, &e->b->r.points[e->g.idx[j]], e->set_of[j], e->sz[j] >> 31);
    }
    if (m->type != REC_GAUGE && m->temporality)
        p = put_u64(p, T_VAR(2), m->temporality);
    if (m->type == REC_SUM && m->monotonic)
        p = put_u64(p, T_VAR(3), 1);
    if (e->verify) {
        p = put_kv_int(p, T_LEN(12), KEY_SEQ, KLEN(KEY_SEQ), first->seq);
        p = put_kv_int(p, T_LEN(12), KEY_POINTS, KLEN(KEY_POINTS), end - k);
        p = put_kv_int(p, T_LEN(12), KEY_GEN, KLEN(KEY_GEN), first->gen_ns);
    }
    return p;
}

static uint8_t *metrics_write(struct enc *e, uint8_t *p, uint32_t lo, uint32_t hi)
{
    for (uint32_t k = lo; k < hi;) {
        uint32_t end = wire__metric_run_end(e->b, e->g.idx, k, hi);
        p = metric_write(e, p, k, end);
        k = end;
    }
    return p;
}

/* ---- request --------------------------------------------------------------------------- */

static const struct signal_ops ops[REC_NSIGNALS] = {
    [REC_SPANS] = {spans_measure, spans_write},
    [REC_METRICS] = {metrics_measure, metrics_write},
    [REC_LOGS] = {logs_measure, logs_write},
};

static size_t scope_size(const struct rec_resource *r)
{
    return str_field(r->scope_name) + str_field(r->scope_version);
}

/* ScopeX body, then ResourceX body, for resource r whose items take `items` bytes. */
static uint64_t scope_x_size(const struct rec_resource *r, uint64_t items)
{
    return len_field(scope_size(r)) + items;
}

static uint64_t resource_x_size(const struct rec_resource *r, uint64_t items)
{
    struct strmode m = MODE_CHECKED;
    return len_field(attrs_size(r->attrs, r->nattrs, &m)) + len_field(scope_x_size(r, items));
}

static int measure_request(struct enc *e, uint64_t *total)
{
    const struct signal_ops *o = &ops[e->b->signal];
    *total = 0;
    for (uint32_t r = 0; r < e->g.nres; r++) {
        uint32_t lo = e->g.start[r], hi = e->g.start[r + 1];
        if (lo == hi)
            continue;
        int rc = o->measure(e, lo, hi, &e->isz[r]);
        if (rc)
            return rc;
        *total += len_field(resource_x_size(&e->b->resources[r], e->isz[r]));
    }
    return 0;
}

static uint8_t *write_request(struct enc *e, uint8_t *p)
{
    const struct signal_ops *o = &ops[e->b->signal];
    for (uint32_t r = 0; r < e->g.nres; r++) {
        uint32_t lo = e->g.start[r], hi = e->g.start[r + 1];
        if (lo == hi)
            continue;
        const struct rec_resource *res = &e->b->resources[r];
        p = put_len(p, T_LEN(1), resource_x_size(res, e->isz[r]));
        struct strmode m = MODE_CHECKED;
        p = put_len(p, T_LEN(1), attrs_size(res->attrs, res->nattrs, &m));
        p = put_attrs(p, T_LEN(1), res->attrs, res->nattrs, 1);
        p = put_len(p, T_LEN(2), scope_x_size(res, e->isz[r]));
        p = put_len(p, T_LEN(1), scope_size(res));
        p = put_cstr(p, T_LEN(1), res->scope_name);
        p = put_cstr(p, T_LEN(2), res->scope_version);
        p = o->write(e, p, lo, hi);
    }
    return p;
}

int wire_otlp_pb_encode(struct core_buf *out, const struct rec_batch *b,
                        const struct wire_otlp_opts *o)
{
    if (!b || b->signal < 0 || b->signal >= REC_NSIGNALS)
        return DIO_EINVAL;
    struct enc e = {.b = b, .verify = o && o->verify_attrs};
    int rc = wire__groups_init(&e.g, b);
    uint64_t total = 0;
    /* One allocation per request, and the sets on the stack: a fleet encodes thousands of
     * requests a second, and big short-lived blocks made malloc trim and regrow the heap
     * (brk, page faults) on every one. */
    size_t set_of = b->signal == REC_METRICS ? (size_t)b->n * sizeof *e.set_of : 0;
    e.isz = core_malloc((size_t)e.g.nres * sizeof *e.isz + (size_t)b->n * sizeof *e.sz + set_of);
    e.sz = (uint32_t *)(e.isz + e.g.nres);
    struct aset sets[ASET_SLOTS];
    uint8_t arena[ASET_ARENA];
    if (set_of) {
        e.set_of = (uint16_t *)(e.sz + b->n);
        memset(sets, 0, sizeof sets);
        e.sets = sets;
        e.arena = arena;
    }
    if (rc == 0)
        rc = measure_request(&e, &total);
    if (rc == 0 && (total > SIZE_MAX || core_buf_reserve(out, (size_t)total)))
        rc = DIO_EFULL;
    if (rc == 0 && total) { /* an empty batch is an empty request: nothing to write */
        uint8_t *end = write_request(&e, out->p + out->len);
        assert((uint64_t)(end - (out->p + out->len)) == total);
        out->len = (size_t)(end - out->p);
    }
    core_free(e.isz);
    wire__groups_free(&e.g);
    return rc;
}
