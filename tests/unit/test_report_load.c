/* report: the `diorama load` reports (load_text.c, load_json.c, load_html.c) on a synthetic
 * run whose latency histogram holds 1..1000 us once each, so every statistic is known exactly
 * (below 2048 each value has its own counter): p50 500, p90 900, p99 990, p99.9 999, max 1000,
 * mean 500.5. JSON is read back with jansson, never compared as text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "report/report.h"

#define HOSTILE_URL "http://h/a?q=</script><script>alert(1)</script>&\x01\xff\"\xe2\x80\xa8"

struct fixture {
    struct core_hdr h;
    struct report_load_second tl[3];
    struct report_threshold th[3];
    struct report_load r;
};

static int setup(void **state)
{
    static struct fixture f;
    memset(&f, 0, sizeof f);
    assert_int_equal(core_hdr_init(&f.h, 1, 60000000, 3), 0);
    for (int v = 1; v <= 1000; v++)
        core_hdr_record(&f.h, v);
    f.tl[0] = (struct report_load_second){0, 100, 98, 1, 400, 800, 950, 990, 1, 2};
    f.tl[1] = (struct report_load_second){1, 100, 0, 0, 0, 0, 0, 0, 1, 0}; /* none completed */
    f.tl[2] = (struct report_load_second){2, 100, 100, 0, 500, 900, 990, 1000, 0.5, 0};
    f.th[0] = (struct report_threshold){"p99<1s", 0.99, 1, "s"};
    f.th[1] = (struct report_threshold){"errors<0.1%", 2.5, 0, "%"};
    f.th[2] = (struct report_threshold){"rate>10", NAN, 1, "/s"};
    struct report_load *r = &f.r;
    r->url = "http://x/";
    r->method = "GET";
    r->mode = "normal_traffic";
    r->threads = 2, r->connections = 10;
    r->target_rate = 100, r->achieved_rate = 99.5, r->duration_s = 30;
    r->requests = 2990, r->late = 7, r->dropped = 3;
    r->connect_errors = 1, r->timeouts = 2, r->read_errors = 3, r->write_errors = 4;
    r->status[2] = 2900, r->status[4] = 40, r->status[5] = 50;
    r->status_codes[200] = 2900, r->status_codes[404] = 40, r->status_codes[503] = 50;
    r->errors = 1 + 2 + 3 + 4 + 40 + 50;
    r->bytes_read = 3 << 20, r->bytes_written = 1 << 20;
    r->latency = &f.h;
    r->timeline = f.tl, r->ntimeline = 3;
    r->thresholds = f.th, r->nthresholds = 3;
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    core_hdr_free(&f->h);
    return 0;
}

static char *render(int (*fn)(const struct report_load *, struct core_buf *),
                    const struct report_load *r)
{
    struct core_buf b;
    core_buf_init(&b, 1 << 24);
    assert_int_equal(fn(r, &b), 0);
    core_buf_putc(&b, '\0');
    return (char *)b.p; /* caller frees with core_free */
}

static json_t *render_json(const struct report_load *r, const char *hdr)
{
    struct core_buf b;
    core_buf_init(&b, 1 << 24);
    assert_int_equal(report_load_json(r, hdr, &b), 0);
    assert_int_equal(b.p[b.len - 1], '\n');
    assert_null(memchr(b.p, '<', b.len)); /* safe to inline into <script> */
    json_error_t err;
    json_t *j = json_loadb((const char *)b.p, b.len, 0, &err);
    if (!j)
        fail_msg("invalid JSON: %s at %d", err.text, err.position);
    core_buf_free(&b);
    return j;
}

static long long jint(json_t *j, const char *path)
{
    char key[128];
    strncpy(key, path, sizeof key - 1);
    key[sizeof key - 1] = 0;
    json_t *cur = j;
    for (char *tok = strtok(key, "."); tok; tok = strtok(NULL, "."))
        cur =
            json_is_array(cur) ? json_array_get(cur, (size_t)atoi(tok)) : json_object_get(cur, tok);
    if (!json_is_number(cur))
        fail_msg("%s is not a number", path);
    return (long long)llround(json_number_value(cur));
}

static void test_text(void **state)
{
    struct fixture *f = *state;
    char *t = render(report_load_text, &f->r);
    assert_non_null(strstr(t, "Running 30s test @ GET http://x/\n"));
    assert_non_null(strstr(t, "2 threads and at most 10 connections, open loop at 100.00 req/s"));
    assert_non_null(strstr(t, "Latency      500us"));
    assert_non_null(strstr(t, "      50%     500us\n"));
    assert_non_null(strstr(t, "      90%     900us\n"));
    assert_non_null(strstr(t, "      99%     990us\n"));
    assert_non_null(strstr(t, "    99.9%     999us\n"));
    assert_non_null(strstr(t, "      max    1.00ms\n"));
    assert_non_null(strstr(t, "3000 requests in 30.00s: 2990 responses, 2 timed out, 8 failed "
                              "(connect 1, read 3, write 4)\n"));
    assert_non_null(strstr(t, "  3.00MB read, 1.00MB written\n"));
    assert_non_null(strstr(t, "Requests/sec:      99.50 (target 100.00, 99.5%)"));
    assert_non_null(strstr(t, "Late (sent after their intended time): 7, dropped (never sent): 3"));
    assert_non_null(strstr(t, "200=2900 404=40 503=50"));
    assert_non_null(
        strstr(t, "Errors: 100 (connect 1, timeout 2, read 3, write 4, 4xx 40, 5xx 50)"));
    assert_non_null(strstr(t, "\u2713 p99<1s"));
    assert_non_null(strstr(t, "\u2717 errors<0.1%"));
    assert_null(strstr(t, "Injected")); /* normal traffic injects nothing */
    core_free(t);
}

