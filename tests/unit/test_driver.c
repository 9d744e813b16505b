/* driver: the URL, stage and threshold syntaxes (tables of good and bad input), the schedule's
 * arithmetic, the HTTP response parser fed whole and byte by byte, corpus files, the request
 * variants of each mode, and threshold evaluation. No sockets: tests/integration covers those. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver/driver.h"
#include "driver/internal.h"
#include "scenario/scenario.h"

static void urls(void **state)
{
    (void)state;
    static const struct {
        const char *in, *host, *port, *path;
        int tls;
    } good[] = {
        {"http://127.0.0.1:8000/classify", "127.0.0.1", "8000", "/classify", 0},
        {"http://example.com", "example.com", "80", "/", 0},
        {"https://example.com/a?b=c#frag", "example.com", "443", "/a?b=c", 1},
        {"HTTP://h:1?q", "h", "1", "/?q", 0},
        {"http://[::1]:9000/x", "::1", "9000", "/x", 0},
    };
    static const char *const bad[] = {"ftp://h/",     "127.0.0.1:80", "http://",
                                      "http://:80/",  "http://h:0/",  "http://h:65536/",
                                      "http://h:8a/", "http://u@h/",  "http://h/a b",
                                      "http://[::1/", "http://h:/",   "http://h\x01/"};
    struct driver_url u;
    char err[128];
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_int_equal(driver_url_parse(good[i].in, &u, err, sizeof err), 0);
        assert_string_equal(u.host, good[i].host);
        assert_string_equal(u.port, good[i].port);
        assert_string_equal(u.path, good[i].path);
        assert_int_equal(u.tls, good[i].tls);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(driver_url_parse(bad[i], &u, err, sizeof err), DIO_EPARSE);
        assert_true(err[0] != '\0');
    }
}

static void stages(void **state)
{
    (void)state;
    struct driver_schedule sc;
    char err[128];
    assert_int_equal(driver_schedule_parse("100", 10000000000ULL, &sc, err, sizeof err), 0);
    assert_int_equal(sc.n, 1);
    assert_true(fabs(sc.total - 1000) < 1e-9);
    assert_int_equal(driver_schedule_parse("0:100,30s 100,2m 100:0,30s", 1, &sc, err, 128), 0);
    assert_int_equal(sc.n, 3);
    assert_true(fabs(sc.total - (1500 + 12000 + 1500)) < 1e-6);
    assert_int_equal(sc.total_ns, 180000000000ULL);
    assert_int_equal(driver_schedule_parse("6000/m,10s", 1, &sc, err, 128), 0);
    assert_true(fabs(sc.st[0].from - 100) < 1e-9);
    static const char *const bad[] = {"",      "x",     "0:100",    "10,5s 20", "10,",
                                      "10,zz", "-5,1s", "1:2:3,1s", "10,0s",    "nan,1s",
                                      ":5,1s", "5:,1s", "1e9,1s",   "10,1s,2s"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(driver_schedule_parse(bad[i], 1000000000ULL, &sc, err, 128), DIO_EPARSE);
}

/* time(count(t)) == t, count is monotonic, and request k of a constant rate is at k/rate. */
static void schedule_inverse(void **state)
{
    (void)state;
    struct driver_schedule sc;
    char err[128];
    assert_int_equal(driver_schedule_parse("0:100,30s 100,2m 100:0,30s", 1, &sc, err, 128), 0);
    double prev = -1;
    for (uint64_t t = 0; t < sc.total_ns; t += 997000000ULL) {
        double c = driver_schedule_count(&sc, t);
        assert_true(c >= prev);
        prev = c;
        uint64_t back = driver_schedule_time(&sc, c);
        assert_true(llabs((long long)back - (long long)t) < 1000);
    }
    assert_int_equal(driver_schedule_time(&sc, sc.total + 1), UINT64_MAX);
    assert_int_equal(driver_schedule_parse("1000,5s", 1, &sc, err, 128), 0);
    assert_int_equal(driver_schedule_time(&sc, 0), 0);
    assert_int_equal(driver_schedule_time(&sc, 1500), 1500000000ULL);
    assert_int_equal(driver_schedule_time(&sc, 4999) < sc.total_ns, 1);
    assert_int_equal(driver_schedule_time(&sc, 5000), UINT64_MAX);
}

