/* wire: OTLP/JSON. Golden files in tests/data/golden/otlp_*.json (one request per file, the
 * Collector file exporter's format), string escaping, non-finite doubles, structure rules.
 *
 * After an intended change of the format, regenerate the goldens with
 *   WIRE_GOLDEN_UPDATE=1 build/test_wire_json     (from the repository root)
 * and review the diff: the goldens are the spec of the format. */
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

#define GOLDEN_DIR "tests/data/golden/"

static void check_golden(const struct core_buf *b, const char *name)
{
    char path[256];
    snprintf(path, sizeof path, GOLDEN_DIR "%s", name);
    if (getenv("WIRE_GOLDEN_UPDATE")) {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(b->p, 1, b->len, f), b->len);
        fclose(f);
        return;
    }
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s (run from the repository root)", path);
    static char want[1 << 16];
    size_t n = fread(want, 1, sizeof want, f);
    fclose(f);
    if (n != b->len || memcmp(want, b->p, n) != 0) {
        char got[256];
        snprintf(got, sizeof got, "/tmp/diorama-%s", name);
        FILE *g = fopen(got, "wb");
        if (g) {
            fwrite(b->p, 1, b->len, g);
            fclose(g);
        }
        fail_msg("%s differs from the golden; output written to %s", path, got);
    }
}

static const struct rec_attr res_attrs[] = {
    {"service.name", 12, REC_STR, {.s = {"svc", 3}}},
    {"service.instance.id", 19, REC_STR, {.s = {"svc-1", 5}}},
};
static const struct rec_resource res[2] = {
    {res_attrs, 2, "diorama", "0.1.0", "svc", "svc-1"},
    {NULL, 0, NULL, NULL, NULL, NULL},
};

static void spans_golden(void **state)
{
    struct rec_attr attrs[5];
    rec_attr_str(&attrs[0], REC_KEY("http.route"), "/a\"b\\c", 6);
    rec_attr_int(&attrs[1], REC_KEY("http.response.status_code"), -503);
    rec_attr_dbl(&attrs[2], REC_KEY("x.nan"), NAN);
    rec_attr_dbl(&attrs[3], REC_KEY("x.ratio"), 0.1);
    rec_attr_bool(&attrs[4], REC_KEY("x.hit"), 1);
    struct rec_span s[3] = {
        {.trace_id = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0xff},
         .span_id = {0xa1, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6, 0x07, 0x18},
         .start_ns = 1700000000000000000ULL,
         .end_ns = 1700000000123456789ULL,
         .seq = 7,
         .gen_ns = 1700000000200000000ULL,
         .name = {"GET /a", 6},
         .nattrs = 5,
         .kind = 2,
         .res = 0},
        {.trace_id = {1},
         .span_id = {2},
         .parent_id = {0xa1, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6, 0x07, 0x18},
         .start_ns = 1,
         .end_ns = 2,
         .seq = 8,
         .name = {"db\tq", 4},
         .status_msg = {"timeout\n", 8},
         .kind = 3,
         .status = 2,
         .res = 1},
        {.trace_id = {1}, .span_id = {3}, .seq = 9, .status = 1, .res = 0},
    };
    struct rec_batch b = {.signal = REC_SPANS,
                          .n = 3,
                          .r.spans = s,
                          .attrs = attrs,
                          .nattrs = 5,
                          .resources = res,
                          .nresources = 2};
    struct wire_otlp_opts on = {1};
    struct core_buf out;
    core_buf_init(&out, 1 << 16);
    assert_int_equal(wire_otlp_json_encode(&out, &b, &on), 0);
    check_golden(&out, "otlp_spans.json");
    core_buf_free(&out);
}

