/* wire: sample batches for the conformance check against an independent OTLP decoder.
 *
 *   test_wire_conformance            cmocka checks that need no peer (sizes, determinism,
 *                                    buffer caps, verify-attrs cost)
 *   test_wire_conformance DIR        also writes {traces,metrics,logs}.{pb,json} and
 *                                    expected.json (the counts a decoder must find) into DIR;
 *                                    tests/integration/test_wire_conformance.sh decodes them
 *                                    with tests/node/decode.js (protobufjs classes generated from
 *                                    the official opentelemetry-proto).
 *
 * The batches are deliberately awkward: records of three resources interleaved (grouping must
 * be stable), parents and children, error statuses, strings with multi-byte UTF-8, invalid
 * UTF-8 and control characters, NaN/Inf/negative values, and metric runs broken by sequence
 * gaps and descriptor changes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/wire.h"

enum { NRES = 3, NSPANS = 60, NPOINTS = 48, NLOGS = 40 };
/* Metric messages in sample_metrics, counted by hand: points come in blocks of 3 per resource
 * (resource = i/3 % 3) and the descriptor changes every 6 points, so each block is its own run
 * in its resource group (16 runs); the sequence gaps before points 10 and 34 split two of
 * those blocks. */
enum { NMETRICS = 18 };

static struct rec_attr res_attrs[NRES][3];
static struct rec_resource resources[NRES];
static const char *const services[NRES] = {"frontend", "checkout", "payment"};
static const char *const instances[NRES] = {"frontend-0", "checkout-1", "payment-2"};

static void init_resources(void)
{
    for (int r = 0; r < NRES; r++) {
        struct rec_attr *a = res_attrs[r];
        rec_attr_str(&a[0], REC_KEY("service.name"), services[r], (uint32_t)strlen(services[r]));
        rec_attr_str(&a[1], REC_KEY("service.instance.id"), instances[r],
                     (uint32_t)strlen(instances[r]));
        rec_attr_str(&a[2], REC_KEY("service.namespace"), "shop", 4);
        resources[r] = (struct rec_resource){a, 3, "diorama", "0.1.0", services[r], instances[r]};
    }
}

static const char odd_text[] = "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x9A\x80 tab\t nl\n quote\" "
                               "bs\\ ctl\x01 bad\xFF\xC0\xAF end";

static void set_id(uint8_t *id, size_t n, uint64_t v)
{
    for (size_t i = 0; i < n; i++)
        id[i] = (uint8_t)(v >> (8 * (i % 8))) ^ (uint8_t)(i * 17 + 1);
}

static struct rec_batch *sample_spans(void)
{
    struct rec_batch *b = rec_batch_new(REC_SPANS, NSPANS, 6, 0, 0);
    b->resources = resources;
    b->nresources = NRES;
    for (uint32_t i = 0; i < NSPANS; i++) {
        struct rec_span *s = &b->r.spans[b->n++];
        memset(s, 0, sizeof *s);
        uint32_t trace = i / 4, depth = i % 4; /* 4 spans per trace, a chain */
        set_id(s->trace_id, 16, 1000 + trace);
        set_id(s->span_id, 8, 5000 + i);
        if (depth)
            set_id(s->parent_id, 8, 5000 + i - 1);
        s->start_ns = 1700000000000000000ULL + trace * 1000000 + depth * 1000;
        s->end_ns = s->start_ns + 500000 - depth * 2000;
        s->seq = i;
        s->gen_ns = s->start_ns + 7;
        s->name.p = depth ? "SELECT cart" : "GET /api/cart";
        s->name.len = (uint32_t)strlen(s->name.p);
        s->kind = depth ? 3 : 2;
        s->res = (uint16_t)((i * 7 / 3) % NRES); /* interleaved resources */
        s->status = i % 9 == 0 ? 2 : (i % 5 == 0 ? 1 : 0);
        if (s->status == 2)
            s->status_msg = (struct rec_str){odd_text, (uint32_t)sizeof odd_text - 1};
        s->nattrs = i % 6;
        struct rec_attr *a = rec_batch_attrs(b, s->nattrs, &s->attr_off);
        for (uint32_t k = 0; k < s->nattrs; k++) {
            if (k == 0)
                rec_attr_str(&a[k], REC_KEY("http.request.method"), "GET", 3);
            else if (k == 1)
                rec_attr_int(&a[k], REC_KEY("http.response.status_code"), i % 9 ? 200 : 503);
            else if (k == 2)
                rec_attr_dbl(&a[k], REC_KEY("app.ratio"), i == 2 ? NAN : -0.1 * i);
            else if (k == 3)
                rec_attr_bool(&a[k], REC_KEY("app.cache.hit"), (int)(i & 1));
            else if (k == 4)
                rec_attr_int(&a[k], REC_KEY("app.delta"), -(int64_t)i * 1000000007LL);
            else
                rec_attr_str(&a[k], REC_KEY("app.note"), odd_text, sizeof odd_text - 1);
        }
    }
    return b;
}