static void thresholds(void **state)
{
    (void)state;
    struct driver_threshold t[DRIVER_MAX_THRESHOLDS];
    char err[128];
    int n = driver_threshold_parse("p99<200ms,errors<0.1%, p999<=1s,max<2s,rate>990,p50<500us", t,
                                   DRIVER_MAX_THRESHOLDS, err, sizeof err);
    assert_int_equal(n, 6);
    assert_int_equal(t[0].metric, DRV_M_PCT);
    assert_true(t[0].pct == 99 && t[0].op == '<' && t[0].limit == 200 && t[0].unit == 1e6);
    assert_true(t[1].metric == DRV_M_ERRORS && t[1].limit == 0.1 && t[1].unit == 100);
    assert_true(t[2].metric == DRV_M_PCT && fabs(t[2].pct - 99.9) < 1e-9 && t[2].op == 'l');
    assert_true(t[3].metric == DRV_M_MAX && t[3].unit == 1e9);
    assert_true(t[4].metric == DRV_M_RATE && t[4].op == '>' && t[4].limit == 990);
    assert_true(t[5].unit == 1e3);
    static const char *const bad[] = {"",       "p99",      "p99<",   "p99<x",      "q99<1",
                                      "p0<1ms", "p101<1ms", "p99<<1", "errors<1ms", "rate>5%",
                                      "p99<-1", "p99<1h",   "p99.x<1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(driver_threshold_parse(bad[i], t, DRIVER_MAX_THRESHOLDS, err, 128),
                         DIO_EPARSE);
}

static void threshold_check(void **state)
{
    (void)state;
    struct driver_result r;
    memset(&r, 0, sizeof r);
    core_hdr_init(&r.latency, 1, DRV_HDR_MAX_US, 3);
    for (int i = 1; i <= 1000; i++)
        core_hdr_record(&r.latency, i * 1000); /* 1 ms .. 1 s */
    r.requests = 1000, r.errors = 10, r.send_seconds = 1;
    struct driver_threshold t[4];
    char err[128];
    int n = driver_threshold_parse("p50<600ms,p99<900ms,errors<=1%,rate>999", t, 4, err, 128);
    double actual[4];
    int passed[4];
    assert_int_equal(driver_threshold_check(t, n, &r, 1000, actual, passed), 1);
    assert_true(passed[0] && !passed[1] && passed[2] && passed[3]);
    assert_true(fabs(actual[0] - 500) < 2 && fabs(actual[2] - 1.0) < 1e-9);
    core_hdr_free(&r.latency);
}

struct chunked_case {
    const char *resp;
    int status, close, complete;
};

