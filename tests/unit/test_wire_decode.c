/* wire decoders: OTLP protobuf and JSON round trips through diorama's own encoders (all three
 * signals), JSON == protobuf, validity rules with their problem texts, remote write built with
 * protobuf-c + snappy, gunzip limits, hostile input (truncated, garbage, deep nesting, memory
 * budget), and the partial-success response. The in-place protobuf walker (decode_otlp_walk.c)
 * is checked against protobuf-c's unpack on every protobuf body encoded here, on every prefix
 * and single-byte mutation of it, and on hand-made edge cases (differential, walker_*). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/trace_service.pb-c.h"
#include "proto/remote.pb-c.h"
#include "wire/decode_int.h"
#include "wire/wire.h"

/* ---- collecting items ------------------------------------------------------------------ */

#define MAX_ITEMS 64

struct got_item {
    struct wire_item it;
    char service[32], run_id[32], name[80];
};

struct got {
    size_t n;
    struct got_item v[MAX_ITEMS];
    size_t stop_after; /* 0: never stop */
};

static void copy_str(char *dst, size_t cap, struct rec_str s)
{
    size_t n = s.len < cap - 1 ? s.len : cap - 1;
    memcpy(dst, s.p, n);
    dst[n] = '\0';
}

static int collect(void *ctx, const struct wire_item *it)
{
    struct got *g = ctx;
    assert_true(g->n < MAX_ITEMS);
    struct got_item *d = &g->v[g->n++];
    d->it = *it;
    copy_str(d->service, sizeof d->service, it->service);
    copy_str(d->run_id, sizeof d->run_id, it->run_id);
    copy_str(d->name, sizeof d->name, it->name);
    return g->stop_after && g->n >= g->stop_after;
}

static int decode(int signal, int json, const struct core_buf *b, struct got *g,
                  struct wire_decode_stats *st)
{
    char err[128];
    memset(g, 0, sizeof *g);
    return wire_otlp_decode(signal, json, b->p, b->len, collect, g, st, err, sizeof err);
}

static void same_items(const struct got *a, const struct got *b)
{
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        const struct wire_item *x = &a->v[i].it, *y = &b->v[i].it;
        assert_int_equal(x->signal, y->signal);
        assert_int_equal(x->seq, y->seq);
        assert_int_equal(x->count, y->count);
        assert_int_equal(x->gen_ns, y->gen_ns);
        assert_int_equal(x->time_ns, y->time_ns);
        assert_int_equal(x->valid, y->valid);
        assert_string_equal(a->v[i].service, b->v[i].service);
        assert_string_equal(a->v[i].run_id, b->v[i].run_id);
        assert_string_equal(a->v[i].name, b->v[i].name);
        if (!x->valid)
            assert_string_equal(x->problem, y->problem);
    }
}

/* ---- batches --------------------------------------------------------------------------- */

static const struct rec_attr res_attrs[2][2] = {
    {{"service.name", 12, REC_STR, {.s = {"checkout", 8}}},
     {"diorama.run_id", 14, REC_STR, {.s = {"00112233aabbccdd", 16}}}},
    {{"service.name", 12, REC_STR, {.s = {"db", 2}}},
     {"diorama.run_id", 14, REC_STR, {.s = {"00112233aabbccdd", 16}}}},
};
static const struct rec_resource res[2] = {
    {res_attrs[0], 2, "diorama", "0.1.0", "checkout", "c-1"},
    {res_attrs[1], 2, "diorama", "0.1.0", "db", "d-1"},
};

enum { NSPANS = 6 };

static void span_batch(struct rec_batch *b, struct rec_span *s, struct rec_attr *attr)
{
    static const char *const names[NSPANS] = {"GET /", "SELECT", "POST /pay", "a", "b", "c"};
    rec_attr_str(attr, REC_KEY("http.route"), "/", 1);
    memset(s, 0, NSPANS * sizeof *s);
    for (int i = 0; i < NSPANS; i++) {
        s[i].trace_id[0] = 0xab;
        s[i].span_id[7] = (uint8_t)(i + 1);
        s[i].start_ns = 1000 + (uint64_t)i;
        s[i].end_ns = 2000 + (uint64_t)i;
        s[i].seq = 10 + (uint64_t)i;
        s[i].gen_ns = 1700000000000000000ULL + (uint64_t)i;
        s[i].name = (struct rec_str){names[i], (uint32_t)strlen(names[i])};
        s[i].res = (uint16_t)(i % 2);
        s[i].nattrs = i == 0;
        s[i].kind = 2;
    }
    *b = (struct rec_batch){.signal = REC_SPANS,
                            .n = NSPANS,
                            .r.spans = s,
                            .attrs = attr,
                            .nattrs = 1,
                            .resources = res,
                            .nresources = 2};
}

static const double bounds[] = {1.0, 5.0};
static const struct rec_metric mg = {"g", NULL, "1", REC_GAUGE, 0, 0, 0, NULL, 0};
static const struct rec_metric mc = {"c", NULL, NULL, REC_SUM, 1, 2, 1, NULL, 0};
static const struct rec_metric mh = {"h", NULL, "s", REC_HISTOGRAM, 0, 2, 0, bounds, 2};

static void metric_batch(struct rec_batch *b, struct rec_point *pts, uint64_t *buckets)
{
    memset(pts, 0, 4 * sizeof *pts);
    pts[0] = (struct rec_point){.metric = &mg, .time_ns = 5, .seq = 0, .gen_ns = 50};
    pts[1] = (struct rec_point){.metric = &mc, .time_ns = 6, .seq = 1, .gen_ns = 51};
    pts[2] = (struct rec_point){.metric = &mc, .time_ns = 7, .seq = 2, .gen_ns = 52};
    pts[3] = (struct rec_point){
        .metric = &mh, .time_ns = 8, .seq = 3, .gen_ns = 53, .count = 6, .sum = 9};
    buckets[0] = 1, buckets[1] = 2, buckets[2] = 3;
    *b = (struct rec_batch){.signal = REC_METRICS,
                            .n = 4,
                            .r.points = pts,
                            .buckets = buckets,
                            .nbuckets = 3,
                            .resources = res,
                            .nresources = 1};
}

