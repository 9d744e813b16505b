/* httpd: the listen-address parser (table: every accepted form and the one rule for a bare
 * port, every rejected form with its message), the framing checks of RFC 9112, and a real
 * listener: the cap answers 503 at once, and the header deadline closes a slow client. */
#include <setjmp.h>
#include <stdatomic.h>
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

#include "httpd/internal.h"

static const struct {
    const char *in;
    const char *host; /* after parsing */
    int port, family;
} good[] = {
    {"127.0.0.1:4318", "127.0.0.1", 4318, AF_INET},
    {"8000", "127.0.0.1", 8000, AF_INET}, /* a bare port is loopback: the one rule */
    {"0", "127.0.0.1", 0, AF_INET},
    {":9464", "0.0.0.0", 9464, AF_INET}, /* :port is every interface */
    {"0.0.0.0:1", "0.0.0.0", 1, AF_INET},
    {"[::1]:8080", "::1", 8080, AF_INET6},
    {"[::]:0", "::", 0, AF_INET6},
    {"localhost:65535", "localhost", 65535, 0},
    {"127.0.0.1:00080", "127.0.0.1", 80, AF_INET},
};

static const struct {
    const char *in, *why;
} bad[] = {
    {"", "empty"},
    {"127.0.0.1:http", "must be a number"},
    {"127.0.0.1:65536", "must be a number 0..65535"},
    {"127.0.0.1:99999", "0..65535"},
    {"127.0.0.1:-1", "must be a number"},
    {"127.0.0.1:", "must be a number"},
    {"127.0.0.1", "must be a number"},
    {"127.0.0.1:100000", "0..65535"},
    {"::1:80", "needs brackets"},
    {"[::1]", "inside [ ]"},
    {"[]:80", "inside [ ]"},
    {"[::1:80", "inside [ ]"},
    {"host name:80", "characters"},
    {"a/b:80", "characters"},
    {" 80", "must be a number"},
    {"80 ", "must be a number"},
    {"+80", "must be a number"},
};

static void test_addr_good(void **state)
{
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        struct httpd_addr a;
        char err[256] = "";
        int rc = httpd_addr_parse(good[i].in, &a, err, sizeof err);
        if (rc)
            fail_msg("'%s': %s", good[i].in, err);
        assert_string_equal(a.host, good[i].host);
        assert_int_equal(a.port, good[i].port);
        if (good[i].family)
            assert_int_equal(a.sa.ss_family, good[i].family);
    }
    struct httpd_addr a;
    char err[256];
    assert_int_equal(httpd_addr_parse("8000", &a, err, sizeof err), 0);
    const struct sockaddr_in *v4 = (const struct sockaddr_in *)&a.sa;
    assert_int_equal(ntohl(v4->sin_addr.s_addr), INADDR_LOOPBACK); /* not 0.0.0.0 */
    assert_int_equal(ntohs(v4->sin_port), 8000);
}

static void test_addr_bad(void **state)
{
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct httpd_addr a;
        char err[512] = "";
        if (httpd_addr_parse(bad[i].in, &a, err, sizeof err) != DIO_EINVAL)
            fail_msg("'%s' accepted", bad[i].in);
        if (!strstr(err, bad[i].why) || !strstr(err, "bad listen address"))
            fail_msg("'%s': message '%s' lacks '%s'", bad[i].in, err, bad[i].why);
    }
    char host[8], err[256];
    int port;
    assert_int_equal(
        httpd_addr_split("averylonghost:80", host, sizeof host, &port, err, sizeof err),
        DIO_EINVAL); /* does not fit the caller's buffer */
}

static unsigned framing(const char *const *fields, int http10)
{
    struct httpd__framing f;
    memset(&f, 0, sizeof f);
    for (int i = 0; fields[i]; i += 2)
        httpd__framing_add(&f, fields[i], fields[i + 1]);
    const char *why = NULL;
    unsigned st = httpd__framing_check(&f, http10, &why);
    assert_true(st == 0 || (why && *why));
    return st;
}

static void test_framing(void **state)
{
    const char *ok1[] = {"Content-Length", "5", NULL};
    const char *ok2[] = {"Transfer-Encoding", "chunked", NULL};
    const char *ok3[] = {"content-length", "5", "Content-Length", "5", NULL}; /* the same twice */
    const char *ok4[] = {"Transfer-Encoding", " Chunked ", NULL};
    const char *two_cl[] = {"Content-Length", "5", "Content-Length", "6", NULL};
    const char *cl_te[] = {"Content-Length", "5", "Transfer-Encoding", "chunked", NULL};
    const char *identity[] = {"Transfer-Encoding", "identity", NULL};
    const char *gzip_chunked[] = {"Transfer-Encoding", "gzip, chunked", NULL};
    const char *gzip_two[] = {"Transfer-Encoding", "gzip", "Transfer-Encoding", "chunked", NULL};
    const char *chunked_gzip[] = {"Transfer-Encoding", "chunked, gzip", NULL};
    const char *twice[] = {"Transfer-Encoding", "chunked", "Transfer-Encoding", "chunked", NULL};
    const char *empty[] = {"Transfer-Encoding", "", NULL};
    assert_int_equal(framing(ok1, 0), 0);
    assert_int_equal(framing(ok2, 0), 0);
    assert_int_equal(framing(ok3, 0), 0);
    assert_int_equal(framing(ok4, 0), 0);
    assert_int_equal(framing(two_cl, 0), 400);
    assert_int_equal(framing(cl_te, 0), 400);
    assert_int_equal(framing(identity, 0), 400);
    assert_int_equal(framing(gzip_chunked, 0), 501);
    assert_int_equal(framing(gzip_two, 0), 501);
    assert_int_equal(framing(chunked_gzip, 0), 400);
    assert_int_equal(framing(twice, 0), 400);
    assert_int_equal(framing(empty, 0), 400);
    assert_int_equal(framing(ok2, 1), 400); /* Transfer-Encoding in HTTP/1.0 */
}

