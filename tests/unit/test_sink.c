/* sink: sequence windows, name tables, request handling without sockets (routes, content
 * types, faults, gzip limits, partial success), the verdict against a run summary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../peers/fake_batch.h"
#include "sink/internal.h"

/* ---- sequence windows ---------------------------------------------------------------------- */

static void test_seqwin_basic(void **state)
{
    struct sink__seqwin w;
    sink__seqwin_init(&w, 10); /* 1024 numbers */
    assert_int_equal(sink__seqwin_mark(&w, 0, 10, 0), 0);
    assert_int_equal(sink__seqwin_mark(&w, 5, 1, 10), 1); /* duplicate, and reordered */
    assert_int_equal(w.dups, 1);
    assert_int_equal(w.reordered, 1);
    assert_int_equal(sink__seqwin_mark(&w, 20, 5, 10), 0); /* 10..19 missing */
    assert_int_equal(w.hi, 25);
    assert_int_equal(sink__seqwin_missing(&w, 0), 10);
    assert_int_equal(sink__seqwin_missing(&w, 10), 0);
    assert_int_equal(sink__seqwin_missing(&w, 30), 15);
    assert_int_equal(sink__seqwin_seen_from(&w, 20), 5);
    assert_int_equal(sink__seqwin_seen_from(&w, 22), 3);
    assert_int_equal(sink__seqwin_seen_from(&w, 25), 0);
    sink__seqwin_free(&w);
}

static void test_seqwin_slide(void **state)
{
    struct sink__seqwin w;
    sink__seqwin_init(&w, 10);
    for (uint64_t i = 0; i < 5000; i++)
        if (i != 100 && i != 4500)
            sink__seqwin_mark(&w, i, 1, i);
    assert_true(w.base > 100); /* slid past the gap at 100: counted when it left */
    assert_int_equal(w.evicted_missing, 1);
    assert_int_equal(sink__seqwin_missing(&w, 0), 2);
    assert_int_equal(sink__seqwin_missing(&w, 5000), 2);
    assert_int_equal(w.dups, 0);
    sink__seqwin_mark(&w, 50, 1, 5000); /* below the window: not verifiable */
    assert_int_equal(w.too_old, 1);
    assert_int_equal(w.dups, 0);
    /* A jump far past the window: everything between counts as missing. */
    sink__seqwin_mark(&w, 1000000, 1, 5000);
    assert_int_equal(sink__seqwin_missing(&w, 0), 2 + (1000000 - 5000));
    sink__seqwin_free(&w);
}

static void test_seqwin_range(void **state)
{
    struct sink__seqwin w;
    sink__seqwin_init(&w, 6);                              /* 64 numbers: the smallest window */
    assert_int_equal(sink__seqwin_mark(&w, 60, 10, 0), 0); /* a metric run across words */
    assert_int_equal(w.distinct, 10);
    assert_int_equal(sink__seqwin_mark(&w, 65, 3, 70), 3);
    assert_int_equal(sink__seqwin_missing(&w, 70), 60);
    sink__seqwin_free(&w);
}

static void test_names_cap(void **state)
{
    struct sink__names t;
    sink__names_init(&t, 3);
    const char *n[] = {"a", "b", "c", "d", "a", "e"};
    for (int i = 0; i < 6; i++)
        sink__names_add(&t, n[i], strlen(n[i]), 2);
    assert_int_equal(t.used, 3);
    assert_int_equal(t.other, 4);
    uint64_t total = 0;
    for (uint32_t i = 0; i <= t.mask; i++)
        total += t.slots[i].count;
    assert_int_equal(total, 8);
    char longname[300];
    memset(longname, 'x', sizeof longname);
    sink__names_add(&t, longname, sizeof longname, 1); /* truncated, over the cap: other */
    assert_int_equal(t.other, 5);
    sink__names_free(&t);
}

/* ---- requests ------------------------------------------------------------------------------ */

static const struct rec_attr run_attrs[] = {
    {.key = "service.name", .key_len = 12, .type = REC_STR, .v.s = {"checkout", 8}},
    {.key = "diorama.run_id", .key_len = 14, .type = REC_STR, .v.s = {"00000000000000ab", 16}},
};
static const struct rec_resource run_resources[] = {
    {run_attrs, 2, "diorama.test", "0.1", "shop/checkout", "checkout-1"},
};

