/* wire: protobuf writer primitives, OTLP protobuf golden bytes (computed by hand, field by
 * field, in the comments), grouping by resource, verification attributes, gzip, float format.
 *
 * A tiny protobuf reader below lets tests look at structure instead of bytes where bytes would
 * only restate the encoder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "wire/wire.h"

/* ---- a minimal reader for the tests ---------------------------------------------------- */

struct field {
    uint32_t num;
    int wt;
    uint64_t v;       /* varint, fixed64, fixed32 */
    const uint8_t *p; /* length-delimited body */
    size_t len;
};

static uint64_t rd_varint(const uint8_t **p, const uint8_t *end)
{
    uint64_t v = 0;
    for (int shift = 0; *p < end && shift < 64; shift += 7) {
        uint8_t c = *(*p)++;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80))
            return v;
    }
    fail_msg("truncated varint");
    return 0;
}

/* Next field of [*p, end); 0 at the end. */
static int rd_field(const uint8_t **p, const uint8_t *end, struct field *f)
{
    if (*p >= end)
        return 0;
    uint64_t tag = rd_varint(p, end);
    f->num = (uint32_t)(tag >> 3);
    f->wt = (int)(tag & 7);
    f->v = 0;
    if (f->wt == WIRE_PB_VARINT) {
        f->v = rd_varint(p, end);
    } else if (f->wt == WIRE_PB_I64 || f->wt == WIRE_PB_I32) {
        int n = f->wt == WIRE_PB_I64 ? 8 : 4;
        assert_true(end - *p >= n);
        for (int i = 0; i < n; i++)
            f->v |= (uint64_t)(*p)[i] << (8 * i);
        *p += n;
    } else {
        assert_int_equal(f->wt, WIRE_PB_LEN);
        f->len = (size_t)rd_varint(p, end);
        assert_true((size_t)(end - *p) >= f->len);
        f->p = *p;
        *p += f->len;
    }
    return 1;
}

/* The n-th (0-based) occurrence of field num in a message body, or 0. */
static int rd_find(const uint8_t *p, size_t len, uint32_t num, int n, struct field *out)
{
    const uint8_t *end = p + len;
    while (rd_field(&p, end, out))
        if (out->num == num && n-- == 0)
            return 1;
    return 0;
}

static int rd_count(const uint8_t *p, size_t len, uint32_t num)
{
    struct field f;
    int n = 0;
    const uint8_t *end = p + len;
    while (rd_field(&p, end, &f))
        n += f.num == num;
    return n;
}

/* ---- primitives ------------------------------------------------------------------------ */

static void expect_bytes(struct core_buf *b, const uint8_t *want, size_t n)
{
    assert_int_equal(b->len, n);
    assert_memory_equal(b->p, want, n);
    core_buf_reset(b);
}

#define EXPECT(b, ...)                                                                             \
    do {                                                                                           \
        static const uint8_t want_[] = {__VA_ARGS__};                                              \
        expect_bytes(b, want_, sizeof want_);                                                      \
    } while (0)

static void pb_varints(void **state)
{
    struct core_buf b;
    core_buf_init(&b, 1024);
    static const struct {
        uint64_t v;
        uint8_t n, bytes[10];
    } t[] = {
        {0, 1, {0x00}},
        {1, 1, {0x01}},
        {127, 1, {0x7f}},
        {128, 2, {0x80, 0x01}},
        {150, 2, {0x96, 0x01}}, /* the protobuf documentation's example */
        {300, 2, {0xac, 0x02}},
        {16383, 2, {0xff, 0x7f}},
        {16384, 3, {0x80, 0x80, 0x01}},
        {(1ULL << 35) - 1, 5, {0xff, 0xff, 0xff, 0xff, 0x7f}},
        {(1ULL << 63), 10, {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}},
        {UINT64_MAX, 10, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
    };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        assert_int_equal(wire_pb_varint(&b, t[i].v), 0);
        assert_int_equal(wire__varint_len(t[i].v), t[i].n);
        expect_bytes(&b, t[i].bytes, t[i].n);
    }
    /* wire__varint_len agrees with the writer at every size boundary. */
    for (int bits = 0; bits <= 64; bits++) {
        uint64_t v = bits == 64 ? UINT64_MAX : (1ULL << bits) - 1;
        uint8_t tmp[10];
        assert_int_equal(wire__put_varint(tmp, v) - tmp, wire__varint_len(v));
    }
    core_buf_free(&b);
}

