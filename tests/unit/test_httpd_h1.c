/* httpd HTTP/1.1: the request parser (a table of accepted and refused header blocks with the
 * status each gets, the chunked decoder split at every byte) and a real listener: keep-alive
 * and pipelining, HTTP/1.0, 100-continue, the body cap, a deferred answer resumed from another
 * thread, a held answer, a stream, and every refusal answered once with Connection: close. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>

#include "httpd/internal.h"

#define H "Host: x\r\n"

static const struct {
    const char *block;
    unsigned status; /* 0 = accepted */
} heads[] = {
    {"GET / HTTP/1.1\r\n" H "\r\n", 0},
    {"GET /a%20b?x=1 HTTP/1.1\r\n" H "\r\n", 0},
    {"GET http://x/p?q HTTP/1.1\r\n" H "\r\n", 0},
    {"GET http://x HTTP/1.1\r\n" H "\r\n", 0},
    {"GET ;/a?b=1:// HTTP/1.1\r\n" H "\r\n", 400}, /* found by the fuzzer */
    {"GET / HTTP/1.0\r\n\r\n", 0},                 /* HTTP/1.0 needs no Host */
    {"POST / HTTP/1.1\r\n" H "Content-Length: 5\r\nContent-Length: 5\r\n\r\n", 0},
    {"POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n", 0},
    {"POST / HTTP/1.1\r\n" H "Expect: 100-continue\r\nContent-Length: 1\r\n\r\n", 0},
    {"GET / HTTP/1.1\r\n" H "X:\r\n\r\n", 0}, /* an empty value */
    {"GET / HTTP/1.1\r\n\r\n", 400},          /* no Host */
    {"GET / HTTP/1.1\r\n" H H "\r\n", 400},   /* two Host */
    {"POST / HTTP/1.1\r\n" H "Content-Length: -1\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\n" H "Content-Length: 1x\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\n" H "Content-Length: \r\n\r\n", 400},
    {"POST / HTTP/1.1\r\n" H "Content-Length: 1, 1\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\n" H "Content-Length: 99999999999999999999\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\n" H "Content-Length: 1\r\nContent-Length: 2\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\n" H "Content-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\n" H "Transfer-Encoding: identity\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\n" H "Transfer-Encoding: gzip, chunked\r\n\r\n", 501},
    {"POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked, gzip\r\n\r\n", 400},
    {"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\n" H "X: a\r\n b\r\n\r\n", 400}, /* obs-fold */
    {"GET / HTTP/1.1\r\n" H "X : a\r\n\r\n", 400},      /* whitespace before the colon */
    {"GET / HTTP/1.1\r\n" H "X\r\n\r\n", 400},          /* no colon */
    {"GET / HTTP/1.1\r\n" H "X: a\x01\r\n\r\n", 400},   /* a control character */
    {"GET / HTTP/1.1\r\n" H "X: a\rb\r\n\r\n", 400},    /* a bare CR */
    {"GET / HTTP/1.1\n" H "\r\n", 400},                 /* a bare LF */
    {"GET  / HTTP/1.1\r\n" H "\r\n", 400},
    {"GET / HTTP/1.1 \r\n" H "\r\n", 400},
    {"GET / HTTP/2.0\r\n" H "\r\n", 505},
    {"GET / FOO/1.1\r\n" H "\r\n", 400},
    {"GET noslash HTTP/1.1\r\n" H "\r\n", 400},
    {"GET /%00 HTTP/1.1\r\n" H "\r\n", 400},
    {"G(T / HTTP/1.1\r\n" H "\r\n", 400},
    {"POST / HTTP/1.1\r\n" H "Expect: 200-ok\r\n\r\n", 417},
};

static void test_parse_head(void **state)
{
    for (size_t i = 0; i < sizeof heads / sizeof *heads; i++) {
        size_t len = strlen(heads[i].block), skip;
        long end = h1__head_end(heads[i].block, len, &skip);
        if (end != (long)len)
            fail_msg("#%zu: end %ld of %zu", i, end, len);
        char *b = core_malloc(len + 1);
        memcpy(b, heads[i].block, len);
        struct h1__head h;
        const char *why = NULL;
        unsigned st = h1__parse_head(b, len, &h, &why);
        if (st != heads[i].status)
            fail_msg("#%zu %s: status %u, want %u (%s)", i, heads[i].block, st, heads[i].status,
                     why ? why : "");
        assert_true(st == 0 || (why && *why));
        core_free(b);
    }
    char b[] = "POST /a%20b?x=1&y HTTP/1.1\r\nHost: x\r\ncontent-length:  7 \r\n"
               "Connection: close\r\n\r\n";
    struct h1__head h;
    const char *why;
    assert_int_equal(h1__parse_head(b, strlen(b), &h, &why), 0);
    assert_string_equal(h.method, "POST");
    assert_string_equal(h.path, "/a b");
    assert_string_equal(h.query, "x=1&y");
    assert_int_equal(h.length, 7);
    assert_int_equal(h.keep_alive, 0);
}