static const double latency_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10};
static const struct rec_metric m_duration = {"http.server.request.duration",
                                             "Duration of HTTP server requests.",
                                             "s",
                                             REC_HISTOGRAM,
                                             0,
                                             2,
                                             0,
                                             latency_bounds,
                                             10};
static const struct rec_metric m_requests = {
    "http.server.requests", "Requests served.", "{request}", REC_SUM, 1, 2, 1, NULL, 0};
static const struct rec_metric m_inflight = {
    "http.server.active_requests", "In-flight requests.", "{request}", REC_SUM, 0, 2, 1, NULL, 0};
static const struct rec_metric m_cpu = {
    "system.cpu.utilization", "", "1", REC_GAUGE, 0, 0, 0, NULL, 0};

static void sample_point(struct rec_batch *b, const struct rec_metric *m, uint32_t i, uint64_t seq,
                         uint16_t res)
{
    struct rec_point *p = &b->r.points[b->n++];
    memset(p, 0, sizeof *p);
    p->metric = m;
    p->start_ns = 1700000000000000000ULL;
    p->time_ns = p->start_ns + 60000000000ULL + i;
    p->seq = seq;
    p->gen_ns = p->time_ns + 3;
    p->res = res;
    p->nattrs = 2;
    struct rec_attr *a = rec_batch_attrs(b, 2, &p->attr_off);
    rec_attr_str(&a[0], REC_KEY("http.route"), i & 1 ? "/api/cart" : "/api/pay", i & 1 ? 9 : 8);
    rec_attr_int(&a[1], REC_KEY("http.response.status_code"), 200 + (i % 3) * 100);
    if (m->type == REC_HISTOGRAM) {
        uint64_t *bk = rec_batch_buckets(b, m->nbounds + 1, &p->bucket_off);
        p->count = 0;
        for (uint32_t k = 0; k <= m->nbounds; k++)
            p->count += bk[k] = (i * 3 + k * 5) % 7;
        p->sum = 0.0123 * (double)p->count;
        p->min = p->count ? 0.001 : 0;
        p->max = p->count ? 12.5 : 0;
    } else if (m->is_int) {
        p->value.i = m->monotonic ? (int64_t)i * 1000 : -(int64_t)i;
    } else {
        p->value.d = i == 5 ? INFINITY : 0.01 * i;
    }
}

static struct rec_batch *sample_metrics(void)
{
    struct rec_batch *b = rec_batch_new(REC_METRICS, NPOINTS, 2, 11, 0);
    b->resources = resources;
    b->nresources = NRES;
    const struct rec_metric *ms[] = {&m_duration, &m_requests, &m_inflight, &m_cpu};
    uint64_t seq = 0;
    for (uint32_t i = 0; i < NPOINTS; i++) {
        const struct rec_metric *m = ms[(i / 6) % 4];
        if (i == 10 || i == 34)
            seq += 10; /* a sequence gap breaks a run */
        sample_point(b, m, i, seq++, (uint16_t)((i / 3) % NRES));
    }
    return b;
}

static struct rec_batch *sample_logs(void)
{
    struct rec_batch *b = rec_batch_new(REC_LOGS, NLOGS, 2, 0, 0);
    b->resources = resources;
    b->nresources = NRES;
    for (uint32_t i = 0; i < NLOGS; i++) {
        struct rec_log *l = &b->r.logs[b->n++];
        memset(l, 0, sizeof *l);
        l->time_ns = 1700000000000000000ULL + i * 1000;
        l->observed_ns = i % 4 ? l->time_ns + 50 : 0;
        l->seq = i;
        l->gen_ns = l->time_ns + 1;
        if (i % 3) {
            set_id(l->trace_id, 16, 1000 + i);
            set_id(l->span_id, 8, 5000 + i);
        }
        l->body = i % 7 ? (struct rec_str){"request served", 14}
                        : (struct rec_str){odd_text, (uint32_t)sizeof odd_text - 1};
        l->severity = (uint8_t)(1 + (i * 5) % 24);
        l->res = (uint16_t)(i % NRES);
        l->nattrs = i % 3;
        struct rec_attr *a = rec_batch_attrs(b, l->nattrs, &l->attr_off);
        for (uint32_t k = 0; k < l->nattrs; k++)
            rec_attr_int(&a[k], k ? "app.k1" : "app.k0", 6, (int64_t)i);
    }
    return b;
}

/* ---- checks that need no peer ---------------------------------------------------------- */