static void pb_fields(void **state)
{
    struct core_buf b;
    core_buf_init(&b, 1024);
    assert_int_equal(wire_pb_tag(&b, 1, WIRE_PB_LEN), 0);
    EXPECT(&b, 0x0a);
    assert_int_equal(wire_pb_tag(&b, 16, WIRE_PB_VARINT), 0); /* 16<<3 = 128: two bytes */
    EXPECT(&b, 0x80, 0x01);
    assert_int_equal(wire_pb_tag(&b, (1u << 29) - 1, WIRE_PB_I32), 0); /* max field number */
    EXPECT(&b, 0xfd, 0xff, 0xff, 0xff, 0x0f);
    assert_int_equal(wire_pb_u64(&b, 1, 150), 0);
    EXPECT(&b, 0x08, 0x96, 0x01);
    assert_int_equal(wire_pb_bytes(&b, 2, "hi", 2), 0);
    EXPECT(&b, 0x12, 0x02, 'h', 'i');
    assert_int_equal(wire_pb_bytes(&b, 2, NULL, 0), 0);
    EXPECT(&b, 0x12, 0x00);
    assert_int_equal(wire_pb_fixed64(&b, 1, 0x0102030405060708ULL), 0);
    EXPECT(&b, 0x09, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01);
    assert_int_equal(wire_pb_fixed32(&b, 16, 1), 0);
    EXPECT(&b, 0x85, 0x01, 0x01, 0x00, 0x00, 0x00);
    assert_int_equal(wire_pb_double(&b, 1, 1.0), 0); /* 0x3ff0000000000000 */
    EXPECT(&b, 0x09, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f);
    assert_int_equal(wire_pb_double(&b, 4, -2.5), 0); /* 0xc004000000000000 */
    EXPECT(&b, 0x21, 0, 0, 0, 0, 0, 0, 0x04, 0xc0);
    core_buf_free(&b);
}

/* begin/end with bodies whose length needs 1, 2 and 3 bytes: the body moves down, stays, or
 * moves up, and is intact afterwards. Nested messages close inside out. */
static void pb_nested_lengths(void **state)
{
    struct core_buf b;
    core_buf_init(&b, 1 << 20);
    static const size_t sizes[] = {0, 3, 127, 128, 16383, 16384, 20000};
    static const uint8_t prefix[][3] = {
        {0x00}, {0x03}, {0x7f}, {0x80, 0x01}, {0xff, 0x7f}, {0x80, 0x80, 0x01}, {0xa0, 0x9c, 0x01}};
    static const size_t plen[] = {1, 1, 1, 2, 2, 3, 3};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        size_t start = wire_pb_begin(&b, 5);
        assert_int_not_equal(start, (size_t)-1);
        for (size_t k = 0; k < sizes[i]; k++)
            core_buf_putc(&b, (char)(k * 31 + 7));
        assert_int_equal(wire_pb_end(&b, start), 0);
        assert_int_equal(b.len, 1 + plen[i] + sizes[i]);
        assert_int_equal(b.p[0], 0x2a);
        assert_memory_equal(b.p + 1, prefix[i], plen[i]);
        for (size_t k = 0; k < sizes[i]; k++)
            assert_int_equal(b.p[1 + plen[i] + k], (uint8_t)(k * 31 + 7));
        core_buf_reset(&b);
    }
    /* outer{ inner{ 1: 150 } 2: "x" } */
    size_t outer = wire_pb_begin(&b, 1);
    size_t inner = wire_pb_begin(&b, 3);
    wire_pb_u64(&b, 1, 150);
    assert_int_equal(wire_pb_end(&b, inner), 0);
    wire_pb_bytes(&b, 2, "x", 1);
    assert_int_equal(wire_pb_end(&b, outer), 0);
    EXPECT(&b, 0x0a, 0x08, 0x1a, 0x03, 0x08, 0x96, 0x01, 0x12, 0x01, 'x');
    assert_int_equal(wire_pb_end(&b, (size_t)-1), DIO_EINVAL);
    core_buf_free(&b);
}

