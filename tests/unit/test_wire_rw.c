/* wire: the remote write encoder (rw.c). What it writes is read back with protobuf-c code
 * generated from proto/remote.proto (1.0) and proto/remote_v2.proto (2.0), independent of the
 * hand-written encoder: series and their sorted labels, classic histogram buckets (cumulative,
 * +Inf = count), samples of one series merged in order, 2.0 symbols, metadata and created
 * timestamps; then the snappy bodies through the sink's decoders (wire_rw_decode,
 * wire_rw2_decode), and the same request encoded twice (2.0, then 1.0 after a 415). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <snappy-c.h>

#include "proto/remote.pb-c.h"
#include "proto/remote_v2.pb-c.h"
#include "wire/wire.h"

static const double bounds[] = {0.1, 1, 10};
static const struct rec_metric m_dur = {
    "http.server.request.duration", "Duration.", "s", REC_HISTOGRAM, 0, 2, 0, bounds, 3};
static const struct rec_metric m_req = {
    "http.server.requests", "Requests served.", "{request}", REC_SUM, 1, 2, 1, NULL, 0};
static const struct rec_metric m_cpu = {
    "system.cpu.utilization", NULL, "1", REC_GAUGE, 0, 2, 0, NULL, 0};
static const struct rec_metric m_delta = {"x.delta", "Delta.", "", REC_SUM, 1, 1, 1, NULL, 0};

static const struct rec_resource resources[1] = {
    {NULL, 0, "diorama", NULL, "shop/frontend", "frontend-0"}};

#define T0 1700000000000000000ULL
#define START 1699999990000000000ULL

struct sample {
    struct rec_batch b;
    struct rec_point pts[16];
    struct rec_attr attrs[32];
    uint64_t buckets[32];
};

static void init(struct sample *s)
{
    memset(s, 0, sizeof *s);
    s->b = (struct rec_batch){.signal = REC_METRICS,
                              .r.points = s->pts,
                              .attrs = s->attrs,
                              .buckets = s->buckets,
                              .resources = resources,
                              .nresources = 1};
}

static struct rec_point *add(struct sample *s, const struct rec_metric *m, uint64_t t,
                             const char *route)
{
    struct rec_point *p = &s->pts[s->b.n++];
    memset(p, 0, sizeof *p);
    p->metric = m;
    p->time_ns = t;
    p->start_ns = START;
    p->attr_off = s->b.nattrs;
    if (route) {
        rec_attr_str(&s->attrs[s->b.nattrs++], REC_KEY("http.route"), route,
                     (uint32_t)strlen(route));
        p->nattrs++;
    }
    return p;
}

static void hist(struct sample *s, struct rec_point *p, uint64_t b0, uint64_t b1, uint64_t b3)
{
    p->bucket_off = s->b.nbuckets;
    uint64_t *bk = s->buckets + s->b.nbuckets;
    s->b.nbuckets += 4;
    bk[0] = b0, bk[1] = b1, bk[2] = 0, bk[3] = b3;
    p->count = b0 + b1 + b3;
    p->sum = 1.5;
}

/* Two intervals of: a histogram (6 series), a counter, a gauge with awkward attributes, and a
 * delta sum that cannot be written. */
static void build(struct sample *s)
{
    init(s);
    for (int k = 0; k < 2; k++) {
        uint64_t t = T0 + (uint64_t)k * 10000000000ULL;
        hist(s, add(s, &m_dur, t, "/cart"), 3 + (uint64_t)k, 1, 2);
        add(s, &m_req, t, "/cart")->value.i = 10 + k;
        struct rec_point *p = add(s, &m_cpu, t, NULL);
        p->value.d = 0.25;
        p->nattrs = 4;
        rec_attr_str(&s->attrs[s->b.nattrs++], REC_KEY("cpu.mode"), "us\xff", 3);
        rec_attr_int(&s->attrs[s->b.nattrs++], REC_KEY("1cpu-id"), 3);
        rec_attr_str(&s->attrs[s->b.nattrs++], REC_KEY("job"), "clash", 5);
        rec_attr_str(&s->attrs[s->b.nattrs++], REC_KEY("empty"), "", 0);
        add(s, &m_delta, t, NULL)->value.i = 3;
    }
}

/* 6 + 1 + 1 samples per interval */
#define SAMPLES 16
#define SERIES 8

static struct wire_rw_req *filled(void)
{
    struct sample s;
    build(&s);
    struct wire_rw_req *r = wire_rw_req_new(0);
    int want[] = {6, 1, 1, 0};
    for (uint32_t i = 0; i < s.b.n; i++)
        assert_int_equal(wire_rw_req_add(r, &s.b, &s.pts[i]), want[i % 4]);
    assert_int_equal(wire_rw_req_samples(r), SAMPLES);
    assert_int_equal(wire_rw_req_series(r), SERIES);
    return r;
}