static void log_batch(struct rec_batch *b, struct rec_log *l)
{
    memset(l, 0, 3 * sizeof *l);
    for (int i = 0; i < 3; i++) {
        l[i].time_ns = 100 + (uint64_t)i;
        l[i].seq = (uint64_t)i;
        l[i].gen_ns = 200 + (uint64_t)i;
        l[i].body = (struct rec_str){"payment failed", 14};
        l[i].severity = 17;
        l[i].res = (uint16_t)(i == 2);
    }
    *b = (struct rec_batch){
        .signal = REC_LOGS, .n = 3, .r.logs = l, .resources = res, .nresources = 2};
}

/* ---- the in-place walker against protobuf-c ----------------------------------------------- */

/* Whatever protobuf-c accepts, the walker accepts with the same items and stats (it may accept
 * more: what it does not look into it does not check). */
static void differential_one(int signal, const uint8_t *p, size_t n)
{
    static struct got a, b;
    struct wire_decode_stats sa = {0, 0}, sb = {0, 0};
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    a.stop_after = b.stop_after = MAX_ITEMS;
    struct wire__sink ka = {collect, &a, &sa, 0}, kb = {collect, &b, &sb, 0};
    char err[128];
    int ra = wire__otlp_unpack(signal, p, n, &ka, err, sizeof err);
    int rb = wire__otlp_walk(signal, p, n, &kb, err, sizeof err);
    assert_true(rb == 0 || (rb == DIO_EPARSE && b.n == 0 && sb.items == 0));
    if (ra)
        return;
    assert_int_equal(rb, 0);
    same_items(&a, &b);
    assert_int_equal(sa.items, sb.items);
    assert_int_equal(sa.rejected, sb.rejected);
}

/* The body, each prefix, and each byte replaced by a few telling values. */
static void differential(int signal, const uint8_t *p, size_t n)
{
    static const uint8_t vals[] = {0x00, 0x01, 0x08, 0x0a, 0x12, 0x2a, 0x7f, 0x80, 0xff};
    uint8_t *m = malloc(n + 1);
    differential_one(signal, p, n);
    for (size_t i = 0; i < n; i++) {
        differential_one(signal, p, i);
        for (size_t k = 0; k < sizeof vals; k++) {
            memcpy(m, p, n);
            m[i] = vals[k];
            differential_one(signal, m, n);
        }
    }
    free(m);
}

/* Every protobuf body a test encodes goes through the differential check too. */
static void encode(const struct rec_batch *b, int json, int verify, struct core_buf *out)
{
    struct wire_otlp_opts o = {verify};
    core_buf_init(out, 1 << 20);
    if (json) {
        assert_int_equal(wire_otlp_json_encode(out, b, &o), 0);
        return;
    }
    assert_int_equal(wire_otlp_pb_encode(out, b, &o), 0);
    differential(b->signal, (const uint8_t *)out->p, out->len);
}

/* ---- round trips ----------------------------------------------------------------------- */

static void spans_round_trip(void **state)
{
    struct rec_span s[NSPANS];
    struct rec_attr attr;
    struct rec_batch b;
    span_batch(&b, s, &attr);
    struct got pb, js;
    struct wire_decode_stats st;
    struct core_buf out, jout;
    encode(&b, 0, 1, &out);
    encode(&b, 1, 1, &jout);
    assert_int_equal(decode(REC_SPANS, 0, &out, &pb, &st), 0);
    assert_int_equal(pb.n, NSPANS);
    assert_int_equal(st.items, NSPANS);
    assert_int_equal(st.rejected, 0);
    /* Grouped by resource: spans 0, 2, 4 (checkout) then 1, 3, 5 (db). */
    static const int order[NSPANS] = {0, 2, 4, 1, 3, 5};
    for (int k = 0; k < NSPANS; k++) {
        const struct got_item *g = &pb.v[k];
        int i = order[k];
        assert_int_equal(g->it.signal, REC_SPANS);
        assert_true(g->it.valid);
        assert_int_equal(g->it.count, 1);
        assert_int_equal(g->it.seq, 10 + i);
        assert_int_equal(g->it.gen_ns, 1700000000000000000ULL + (uint64_t)i);
        assert_int_equal(g->it.time_ns, 2000 + i);
        assert_string_equal(g->service, i % 2 ? "db" : "checkout");
        assert_string_equal(g->run_id, "00112233aabbccdd");
        assert_memory_equal(g->name, s[i].name.p, s[i].name.len);
    }
    assert_int_equal(decode(REC_SPANS, 1, &jout, &js, &st), 0);
    same_items(&pb, &js);
    /* Without verification attributes: seq -1, gen 0. */
    core_buf_free(&out);
    encode(&b, 0, 0, &out);
    assert_int_equal(decode(REC_SPANS, 0, &out, &pb, &st), 0);
    assert_int_equal(pb.v[0].it.seq, -1);
    assert_int_equal(pb.v[0].it.gen_ns, 0);
    /* The callback stops decoding. */
    memset(&pb, 0, sizeof pb);
    pb.stop_after = 2;
    assert_int_equal(wire_otlp_decode(REC_SPANS, 0, out.p, out.len, collect, &pb, &st, NULL, 0), 0);
    assert_int_equal(pb.n, 2);
    core_buf_free(&out);
    core_buf_free(&jout);
}