static void pb_cap_is_respected(void **state)
{
    struct core_buf b;
    core_buf_init(&b, 300);
    char big[400] = {0};
    assert_int_equal(wire_pb_bytes(&b, 1, big, sizeof big), DIO_EFULL);
    core_buf_reset(&b);
    size_t s = wire_pb_begin(&b, 1);
    assert_int_equal(core_buf_append(&b, big, 297), 0); /* fills the cap exactly */
    assert_int_equal(wire_pb_end(&b, s), 0);            /* 297 needs 2 bytes: fits */
    assert_int_equal(b.len, 300);
    core_buf_free(&b);
}

/* ---- OTLP goldens ---------------------------------------------------------------------- */

static const struct rec_attr svc_attr = {"service.name", 12, REC_STR, {.s = {"svc", 3}}};

static void otlp_span_golden(void **state)
{
    struct rec_resource res = {&svc_attr, 1, "sc", "1", NULL, NULL};
    struct rec_attr attr;
    rec_attr_str(&attr, REC_KEY("k"), "v", 1);
    struct rec_span s = {
        .trace_id = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
        .span_id = {0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18},
        .start_ns = 1,
        .end_ns = 2,
        .name = {"op", 2},
        .status_msg = {"bad", 3},
        .nattrs = 1,
        .kind = 2,
        .status = 2,
    };
    struct rec_batch b = {.signal = REC_SPANS,
                          .n = 1,
                          .r.spans = &s,
                          .attrs = &attr,
                          .nattrs = 1,
                          .resources = &res,
                          .nresources = 1};
    static const uint8_t want[] = {
        0x0a, 0x6d, /* resource_spans, 109 */
        0x0a, 0x17, /*   resource, 23 */
        0x0a, 0x15, /*     attributes KeyValue, 21 */
        0x0a, 0x0c, 's',  'e',  'r',  'v',  'i',  'c',  'e',  '.',  'n',
        'a',  'm',  'e',  0x12, 0x05, 0x0a, 0x03, 's',  'v',  'c', /* value AnyValue{string_value}
                                                                    */
        0x12, 0x52,                                                /*   scope_spans, 82 */
        0x0a, 0x07, 0x0a, 0x02, 's',  'c',  0x12, 0x01, '1',       /* scope {name, version} */
        0x12, 0x47,                                                /*     spans, 71 */
        0x0a, 0x10, 1,    2,    3,    4,    5,    6,    7,    8,    9,
        10,   11,   12,   13,   14,   15,   16,                     /* trace_id */
        0x12, 0x08, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, /* span_id */
        0x2a, 0x02, 'o',  'p',                             /* name (no parent_span_id: root) */
        0x30, 0x02,                                        /* kind SERVER */
        0x39, 1,    0,    0,    0,    0,    0,    0,    0, /* start_time_unix_nano fixed64 */
        0x41, 2,    0,    0,    0,    0,    0,    0,    0, /* end_time_unix_nano fixed64 */
        0x4a, 0x08, 0x0a, 0x01, 'k',  0x12, 0x03, 0x0a, 0x01, 'v', /* attributes */
        0x7a, 0x07, 0x12, 0x03, 'b',  'a',  'd',  0x18, 0x02,      /* status {message, code} */
    };
    struct core_buf out;
    core_buf_init(&out, 4096);
    assert_int_equal(wire_otlp_pb_encode(&out, &b, NULL), 0);
    expect_bytes(&out, want, sizeof want);
    /* With a parent, and appending to a non-empty buffer. */
    core_buf_putc(&out, 'X');
    s.parent_id[7] = 0x99;
    assert_int_equal(wire_otlp_pb_encode(&out, &b, NULL), 0);
    assert_int_equal(out.len, 1 + sizeof want + 10);
    static const uint8_t parent[] = {0x22, 0x08, 0, 0, 0, 0, 0, 0, 0, 0x99};
    assert_memory_equal(out.p + 1 + 2 + 2 + 23 + 2 + 9 + 2 + 18 + 10, parent, sizeof parent);
    core_buf_free(&out);
}