/* ---- a real listener ------------------------------------------------------------------- */

static atomic_int answered; /* requests that reached the handler */

static void answer(void *cls, struct httpd_h1_request *rq, struct httpd_h1_response *rs)
{
    atomic_fetch_add(&answered, 1);
    core_buf_puts(&rs->body, "ok\n");
}

static int dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

/* Reads until the server closes (or 5 s pass: a failure); returns what it sent. */
static size_t read_to_close(int fd, char *buf, size_t n)
{
    size_t got = 0;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (got + 1 < n && poll(&p, 1, 5000) == 1) {
        ssize_t r = read(fd, buf + got, n - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    buf[got] = 0;
    return got;
}

static void test_listener_caps(void **state)
{
    struct httpd_addr a;
    char err[256], buf[4096];
    assert_int_equal(httpd_addr_parse("127.0.0.1:0", &a, err, sizeof err), 0);
    struct httpd_config c;
    httpd_config_default(&c);
    c.max_connections = 2;
    c.header_timeout_ns = 300000000ULL; /* 300 ms */
    c.threads = 1;
    struct httpd_h1_handlers hd = {answer, NULL, "test", 0, 0, 0};
    struct httpd_h1 *h;
    assert_int_equal(httpd_h1_start(&h, &a, &c, &hd, err, sizeof err), 0);
    int port = httpd_h1_port(h);
    assert_true(port > 0);

    /* Two slow clients fill the cap; a third is answered 503 and closed at once. */
    int s1 = dial(port), s2 = dial(port);
    assert_int_equal(write(s1, "GET / HTTP/1.1\r\n", 16), 16);
    usleep(100000);
    int s3 = dial(port); /* with a whole request already sent: it must not run */
    const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(write(s3, req, sizeof req - 1), (ssize_t)sizeof req - 1);
    read_to_close(s3, buf, sizeof buf);
    assert_non_null(strstr(buf, "HTTP/1.1 503"));
    assert_null(strstr(buf, "HTTP/1.1 200"));
    close(s3);
    assert_int_equal(atomic_load(&answered), 0);

    /* The slow ones are closed by the header deadline, without an answer. */
    assert_int_equal(read_to_close(s1, buf, sizeof buf), 0);
    assert_int_equal(read_to_close(s2, buf, sizeof buf), 0);
    close(s1);
    close(s2);
    struct httpd_stats st;
    httpd_h1_stats(h, &st);
    assert_true(st.over_cap >= 1);
    assert_true(st.header_timeouts >= 2);

    /* Room again (the closed ones are freed at once): a request with conflicting
     * lengths is refused, a good one answered. */
    for (int i = 0; i < 500 && st.open > 0; i++) {
        usleep(10000);
        httpd_h1_stats(h, &st);
    }
    assert_int_equal(st.open, 0);
    int s4 = dial(port);
    const char two_cl[] = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
                          "Content-Length: 2\r\n\r\nab";
    assert_int_equal(write(s4, two_cl, sizeof two_cl - 1), (ssize_t)sizeof two_cl - 1);
    read_to_close(s4, buf, sizeof buf);
    if (!strstr(buf, "HTTP/1.1 400"))
        fail_msg("got: %s", buf);
    assert_non_null(strstr(buf, "Connection: close"));
    close(s4);
    int s5 = dial(port);
    const char get[] = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    assert_int_equal(write(s5, get, sizeof get - 1), (ssize_t)sizeof get - 1);
    read_to_close(s5, buf, sizeof buf);
    assert_non_null(strstr(buf, "HTTP/1.1 200"));
    close(s5);
    httpd_h1_stop(h);
}

static void test_bind_error(void **state)
{
    struct httpd_addr a;
    char err[256];
    assert_int_equal(httpd_addr_parse("127.0.0.1:0", &a, err, sizeof err), 0);
    struct httpd_h1_handlers hd = {answer, NULL, "test", 0, 0, 0};
    struct httpd_config c;
    httpd_config_default(&c);
    struct httpd_h1 *h1, *h2;
    assert_int_equal(httpd_h1_start(&h1, &a, &c, &hd, err, sizeof err), 0);
    httpd_addr_set_port(&a, httpd_h1_port(h1));
    assert_int_equal(httpd_h1_start(&h2, &a, &c, &hd, err, sizeof err), DIO_EIO);
    assert_null(h2);
    assert_non_null(strstr(err, "Address already in use"));
    httpd_h1_stop(h1);
}

int main(void)
{
    core_log_level = -1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addr_good),  cmocka_unit_test(test_addr_bad),
        cmocka_unit_test(test_framing),    cmocka_unit_test(test_listener_caps),
        cmocka_unit_test(test_bind_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