static void metrics_round_trip(void **state)
{
    struct rec_point pts[4];
    uint64_t buckets[3];
    struct rec_batch b;
    metric_batch(&b, pts, buckets);
    struct got pb, js;
    struct wire_decode_stats st;
    struct core_buf out, jout;
    encode(&b, 0, 1, &out);
    encode(&b, 1, 1, &jout);
    assert_int_equal(decode(REC_METRICS, 0, &out, &pb, &st), 0);
    assert_int_equal(pb.n, 3); /* g; c (a run of two points); h */
    assert_int_equal(st.items, 4);
    assert_int_equal(st.rejected, 0);
    static const char *const names[] = {"g", "c", "h"};
    static const int64_t seqs[] = {0, 1, 3};
    static const uint32_t counts[] = {1, 2, 1};
    static const uint64_t gens[] = {50, 51, 53}, times[] = {5, 7, 8};
    for (int k = 0; k < 3; k++) {
        assert_string_equal(pb.v[k].name, names[k]);
        assert_int_equal(pb.v[k].it.seq, seqs[k]);
        assert_int_equal(pb.v[k].it.count, counts[k]);
        assert_int_equal(pb.v[k].it.gen_ns, gens[k]);
        assert_int_equal(pb.v[k].it.time_ns, times[k]);
        assert_true(pb.v[k].it.valid);
        assert_string_equal(pb.v[k].service, "checkout");
        assert_string_equal(pb.v[k].run_id, "00112233aabbccdd");
    }
    assert_int_equal(decode(REC_METRICS, 1, &jout, &js, &st), 0);
    same_items(&pb, &js);
    core_buf_free(&out);
    core_buf_free(&jout);
}

static void logs_round_trip(void **state)
{
    struct rec_log l[3];
    struct rec_batch b;
    log_batch(&b, l);
    struct got pb, js;
    struct wire_decode_stats st;
    struct core_buf out, jout;
    encode(&b, 0, 1, &out);
    encode(&b, 1, 1, &jout);
    assert_int_equal(decode(REC_LOGS, 0, &out, &pb, &st), 0);
    assert_int_equal(pb.n, 3);
    assert_int_equal(st.items, 3);
    for (int k = 0; k < 3; k++) {
        assert_int_equal(pb.v[k].it.seq, k);
        assert_int_equal(pb.v[k].it.gen_ns, 200 + k);
        assert_int_equal(pb.v[k].it.time_ns, 100 + k);
        assert_string_equal(pb.v[k].name, "payment failed");
        assert_string_equal(pb.v[k].service, k == 2 ? "db" : "checkout");
        assert_true(pb.v[k].it.valid);
    }
    assert_int_equal(decode(REC_LOGS, 1, &jout, &js, &st), 0);
    same_items(&pb, &js);
    core_buf_free(&out);
    core_buf_free(&jout);
}

static void empty_requests_succeed(void **state)
{
    struct wire_decode_stats st = {5, 5};
    for (int sig = 0; sig < REC_NSIGNALS; sig++) {
        assert_int_equal(wire_otlp_decode(sig, 0, "", 0, collect, NULL, &st, NULL, 0), 0);
        assert_int_equal(st.items, 0);
        assert_int_equal(wire_otlp_decode(sig, 1, "{}", 2, collect, NULL, &st, NULL, 0), 0);
        assert_int_equal(wire_otlp_decode(sig, 1, "{}\n", 3, NULL, NULL, NULL, NULL, 0), 0);
    }
    assert_int_equal(wire_otlp_decode(7, 0, "", 0, NULL, NULL, NULL, NULL, 0), DIO_EINVAL);
}

/* ---- validity -------------------------------------------------------------------------- */

/* Decodes b (protobuf and JSON) and expects item 0 invalid with problem. */
static void expect_problem(const struct rec_batch *b, const char *problem)
{
    for (int json = 0; json < 2; json++) {
        struct core_buf out;
        struct got g;
        struct wire_decode_stats st;
        encode(b, json, 1, &out);
        assert_int_equal(decode(b->signal, json, &out, &g, &st), 0);
        assert_true(g.n >= 1);
        assert_false(g.v[0].it.valid);
        assert_string_equal(g.v[0].it.problem, problem);
        assert_int_equal(st.rejected, g.v[0].it.count);
        core_buf_free(&out);
    }
}

static void invalid_items(void **state)
{
    struct rec_span s[NSPANS];
    struct rec_attr attr;
    struct rec_batch b;
    span_batch(&b, s, &attr);
    b.n = 1;
    s[0].span_id[7] = 0;
    expect_problem(&b, "span id is all zero");
    s[0].span_id[7] = 1;
    s[0].trace_id[0] = 0;
    expect_problem(&b, "trace id is all zero");
    s[0].trace_id[0] = 1;
    s[0].end_ns = 5;
    expect_problem(&b, "end time is before start time");
    s[0].start_ns = 0;
    expect_problem(&b, "start time is 0");

    struct rec_point pts[4];
    uint64_t buckets[3];
    metric_batch(&b, pts, buckets);
    b.r.points = &pts[3];
    b.n = 1;
    pts[3].count = 7;
    expect_problem(&b, "histogram bucket counts do not add up to count");
    static const double bad_bounds[] = {5.0, 1.0};
    struct rec_metric mbad = mh;
    mbad.bounds = bad_bounds;
    pts[3].metric = &mbad;
    pts[3].count = 6;
    expect_problem(&b, "histogram bounds are not increasing");

    struct rec_log l[3];
    log_batch(&b, l);
    b.n = 1;
    l[0].severity = 30;
    expect_problem(&b, "severity number is above 24");
}