static const double one_bound[] = {1.0};
static const struct rec_metric mg = {"g", NULL, "1", REC_GAUGE, 0, 0, 0, NULL, 0};
static const struct rec_metric mc = {"c", NULL, NULL, REC_SUM, 1, 2, 1, NULL, 0};
static const struct rec_metric mh = {"h", NULL, "", REC_HISTOGRAM, 0, 2, 0, one_bound, 1};

static void metric_batch(struct rec_batch *b, struct rec_point *pts, uint64_t *buckets,
                         const struct rec_resource *res)
{
    memset(pts, 0, 4 * sizeof *pts);
    pts[0] = (struct rec_point){.metric = &mg, .time_ns = 5, .seq = 0, .value.d = 0.5};
    pts[1] = (struct rec_point){.metric = &mc, .start_ns = 1, .time_ns = 5, .seq = 1, .value.i = 7};
    pts[2] = (struct rec_point){.metric = &mc, .start_ns = 1, .time_ns = 5, .seq = 2, .value.i = 9};
    pts[3] = (struct rec_point){.metric = &mh,
                                .start_ns = 6,
                                .time_ns = 7,
                                .seq = 3,
                                .count = 3,
                                .sum = 4.0,
                                .min = 0.5,
                                .max = 3.0};
    buckets[0] = 1, buckets[1] = 2;
    *b = (struct rec_batch){.signal = REC_METRICS,
                            .n = 4,
                            .r.points = pts,
                            .buckets = buckets,
                            .nbuckets = 2,
                            .resources = res,
                            .nresources = 1};
}

static void otlp_metric_golden(void **state)
{
    struct rec_resource res = {0};
    struct rec_point pts[4];
    uint64_t buckets[2];
    struct rec_batch b;
    metric_batch(&b, pts, buckets, &res);
    static const uint8_t want[] = {
        0x0a, 0xc7, 0x01, /* resource_metrics, 199 */
        0x0a, 0x00,       /*   resource {} */
        0x12, 0xc2, 0x01, /*   scope_metrics, 194 */
        0x0a, 0x00,       /*     scope {} */
        /* Metric g: gauge, one point */
        0x12, 0x1c, 0x0a, 0x01, 'g', 0x1a, 0x01, '1', /* name, unit */
        0x2a, 0x14, 0x0a, 0x12,                       /* gauge { data_points, 18 */
        0x19, 5, 0, 0, 0, 0, 0, 0, 0,                 /*   time_unix_nano */
        0x21, 0, 0, 0, 0, 0, 0, 0xe0, 0x3f,           /*   as_double 0.5 */
        /* Metric c: monotonic cumulative int sum, a run of two points (seq 1, 2) */
        0x12, 0x43, 0x0a, 0x01, 'c', 0x3a, 0x3e,                                /* name; sum, 62 */
        0x0a, 0x1b, 0x11, 1, 0, 0, 0, 0, 0, 0, 0, 0x19, 5, 0, 0, 0, 0, 0, 0, 0, /* start, time */
        0x31, 7, 0, 0, 0, 0, 0, 0, 0,                                           /* as_int */
        0x0a, 0x1b, 0x11, 1, 0, 0, 0, 0, 0, 0, 0, 0x19, 5, 0, 0, 0, 0, 0, 0, 0, 0x31, 9, 0, 0, 0, 0,
        0, 0, 0, 0x10, 0x02, 0x18, 0x01, /* temporality CUMULATIVE, is_monotonic */
        /* Metric h: histogram, bounds {1}, buckets {1, 2} (unit "" omitted) */
        0x12, 0x5b, 0x0a, 0x01, 'h', 0x4a, 0x56, 0x0a, 0x52,        /* name; histogram; point, 82 */
        0x11, 6, 0, 0, 0, 0, 0, 0, 0,                               /* start */
        0x19, 7, 0, 0, 0, 0, 0, 0, 0,                               /* time */
        0x21, 3, 0, 0, 0, 0, 0, 0, 0,                               /* count fixed64 */
        0x29, 0, 0, 0, 0, 0, 0, 0x10, 0x40,                         /* sum 4.0 */
        0x32, 0x10, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, /* bucket_counts packed */
        0x3a, 0x08, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, /* explicit_bounds packed {1.0} */
        0x59, 0, 0, 0, 0, 0, 0, 0xe0, 0x3f,       /* min 0.5 */
        0x61, 0, 0, 0, 0, 0, 0, 0x08, 0x40,       /* max 3.0 */
        0x10, 0x02,                               /* temporality */
    };
    struct core_buf out;
    core_buf_init(&out, 4096);
    assert_int_equal(wire_otlp_pb_encode(&out, &b, NULL), 0);
    expect_bytes(&out, want, sizeof want);
    core_buf_free(&out);
}