static void encodings_are_deterministic_and_capped(void **state)
{
    struct rec_batch *bs[] = {sample_spans(), sample_metrics(), sample_logs()};
    struct wire_otlp_opts on = {1}, off = {0};
    for (int i = 0; i < 3; i++) {
        struct core_buf a, b, small;
        core_buf_init(&a, 1 << 20);
        core_buf_init(&b, 1 << 20);
        assert_int_equal(wire_otlp_pb_encode(&a, bs[i], &on), 0);
        assert_int_equal(wire_otlp_pb_encode(&b, bs[i], &on), 0);
        assert_int_equal(a.len, b.len);
        assert_memory_equal(a.p, b.p, a.len);
        /* Verification attributes cost bytes; without them the request is smaller. */
        core_buf_reset(&b);
        assert_int_equal(wire_otlp_pb_encode(&b, bs[i], &off), 0);
        assert_true(b.len < a.len);
        /* A cap one byte too small fails cleanly and leaves the buffer as it was. */
        core_buf_init(&small, a.len - 1);
        assert_int_equal(wire_otlp_pb_encode(&small, bs[i], &on), DIO_EFULL);
        assert_int_equal(small.len, 0);
        core_buf_free(&small);
        core_buf_init(&small, 1024);
        assert_int_equal(wire_otlp_json_encode(&small, bs[i], &on), DIO_EFULL);
        core_buf_free(&small);
        /* JSON: one line. */
        core_buf_reset(&b);
        assert_int_equal(wire_otlp_json_encode(&b, bs[i], &on), 0);
        assert_non_null(memchr(b.p, '\n', b.len));
        assert_true(memchr(b.p, '\n', b.len) == b.p + b.len - 1);
        core_buf_free(&a);
        core_buf_free(&b);
        rec_batch_free(bs[i]);
    }
}

static void bad_references_are_rejected(void **state)
{
    struct core_buf out;
    core_buf_init(&out, 1 << 20);
    struct rec_batch *b = sample_spans();
    b->r.spans[3].res = NRES; /* no such resource */
    assert_int_equal(wire_otlp_pb_encode(&out, b, NULL), DIO_EINVAL);
    assert_int_equal(wire_otlp_json_encode(&out, b, NULL), DIO_EINVAL);
    b->r.spans[3].res = 0;
    b->r.spans[5].attr_off = b->nattrs; /* attributes past the end */
    assert_int_equal(wire_otlp_pb_encode(&out, b, NULL), DIO_EINVAL);
    assert_int_equal(wire_otlp_json_encode(&out, b, NULL), DIO_EINVAL);
    rec_batch_free(b);
    b = sample_metrics();
    b->r.points[0].bucket_off = b->nbuckets; /* buckets past the end */
    assert_int_equal(wire_otlp_pb_encode(&out, b, NULL), DIO_EINVAL);
    assert_int_equal(wire_otlp_json_encode(&out, b, NULL), DIO_EINVAL);
    rec_batch_free(b);
    core_buf_free(&out);
}

/* ---- files for the decoder ------------------------------------------------------------- */

static int write_file(const char *dir, const char *name, const struct core_buf *b)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(b->p, 1, b->len, f);
    return fclose(f) == 0 && w == b->len ? 0 : -1;
}

static int write_samples(const char *dir)
{
    static const char *const names[] = {"traces", "metrics", "logs"};
    struct rec_batch *bs[] = {sample_spans(), sample_metrics(), sample_logs()};
    struct wire_otlp_opts on = {1};
    int rc = 0;
    for (int i = 0; i < 3 && rc == 0; i++) {
        struct core_buf pb, js;
        char name[64];
        core_buf_init(&pb, 1 << 22);
        core_buf_init(&js, 1 << 22);
        rc = wire_otlp_pb_encode(&pb, bs[i], &on) || wire_otlp_json_encode(&js, bs[i], &on);
        snprintf(name, sizeof name, "%s.pb", names[i]);
        rc = rc || write_file(dir, name, &pb);
        snprintf(name, sizeof name, "%s.json", names[i]);
        rc = rc || write_file(dir, name, &js);
        core_buf_free(&pb);
        core_buf_free(&js);
    }
    /* What the decoder must count: every resource appears once, records all arrive, seq
     * numbers as generated. */
    struct core_buf ex;
    core_buf_init(&ex, 4096);
    core_buf_printf(&ex,
                    "{\"traces\":{\"resources\":%d,\"spans\":%d,\"roots\":%d,\"seq_n\":%d},"
                    "\"metrics\":{\"resources\":%d,\"points\":%d,\"metrics\":%d,\"seq_n\":%d},"
                    "\"logs\":{\"resources\":%d,\"logs\":%d,\"seq_n\":%d}}\n",
                    NRES, NSPANS, NSPANS / 4, NSPANS, NRES, NPOINTS, NMETRICS, NPOINTS, NRES, NLOGS,
                    NLOGS);
    rc = rc || write_file(dir, "expected.json", &ex);
    core_buf_free(&ex);
    for (int i = 0; i < 3; i++)
        rec_batch_free(bs[i]);
    return rc;
}

int main(int argc, char **argv)
{
    init_resources();
    if (argc > 1 && write_samples(argv[1])) {
        fprintf(stderr, "cannot write samples to %s\n", argv[1]);
        return 1;
    }
    /* clang-format off */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(encodings_are_deterministic_and_capped),
        cmocka_unit_test(bad_references_are_rejected),
    };
    /* clang-format on */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
