/* Benchmark peer: the minimal receiver that bench/sink_bench.sh compares `diorama sink` with.
 * It reads every request body whole and answers success without decoding anything, so the
 * difference between a run into it and a run into the sink is the sink's own work.
 *
 *   count_receiver http|grpc PORT_FILE
 *
 * http: the HTTP/1.1 listener of diorama's base (src/httpd/h1.c) with a handler that does
 *       nothing but count: every POST gets 200 with an empty body (an empty
 * Export*ServiceResponse); a remote write 2.0 request (Content-Type ...write.v2.Request) gets 204
 * with the three X-Prometheus-Remote-Write-*-Written headers set to 0 (without decoding, the count
 * is unknown: the sender notes the mismatch, it does not fall back to 1.0). grpc: the HTTP/2
 * listener of diorama's base (src/httpd/h2.c: libnghttp2) with a handler that answers every call
 * grpc-status 0 and an empty message. Binds 127.0.0.1 on a free port, writes it to PORT_FILE, runs
 * until SIGTERM/SIGINT, then prints {"requests":N,"bytes":N,"cpu_s":X} (process CPU, user +
 * system). */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "httpd/httpd.h"

static _Atomic uint64_t requests, bytes;
static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void on_http(void *cls, struct httpd_h1_request *rq, struct httpd_h1_response *rs)
{
    atomic_fetch_add(&requests, 1);
    atomic_fetch_add(&bytes, rq->len);
    const char *ct = httpd_h1_header(rq, "Content-Type");
    if (ct && strstr(ct, "write.v2.Request")) {
        rs->status = 204;
        httpd_h1_add_header(rs, "X-Prometheus-Remote-Write-Samples-Written", "0");
        httpd_h1_add_header(rs, "X-Prometheus-Remote-Write-Histograms-Written", "0");
        httpd_h1_add_header(rs, "X-Prometheus-Remote-Write-Exemplars-Written", "0");
    } else {
        rs->content_type = "application/x-protobuf";
    }
}

static void on_grpc(void *cls, const struct httpd_h2_request *rq, struct httpd_h2_response *rs)
{
    atomic_fetch_add(&requests, 1);
    atomic_fetch_add(&bytes, rq->len);
    rs->headers[rs->nheaders++] = (struct httpd_h2_field){"content-type", "application/grpc"};
    core_buf_append(&rs->body, "\0\0\0\0\0", 5);
    rs->trailers[rs->ntrailers++] = (struct httpd_h2_field){"grpc-status", "0"};
}

static int serve_http(int *port)
{
    struct httpd_addr a;
    struct httpd_config c;
    struct httpd_h1 *s;
    char err[256];
    struct httpd_h1_handlers hd = {on_http, NULL, "count_receiver", 0, 0, 0};
    httpd_config_default(&c);
    if (httpd_addr_parse("127.0.0.1:0", &a, err, sizeof err) ||
        httpd_h1_start(&s, &a, &c, &hd, err, sizeof err)) {
        fprintf(stderr, "count_receiver: %s\n", err);
        return -1;
    }
    *port = httpd_h1_port(s);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[1], "http") && strcmp(argv[1], "grpc"))) {
        fprintf(stderr, "usage: count_receiver http|grpc PORT_FILE\n");
        return 2;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    int port = 0;
    if (!strcmp(argv[1], "http")) {
        if (serve_http(&port))
            return 1;
    } else {
        struct httpd_addr a;
        struct httpd_config c;
        struct httpd_h2 *s;
        char err[256];
        struct httpd_h2_handlers hd = {on_grpc, NULL, 0, 0};
        httpd_config_default(&c);
        if (httpd_addr_parse("127.0.0.1:0", &a, err, sizeof err) ||
            httpd_h2_start(&s, &a, &c, &hd, err, sizeof err)) {
            fprintf(stderr, "count_receiver: %s\n", err);
            return 1;
        }
        port = httpd_h2_port(s);
    }
    FILE *f = fopen(argv[2], "w");
    if (!f)
        return 1;
    fprintf(f, "%d\n", port);
    fclose(f);
    while (!stop)
        pause();
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"requests\":%llu,\"bytes\":%llu,\"cpu_s\":%.3f}\n",
           (unsigned long long)atomic_load(&requests), (unsigned long long)atomic_load(&bytes),
           (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
               ru.ru_stime.tv_usec / 1e6);
    return 0;
}