static void otlp_log_golden(void **state)
{
    struct rec_resource res = {0};
    struct rec_attr attr;
    rec_attr_int(&attr, REC_KEY("n"), 5);
    struct rec_log l = {
        .time_ns = 1, .observed_ns = 2, .body = {"hi", 2}, .nattrs = 1, .severity = 9};
    memset(l.trace_id, 0xaa, 16);
    memset(l.span_id, 0xbb, 8);
    struct rec_batch b = {.signal = REC_LOGS,
                          .n = 1,
                          .r.logs = &l,
                          .attrs = &attr,
                          .nattrs = 1,
                          .resources = &res,
                          .nresources = 1};
    static const uint8_t want[] = {
        0x0a, 0x4d, 0x0a, 0x00,                               /* resource_logs, 77; resource {} */
        0x12, 0x49, 0x0a, 0x00,                               /* scope_logs, 73; scope {} */
        0x12, 0x45,                                           /* log_records, 69 */
        0x09, 1,    0,    0,    0,    0,    0,    0,    0,    /* time_unix_nano */
        0x10, 0x09,                                           /* severity_number INFO */
        0x1a, 0x04, 'I',  'N',  'F',  'O',                    /* severity_text */
        0x2a, 0x04, 0x0a, 0x02, 'h',  'i',                    /* body AnyValue{string_value} */
        0x32, 0x07, 0x0a, 0x01, 'n',  0x12, 0x02, 0x18, 0x05, /* attributes n=5 */
        0x4a, 0x10, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
        0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,             /* trace_id */
        0x52, 0x08, 0xbb, 0xbb, 0xbb, 0xbb, 0xbb, 0xbb, 0xbb, 0xbb, /* span_id */
        0x59, 2,    0,    0,    0,    0,    0,    0,    0,          /* observed_time_unix_nano */
    };
    struct core_buf out;
    core_buf_init(&out, 4096);
    assert_int_equal(wire_otlp_pb_encode(&out, &b, NULL), 0);
    expect_bytes(&out, want, sizeof want);
    /* Uncorrelated, no severity: ids, severity and its text are omitted. */
    memset(l.trace_id, 0, 16);
    memset(l.span_id, 0, 8);
    l.severity = 0;
    assert_int_equal(wire_otlp_pb_encode(&out, &b, NULL), 0);
    assert_int_equal(out.len, sizeof want - 18 - 10 - 2 - 6);
    core_buf_free(&out);
}

/* ---- structure: grouping, verification attributes --------------------------------------- */