static void test_head_end(void **state)
{
    size_t skip;
    assert_int_equal(h1__head_end("GET / HTTP/1.1\r\nHost: x\r\n", 25, &skip), 0);
    assert_int_equal(h1__head_end("\r\nGET / HTTP/1.1\r\n\r\n", 20, &skip), 18);
    assert_int_equal(skip, 2);
    static char big[HTTPD_H1_MAX_HEADER + 100];
    memset(big, 'a', sizeof big);
    assert_int_equal(h1__head_end(big, HTTPD_H1_MAX_LINE + 1, &skip), -414);
    memcpy(big, "GET / HTTP/1.1\r\n", 16);
    assert_int_equal(h1__head_end(big, sizeof big, &skip), -431);
}

/* The decoder's result for s fed in pieces of `step` bytes: the body, or -status. */
static long dechunk(const char *s, size_t step, uint64_t max, char *out)
{
    struct h1__chunked d;
    memset(&d, 0, sizeof d);
    size_t n = strlen(s), got = 0;
    while (n && !h1__chunked_done(&d)) {
        size_t piece = n < step ? n : step, doff, dlen;
        const char *why;
        long used = h1__chunked(&d, (const uint8_t *)s, piece, max, &doff, &dlen, &why);
        if (used < 0)
            return used;
        memcpy(out + got, s + doff, dlen);
        got += dlen;
        s += used;
        n -= (size_t)used;
    }
    out[got] = 0;
    return h1__chunked_done(&d) ? (long)got : -1;
}

static void test_chunked(void **state)
{
    char out[256];
    for (size_t step = 1; step < 40; step++) {
        assert_int_equal(dechunk("3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nT: v\r\n\r\n", step, 100, out),
                         5);
        assert_string_equal(out, "abcde");
        assert_int_equal(dechunk("A\r\n0123456789\r\n0\r\n\r\n", step, 100, out), 10);
        assert_int_equal(dechunk("ffffffffffffffff\r\nab", step, 100, out), -413);
        assert_int_equal(dechunk("1ffffffffffffffff\r\n", step, UINT64_MAX, out), -400);
        assert_int_equal(dechunk("2\r\nabXX0\r\n\r\n", step, 100, out), -400);
        assert_int_equal(dechunk("2\nab\r\n0\r\n\r\n", step, 100, out), -400);
        assert_int_equal(dechunk("g\r\n", step, 100, out), -400);
        assert_int_equal(dechunk("\r\n", step, 100, out), -400);
        assert_int_equal(dechunk("65\r\n", step, 100, out), -413); /* 101 > 100 */
    }
}

/* ---- a real listener ------------------------------------------------------------------- */

static struct httpd_h1_pending *pending;
static struct httpd_h1_response *pending_rs;

static int stream_left;
static int stream_pull(void *cls, struct core_buf *out)
{
    if (stream_left <= 0)
        return 1;
    core_buf_printf(out, "data: %d\n\n", stream_left--);
    return 0;
}
static int stream_why = -1;
static void stream_done(void *cls, int why)
{
    stream_why = why;
}
static const struct httpd_h1_stream ops = {stream_pull, stream_done};

static void handler(void *cls, struct httpd_h1_request *rq, struct httpd_h1_response *rs)
{
    rs->content_type = "text/plain";
    if (!strcmp(rq->path, "/defer")) {
        pending = httpd_h1_defer(rq);
        pending_rs = rs;
        return;
    }
    if (!strcmp(rq->path, "/hold"))
        rs->hold_until_ns = core_mono_ns() + 200000000ULL;
    if (!strcmp(rq->path, "/stream")) {
        stream_left = 3;
        rs->stream = &ops;
        return;
    }
    const char *arg = httpd_h1_arg(rq, "a");
    core_buf_printf(&rs->body, "%s %s len=%zu refused=%u a=%s v=%s\n", rq->method, rq->path,
                    rq->len, rq->refused, arg ? arg : "-", rq->http10 ? "1.0" : "1.1");
}

static void *resume_later(void *arg)
{
    while (!__atomic_load_n(&pending, __ATOMIC_SEQ_CST))
        usleep(1000);
    usleep(50000);
    core_buf_puts(&pending_rs->body, "deferred\n");
    httpd_h1_resume(pending);
    return NULL;
}

static int dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