/* What a reader needs to trust the text (issue 8, item 17): the duration asked for up front and
 * the measured one below, connections actually opened next to the cap, timeouts counted among
 * the requests, the injected count, threshold values with their units. */
static void test_text_wording(void **state)
{
    struct fixture *f = *state;
    struct report_load r = f->r;
    r.planned_s = 10, r.duration_s = 12.8;
    r.connections_open = 5, r.connections = 256;
    r.mode = "latency_injection", r.injected = 123;
    r.unfinished = 6;
    struct report_threshold th[] = {{"p99<200ms", 12.25, 1, "ms"},
                                    {"errors<0.1%", 2.5, 0, "%"},
                                    {"errors<0.001", 0.025, 0, ""},
                                    {"rate>10", 99.54, 1, "/s"},
                                    {"max<2s", 1.5, 1, "s"}};
    r.thresholds = th, r.nthresholds = 5;
    char *t = render(report_load_text, &r);
    assert_non_null(strstr(t, "Running 10s test @ GET http://x/\n"));
    assert_non_null(strstr(t, "2 threads and 5 connections (at most 256), open loop"));
    assert_non_null(strstr(t, "3006 requests in 12.80s: 2990 responses, 2 timed out, 8 failed "
                              "(connect 1, read 3, write 4), 6 unanswered at the stop\n"));
    assert_non_null(
        strstr(t, "Injected (latency_injection): 123 requests carried the mode's failure\n"));
    assert_non_null(strstr(t, "p99<200ms                (actual 12.25ms)"));
    assert_non_null(strstr(t, "errors<0.1%              (actual 2.5%)"));
    assert_non_null(strstr(t, "errors<0.001             (actual 0.025 (2.5%))"));
    assert_non_null(strstr(t, "rate>10                  (actual 99.5/s)"));
    assert_non_null(strstr(t, "max<2s                   (actual 1.5s)"));
    assert_null(strstr(t, "Running 12.8s"));
    core_free(t);
}

static void test_text_closed_loop_empty(void **state)
{
    struct fixture *f = *state;
    struct report_load r = f->r;
    r.closed_loop = 1;
    r.latency = NULL;
    r.errors = 0;
    char *t = render(report_load_text, &r);
    assert_non_null(strstr(t, "closed loop (--rate max)"));
    assert_non_null(strstr(t, "Latency: no responses"));
    assert_non_null(strstr(t, "Errors: none"));
    core_free(t);
}

static void test_json_fields(void **state)
{
    struct fixture *f = *state;
    json_t *j = render_json(&f->r, "HISTFAAAAA==");
    assert_string_equal(json_string_value(json_object_get(j, "schema")), "diorama.load.report/v1");
    assert_int_equal(jint(j, "target_rate"), 100);
    assert_true(json_number_value(json_object_get(j, "achieved_rate")) == 99.5);
    assert_int_equal(jint(j, "requests"), 2990);
    assert_int_equal(jint(j, "errors"), 100);
    assert_int_equal(jint(j, "late"), 7);
    assert_int_equal(jint(j, "dropped"), 3);
    assert_int_equal(jint(j, "connections"), 10);
    assert_int_equal(jint(j, "connections_open"), 0);
    assert_int_equal(jint(j, "planned_duration_s"), 30); /* unknown: the measured one */
    assert_int_equal(jint(j, "status_codes.404"), 40);
    assert_int_equal(json_object_size(json_object_get(j, "status_codes")), 3);
    assert_int_equal(jint(j, "status_classes.5xx"), 50);
    assert_int_equal(jint(j, "errors_by_kind.connect"), 1);
    assert_int_equal(jint(j, "errors_by_kind.write"), 4);
    assert_int_equal(jint(j, "errors_by_kind.status_4xx"), 40);
    assert_int_equal(jint(j, "latency_us.count"), 1000);
    assert_int_equal(jint(j, "latency_us.min"), 1);
    assert_int_equal(jint(j, "latency_us.p50"), 500);
    assert_int_equal(jint(j, "latency_us.p90"), 900);
    assert_int_equal(jint(j, "latency_us.p95"), 950);
    assert_int_equal(jint(j, "latency_us.p99"), 990);
    assert_int_equal(jint(j, "latency_us.p999"), 999);
    assert_int_equal(jint(j, "latency_us.max"), 1000);
    assert_true(json_number_value(json_object_get(json_object_get(j, "latency_us"), "mean")) ==
                500.5);
    assert_string_equal(json_string_value(json_object_get(j, "hdr")), "HISTFAAAAA==");
    json_decref(j);
}