/* Cases the encoder cannot produce, built with protobuf-c. */
static void invalid_ids_and_empty_metric(void **state)
{
    uint8_t tid[15] = {1}, sid[8] = {1}, pid[3] = {1};
    Opentelemetry__Proto__Trace__V1__Span sp = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT;
    Opentelemetry__Proto__Trace__V1__Span *spp = &sp;
    Opentelemetry__Proto__Trace__V1__ScopeSpans ss =
        OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT;
    Opentelemetry__Proto__Trace__V1__ScopeSpans *ssp = &ss;
    Opentelemetry__Proto__Trace__V1__ResourceSpans rs =
        OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT;
    Opentelemetry__Proto__Trace__V1__ResourceSpans *rsp = &rs;
    Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest req =
        OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_REQUEST__INIT;
    sp.trace_id = (ProtobufCBinaryData){sizeof tid, tid};
    sp.span_id = (ProtobufCBinaryData){sizeof sid, sid};
    sp.start_time_unix_nano = sp.end_time_unix_nano = 1;
    ss.n_spans = 1, ss.spans = &spp;
    rs.n_scope_spans = 1, rs.scope_spans = &ssp;
    req.n_resource_spans = 1, req.resource_spans = &rsp;
    uint8_t buf[256];
    struct core_buf b = {buf, 0, sizeof buf, sizeof buf};
    struct got g;
    b.len = protobuf_c_message_pack(&req.base, buf);
    assert_int_equal(decode(REC_SPANS, 0, &b, &g, NULL), 0);
    assert_string_equal(g.v[0].it.problem, "trace id is not 16 bytes");
    assert_string_equal(g.v[0].service, "");
    sp.trace_id.len = 16;
    uint8_t tid16[16] = {1};
    sp.trace_id.data = tid16;
    sp.parent_span_id = (ProtobufCBinaryData){sizeof pid, pid};
    b.len = protobuf_c_message_pack(&req.base, buf);
    assert_int_equal(decode(REC_SPANS, 0, &b, &g, NULL), 0);
    assert_string_equal(g.v[0].it.problem, "parent span id is not 8 bytes");
    /* A Metric without data: ExportMetricsServiceRequest{1: {2: {2: {1: "m"}}}}. */
    static const uint8_t empty_metric[] = {0x0a, 0x07, 0x12, 0x05, 0x12, 0x03, 0x0a, 0x01, 'm'};
    struct core_buf m = {(uint8_t *)empty_metric, sizeof empty_metric, 0, 0};
    assert_int_equal(decode(REC_METRICS, 0, &m, &g, NULL), 0);
    assert_int_equal(g.n, 1);
    assert_false(g.v[0].it.valid);
    assert_int_equal(g.v[0].it.count, 0);
    assert_string_equal(g.v[0].it.problem, "metric has no data points");
    /* JSON: non-hex ids, numbers instead of strings, doubles as strings. */
    static const char js[] =
        "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"zz\",\"spanId\":"
        "\"0000000000000001\",\"startTimeUnixNano\":5,\"endTimeUnixNano\":\"6\",\"unknown\":[1]}]}]"
        "}"
        "]}";
    struct core_buf j = {(uint8_t *)js, sizeof js - 1, 0, 0};
    assert_int_equal(decode(REC_SPANS, 1, &j, &g, NULL), 0);
    assert_int_equal(g.n, 1);
    assert_string_equal(g.v[0].it.problem, "trace id is not 16 bytes");
    assert_int_equal(g.v[0].it.time_ns, 6);
}

/* Summaries and exponential histograms (diorama does not emit them; other clients do). */
static void other_metric_types(void **state)
{
    static const char js[] =
        "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":["
        "{\"name\":\"s\",\"summary\":{\"dataPoints\":[{\"timeUnixNano\":\"9\",\"count\":\"2\"},"
        "{\"timeUnixNano\":10}]}},"
        "{\"name\":\"e\",\"exponentialHistogram\":{\"dataPoints\":[{\"timeUnixNano\":\"3\"}]},"
        "\"metadata\":[{\"key\":\"diorama.seq\",\"value\":{\"intValue\":5}}]}]}]}]}";
    struct core_buf j = {(uint8_t *)js, sizeof js - 1, 0, 0};
    struct got g;
    struct wire_decode_stats st;
    assert_int_equal(decode(REC_METRICS, 1, &j, &g, &st), 0);
    assert_int_equal(g.n, 2);
    assert_int_equal(st.items, 3);
    assert_string_equal(g.v[0].name, "s");
    assert_int_equal(g.v[0].it.count, 2);
    assert_int_equal(g.v[0].it.time_ns, 10);
    assert_int_equal(g.v[0].it.seq, -1);
    assert_true(g.v[0].it.valid);
    assert_string_equal(g.v[1].name, "e");
    assert_int_equal(g.v[1].it.seq, 5);
    assert_int_equal(g.v[1].it.time_ns, 3);
}

/* ---- hostile input --------------------------------------------------------------------- */

static void truncated_and_garbage(void **state)
{
    struct rec_span s[NSPANS];
    struct rec_attr attr;
    struct rec_batch b;
    span_batch(&b, s, &attr);
    struct core_buf out, jout;
    encode(&b, 0, 1, &out);
    encode(&b, 1, 1, &jout);
    char err[128];
    struct got g;
    /* Every prefix: a clean result or DIO_EPARSE with a message, never a crash. */
    for (size_t n = 1; n < out.len; n++) {
        memset(&g, 0, sizeof g);
        int rc = wire_otlp_decode(REC_SPANS, 0, out.p, n, collect, &g, NULL, err, sizeof err);
        assert_true(rc == 0 || (rc == DIO_EPARSE && err[0]));
    }
    for (size_t n = 1; n + 1 < jout.len; n++) {
        memset(&g, 0, sizeof g);
        int rc = wire_otlp_decode(REC_SPANS, 1, jout.p, n, collect, &g, NULL, err, sizeof err);
        assert_int_equal(rc, DIO_EPARSE);
    }
    static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x0a, 0x80};
    assert_int_equal(wire_otlp_decode(REC_METRICS, 0, garbage, sizeof garbage, collect, &g, NULL,
                                      err, sizeof err),
                     DIO_EPARSE);
    assert_int_equal(wire_otlp_decode(REC_LOGS, 1, "[1,2]", 5, collect, &g, NULL, err, sizeof err),
                     DIO_EPARSE);
    core_buf_free(&out);
    core_buf_free(&jout);
}