/* "name{a=b,...}" of a 1.0 series, with a check that labels are sorted and unique. */
static void series_text(const Prometheus__TimeSeries *ts, char *out, size_t n)
{
    size_t k = 0;
    out[0] = 0;
    for (size_t i = 0; i < ts->n_labels; i++) {
        if (i)
            assert_true(strcmp(ts->labels[i - 1]->name, ts->labels[i]->name) < 0);
        assert_true(ts->labels[i]->value[0] != 0);
        k += (size_t)snprintf(out + k, n - k, "%s%s=%s", i ? "," : "", ts->labels[i]->name,
                              ts->labels[i]->value);
    }
}

static const char *const want_series[SERIES] = {
    "__name__=http_server_request_duration_seconds_bucket,http_route=/cart,instance=frontend-0,"
    "job=shop/frontend,le=0.1",
    "__name__=http_server_request_duration_seconds_bucket,http_route=/cart,instance=frontend-0,"
    "job=shop/frontend,le=1",
    "__name__=http_server_request_duration_seconds_bucket,http_route=/cart,instance=frontend-0,"
    "job=shop/frontend,le=10",
    "__name__=http_server_request_duration_seconds_bucket,http_route=/cart,instance=frontend-0,"
    "job=shop/frontend,le=+Inf",
    "__name__=http_server_request_duration_seconds_sum,http_route=/cart,instance=frontend-0,"
    "job=shop/frontend",
    "__name__=http_server_request_duration_seconds_count,http_route=/cart,instance=frontend-0,"
    "job=shop/frontend",
    "__name__=http_server_requests_total,http_route=/cart,instance=frontend-0,job=shop/frontend",
    "_1cpu_id=3,__name__=system_cpu_utilization_ratio,cpu_mode=us\xef\xbf\xbd,instance=frontend-0,"
    "job=shop/frontend",
};
/* values at the two intervals, per series */
static const double want_vals[SERIES][2] = {{3, 4},     {4, 5}, {4, 5},   {6, 7},
                                            {1.5, 1.5}, {6, 7}, {10, 11}, {0.25, 0.25}};

static void v1_layout(void **state)
{
    struct wire_rw_req *r = filled();
    struct core_buf raw;
    core_buf_init(&raw, 1 << 20);
    assert_int_equal(wire_rw_req_encode_raw(r, 1, &raw), 0);
    Prometheus__WriteRequest *req = prometheus__write_request__unpack(NULL, raw.len, raw.p);
    assert_non_null(req);
    assert_int_equal(req->n_timeseries, SERIES);
    char text[512];
    for (size_t i = 0; i < SERIES; i++) {
        const Prometheus__TimeSeries *ts = req->timeseries[i];
        series_text(ts, text, sizeof text);
        if (strcmp(text, want_series[i]))
            fail_msg("series %zu: got %s, want %s", i, text, want_series[i]);
        assert_int_equal(ts->n_samples, 2); /* both intervals in one series, in order */
        for (size_t k = 0; k < 2; k++) {
            assert_true(ts->samples[k]->value == want_vals[i][k]);
            assert_int_equal(ts->samples[k]->timestamp, (int64_t)(T0 / 1000000) + 10000 * (int)k);
        }
    }
    prometheus__write_request__free_unpacked(req, NULL);
    core_buf_free(&raw);
    wire_rw_req_free(r);
}

static const char *symbol(const Io__Prometheus__Write__V2__Request *req, uint32_t ref)
{
    assert_true(ref < req->n_symbols);
    return req->symbols[ref];
}

static void v2_layout(void **state)
{
    struct wire_rw_req *r = filled();
    struct core_buf raw;
    core_buf_init(&raw, 1 << 20);
    assert_int_equal(wire_rw_req_encode_raw(r, 2, &raw), 0);
    Io__Prometheus__Write__V2__Request *req =
        io__prometheus__write__v2__request__unpack(NULL, raw.len, raw.p);
    assert_non_null(req);
    assert_string_equal(req->symbols[0], "");
    for (size_t i = 1; i < req->n_symbols; i++) /* interned: each string once */
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(req->symbols[i], req->symbols[j]);
    assert_int_equal(req->n_timeseries, SERIES);
    static const int types[SERIES] = {3, 3, 3, 3, 3, 3, 1, 2};
    char text[512];
    for (size_t i = 0; i < SERIES; i++) {
        const Io__Prometheus__Write__V2__TimeSeries *ts = req->timeseries[i];
        size_t k = 0;
        assert_int_equal(ts->n_labels_refs % 2, 0);
        for (size_t j = 0; j < ts->n_labels_refs; j += 2)
            k += (size_t)snprintf(text + k, sizeof text - k, "%s%s=%s", j ? "," : "",
                                  symbol(req, ts->labels_refs[j]),
                                  symbol(req, ts->labels_refs[j + 1]));
        if (strcmp(text, want_series[i]))
            fail_msg("series %zu: got %s, want %s", i, text, want_series[i]);
        assert_int_equal(ts->n_samples, 2);
        assert_true(ts->samples[1]->value == want_vals[i][1]);
        assert_non_null(ts->metadata);
        assert_int_equal(ts->metadata->type, types[i]);
        const char *unit = symbol(req, ts->metadata->unit_ref);
        assert_string_equal(unit, i < 6 ? "seconds" : i == 6 ? "" : "ratio");
        if (i < 6)
            assert_string_equal(symbol(req, ts->metadata->help_ref), "Duration.");
        /* counters and histograms: when they started counting; gauges: none */
        assert_int_equal(ts->created_timestamp, types[i] == 2 ? 0 : (int64_t)(START / 1000000));
    }
    io__prometheus__write__v2__request__free_unpacked(req, NULL);
    core_buf_free(&raw);
    wire_rw_req_free(r);
}