static void test_json_timeline_thresholds(void **state)
{
    struct fixture *f = *state;
    json_t *j = render_json(&f->r, NULL);
    json_t *tl = json_object_get(j, "timeline");
    assert_int_equal(json_array_size(tl), 3);
    assert_int_equal(jint(j, "timeline.0.p99_us"), 950);
    assert_int_equal(jint(j, "timeline.2.max_us"), 1000);
    assert_true(json_is_null(json_object_get(json_array_get(tl, 1), "p50_us")));
    assert_int_equal(jint(j, "timeline.0.late"), 2);
    assert_true(json_number_value(json_object_get(json_array_get(tl, 2), "width_s")) == 0.5);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(j, "thresholds"), 1), "unit")),
                        "%");
    json_t *th = json_object_get(j, "thresholds");
    assert_int_equal(json_array_size(th), 3);
    assert_true(json_is_false(json_object_get(json_array_get(th, 1), "passed")));
    assert_true(json_is_null(json_object_get(json_array_get(th, 2), "actual")));
    assert_true(json_is_false(json_object_get(j, "passed")));
    assert_true(json_is_null(json_object_get(j, "hdr")));
    json_decref(j);
}

/* Percentiles rise to 100 and never fall; values follow them. */
static void test_json_distribution(void **state)
{
    struct fixture *f = *state;
    json_t *j = render_json(&f->r, NULL);
    json_t *d = json_object_get(j, "latency_distribution");
    size_t n = json_array_size(d);
    assert_true(n > 40);
    double prev_p = -1, prev_v = 0;
    for (size_t i = 0; i < n; i++) {
        double p = json_number_value(json_array_get(json_array_get(d, i), 0));
        double v = json_number_value(json_array_get(json_array_get(d, i), 1));
        assert_true(p > prev_p && v >= prev_v);
        prev_p = p, prev_v = v;
    }
    assert_true(prev_p == 100 && prev_v == 1000);
    json_decref(j);
}

static void test_json_hostile_and_empty(void **state)
{
    struct fixture *f = *state;
    struct report_load r = f->r;
    r.url = HOSTILE_URL;
    r.closed_loop = 1;
    r.latency = NULL;
    r.timeline = NULL, r.ntimeline = 0;
    r.thresholds = NULL, r.nthresholds = 0;
    r.achieved_rate = INFINITY;
    json_t *j = render_json(&r, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "url")),
                        "http://h/a?q=</script><script>alert(1)</script>&\x01\xef\xbf\xbd\""
                        "\xe2\x80\xa8");
    assert_true(json_is_null(json_object_get(j, "target_rate")));
    assert_true(json_is_null(json_object_get(j, "achieved_rate")));
    assert_int_equal(jint(j, "latency_us.count"), 0);
    assert_int_equal(json_array_size(json_object_get(j, "latency_distribution")), 0);
    assert_true(json_is_true(json_object_get(j, "passed")));
    json_decref(j);
}

static size_t count(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

static void test_html(void **state)
{
    struct fixture *f = *state;
    struct report_load r = f->r;
    r.url = HOSTILE_URL;
    char *h = render(report_load_html, &r);
    assert_true(strncmp(h, "<!doctype html>", 15) == 0);
    assert_int_equal(count(h, "<script"), 3);
    assert_int_equal(count(h, "</script>"), 3);
    assert_null(strstr(h, " src=")); /* nothing loaded from elsewhere */
    assert_null(strstr(h, " href="));
    assert_non_null(strstr(h, "id=\"l-p99\">990 us<"));
    assert_non_null(strstr(h, "id=\"s-requests\">2990<"));
    assert_non_null(strstr(h, "&lt;/script&gt;"));
    assert_non_null(strstr(h, "uPlot"));
    assert_non_null(strstr(h, "latency_distribution"));
    core_free(h);
}

static void test_full_buffer(void **state)
{
    struct fixture *f = *state;
    int (*fns[])(const struct report_load *, struct core_buf *) = {report_load_text,
                                                                   report_load_html};
    for (size_t i = 0; i < 2; i++) {
        struct core_buf b;
        core_buf_init(&b, 64);
        assert_int_equal(fns[i](&f->r, &b), DIO_EFULL);
        assert_int_equal(b.len, 0);
        core_buf_free(&b);
    }
    struct core_buf b;
    core_buf_init(&b, 64);
    assert_int_equal(report_load_json(&f->r, NULL, &b), DIO_EFULL);
    assert_int_equal(b.len, 0);
    core_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_text_wording),
        cmocka_unit_test(test_text_closed_loop_empty),
        cmocka_unit_test(test_json_fields),
        cmocka_unit_test(test_json_timeline_thresholds),
        cmocka_unit_test(test_json_distribution),
        cmocka_unit_test(test_json_hostile_and_empty),
        cmocka_unit_test(test_html),
        cmocka_unit_test(test_full_buffer),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