static void metrics_golden(void **state)
{
    static const double bounds[] = {0.005, 0.5, 10};
    static const struct rec_metric hist = {
        "http.server.request.duration", "Duration.", "s", REC_HISTOGRAM, 0, 2, 0, bounds, 3};
    static const struct rec_metric sum = {"x.requests", NULL, "{request}", REC_SUM, 1, 2, 1,
                                          NULL,         0};
    static const struct rec_metric gauge = {"x.util", "", "1", REC_GAUGE, 0, 0, 0, NULL, 0};
    struct rec_attr attrs[1];
    rec_attr_str(&attrs[0], REC_KEY("http.route"), "/a", 2);
    uint64_t buckets[4] = {1, 0, 2, 1};
    struct rec_point p[4] = {
        {.metric = &hist,
         .start_ns = 10,
         .time_ns = 20,
         .seq = 100,
         .gen_ns = 21,
         .count = 4,
         .sum = 12.75,
         .min = 0.001,
         .max = 11,
         .nattrs = 1},
        {.metric = &sum, .start_ns = 10, .time_ns = 20, .seq = 101, .gen_ns = 22, .value.i = 42},
        {.metric = &sum,
         .start_ns = 10,
         .time_ns = 20,
         .seq = 102,
         .gen_ns = 23,
         .value.i = 43,
         .nattrs = 1},
        {.metric = &gauge, .time_ns = 20, .seq = 103, .gen_ns = 24, .value.d = INFINITY},
    };
    struct rec_batch b = {.signal = REC_METRICS,
                          .n = 4,
                          .r.points = p,
                          .attrs = attrs,
                          .nattrs = 1,
                          .buckets = buckets,
                          .nbuckets = 4,
                          .resources = res,
                          .nresources = 1};
    struct wire_otlp_opts on = {1};
    struct core_buf out;
    core_buf_init(&out, 1 << 16);
    assert_int_equal(wire_otlp_json_encode(&out, &b, &on), 0);
    check_golden(&out, "otlp_metrics.json");
    core_buf_reset(&out);
    assert_int_equal(wire_otlp_json_encode(&out, &b, NULL), 0);
    check_golden(&out, "otlp_metrics_noverify.json");
    core_buf_free(&out);
}

static void logs_golden(void **state)
{
    struct rec_attr attrs[1];
    rec_attr_str(&attrs[0], REC_KEY("user.id"), "u-1", 3);
    struct rec_log l[2] = {
        {.time_ns = 5,
         .observed_ns = 6,
         .seq = 1,
         .gen_ns = 7,
         .body = {"payment failed", 14},
         .nattrs = 1,
         .severity = 17,
         .trace_id = {0xab},
         .span_id = {0xcd}},
        {.time_ns = 8, .seq = 2, .gen_ns = 9, .body = {"", 0}, .severity = 0},
    };
    struct rec_batch b = {.signal = REC_LOGS,
                          .n = 2,
                          .r.logs = l,
                          .attrs = attrs,
                          .nattrs = 1,
                          .resources = res,
                          .nresources = 1};
    struct wire_otlp_opts on = {1};
    struct core_buf out;
    core_buf_init(&out, 1 << 16);
    assert_int_equal(wire_otlp_json_encode(&out, &b, &on), 0);
    check_golden(&out, "otlp_logs.json");
    core_buf_free(&out);
}

/* The body of a one-log request, as it appears in the JSON. */
static void expect_body(const char *in, size_t n, const char *want)
{
    struct rec_resource r = {0};
    struct rec_log l = {.time_ns = 1, .body = {in, (uint32_t)n}};
    struct rec_batch b = {
        .signal = REC_LOGS, .n = 1, .r.logs = &l, .resources = &r, .nresources = 1};
    struct core_buf out;
    core_buf_init(&out, 4096);
    assert_int_equal(wire_otlp_json_encode(&out, &b, NULL), 0);
    core_buf_putc(&out, 0);
    const char *body = strstr((const char *)out.p, "\"body\":{\"stringValue\":");
    assert_non_null(body);
    body += strlen("\"body\":{\"stringValue\":");
    size_t wl = strlen(want);
    if (strncmp(body, want, wl) != 0 || strcmp(body + wl, "}}]}]}]}\n") != 0)
        fail_msg("body of %zu bytes: got %s, want %s", n, body, want);
    core_buf_free(&out);
}

#define BODY(lit, want) expect_body(lit, sizeof(lit) - 1, want)