/* The snappy bodies through the sink's decoders; one request encoded as 2.0, then as 1.0. */
static void snappy_round_trip(void **state)
{
    struct wire_rw_req *r = filled();
    struct core_buf body;
    core_buf_init(&body, 1 << 20);
    for (int v = 2; v >= 1; v--) {
        core_buf_reset(&body);
        assert_int_equal(wire_rw_req_encode(r, v, &body), 0);
        struct wire_decode_stats st;
        struct wire_rw2_written w = {0, 0, 0};
        char err[160];
        int rc =
            v == 2
                ? wire_rw2_decode(body.p, body.len, 1 << 20, NULL, NULL, &st, &w, err, sizeof err)
                : wire_rw_decode(body.p, body.len, 1 << 20, NULL, NULL, &st, err, sizeof err);
        if (rc)
            fail_msg("version %d: %s", v, err);
        assert_int_equal(st.items, SAMPLES);
        assert_int_equal(st.rejected, 0);
        if (v == 2)
            assert_int_equal(w.samples, SAMPLES);
        /* the wrong decoder must not take it for valid data */
        rc = v == 2
                 ? wire_rw_decode(body.p, body.len, 1 << 20, NULL, NULL, &st, err, sizeof err)
                 : wire_rw2_decode(body.p, body.len, 1 << 20, NULL, NULL, &st, &w, err, sizeof err);
        assert_true(rc != 0 || st.rejected == st.items);
    }
    core_buf_free(&body);
    wire_rw_req_free(r);
}

static void limits(void **state)
{
    struct sample s;
    build(&s);
    struct wire_rw_req *r = wire_rw_req_new(5);
    assert_false(wire_rw_req_full(r));
    assert_int_equal(wire_rw_req_add(r, &s.b, &s.pts[0]), 6); /* a point is never split */
    assert_true(wire_rw_req_full(r));
    wire_rw_req_reset(r);
    assert_int_equal(wire_rw_req_samples(r), 0);
    assert_false(wire_rw_req_full(r));
    s.pts[1].res = 7; /* outside the batch's resources */
    assert_int_equal(wire_rw_req_add(r, &s.b, &s.pts[1]), DIO_EINVAL);
    s.pts[1].res = 0;
    s.pts[0].bucket_off = 30; /* buckets outside the batch */
    assert_int_equal(wire_rw_req_add(r, &s.b, &s.pts[0]), DIO_EINVAL);
    assert_int_equal(wire_rw_req_samples(r), 0);
    /* an empty request still encodes (and decodes to nothing) */
    struct core_buf body;
    core_buf_init(&body, 1 << 16);
    assert_int_equal(wire_rw_req_encode(r, 2, &body), 0);
    struct wire_decode_stats st;
    assert_int_equal(wire_rw2_decode(body.p, body.len, 1 << 16, NULL, NULL, &st, NULL, NULL, 0), 0);
    assert_int_equal(st.items, 0);
    core_buf_free(&body);
    wire_rw_req_free(r);
}

/* The series cache (kept across requests): raw identities that give the same labels share a
 * series (keys "a.b" and "a_b", int 1 and string "1"); more distinct series than the cache
 * holds (it is dropped at a reset past its cap) still encode each point with its own labels. */
