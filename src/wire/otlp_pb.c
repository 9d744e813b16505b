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

static inline uint8_t *put_str(uint8_t *p, uint8_t tag, const void *s, size_t n)
{
    p = put_len(p, tag, n);
    if (n)
        memcpy(p, s, n);
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
    if (n >= 8) {
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

static size_t attrs_size(const struct rec_attr *a, uint32_t n, struct strmode *m)
{
    size_t total = 0, av;
    for (uint32_t i = 0; i < n; i++)
        total += len_field(kv_size(&a[i], &av, m));
    return total;
}

static uint8_t *put_attrs(uint8_t *p, uint8_t tag, const struct rec_attr *a, uint32_t n,
                          int checked)
{
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

struct enc {
    const struct rec_batch *b;
    int verify;
    struct wire__groups g;
    uint32_t *sz;  /* body size of each record, by grouped position */
    uint64_t *isz; /* per resource: size of the items inside its ScopeX (after the scope) */
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

static size_t point_size(const struct enc *e, const struct rec_point *pt, struct strmode *sm)
{
    const struct rec_metric *m = pt->metric;
    size_t n = (pt->start_ns ? F64_SZ : 0) + (pt->time_ns ? F64_SZ : 0);
    n += attrs_size(wire__attrs(e->b, pt->attr_off), pt->nattrs, sm);
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
static size_t metric_size(const struct enc *e, const struct rec_point *first, uint32_t npts,
                          size_t pts)
{
    const struct rec_metric *m = first->metric;
    size_t data = container_size(m, pts);
    size_t n = str_field(m->name) + str_field(m->description) + str_field(m->unit);
    n += len_field(data);
    if (e->verify)
        n += kv_int_size(KLEN(KEY_SEQ), first->seq) + kv_int_size(KLEN(KEY_POINTS), npts) +
             kv_int_size(KLEN(KEY_GEN), first->gen_ns);
    return n;
}

static uint64_t run_points_size(const struct enc *e, uint32_t k, uint32_t end)
{
    uint64_t pts = 0;
    for (; k < end; k++)
        pts += len_field(e->sz[k] & ~SZ_CHECKED);
    return pts;
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
            MEASURE_RECORD(e, j, point_size, pt, &pts);
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

static uint8_t *point_write(const struct enc *e, uint8_t *p, const struct rec_point *pt,
                            int checked)
{
    const struct rec_metric *m = pt->metric;
    const struct rec_attr *a = wire__attrs(e->b, pt->attr_off);
    if (pt->start_ns)
        p = put_f64(p, T_I64(2), pt->start_ns);
    if (pt->time_ns)
        p = put_f64(p, T_I64(3), pt->time_ns);
    if (m->type != REC_HISTOGRAM) {
        if (m->is_int)
            p = put_f64(p, T_I64(6), (uint64_t)pt->value.i);
        else
            p = put_f64(p, T_I64(4), dbl_bits(pt->value.d));
        return put_attrs(p, T_LEN(7), a, pt->nattrs, checked);
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
    p = put_attrs(p, T_LEN(9), a, pt->nattrs, checked);
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

static uint8_t *metric_write(struct enc *e, uint8_t *p, uint32_t k, uint32_t end)
{
    const struct rec_point *first = &e->b->r.points[e->g.idx[k]];
    const struct rec_metric *m = first->metric;
    uint64_t pts = run_points_size(e, k, end);
    p = put_len(p, T_LEN(2), metric_size(e, first, end - k, pts));
    p = put_cstr(p, T_LEN(1), m->name);
    p = put_cstr(p, T_LEN(2), m->description);
    p = put_cstr(p, T_LEN(3), m->unit);
    static const uint8_t container[] = {T_LEN(5), T_LEN(7), T_LEN(9)};
    size_t data = container_size(m, pts);
    p = put_len(p, container[m->type], data);
    for (uint32_t j = k; j < end; j++) {
        p = put_len(p, T_LEN(1), e->sz[j] & ~SZ_CHECKED);
        p = point_write(e, p, &e->b->r.points[e->g.idx[j]], e->sz[j] >> 31);
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
    e.isz = core_malloc((size_t)e.g.nres * sizeof *e.isz + (size_t)b->n * sizeof *e.sz);
    e.sz = (uint32_t *)(e.isz + e.g.nres);
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