/* Wraps the message in `in` into fields path[n-1] ... path[0] (path[0] outermost). */
static void wrap(struct core_buf *in, const uint32_t *path, size_t n)
{
    while (n-- > 0) {
        struct core_buf t;
        core_buf_init(&t, 1 << 20);
        wire_pb_bytes(&t, path[n], in->p, in->len);
        core_buf_free(in);
        *in = t;
    }
}

/* An AnyValue body nesting array_value{values: AnyValue{...}} `levels` times. */
static void deep_anyvalue(struct core_buf *in, int levels)
{
    static const uint32_t level[] = {5, 1}; /* AnyValue.array_value, ArrayValue.values */
    core_buf_init(in, 1 << 20);
    for (int i = 0; i < levels; i++)
        wrap(in, level, 2);
}

/* protobuf-c recurses per level, so its path refuses deep nesting; the in-place walker does
 * not recurse into what it skips, so the same bodies cost it nothing and are accepted. */
static void nested_pb(int signal, const struct core_buf *in, uint64_t items)
{
    char err[128];
    struct wire_decode_stats st;
    struct wire__sink k = {NULL, NULL, &st, 0};
    assert_int_equal(wire__otlp_unpack(signal, in->p, in->len, &k, err, sizeof err), DIO_EPARSE);
    assert_non_null(strstr(err, "nesting"));
    assert_int_equal(wire_otlp_decode(signal, 0, in->p, in->len, NULL, NULL, &st, err, sizeof err),
                     0);
    assert_int_equal(st.items, items);
}

static void deep_nesting_is_refused(void **state)
{
    char err[128];
    struct core_buf in;
    /* Logs: request{1: ResourceLogs{2: ScopeLogs{2: LogRecord{6: KeyValue{2: AnyValue}}}}} */
    static const uint32_t in_log[] = {1, 2, 2, 6, 2};
    deep_anyvalue(&in, 5000);
    wrap(&in, in_log, 5);
    nested_pb(REC_LOGS, &in, 1);
    core_buf_free(&in);
    /* Spans, in a resource attribute: request{1: ResourceSpans{1: Resource{1: KeyValue{2: ..}}}} */
    static const uint32_t in_res[] = {1, 1, 1, 2};
    deep_anyvalue(&in, 5000);
    wrap(&in, in_res, 4);
    nested_pb(REC_SPANS, &in, 0);
    core_buf_free(&in);
    /* Spans, in a span attribute */
    static const uint32_t in_span[] = {1, 2, 2, 9, 2};
    deep_anyvalue(&in, 5000);
    wrap(&in, in_span, 5);
    struct wire_decode_stats st;
    assert_int_equal(wire_otlp_decode(REC_SPANS, 0, in.p, in.len, NULL, NULL, &st, err, sizeof err),
                     0);
    assert_int_equal(st.items, 1);
    assert_int_equal(st.rejected, 1); /* no ids */
    core_buf_free(&in);
    /* JSON */
    core_buf_init(&in, 1 << 20);
    core_buf_puts(&in, "{\"resourceSpans\":");
    for (int i = 0; i < 100; i++)
        core_buf_putc(&in, '[');
    for (int i = 0; i < 100; i++)
        core_buf_putc(&in, ']');
    core_buf_putc(&in, '}');
    assert_int_equal(
        wire_otlp_decode(REC_SPANS, 1, in.p, in.len, NULL, NULL, NULL, err, sizeof err),
        DIO_EPARSE);
    core_buf_free(&in);
}

/* ---- walker edge cases: what protobuf-c does with odd but legal encodings -------------------- */

static void pb_kv(struct core_buf *b, uint32_t field, const char *key, size_t klen, int anyfield,
                  const char *sval, uint64_t ival)
{
    struct core_buf kv, v;
    core_buf_init(&kv, 4096);
    core_buf_init(&v, 4096);
    if (anyfield == 1)
        wire_pb_bytes(&v, 1, sval, strlen(sval));
    else
        wire_pb_u64(&v, 3, ival);
    wire_pb_bytes(&kv, 1, key, klen);
    wire_pb_bytes(&kv, 2, v.p, v.len);
    wire_pb_bytes(b, field, kv.p, kv.len);
    core_buf_free(&kv);
    core_buf_free(&v);
}

static void pb_f64(struct core_buf *b, uint32_t field, uint64_t v)
{
    wire_pb_fixed64(b, field, v);
}

/* Accepted by protobuf-c, then the differential check on it and its mutations. */
static void edge(int signal, struct core_buf *req, const uint32_t *path, size_t n)
{
    wrap(req, path, n);
    struct wire_decode_stats st;
    struct wire__sink k = {NULL, NULL, &st, 0};
    char err[128];
    assert_int_equal(wire__otlp_unpack(signal, req->p, req->len, &k, err, sizeof err), 0);
    assert_true(st.items > 0);
    differential(signal, (const uint8_t *)req->p, req->len);
    core_buf_free(req);
}