/* Every split point of every response must give the same result as feeding it whole. */
static void http_parser(void **state)
{
    (void)state;
    static const struct chunked_case cases[] = {
        {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 200, 0, 1},
        {"HTTP/1.1 404 Not Found\r\ncontent-length:0\r\n\r\n", 404, 0, 1},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n3;x=y\r\nabc\r\n0\r\n"
         "Trailer: 1\r\n\r\n",
         200, 0, 1},
        {"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n", 204, 1, 1},
        {"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx", 200, 1, 1},
        {"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nx", 201, 0,
         1},
        {"HTTP/1.1 200 OK\r\n\r\nuntil close", 200, 1, 0},
        {"HTTP/1.1 503 Busy\nContent-Length: 3\n\nabc", 503, 0, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *s = cases[i].resp;
        size_t n = strlen(s);
        for (size_t split = 0; split <= n; split++) {
            struct driver_http p;
            size_t used = 0, used2 = 0;
            driver_http_reset(&p, 0);
            int rc = driver_http_feed(&p, s, split, &used);
            if (rc == 0)
                rc = driver_http_feed(&p, s + split, n - split, &used2);
            assert_int_equal(rc, cases[i].complete);
            if (!cases[i].complete)
                assert_int_equal(driver_http_eof(&p), 1);
            assert_int_equal(p.status, cases[i].status);
            assert_int_equal(p.close, cases[i].close);
        }
    }
    static const char *const bad[] = {
        "HTTP/2 200 OK\r\n\r\n", "HTTP/1.1 20 OK\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nxy\r\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct driver_http p;
        size_t used;
        driver_http_reset(&p, 0);
        assert_int_equal(driver_http_feed(&p, bad[i], strlen(bad[i]), &used), DIO_EPARSE);
    }
}

static void http_head_and_cap(void **state)
{
    (void)state;
    struct driver_http p;
    size_t used;
    const char *h = "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n";
    driver_http_reset(&p, 1);
    assert_int_equal(driver_http_feed(&p, h, strlen(h), &used), 1);
    assert_int_equal(used, strlen(h));
    /* an endless header block is refused, not buffered */
    driver_http_reset(&p, 0);
    assert_int_equal(driver_http_feed(&p, "HTTP/1.1 200 OK\r\n", 17, &used), 0);
    char junk[4096];
    memset(junk, 'a', sizeof junk);
    int rc = 0;
    for (int i = 0; i < 100 && rc == 0; i++)
        rc = driver_http_feed(&p, junk, sizeof junk, &used);
    assert_int_equal(rc, DIO_EPARSE);
}

static void corpus(void **state)
{
    (void)state;
    struct driver_corpus c;
    char err[128];
    const char *lines = "hello \"world\"\r\n{\"text\": \"x\"}\n\n";
    assert_int_equal(driver_corpus_parse(lines, strlen(lines), &c, err, sizeof err), 0);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.body[0], "{\"text\": \"hello \\\"world\\\"\"}");
    assert_string_equal(c.body[1], "{\"text\": \"x\"}");
    driver_corpus_free(&c);
    const char *arr = " [\"a\\\"b\", {\"text\": \"[}\"}, \"c\"]";
    assert_int_equal(driver_corpus_parse(arr, strlen(arr), &c, err, sizeof err), 0);
    assert_int_equal(c.n, 3);
    assert_string_equal(c.body[0], "{\"text\": \"a\\\"b\"}");
    assert_string_equal(c.body[1], "{\"text\": \"[}\"}");
    driver_corpus_free(&c);
    static const char *const bad[] = {"", "\n\n", "[", "[\"a\"", "[1, 2]", "[\"a\" x]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(driver_corpus_parse(bad[i], strlen(bad[i]), &c, err, 128), DIO_EPARSE);
}

static struct driver_opts opts_for(int mode, struct driver_corpus *c)
{
    struct driver_opts o;
    char err[64];
    memset(&o, 0, sizeof o);
    driver_url_parse("http://h:8000/classify", &o.url, err, sizeof err);
    o.mode = mode;
    o.share = -1;
    o.corpus = c;
    o.seed = 1;
    return o;
}

/* r's bytes (not NUL-terminated) contain s. */
static int has(const struct driver_req *r, const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i + n <= r->len; i++)
        if (!memcmp(r->buf + i, s, n))
            return 1;
    return 0;
}

/* Each mode builds what it claims: tags, delay headers, malformed bodies, 10k+ prompts; the
 * pick depends on (seed, k) only and its share is near the default. */