static void strings_are_escaped(void **state)
{
    BODY("plain", "\"plain\"");
    BODY("q\"b\\s/", "\"q\\\"b\\\\s/\"");
    BODY("\b\f\n\r\t", "\"\\b\\f\\n\\r\\t\"");
    BODY("\x01\x1f\x7f", "\"\\u0001\\u001f\x7f\"");
    BODY("nul\0x", "\"nul\\u0000x\"");
    BODY("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\x80",
         "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\x80\"");
    /* Invalid: lone continuation, truncated sequence, overlong, surrogate, > U+10FFFF. */
    BODY("a\x80z", "\"a\xef\xbf\xbdz\"");
    BODY("a\xe2\x82", "\"a\xef\xbf\xbd\xef\xbf\xbd\"");
    BODY("\xc0\xaf", "\"\xef\xbf\xbd\xef\xbf\xbd\"");
    BODY("\xed\xa0\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
    BODY("\xf4\x90\x80\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
}

static void non_finite_doubles_are_strings(void **state)
{
    static const struct rec_metric g = {"g", NULL, NULL, REC_GAUGE, 0, 0, 0, NULL, 0};
    static const double vals[] = {NAN, INFINITY, -INFINITY, 1e300, -0.0};
    static const char *const want[] = {"\"asDouble\":\"NaN\"", "\"asDouble\":\"Infinity\"",
                                       "\"asDouble\":\"-Infinity\"", "\"asDouble\":1e+300",
                                       "\"asDouble\":-0"};
    struct rec_resource r = {0};
    for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) {
        struct rec_point p = {.metric = &g, .time_ns = 1, .value.d = vals[i]};
        struct rec_batch b = {
            .signal = REC_METRICS, .n = 1, .r.points = &p, .resources = &r, .nresources = 1};
        struct core_buf out;
        core_buf_init(&out, 4096);
        assert_int_equal(wire_otlp_json_encode(&out, &b, NULL), 0);
        core_buf_putc(&out, 0);
        if (!strstr((const char *)out.p, want[i]))
            fail_msg("%s not in %s", want[i], (const char *)out.p);
        core_buf_free(&out);
    }
}

/* Defaults are omitted as in protobuf, so JSON and protobuf decode to the same message. */
static void defaults_are_omitted(void **state)
{
    struct rec_resource r = {0};
    struct rec_log l = {0};
    struct rec_batch b = {
        .signal = REC_LOGS, .n = 1, .r.logs = &l, .resources = &r, .nresources = 1};
    struct core_buf out;
    core_buf_init(&out, 4096);
    assert_int_equal(wire_otlp_json_encode(&out, &b, NULL), 0);
    core_buf_putc(&out, 0);
    assert_non_null(strstr((const char *)out.p, "\"logRecords\":[{}]"));
    /* Empty strings may come as {NULL, 0}. */
    struct rec_attr a;
    rec_attr_str(&a, REC_KEY("k"), NULL, 0);
    l.nattrs = 1;
    b.attrs = &a;
    b.nattrs = 1;
    core_buf_reset(&out);
    assert_int_equal(wire_otlp_json_encode(&out, &b, NULL), 0);
    core_buf_putc(&out, 0);
    assert_non_null(strstr((const char *)out.p, "{\"stringValue\":\"\"}"));
    core_buf_reset(&out);
    assert_int_equal(wire_otlp_pb_encode(&out, &b, NULL), 0);
    l.nattrs = 0;
    b.attrs = NULL;
    b.nattrs = 0;
    static const struct rec_metric g = {"g", NULL, NULL, REC_GAUGE, 0, 0, 1, NULL, 0};
    struct rec_point p = {.metric = &g};
    b = (struct rec_batch){
        .signal = REC_METRICS, .n = 1, .r.points = &p, .resources = &r, .nresources = 1};
    core_buf_reset(&out);
    assert_int_equal(wire_otlp_json_encode(&out, &b, NULL), 0);
    core_buf_putc(&out, 0);
    assert_non_null(strstr((const char *)out.p, "\"dataPoints\":[{\"asInt\":\"0\"}]"));
    core_buf_free(&out);
}

static void empty_batch_is_an_empty_request(void **state)
{
    static const char *const want[] = {"{\"resourceSpans\":[]}\n", "{\"resourceMetrics\":[]}\n",
                                       "{\"resourceLogs\":[]}\n"};
    struct rec_resource r = {0};
    for (int sig = 0; sig < REC_NSIGNALS; sig++) {
        struct rec_batch b = {.signal = sig, .resources = &r, .nresources = 1};
        struct core_buf out;
        core_buf_init(&out, 4096);
        assert_int_equal(wire_otlp_json_encode(&out, &b, NULL), 0);
        assert_int_equal(out.len, strlen(want[sig]));
        assert_memory_equal(out.p, want[sig], out.len);
        core_buf_free(&out);
    }
}

int main(void)
{
    /* clang-format off */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(spans_golden),
        cmocka_unit_test(metrics_golden),
        cmocka_unit_test(logs_golden),
        cmocka_unit_test(strings_are_escaped),
        cmocka_unit_test(non_finite_doubles_are_strings),
        cmocka_unit_test(defaults_are_omitted),
        cmocka_unit_test(empty_batch_is_an_empty_request),
    };
    /* clang-format on */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