static void walker_span_edges(void **state)
{
    static const uint8_t tid[16] = {1}, sid[8] = {2};
    struct core_buf sp, scope, rs, rsrc;
    core_buf_init(&sp, 4096);
    wire_pb_bytes(&sp, 5, "ab\0c", 4); /* a name ends at its NUL */
    wire_pb_bytes(&sp, 1, tid, 16);
    wire_pb_bytes(&sp, 2, sid, 8);
    pb_f64(&sp, 7, 3);
    pb_f64(&sp, 8, 1); /* end before start ... */
    pb_f64(&sp, 8, 9); /* ... but the last one wins */
    pb_kv(&sp, 9, REC_ATTR_SEQ, strlen(REC_ATTR_SEQ), 1, " +12", 0);
    pb_kv(&sp, 9, REC_ATTR_SEQ, strlen(REC_ATTR_SEQ), 1, "13x", 0); /* not a number: ignored */
    pb_kv(&sp, 9, REC_ATTR_GEN, strlen(REC_ATTR_GEN), 3, NULL, 77);
    pb_kv(&sp, 9, REC_ATTR_GEN, strlen(REC_ATTR_GEN), 1, "-5", 0);
    wire_pb_u64(&sp, 100, 1); /* unknown field */
    core_buf_init(&scope, 4096);
    wire_pb_bytes(&scope, 2, sp.p, sp.len);
    wire_pb_bytes(&scope, 2, "\x0a\x01\x01", 3); /* a span with a 1-byte trace id */
    core_buf_init(&rsrc, 4096);
    pb_kv(&rsrc, 1, "service.name", 12, 1, "first", 0);
    core_buf_init(&rs, 4096);
    wire_pb_bytes(&rs, 2, scope.p, scope.len); /* scopes before the resource */
    wire_pb_bytes(&rs, 1, rsrc.p, rsrc.len);
    core_buf_reset(&rsrc);
    pb_kv(&rsrc, 1, "service.name", 12, 1, "second", 0); /* the resource again: merged */
    pb_kv(&rsrc, 1, REC_ATTR_RUN, strlen(REC_ATTR_RUN), 1, "r1", 0);
    wire_pb_bytes(&rs, 1, rsrc.p, rsrc.len);
    static const uint32_t path[] = {1};
    struct got g;
    struct core_buf b = rs;
    wrap(&b, path, 1);
    assert_int_equal(decode(REC_SPANS, 0, &b, &g, NULL), 0);
    assert_int_equal(g.n, 2);
    assert_string_equal(g.v[0].name, "ab");
    assert_string_equal(g.v[0].service, "second");
    assert_string_equal(g.v[0].run_id, "r1");
    assert_int_equal(g.v[0].it.seq, 12);
    assert_int_equal((int64_t)g.v[0].it.gen_ns, -5);
    assert_true(g.v[0].it.valid);
    assert_false(g.v[1].it.valid);
    core_buf_free(&b);
    core_buf_init(&rs, 4096);
    wire_pb_bytes(&rs, 1, rsrc.p, rsrc.len);
    wire_pb_bytes(&rs, 2, scope.p, scope.len);
    edge(REC_SPANS, &rs, path, 1);
    core_buf_free(&sp);
    core_buf_free(&scope);
    core_buf_free(&rsrc);
}

static void walker_metric_edges(void **state)
{
    struct core_buf pt, data, m, scope;
    core_buf_init(&pt, 4096);
    pb_f64(&pt, 3, 50);
    pb_f64(&pt, 3, 40); /* the last time wins */
    pb_f64(&pt, 4, 6);
    pb_f64(&pt, 6, 1); /* a bucket unpacked ... */
    uint8_t packed[16] = {2, 0, 0, 0, 0, 0, 0, 0, 3};
    wire_pb_bytes(&pt, 6, packed, 16); /* ... then two packed */
    double bounds2[2] = {1.0, 5.0};
    wire_pb_bytes(&pt, 7, bounds2, sizeof bounds2);
    core_buf_init(&data, 4096);
    wire_pb_bytes(&data, 1, pt.p, pt.len);
    wire_pb_u64(&data, 2, 2);
    core_buf_init(&m, 4096);
    wire_pb_bytes(&m, 1, "h", 1);
    wire_pb_bytes(&m, 5, "\x0a\x00", 2);    /* a gauge with one point, replaced by ... */
    wire_pb_bytes(&m, 9, data.p, data.len); /* ... the histogram (a oneof) */
    pb_kv(&m, 12, REC_ATTR_SEQ, strlen(REC_ATTR_SEQ), 3, NULL, 4);
    core_buf_init(&scope, 4096);
    wire_pb_bytes(&scope, 2, m.p, m.len);
    core_buf_reset(&m);
    wire_pb_bytes(&m, 1, "g", 1);
    wire_pb_bytes(&m, 9, data.p, data.len);
    wire_pb_bytes(&m, 5, "\x0a\x09\x19\x07\x00\x00\x00\x00\x00\x00\x00", 11); /* a gauge last */
    wire_pb_bytes(&scope, 2, m.p, m.len);
    wire_pb_bytes(&scope, 2, "\x0a\x01x", 3); /* no data: invalid */
    static const uint32_t path[] = {1, 2};
    struct core_buf b;
    core_buf_init(&b, 4096);
    core_buf_append(&b, scope.p, scope.len);
    wrap(&b, path, 2);
    struct got g;
    assert_int_equal(decode(REC_METRICS, 0, &b, &g, NULL), 0);
    assert_int_equal(g.n, 3);
    assert_true(g.v[0].it.valid);
    assert_int_equal(g.v[0].it.count, 1);
    assert_int_equal(g.v[0].it.time_ns, 40);
    assert_int_equal(g.v[0].it.seq, 4);
    assert_int_equal(g.v[1].it.time_ns, 7);
    assert_false(g.v[2].it.valid);
    core_buf_free(&b);
    edge(REC_METRICS, &scope, path, 2);
    core_buf_free(&pt);
    core_buf_free(&data);
    core_buf_free(&m);
}

static void walker_log_edges(void **state)
{
    struct core_buf l, scope;
    core_buf_init(&l, 4096);
    pb_f64(&l, 11, 8);
    wire_pb_u64(&l, 2, 25);           /* severity above 24 */
    wire_pb_bytes(&l, 12, "\0ev", 3); /* an event name that ends at once: the body names it */
    wire_pb_bytes(&l, 5, "\x0a\x03hey", 5);
    wire_pb_bytes(&l, 5, "\x18\x05", 2); /* the body again: merged, the int wins the oneof */
    wire_pb_bytes(&l, 5,
                  "\x0a\x04"
                  "body",
                  6);
    core_buf_init(&scope, 4096);
    wire_pb_bytes(&scope, 2, l.p, l.len);
    static const uint32_t path[] = {1, 2};
    struct core_buf b;
    core_buf_init(&b, 4096);
    core_buf_append(&b, scope.p, scope.len);
    wrap(&b, path, 2);
    struct got g;
    assert_int_equal(decode(REC_LOGS, 0, &b, &g, NULL), 0);
    assert_int_equal(g.n, 1);
    assert_string_equal(g.v[0].name, "body");
    assert_int_equal(g.v[0].it.time_ns, 8);
    assert_false(g.v[0].it.valid);
    core_buf_free(&b);
    edge(REC_LOGS, &scope, path, 2);
    core_buf_free(&l);
}