/* Resources named r0..r3; spans' first span_id byte is their batch index. */
static void grouping_is_stable(void **state)
{
    static const char *const names[4] = {"r0", "r1", "r2", "r3"};
    struct rec_attr rattrs[4];
    struct rec_resource res[4];
    for (int r = 0; r < 4; r++) {
        rec_attr_str(&rattrs[r], REC_KEY("service.name"), names[r], 2);
        res[r] = (struct rec_resource){&rattrs[r], 1, "s", NULL, NULL, NULL};
    }
    static const uint16_t which[] = {2, 0, 1, 0, 2, 1, 0};
    enum { N = sizeof which / sizeof *which };
    struct rec_span spans[N];
    memset(spans, 0, sizeof spans);
    for (int i = 0; i < N; i++) {
        spans[i].trace_id[0] = 1;
        spans[i].span_id[0] = (uint8_t)i;
        spans[i].res = which[i];
    }
    struct rec_batch b = {.signal = REC_SPANS,
                          .n = N,
                          .r.spans = spans,
                          .resources = res,
                          .nresources = 4}; /* r3 has no spans: no ResourceSpans for it */
    struct core_buf out;
    core_buf_init(&out, 4096);
    assert_int_equal(wire_otlp_pb_encode(&out, &b, NULL), 0);
    static const int want_res[] = {0, 1, 2};
    static const int want_spans[3][4] = {{1, 3, 6, -1}, {2, 5, -1}, {0, 4, -1}};
    assert_int_equal(rd_count(out.p, out.len, 1), 3);
    for (int g = 0; g < 3; g++) {
        struct field rs, r, kv, key, ss, sp, id;
        assert_true(rd_find(out.p, out.len, 1, g, &rs));
        assert_true(rd_find(rs.p, rs.len, 1, 0, &r));
        assert_true(rd_find(r.p, r.len, 1, 0, &kv));
        assert_true(rd_find(kv.p, kv.len, 2, 0, &key)); /* AnyValue */
        assert_true(rd_find(key.p, key.len, 1, 0, &key));
        assert_memory_equal(key.p, names[want_res[g]], 2);
        assert_int_equal(rd_count(rs.p, rs.len, 2), 1); /* one ScopeSpans */
        assert_true(rd_find(rs.p, rs.len, 2, 0, &ss));
        int k = 0;
        for (; want_spans[g][k] >= 0; k++) {
            assert_true(rd_find(ss.p, ss.len, 2, k, &sp));
            assert_true(rd_find(sp.p, sp.len, 2, 0, &id));
            assert_int_equal(id.p[0], want_spans[g][k]);
        }
        assert_int_equal(rd_count(ss.p, ss.len, 2), k);
    }
    /* Empty batch: empty request (a success for receivers), also into an unused buffer. */
    b.n = 0;
    core_buf_reset(&out);
    assert_int_equal(wire_otlp_pb_encode(&out, &b, NULL), 0);
    assert_int_equal(out.len, 0);
    core_buf_free(&out);
    core_buf_init(&out, 4096);
    assert_int_equal(wire_otlp_pb_encode(&out, &b, NULL), 0);
    assert_int_equal(out.len, 0);
    core_buf_free(&out);
}

/* Looks up an int KeyValue by key among the fields `num` of a message body. */
static int kv_int(const uint8_t *p, size_t len, uint32_t num, const char *key, int64_t *v)
{
    struct field kv, k, val, iv;
    for (int i = 0; rd_find(p, len, num, i, &kv); i++) {
        assert_true(rd_find(kv.p, kv.len, 1, 0, &k));
        if (k.len != strlen(key) || memcmp(k.p, key, k.len))
            continue;
        assert_true(rd_find(kv.p, kv.len, 2, 0, &val));
        assert_true(rd_find(val.p, val.len, 3, 0, &iv));
        *v = (int64_t)iv.v;
        return 1;
    }
    return 0;
}