static void modes(void **state)
{
    (void)state;
    struct driver_corpus c;
    driver_corpus_builtin(&c);
    static const double want[DRV_NMODES] = {0, 0.3, 0.5, 1.0};
    for (int m = 0; m < DRV_NMODES; m++) {
        struct driver_opts o = opts_for(m, &c);
        struct drv__reqset rs;
        drv__reqs_build(&o, &rs, NULL, 0);
        char tag[64];
        snprintf(tag, sizeof tag, "X-Traffic-Type: DIORAMA_");
        int injected = 0;
        for (uint64_t k = 0; k < 10000; k++) {
            const struct driver_req *r = drv__reqs_pick(&rs, 1, k);
            assert_ptr_equal(r, drv__reqs_pick(&rs, 1, k));
            assert_true(has(r, tag));
            assert_true(has(r, "Host: h:8000\r\n"));
            assert_int_equal(strncmp(r->buf, "POST /classify HTTP/1.1\r\n", 25), 0);
            injected += r->injected;
            if (m == DRV_LATENCY && r->injected)
                assert_true(has(r, "X-Diorama-Delay: "));
            if (m == DRV_BLOAT && r->injected)
                assert_true(r->len > 10000);
        }
        assert_true(fabs(injected / 10000.0 - want[m]) < 0.03);
        drv__reqs_free(&rs);
    }
    driver_corpus_free(&c);
}

/* --scenario: the shop's entry routes with their rates (GET / 40/s, POST /checkout 300/m; the
 * inner operations are not entries), paths joined to the URL's, methods and bodies per route,
 * picks in the proportions of the rates and independent of everything but (seed, k). */
static void scenario_routes(void **state)
{
    (void)state;
    struct scenario *s;
    struct scn_error e;
    assert_int_equal(scenario_load("shop", &s, &e), 0);
    struct driver_route rt[DRIVER_MAX_ROUTES];
    double total;
    assert_int_equal(driver_routes_from_scenario(s, rt, DRIVER_MAX_ROUTES, &total), 2);
    assert_string_equal(rt[0].method, "GET"), assert_string_equal(rt[0].path, "/");
    assert_string_equal(rt[1].method, "POST"), assert_string_equal(rt[1].path, "/checkout");
    assert_true(fabs(rt[0].weight - 40) < 1e-9 && fabs(rt[1].weight - 5) < 1e-9);
    assert_true(fabs(total - 45) < 1e-9);
    assert_int_equal(driver_routes_from_scenario(s, rt, 1, &total), 1); /* capped */
    driver_routes_from_scenario(s, rt, DRIVER_MAX_ROUTES, &total);

    struct driver_corpus c;
    driver_corpus_builtin(&c);
    struct driver_opts o = opts_for(DRV_NORMAL, &c);
    char err[128];
    driver_url_parse("http://h:8000/api/", &o.url, err, sizeof err);
    o.routes = rt, o.nroutes = 2;
    struct drv__reqset rs;
    drv__reqs_build(&o, &rs, NULL, 0);
    int posts = 0;
    for (uint64_t k = 0; k < 90000; k++) {
        const struct driver_req *r = drv__reqs_pick(&rs, 1, k);
        static const char get[] = "GET /api/ HTTP/1.1\r\n",
                          pst[] = "POST /api/checkout HTTP/1.1\r\n";
        int post = !strncmp(r->buf, pst, sizeof pst - 1);
        assert_true(post || !strncmp(r->buf, get, sizeof get - 1));
        assert_true(post == has(r, "Content-Length: ")); /* GET: no body */
        posts += post;
    }
    assert_true(abs(posts - 10000) < 500); /* 1/9; sd 94 */
    drv__reqs_free(&rs);
    driver_corpus_free(&c);
    scenario_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(urls),
        cmocka_unit_test(stages),
        cmocka_unit_test(schedule_inverse),
        cmocka_unit_test(thresholds),
        cmocka_unit_test(threshold_check),
        cmocka_unit_test(http_parser),
        cmocka_unit_test(http_head_and_cap),
        cmocka_unit_test(corpus),
        cmocka_unit_test(modes),
        cmocka_unit_test(scenario_routes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