/* The verification attributes are found wherever the key sits in the KeyValue (value first is
 * legal, if unusual). */
static void verify_attr_in_any_field_order(void **state)
{
    /* KeyValue{2: AnyValue{3: 42}, 1: "diorama.seq"} */
    struct core_buf kv, val;
    core_buf_init(&kv, 4096);
    core_buf_init(&val, 4096);
    wire_pb_u64(&val, 3, 42);
    wire_pb_bytes(&kv, 2, val.p, val.len);
    wire_pb_bytes(&kv, 1, REC_ATTR_SEQ, strlen(REC_ATTR_SEQ));
    static const uint8_t tid[16] = {1}, sid[8] = {1}, one[8] = {1}, two[8] = {2};
    struct core_buf span;
    core_buf_init(&span, 4096);
    wire_pb_bytes(&span, 1, tid, 16);
    wire_pb_bytes(&span, 2, sid, 8);
    wire_pb_tag(&span, 7, WIRE_PB_I64);
    core_buf_append(&span, one, 8);
    wire_pb_tag(&span, 8, WIRE_PB_I64);
    core_buf_append(&span, two, 8);
    wire_pb_bytes(&span, 9, kv.p, kv.len);
    wire_pb_bytes(&span, 9, NULL, 0); /* an empty attribute (found by the fuzzer: NULL data) */
    static const uint32_t path[] = {1, 2, 2};
    wrap(&span, path, 3);
    struct core_buf b = span;
    struct got g;
    assert_int_equal(decode(REC_SPANS, 0, &b, &g, NULL), 0);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.v[0].it.seq, 42);
    assert_true(g.v[0].it.valid);
    core_buf_free(&span);
    core_buf_free(&kv);
    core_buf_free(&val);
}

/* Empty ResourceSpans cost 2 bytes on the wire and ~50 unpacked: over 16x, refused by the
 * protobuf-c path (still what OTLP/JSON uses). */
static void memory_budget_is_enforced(void **state)
{
    size_t n = 1 << 20;
    uint8_t *p = malloc(n);
    for (size_t i = 0; i < n; i += 2)
        p[i] = 0x0a, p[i + 1] = 0;
    char err[128];
    struct wire_decode_stats st;
    struct wire__sink k = {NULL, NULL, &st, 0};
    assert_int_equal(wire__otlp_unpack(REC_SPANS, p, n, &k, err, sizeof err), DIO_EPARSE);
    assert_non_null(strstr(err, "memory"));
    /* The in-place walker allocates nothing: an empty request to it. */
    assert_int_equal(wire_otlp_decode(REC_SPANS, 0, p, n, NULL, NULL, &st, err, sizeof err), 0);
    assert_int_equal(st.items, 0);
    free(p);
    /* The arena itself. */
    struct wire__arena a;
    wire__arena_init(&a, 100 << 10);
    assert_non_null(wire__arena_alloc(&a, 1000));
    assert_null(wire__arena_alloc(&a, 200 << 10));
    assert_true(a.refused);
    void *x = wire__arena_alloc(&a, 24);
    assert_non_null(x);
    assert_int_equal((uintptr_t)x % 8, 0);
    wire__arena_free(&a);
    assert_int_equal(wire__budget_for(1000), 16000 + WIRE__BUDGET_FLOOR);
    assert_int_equal(wire__budget_for((size_t)1 << 40), WIRE__BUDGET_MAX);
}

/* ---- remote write ---------------------------------------------------------------------- */

static size_t rw_request(uint8_t *out, size_t cap, int bad)
{
    Prometheus__Label l[3] = {PROMETHEUS__LABEL__INIT, PROMETHEUS__LABEL__INIT,
                              PROMETHEUS__LABEL__INIT};
    l[0].name = "__name__", l[0].value = "http_requests_total";
    l[1].name = "instance", l[1].value = "c-1";
    l[2].name = "job", l[2].value = "shop/checkout";
    Prometheus__Label *lp[3] = {&l[0], &l[1], &l[2]};
    Prometheus__Label *unsorted[3] = {&l[1], &l[0], &l[2]};
    Prometheus__Sample sm[3] = {PROMETHEUS__SAMPLE__INIT, PROMETHEUS__SAMPLE__INIT,
                                PROMETHEUS__SAMPLE__INIT};
    for (int i = 0; i < 3; i++)
        sm[i].value = i, sm[i].timestamp = 1700000000000 + i;
    Prometheus__Sample *sp[3] = {&sm[0], &sm[1], &sm[2]};
    Prometheus__TimeSeries ts[2] = {PROMETHEUS__TIME_SERIES__INIT, PROMETHEUS__TIME_SERIES__INIT};
    ts[0].n_labels = 3, ts[0].labels = lp, ts[0].n_samples = 3, ts[0].samples = sp;
    ts[1].n_labels = 3, ts[1].labels = bad ? unsorted : lp, ts[1].n_samples = 2, ts[1].samples = sp;
    Prometheus__TimeSeries *tsp[2] = {&ts[0], &ts[1]};
    Prometheus__WriteRequest req = PROMETHEUS__WRITE_REQUEST__INIT;
    req.n_timeseries = 2, req.timeseries = tsp;
    uint8_t raw[1024];
    size_t n = prometheus__write_request__pack(&req, raw);
    assert_true(n <= sizeof raw);
    size_t clen = cap;
    assert_int_equal(snappy_compress((const char *)raw, n, (char *)out, &clen), SNAPPY_OK);
    return clen;
}