static void verify_attrs_on_off(void **state)
{
    struct rec_resource res = {0};
    struct rec_span s = {.trace_id = {1}, .span_id = {2}, .seq = 41, .gen_ns = 1234567890123ULL};
    struct rec_batch b = {
        .signal = REC_SPANS, .n = 1, .r.spans = &s, .resources = &res, .nresources = 1};
    struct wire_otlp_opts on = {1}, off = {0};
    struct core_buf out;
    core_buf_init(&out, 4096);
    struct field rs, ss, sp, md, m, pt;
    int64_t v;
    for (int verify = 0; verify < 2; verify++) {
        core_buf_reset(&out);
        assert_int_equal(wire_otlp_pb_encode(&out, &b, verify ? &on : &off), 0);
        assert_true(rd_find(out.p, out.len, 1, 0, &rs) && rd_find(rs.p, rs.len, 2, 0, &ss));
        assert_true(rd_find(ss.p, ss.len, 2, 0, &sp));
        assert_int_equal(rd_count(sp.p, sp.len, 9), verify ? 2 : 0);
        if (verify) {
            assert_true(kv_int(sp.p, sp.len, 9, REC_ATTR_SEQ, &v) && v == 41);
            assert_true(kv_int(sp.p, sp.len, 9, REC_ATTR_GEN, &v) && v == 1234567890123LL);
        }
    }
    /* Metrics: metadata on the Metric (seq of the run's first point, run length, gen time),
     * never attributes on data points. */
    struct rec_point pts[4];
    uint64_t buckets[2];
    metric_batch(&b, pts, buckets, &res);
    pts[1].gen_ns = 77;
    for (int verify = 0; verify < 2; verify++) {
        core_buf_reset(&out);
        assert_int_equal(wire_otlp_pb_encode(&out, &b, verify ? &on : &off), 0);
        assert_true(rd_find(out.p, out.len, 1, 0, &rs) && rd_find(rs.p, rs.len, 2, 0, &ss));
        assert_int_equal(rd_count(ss.p, ss.len, 2), 3);
        assert_true(rd_find(ss.p, ss.len, 2, 1, &m)); /* the sum "c" */
        assert_int_equal(rd_count(m.p, m.len, 12), verify ? 3 : 0);
        if (verify) {
            assert_true(kv_int(m.p, m.len, 12, REC_ATTR_SEQ, &v) && v == 1);
            assert_true(kv_int(m.p, m.len, 12, REC_ATTR_POINTS, &v) && v == 2);
            assert_true(kv_int(m.p, m.len, 12, REC_ATTR_GEN, &v) && v == 77);
        }
        assert_true(rd_find(m.p, m.len, 7, 0, &md) && rd_find(md.p, md.len, 1, 0, &pt));
        assert_int_equal(rd_count(pt.p, pt.len, 7), 0);
    }
    /* A sequence gap splits a run into two Metric messages. */
    pts[2].seq = 5;
    core_buf_reset(&out);
    assert_int_equal(wire_otlp_pb_encode(&out, &b, &on), 0);
    assert_true(rd_find(out.p, out.len, 1, 0, &rs) && rd_find(rs.p, rs.len, 2, 0, &ss));
    assert_int_equal(rd_count(ss.p, ss.len, 2), 4);
    core_buf_free(&out);
}

/* Enum-like bytes above 127 take two-byte varints: sizes must still be exact (the debug
 * build asserts it; ASan would see an overrun). */
static void large_enum_values_keep_sizes_exact(void **state)
{
    struct rec_resource res = {0};
    struct rec_span s = {.trace_id = {1}, .span_id = {2}, .kind = 200, .status = 130};
    struct rec_batch b = {
        .signal = REC_SPANS, .n = 1, .r.spans = &s, .resources = &res, .nresources = 1};
    struct core_buf out;
    core_buf_init(&out, 4096);
    assert_int_equal(wire_otlp_pb_encode(&out, &b, NULL), 0);
    struct field rs, ss, sp, f, st;
    assert_true(rd_find(out.p, out.len, 1, 0, &rs) && rd_find(rs.p, rs.len, 2, 0, &ss));
    assert_true(rd_find(ss.p, ss.len, 2, 0, &sp));
    assert_true(rd_find(sp.p, sp.len, 6, 0, &f) && f.v == 200);
    assert_true(rd_find(sp.p, sp.len, 15, 0, &st) && rd_find(st.p, st.len, 3, 0, &f) && f.v == 130);
    static const struct rec_metric m = {"s", NULL, NULL, REC_SUM, 1, 200, 0, NULL, 0};
    struct rec_point pt = {.metric = &m, .time_ns = 1};
    struct rec_batch mb = {
        .signal = REC_METRICS, .n = 1, .r.points = &pt, .resources = &res, .nresources = 1};
    core_buf_reset(&out);
    assert_int_equal(wire_otlp_pb_encode(&out, &mb, NULL), 0);
    struct field met, sum;
    assert_true(rd_find(out.p, out.len, 1, 0, &rs) && rd_find(rs.p, rs.len, 2, 0, &ss));
    assert_true(rd_find(ss.p, ss.len, 2, 0, &met) && rd_find(met.p, met.len, 7, 0, &sum));
    assert_true(rd_find(sum.p, sum.len, 2, 0, &f) && f.v == 200);
    core_buf_free(&out);
}