/* Reads until `want` is in the input, or the close (5 s at most). */
static size_t read_until(int fd, char *buf, size_t n, const char *want)
{
    size_t got = 0;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    buf[0] = 0;
    while (got + 1 < n && (!want || !strstr(buf, want)) && poll(&p, 1, 5000) == 1) {
        ssize_t r = read(fd, buf + got, n - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
        buf[got] = 0;
    }
    return got;
}

static void send_str(int fd, const char *s)
{
    assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

static void test_listener(void **state)
{
    struct httpd_addr a;
    char err[256], buf[8192];
    assert_int_equal(httpd_addr_parse("127.0.0.1:0", &a, err, sizeof err), 0);
    struct httpd_config c;
    httpd_config_default(&c);
    c.threads = 2;
    struct httpd_h1_handlers hd = {handler, NULL, "test", 16, 0, 0};
    struct httpd_h1 *h;
    assert_int_equal(httpd_h1_start(&h, &a, &c, &hd, err, sizeof err), 0);
    int port = httpd_h1_port(h);

    /* keep-alive, pipelining: three requests in one write, three answers in order */
    int fd = dial(port);
    send_str(fd, "GET /1?a=x%20y HTTP/1.1\r\n" H "\r\nPOST /2 HTTP/1.1\r\n" H
                 "Content-Length: 3\r\n\r\nabcPOST /3 HTTP/1.1\r\n" H
                 "Transfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n");
    read_until(fd, buf, sizeof buf, "POST /3 len=2");
    const char *p1 = strstr(buf, "GET /1 len=0 refused=0 a=x y v=1.1");
    const char *p2 = strstr(buf, "POST /2 len=3");
    const char *p3 = strstr(buf, "POST /3 len=2");
    assert_true(p1 && p2 && p3 && p1 < p2 && p2 < p3);
    assert_int_equal(count(buf, "HTTP/1.1 200 OK"), 3);
    assert_null(strstr(buf, "Connection: close"));

    /* 100-continue, then a body over the cap (16): 413 before it is read, and closed */
    send_str(fd, "POST /4 HTTP/1.1\r\n" H "Expect: 100-continue\r\nContent-Length: 4\r\n\r\n");
    read_until(fd, buf, sizeof buf, "100 Continue\r\n\r\n");
    assert_non_null(strstr(buf, "HTTP/1.1 100 Continue"));
    send_str(fd, "wxyz");
    read_until(fd, buf, sizeof buf, "len=4");
    send_str(fd, "POST /5 HTTP/1.1\r\n" H "Content-Length: 17\r\n\r\n");
    read_until(fd, buf, sizeof buf, NULL);
    assert_non_null(strstr(buf, "refused=413"));
    assert_non_null(strstr(buf, "Connection: close"));
    close(fd);

    /* a chunk over the cap: 413 from the base, once, closed */
    fd = dial(port);
    send_str(fd, "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n");
    read_until(fd, buf, sizeof buf, NULL);
    assert_int_equal(count(buf, "HTTP/1.1 "), 1);
    assert_non_null(strstr(buf, "HTTP/1.1 413"));
    close(fd);

    /* HTTP/1.0: closed after the answer unless keep-alive was asked for */
    fd = dial(port);
    send_str(fd, "GET /10 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    read_until(fd, buf, sizeof buf, "v=1.0\n");
    assert_non_null(strstr(buf, "Connection: keep-alive"));
    send_str(fd, "GET /10 HTTP/1.0\r\n\r\n");
    read_until(fd, buf, sizeof buf, NULL);
    assert_non_null(strstr(buf, "Connection: close"));
    close(fd);

    /* a deferred answer, completed from another thread; then a held one; then a stream */
    pthread_t t;
    pthread_create(&t, NULL, resume_later, NULL);
    fd = dial(port);
    send_str(fd, "GET /defer HTTP/1.1\r\n" H "\r\n");
    read_until(fd, buf, sizeof buf, "deferred\n");
    assert_non_null(strstr(buf, "HTTP/1.1 200 OK"));
    pthread_join(t, NULL);
    uint64_t t0 = core_mono_ns();
    send_str(fd, "GET /hold HTTP/1.1\r\n" H "\r\n");
    read_until(fd, buf, sizeof buf, "GET /hold");
    assert_true(core_mono_ns() - t0 >= 190000000ULL);
    send_str(fd, "GET /stream HTTP/1.1\r\n" H "\r\n");
    read_until(fd, buf, sizeof buf, "0\r\n\r\n");
    assert_non_null(strstr(buf, "Transfer-Encoding: chunked"));
    assert_non_null(strstr(buf, "data: 3\n\n"));
    assert_non_null(strstr(buf, "data: 1\n\n"));
    assert_int_equal(stream_why, HTTPD_H1_STREAM_ENDED);
    close(fd);
    httpd_h1_stop(h);
}

int main(void)
{
    core_log_level = -1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_head),
        cmocka_unit_test(test_head_end),
        cmocka_unit_test(test_chunked),
        cmocka_unit_test(test_listener),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