static void remote_write(void **state)
{
    uint8_t body[2048];
    size_t n = rw_request(body, sizeof body, 0);
    struct got g = {0};
    struct wire_decode_stats st;
    char err[128];
    assert_int_equal(wire_rw_decode(body, n, 1 << 20, collect, &g, &st, err, sizeof err), 0);
    assert_int_equal(g.n, 2);
    assert_int_equal(st.items, 5);
    assert_int_equal(st.rejected, 0);
    assert_int_equal(g.v[0].it.signal, WIRE_SAMPLES);
    assert_int_equal(g.v[0].it.count, 3);
    assert_int_equal(g.v[1].it.count, 2);
    assert_string_equal(g.v[0].name, "http_requests_total");
    assert_string_equal(g.v[0].service, "shop/checkout");
    assert_int_equal(g.v[0].it.time_ns, 1700000000002000000ULL);
    assert_int_equal(g.v[0].it.seq, -1);
    assert_true(g.v[0].it.valid);
    n = rw_request(body, sizeof body, 1);
    memset(&g, 0, sizeof g);
    assert_int_equal(wire_rw_decode(body, n, 1 << 20, collect, &g, &st, err, sizeof err), 0);
    assert_false(g.v[1].it.valid);
    assert_string_equal(g.v[1].it.problem, "labels are not sorted by name");
    assert_int_equal(st.rejected, 2);
    /* Over the uncompressed limit: refused before allocating. */
    assert_int_equal(wire_rw_decode(body, n, 10, collect, &g, &st, err, sizeof err), DIO_EFULL);
    /* Truncated snappy and garbage. */
    assert_int_equal(wire_rw_decode(body, n - 3, 1 << 20, collect, &g, &st, err, sizeof err),
                     DIO_EPARSE);
    assert_int_equal(wire_rw_decode("\xff\xff\xff", 3, 1 << 20, collect, &g, &st, err, sizeof err),
                     DIO_EPARSE);
}

/* ---- gunzip and the response ----------------------------------------------------------- */

static void gunzip_limits(void **state)
{
    size_t n = 8 << 20;
    uint8_t *zeros = calloc(1, n);
    struct core_buf gz, out;
    core_buf_init(&gz, 16 << 20); /* deflateBound wants room for the worst case */
    assert_int_equal(wire_gzip(&gz, zeros, n, 9), 0); /* ~8 KiB: a 1000x bomb */
    assert_true(gz.len < (64 << 10));
    core_buf_init(&out, 1 << 20);
    assert_int_equal(wire_gunzip(&out, gz.p, gz.len), DIO_EFULL);
    assert_int_equal(out.len, 0);
    core_buf_free(&out);
    core_buf_init(&out, n); /* exactly the size: fits */
    assert_int_equal(wire_gunzip(&out, gz.p, gz.len), 0);
    assert_int_equal(out.len, n);
    assert_memory_equal(out.p, zeros, n);
    core_buf_reset(&out);
    assert_int_equal(wire_gunzip(&out, gz.p, gz.len - 4), DIO_EPARSE); /* truncated */
    assert_int_equal(wire_gunzip(&out, "garbage!", 8), DIO_EPARSE);
    assert_int_equal(wire_gunzip(&out, "", 0), DIO_EPARSE);
    /* Two members concatenated (RFC 1952) decode to both. */
    core_buf_reset(&gz);
    wire_gzip(&gz, "ab", 2, 1);
    wire_gzip(&gz, "cd", 2, 1);
    core_buf_reset(&out);
    assert_int_equal(wire_gunzip(&out, gz.p, gz.len), 0);
    assert_int_equal(out.len, 4);
    assert_memory_equal(out.p, "abcd", 4);
    core_buf_free(&out);
    core_buf_free(&gz);
    free(zeros);
}

static void response(void **state)
{
    struct core_buf b;
    core_buf_init(&b, 1024);
    assert_int_equal(wire_otlp_response_pb(&b, REC_SPANS, 0, "ignored"), 0);
    assert_int_equal(b.len, 0);
    assert_int_equal(wire_otlp_response_pb(&b, REC_LOGS, 3, "bad"), 0);
    static const uint8_t want[] = {0x0a, 0x07, 0x08, 0x03, 0x12, 0x03, 'b', 'a', 'd'};
    assert_int_equal(b.len, sizeof want);
    assert_memory_equal(b.p, want, sizeof want);
    Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse *r =
        opentelemetry__proto__collector__trace__v1__export_trace_service_response__unpack(
            NULL, b.len, b.p);
    assert_non_null(r);
    assert_int_equal(r->partial_success->rejected_spans, 3);
    assert_string_equal(r->partial_success->error_message, "bad");
    opentelemetry__proto__collector__trace__v1__export_trace_service_response__free_unpacked(r,
                                                                                             NULL);
    assert_int_equal(wire_otlp_response_pb(&b, 9, 1, NULL), DIO_EINVAL);
    core_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(spans_round_trip),
        cmocka_unit_test(metrics_round_trip),
        cmocka_unit_test(logs_round_trip),
        cmocka_unit_test(empty_requests_succeed),
        cmocka_unit_test(invalid_items),
        cmocka_unit_test(invalid_ids_and_empty_metric),
        cmocka_unit_test(other_metric_types),
        cmocka_unit_test(truncated_and_garbage),
        cmocka_unit_test(deep_nesting_is_refused),
        cmocka_unit_test(verify_attr_in_any_field_order),
        cmocka_unit_test(walker_span_edges),
        cmocka_unit_test(walker_metric_edges),
        cmocka_unit_test(walker_log_edges),
        cmocka_unit_test(memory_budget_is_enforced),
        cmocka_unit_test(remote_write),
        cmocka_unit_test(gunzip_limits),
        cmocka_unit_test(response),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