/* Invalid UTF-8 in a string field would make strict decoders reject the whole request. */
static void invalid_utf8_is_replaced(void **state)
{
    struct rec_resource res = {0};
    struct rec_span s = {.trace_id = {1},
                         .span_id = {2},
                         .name = {"a\xff"
                                  "b\xc3\xa9",
                                  5}};
    struct rec_batch b = {
        .signal = REC_SPANS, .n = 1, .r.spans = &s, .resources = &res, .nresources = 1};
    struct core_buf out;
    core_buf_init(&out, 4096);
    assert_int_equal(wire_otlp_pb_encode(&out, &b, NULL), 0);
    struct field rs, ss, sp, name;
    assert_true(rd_find(out.p, out.len, 1, 0, &rs) && rd_find(rs.p, rs.len, 2, 0, &ss));
    assert_true(rd_find(ss.p, ss.len, 2, 0, &sp) && rd_find(sp.p, sp.len, 5, 0, &name));
    assert_int_equal(name.len, 7);
    assert_memory_equal(name.p,
                        "a\xef\xbf\xbd"
                        "b\xc3\xa9",
                        7);
    core_buf_free(&out);
}

/* ---- gzip, float format ---------------------------------------------------------------- */

static void gzip_round_trips(void **state)
{
    struct core_buf in, out;
    core_buf_init(&in, 1 << 20);
    core_buf_init(&out, 1 << 20);
    for (int i = 0; i < 5000; i++)
        core_buf_printf(&in, "line %d of some repetitive telemetry\n", i % 97);
    core_buf_putc(&out, '!'); /* appends */
    assert_int_equal(wire_gzip(&out, in.p, in.len, 6), 0);
    assert_true(out.len < in.len / 4);
    assert_int_equal(out.p[1], 0x1f); /* gzip magic */
    assert_int_equal(out.p[2], 0x8b);
    uint8_t *back = malloc(in.len);
    z_stream z = {0};
    assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
    z.next_in = out.p + 1;
    z.avail_in = (uInt)(out.len - 1);
    z.next_out = back;
    z.avail_out = (uInt)in.len;
    assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
    assert_int_equal(z.total_out, in.len);
    assert_memory_equal(back, in.p, in.len);
    inflateEnd(&z);
    free(back);
    /* Empty input is a valid (20-byte) gzip stream; bad level and a full buffer fail. */
    core_buf_reset(&out);
    assert_int_equal(wire_gzip(&out, NULL, 0, 1), 0);
    assert_int_equal(out.len, 20);
    assert_int_equal(wire_gzip(&out, in.p, in.len, 0), DIO_EINVAL);
    struct core_buf tiny;
    core_buf_init(&tiny, 300);
    assert_int_equal(wire_gzip(&tiny, in.p, in.len, 9), DIO_EFULL);
    core_buf_free(&tiny);
    core_buf_free(&in);
    core_buf_free(&out);
}

static void doubles_format_like_go(void **state)
{
    static const struct {
        double v;
        const char *s;
    } t[] = {
        {0.005, "0.005"},
        {0.1 + 0.2, "0.30000000000000004"},
        {2.5, "2.5"},
        {100, "100"},
        {-3, "-3"},
        {1e-05, "1e-05"},
        {0.0001, "0.0001"},
        {123456.7, "123456.7"},
        {999999, "999999"},
        {-1234, "-1234"},
        {1e6, "1e+06"},
        {67108864, "6.7108864e+07"},
        {1.7e308, "1.7e+308"},
        {5e-324, "5e-324"},
        {0, "0"},
        {NAN, "NaN"},
        {INFINITY, "+Inf"},
        {-INFINITY, "-Inf"},
    };
    char out[32];
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        size_t n = wire__fmt_double(out, t[i].v);
        assert_string_equal(out, t[i].s);
        assert_int_equal(n, strlen(t[i].s));
        if (isfinite(t[i].v))
            assert_true(strtod(out, NULL) == t[i].v);
    }
}

int main(void)
{
    /* clang-format off */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pb_varints),
        cmocka_unit_test(pb_fields),
        cmocka_unit_test(pb_nested_lengths),
        cmocka_unit_test(pb_cap_is_respected),
        cmocka_unit_test(otlp_span_golden),
        cmocka_unit_test(otlp_metric_golden),
        cmocka_unit_test(otlp_log_golden),
        cmocka_unit_test(grouping_is_stable),
        cmocka_unit_test(verify_attrs_on_off),
        cmocka_unit_test(large_enum_values_keep_sizes_exact),
        cmocka_unit_test(invalid_utf8_is_replaced),
        cmocka_unit_test(gzip_round_trips),
        cmocka_unit_test(doubles_format_like_go),
    };
    /* clang-format on */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