static void series_cache(void **state)
{
    struct sample s;
    init(&s);
    struct rec_point *p = add(&s, &m_req, T0, NULL);
    p->nattrs = 1;
    rec_attr_str(&s.attrs[s.b.nattrs++], REC_KEY("a.b"), "1", 1);
    p = add(&s, &m_req, T0 + 10000000000ULL, NULL);
    p->nattrs = 1;
    rec_attr_int(&s.attrs[s.b.nattrs++], REC_KEY("a_b"), 1);
    struct wire_rw_req *r = wire_rw_req_new(0);
    for (int round = 0; round < 2; round++) { /* the second from the cache */
        assert_int_equal(wire_rw_req_add(r, &s.b, &s.pts[0]), 1);
        assert_int_equal(wire_rw_req_add(r, &s.b, &s.pts[1]), 1);
        assert_int_equal(wire_rw_req_series(r), 1);
        wire_rw_req_reset(r);
    }
    wire_rw_req_free(r);
    r = wire_rw_req_new(1000);
    struct core_buf raw;
    core_buf_init(&raw, 1 << 24);
    char route[32], text[512], want[512];
    for (int i = 0; i < 150000; i++) {
        init(&s);
        snprintf(route, sizeof route, "/r%d", i % 100000); /* 50,000 seen again, after a drop */
        add(&s, &m_req, T0, route)->value.i = i;
        assert_int_equal(wire_rw_req_add(r, &s.b, &s.pts[0]), 1);
        if (!wire_rw_req_full(r))
            continue;
        assert_int_equal(wire_rw_req_series(r), 1000);
        core_buf_reset(&raw);
        assert_int_equal(wire_rw_req_encode_raw(r, 1, &raw), 0);
        Prometheus__WriteRequest *req = prometheus__write_request__unpack(NULL, raw.len, raw.p);
        assert_non_null(req);
        assert_int_equal(req->n_timeseries, 1000);
        const Prometheus__TimeSeries *ts = req->timeseries[999];
        series_text(ts, text, sizeof text);
        snprintf(want, sizeof want,
                 "__name__=http_server_requests_total,http_route=%s,instance=frontend-0,"
                 "job=shop/frontend",
                 route);
        assert_string_equal(text, want);
        assert_true(ts->samples[0]->value == (double)i);
        prometheus__write_request__free_unpacked(req, NULL);
        wire_rw_req_reset(r);
    }
    core_buf_free(&raw);
    wire_rw_req_free(r);
}

/* Hand-made 2.0 requests the decoder must refuse or mark invalid. */
static void v2_decoder_checks(void **state)
{
    char *syms[] = {"", "__name__", "up", "job", "a"};
    uint32_t good[] = {1, 2, 3, 4}, unsorted[] = {3, 4, 1, 2}, outside[] = {1, 9};
    Io__Prometheus__Write__V2__Sample smp = IO__PROMETHEUS__WRITE__V2__SAMPLE__INIT;
    Io__Prometheus__Write__V2__Sample *sp[] = {&smp};
    smp.value = 1, smp.timestamp = 1000;
    struct {
        uint32_t *refs;
        size_t n;
        int first_empty, valid;
    } t[] = {
        {good, 4, 1, 1}, {unsorted, 4, 1, 0}, {outside, 2, 1, 0}, {good, 3, 1, 0}, {good, 4, 0, 0}};
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        Io__Prometheus__Write__V2__TimeSeries ts = IO__PROMETHEUS__WRITE__V2__TIME_SERIES__INIT;
        Io__Prometheus__Write__V2__TimeSeries *tsp[] = {&ts};
        Io__Prometheus__Write__V2__Request req = IO__PROMETHEUS__WRITE__V2__REQUEST__INIT;
        ts.labels_refs = t[i].refs, ts.n_labels_refs = t[i].n;
        ts.samples = sp, ts.n_samples = 1;
        req.symbols = t[i].first_empty ? syms : syms + 1;
        req.n_symbols = t[i].first_empty ? 5 : 4;
        req.timeseries = tsp, req.n_timeseries = 1;
        uint8_t raw[256];
        size_t n = io__prometheus__write__v2__request__pack(&req, raw);
        char *body = malloc(snappy_max_compressed_length(n));
        size_t bn = snappy_max_compressed_length(n);
        assert_int_equal(snappy_compress((char *)raw, n, body, &bn), 0);
        struct wire_decode_stats st;
        struct wire_rw2_written w;
        assert_int_equal(wire_rw2_decode(body, bn, 1 << 16, NULL, NULL, &st, &w, NULL, 0), 0);
        assert_int_equal(st.items, 1);
        assert_int_equal(st.rejected, t[i].valid ? 0 : 1);
        assert_int_equal(w.samples, t[i].valid ? 1 : 0);
        free(body);
    }
    struct wire_decode_stats st;
    assert_int_equal(wire_rw2_decode("\x05garbage", 8, 1 << 16, NULL, NULL, &st, NULL, NULL, 0),
                     DIO_EPARSE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(v1_layout),         cmocka_unit_test(v2_layout),
        cmocka_unit_test(snappy_round_trip), cmocka_unit_test(limits),
        cmocka_unit_test(v2_decoder_checks), cmocka_unit_test(series_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