/* An encoded request of n records of `signal` starting at *seq (protobuf or JSON). */
static void make_body(struct core_buf *out, int signal, uint32_t n, uint64_t *seq, int json)
{
    struct rec_batch *b = rec_batch_new(signal, n, 4, 8, 64);
    fake_fill(b, n, seq);
    b->resources = run_resources;
    struct wire_otlp_opts o = {1};
    core_buf_reset(out);
    int rc = json ? wire_otlp_json_encode(out, b, &o) : wire_otlp_pb_encode(out, b, &o);
    assert_int_equal(rc, 0);
    rec_batch_free(b);
}

static struct sink *new_sink(const struct sink_cfg *c)
{
    struct sink *s;
    char err[128];
    struct sink_cfg d = {.retry_after_s = -1};
    assert_int_equal(sink_new(&s, c ? c : &d, err, sizeof err), 0);
    return s;
}

static unsigned post(struct sink *s, const char *path, const char *ct, const char *ce,
                     const struct core_buf *body, struct sink_response *rs)
{
    struct sink_request rq = {"POST", path, ct, ce, body->p, body->len, 0};
    sink_handle(s, &rq, rs);
    return rs->status;
}

static void test_routes(void **state)
{
    struct sink *s = new_sink(NULL);
    struct sink_response rs;
    core_buf_init(&rs.body, 1 << 20);
    struct core_buf empty;
    core_buf_init(&empty, 16);
    assert_int_equal(post(s, "/v1/nope", "application/x-protobuf", NULL, &empty, &rs), 404);
    struct sink_request get = {"GET", "/v1/traces", NULL, NULL, NULL, 0, 0};
    sink_handle(s, &get, &rs);
    assert_int_equal(rs.status, 405);
    assert_int_equal(post(s, "/v1/traces", "text/plain", NULL, &empty, &rs), 415);
    assert_int_equal(post(s, "/v1/traces", NULL, NULL, &empty, &rs), 415);
    assert_int_equal(post(s, "/v1/traces", "application/x-protobuf", "br", &empty, &rs), 415);
    assert_int_equal(post(s, "/v1/logs", "application/x-protobuf", NULL, &empty, &rs), 200);
    assert_string_equal(rs.content_type, "application/x-protobuf");
    assert_int_equal(rs.body.len, 0); /* full success: an empty Export*ServiceResponse */
    assert_int_equal(
        post(s, "/v1/metrics?x=1", "Application/JSON; charset=utf-8", NULL, &empty, &rs),
        200); /* an empty request is a success */
    assert_string_equal(rs.content_type, "application/json");
    assert_memory_equal(rs.body.p, "{}", 2);
    assert_int_equal(post(s, "/api/v1/write", "application/x-protobuf", NULL, &empty, &rs), 415);
    struct core_buf garbage;
    core_buf_init(&garbage, 64);
    core_buf_puts(&garbage, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff garbage");
    assert_int_equal(post(s, "/v1/traces", "application/x-protobuf", NULL, &garbage, &rs), 400);
    assert_int_equal(post(s, "/api/v1/write", "application/x-protobuf", "snappy", &garbage, &rs),
                     400);
    struct sink_totals t;
    sink_totals(s, &t);
    assert_int_equal(t.status[4], 8);
    assert_int_equal(t.status[2], 2);
    core_buf_free(&garbage);
    core_buf_free(&empty);
    core_buf_free(&rs.body);
    sink_free(s);
}

static void test_spans_verified(void **state)
{
    struct sink *s = new_sink(NULL);
    struct sink_response rs;
    core_buf_init(&rs.body, 1 << 20);
    struct core_buf body;
    core_buf_init(&body, 16 << 20);
    uint64_t seq = 0;
    make_body(&body, REC_SPANS, 100, &seq, 0);
    assert_int_equal(post(s, "/v1/traces", "application/x-protobuf", NULL, &body, &rs), 200);
    assert_int_equal(post(s, "/v1/traces", "application/x-protobuf", NULL, &body, &rs), 200);
    make_body(&body, REC_SPANS, 50, &seq, 1); /* 100..149 as JSON */
    assert_int_equal(post(s, "/v1/traces", "application/json", NULL, &body, &rs), 200);
    assert_string_equal(rs.content_type, "application/json");
    assert_memory_equal(rs.body.p, "{}", 2);
    seq = 200; /* 150..199 never sent */
    make_body(&body, REC_SPANS, 10, &seq, 0);
    struct core_buf gz;
    core_buf_init(&gz, 16 << 20);
    assert_int_equal(wire_gzip(&gz, body.p, body.len, 6), 0);
    assert_int_equal(post(s, "/v1/traces", "application/x-protobuf", "gzip", &gz, &rs), 200);
    struct sink_totals t;
    sink_totals(s, &t);
    assert_int_equal(t.received[REC_SPANS], 260);
    assert_int_equal(t.duplicates, 100);
    assert_int_equal(t.lost, 50);
    core_buf_free(&gz);
    core_buf_free(&body);
    core_buf_free(&rs.body);
    sink_free(s);
}

static void test_partial_success(void **state)
{
    struct sink *s = new_sink(NULL);
    struct sink_response rs;
    core_buf_init(&rs.body, 1 << 20);
    struct core_buf body;
    core_buf_init(&body, 16 << 20);
    struct rec_batch *b = rec_batch_new(REC_SPANS, 8, 4, 8, 64);
    uint64_t seq = 0;
    fake_fill(b, 8, &seq);
    b->resources = run_resources;
    memset(b->r.spans[3].span_id, 0, 8); /* invalid: an all-zero span id */
    struct wire_otlp_opts o = {1};
    assert_int_equal(wire_otlp_pb_encode(&body, b, &o), 0);
    rec_batch_free(b);
    assert_int_equal(post(s, "/v1/traces", "application/x-protobuf", NULL, &body, &rs), 200);
    assert_true(rs.body.len > 2); /* partial_success {rejected_spans 1, error_message} */
    assert_int_equal(rs.body.p[0], (1 << 3) | 2);
    struct sink_totals t;
    sink_totals(s, &t);
    assert_int_equal(t.received[REC_SPANS], 7);
    assert_int_equal(t.invalid[REC_SPANS], 1);
    assert_int_equal(t.lost, 1); /* the invalid span's number counts as never delivered */
    core_buf_free(&body);
    core_buf_free(&rs.body);
    sink_free(s);
}

static void test_metrics_points(void **state)
{
    struct sink *s = new_sink(NULL);
    struct sink_response rs;
    core_buf_init(&rs.body, 1 << 20);
    struct core_buf body;
    core_buf_init(&body, 16 << 20);
    uint64_t seq = 0;
    make_body(&body, REC_METRICS, 40, &seq, 0);
    assert_int_equal(post(s, "/v1/metrics", "application/x-protobuf", NULL, &body, &rs), 200);
    make_body(&body, REC_LOGS, 7, &seq, 0);
    assert_int_equal(post(s, "/v1/logs", "application/x-protobuf", NULL, &body, &rs), 200);
    struct sink_totals t;
    sink_totals(s, &t);
    assert_int_equal(t.received[REC_METRICS], 40);
    assert_int_equal(t.received[REC_LOGS], 7);
    /* The log stream starts at 40 (fake_fill continued the numbering): 0..39 are missing. */
    assert_int_equal(t.lost, 40);
    core_buf_free(&body);
    core_buf_free(&rs.body);
    sink_free(s);
}

static void test_faults_deterministic(void **state)
{
    struct sink_cfg c = {.seed = 7, .nfaults = 1, .faults = {{503, 0.5}}, .retry_after_s = 0};
    unsigned first[64];
    for (int round = 0; round < 2; round++) {
        struct sink *s = new_sink(&c);
        struct sink_response rs;
        core_buf_init(&rs.body, 1 << 20);
        struct core_buf body;
        core_buf_init(&body, 16 << 20);
        uint64_t seq = 0;
        make_body(&body, REC_SPANS, 4, &seq, 0);
        int n503 = 0;
        for (int i = 0; i < 64; i++) {
            unsigned st = post(s, "/v1/traces", "application/x-protobuf", NULL, &body, &rs);
            if (round == 0)
                first[i] = st;
            assert_int_equal(st, first[i]);
            if (st == 503) {
                n503++;
                assert_int_equal(rs.retry_after, 0);
            }
        }
        assert_true(n503 > 10 && n503 < 54);
        struct sink_totals t;
        sink_totals(s, &t);
        assert_int_equal(t.faults, (uint64_t)n503);
        assert_int_equal(t.received[REC_SPANS], 4 * (uint64_t)(64 - n503)); /* faults not counted */
        core_buf_free(&body);
        core_buf_free(&rs.body);
        sink_free(s);
    }
}

static void test_gzip_limit(void **state)
{
    struct sink_cfg c = {.max_request = 4096, .retry_after_s = -1};
    struct sink *s = new_sink(&c);
    struct sink_response rs;
    core_buf_init(&rs.body, 1 << 20);
    uint8_t *zeros = calloc(1, 1 << 20);
    struct core_buf gz;
    core_buf_init(&gz, 4 << 20);
    assert_int_equal(wire_gzip(&gz, zeros, 1 << 20, 9), 0);
    assert_true(gz.len < 4096);
    assert_int_equal(post(s, "/v1/traces", "application/x-protobuf", "gzip", &gz, &rs), 413);
    assert_int_equal(post(s, "/v1/traces", "application/json", "gzip", &gz, &rs), 413);
    assert_string_equal(rs.content_type, "application/json");
    struct sink_request rq = {"POST", "/v1/logs", "application/x-protobuf", NULL, NULL, 0, 0};
    sink_refuse(s, &rq, 413, &rs);
    assert_int_equal(rs.status, 413);
    assert_int_equal(rs.retry_after, -1);
    sink_refuse(s, &rq, 503, &rs);
    assert_int_equal(rs.status, 503);
    assert_int_equal(rs.retry_after, 1);
    free(zeros);
    core_buf_free(&gz);
    core_buf_free(&rs.body);
    sink_free(s);
}

/* ---- verdict ------------------------------------------------------------------------------- */

static const char summary[] =
    "{\"schema\":\"diorama.run.summary/v1\",\"run_id\":\"00000000000000ab\",\"signals\":{"
    "\"spans\":{\"generated\":%d,\"delivered\":%d,\"dropped\":0},"
    "\"metric_points\":{\"generated\":0,\"delivered\":0,\"dropped\":0},"
    "\"logs\":{\"generated\":0,\"delivered\":0,\"dropped\":0}}}\n";

static int verdict_for(struct sink *s, int delivered, struct core_buf *json)
{
    char path[] = "/tmp/test_sink_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f, summary, delivered, delivered);
    fclose(f);
    struct sink_expect e;
    char err[256];
    assert_int_equal(sink_expect_load(path, &e, err, sizeof err), 0);
    unlink(path);
    assert_string_equal(e.run_id, "00000000000000ab");
    core_buf_reset(json);
    return sink_result_json(s, &e, 1.0, json);
}

static void test_verdict(void **state)
{
    struct sink *s = new_sink(NULL);
    struct sink_response rs;
    core_buf_init(&rs.body, 1 << 20);
    struct core_buf body, json;
    core_buf_init(&body, 16 << 20);
    core_buf_init(&json, 16 << 20);
    uint64_t seq = 0;
    make_body(&body, REC_SPANS, 30, &seq, 0);
    post(s, "/v1/traces", "application/x-protobuf", NULL, &body, &rs);
    assert_int_equal(verdict_for(s, 30, &json), SINK_VERDICT_PASS);
    assert_non_null(strstr((char *)json.p, "\"verdict\":\"pass\""));
    assert_int_equal(verdict_for(s, 40, &json), SINK_VERDICT_FAIL); /* 30..39 lost */
    assert_non_null(strstr((char *)json.p, "never arrived"));
    assert_int_equal(verdict_for(s, 20, &json), SINK_VERDICT_FAIL); /* 20..29 beyond */
    post(s, "/v1/traces", "application/x-protobuf", NULL, &body, &rs);
    assert_int_equal(verdict_for(s, 30, &json), SINK_VERDICT_FAIL); /* duplicates */
    assert_non_null(strstr((char *)json.p, "duplicates"));
    struct sink_expect e;
    char err[256];
    assert_int_equal(sink_expect_load("/nonexistent/x.json", &e, err, sizeof err), DIO_ENOENT);
    core_buf_free(&json);
    core_buf_free(&body);
    core_buf_free(&rs.body);
    sink_free(s);
}

static void test_bad_cfg(void **state)
{
    struct sink *s;
    char err[128];
    struct sink_cfg c = {.nfaults = 2, .faults = {{503, 0.7}, {429, 0.5}}};
    assert_int_equal(sink_new(&s, &c, err, sizeof err), DIO_EINVAL);
    struct sink_cfg c2 = {.nfaults = 1, .faults = {{200, 0.1}}};
    assert_int_equal(sink_new(&s, &c2, err, sizeof err), DIO_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seqwin_basic),
        cmocka_unit_test(test_seqwin_slide),
        cmocka_unit_test(test_seqwin_range),
        cmocka_unit_test(test_names_cap),
        cmocka_unit_test(test_routes),
        cmocka_unit_test(test_spans_verified),
        cmocka_unit_test(test_partial_success),
        cmocka_unit_test(test_metrics_points),
        cmocka_unit_test(test_faults_deterministic),
        cmocka_unit_test(test_gzip_limit),
        cmocka_unit_test(test_verdict),
        cmocka_unit_test(test_bad_cfg),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
