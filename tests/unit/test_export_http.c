/* export: the OTLP/HTTP output against a real peer (tests/peers/otlp_receiver, started as a
 * child process on a free 127.0.0.1 port and stopped by PID). Every scenario checks the exact
 * accounting on our side and what the receiver saw on its side. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "export/export.h"
#include "../peers/fake_batch.h"

#define MS 1000000ULL
#define S 1000000000ULL

struct peer {
    pid_t pid;
    int port;
    char dir[64];
    char stats[128];
};

static void receiver_path(char *out, size_t n)
{
    const char *env = getenv("OTLP_RECEIVER");
    if (env && *env) {
        snprintf(out, n, "%s", env);
        return;
    }
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    assert_true(len > 0);
    self[len] = 0;
    snprintf(out, n, "%s/otlp_receiver", dirname(self));
}

/* args: receiver options, NULL-terminated. */
static void peer_start(struct peer *p, const char *const *args)
{
    char bin[PATH_MAX], portfile[128];
    receiver_path(bin, sizeof bin);
    if (access(bin, X_OK) != 0)
        fail_msg("test peer %s not found (build the otlp_receiver target)", bin);
    snprintf(p->dir, sizeof p->dir, "/tmp/diorama_http_XXXXXX");
    assert_non_null(mkdtemp(p->dir));
    snprintf(portfile, sizeof portfile, "%s/port", p->dir);
    snprintf(p->stats, sizeof p->stats, "%s/stats.json", p->dir);
    const char *argv[32] = {bin, "--port-file", portfile, "--stats", p->stats};
    int n = 5;
    for (int i = 0; args && args[i] && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    p->pid = fork();
    assert_true(p->pid >= 0);
    if (p->pid == 0) {
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    for (int i = 0; i < 500; i++) {
        FILE *f = fopen(portfile, "r");
        if (f) {
            int ok = fscanf(f, "%d", &p->port) == 1;
            fclose(f);
            unlink(portfile);
            if (ok)
                return;
        }
        usleep(10000);
    }
    kill(p->pid, SIGKILL);
    fail_msg("receiver did not start");
}

/* Stops the receiver by PID and reads its stats file into buf. */
static void peer_stop(struct peer *p, char *buf, size_t n)
{
    kill(p->pid, SIGTERM);
    int status = 0;
    waitpid(p->pid, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    FILE *f = fopen(p->stats, "r");
    assert_non_null(f);
    size_t len = fread(buf, 1, n - 1, f);
    buf[len] = 0;
    fclose(f);
    unlink(p->stats);
    rmdir(p->dir);
}

static uint64_t jget(const char *json, const char *key)
{
    char k[64];
    snprintf(k, sizeof k, "\"%s\":", key);
    const char *p = strstr(json, k);
    return p ? strtoull(p + strlen(k), NULL, 10) : 0;
}

static uint64_t pause_before_shutdown_ns;

/* Copies the test's settings (non-zero fields of want) over a resolved cfg. */
static void overrides(struct export_otlp_http_cfg *c, const struct export_otlp_http_cfg *want)
{
    c->gzip = want->gzip;
    c->retry_initial_ns = want->retry_initial_ns;
    c->retry_max_ns = want->retry_max_ns;
    c->retry_budget_ns = want->retry_budget_ns;
    c->timeout_ns = want->timeout_ns;
    c->max_concurrent = want->max_concurrent;
    c->seed = want->seed;
} /* lets retries get scheduled first */

struct run {
    struct export_stats st;
    uint64_t elapsed_ns;  /* submit to end of shutdown */
    uint64_t shutdown_ns; /* export_hub_shutdown alone */
};

/* Exports nbatches batches of `per` spans (or `signal`) to port with cfg tweaks applied. */
static void run_export(int port, struct export_otlp_http_cfg *cfg, int signal, int nbatches,
                       uint32_t per, uint64_t deadline_ns, struct run *out)
{
    char url[64], err[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    unsetenv("OTEL_EXPORTER_OTLP_ENDPOINT");
    struct export_otlp_http_cfg rc;
    assert_int_equal(export_otlp_http_cfg_resolve(&rc, url, err, sizeof err), 0);
    overrides(&rc, cfg); /* like the CLI: flags after the environment */
    struct export_output *o = export_otlp_http_new(&rc);
    export_otlp_http_cfg_free(&rc);
    struct export_hub_cfg hc = {
        .batch_size = {per, per, per}, .queue_batches = 16, .block_when_full = 1};
    struct export_hub *h = export_hub_new(&hc, &o, 1);
    assert_int_equal(export_hub_start(h), 0);
    uint64_t t0 = core_mono_ns(), seq = 0;
    for (int i = 0; i < nbatches; i++) {
        struct rec_batch *b = export_hub_batch(h, signal);
        assert_non_null(b);
        fake_fill(b, per, &seq);
        export_hub_submit(h, b);
    }
    if (pause_before_shutdown_ns)
        core_sleep_until_ns(core_mono_ns() + pause_before_shutdown_ns);
    uint64_t t1 = core_mono_ns();
    export_hub_shutdown(h, t1 + deadline_ns);
    uint64_t t2 = core_mono_ns();
    out->elapsed_ns = t2 - t0;
    out->shutdown_ns = t2 - t1;
    export_hub_stats(h, 0, &out->st);
    export_hub_free(h);
    const struct export_signal_stats *s = &out->st.s[signal];
    if (s->generated != s->delivered + export_dropped_total(s) + s->timed_out + s->in_flight)
        fail_msg("unbalanced accounting");
    assert_int_equal(s->in_flight, 0);
    assert_int_equal(s->generated, (uint64_t)nbatches * per);
}

static struct export_otlp_http_cfg fast_retries(int max_concurrent)
{
    struct export_otlp_http_cfg c = {0};
    c.retry_initial_ns = 50 * MS;
    c.retry_max_ns = 200 * MS;
    c.retry_budget_ns = 5 * S;
    c.timeout_ns = 2 * S;
    c.max_concurrent = max_concurrent;
    c.seed = 1;
    return c;
}

static void all_delivered_keepalive(void **state)
{
    struct peer p;
    peer_start(&p, NULL);
    struct export_otlp_http_cfg c = fast_retries(4);
    struct run r;
    run_export(p.port, &c, REC_SPANS, 20, 50, 5 * S, &r);
    char js[2048];
    peer_stop(&p, js, sizeof js);
    const struct export_signal_stats *s = &r.st.s[REC_SPANS];
    assert_int_equal(s->delivered, 1000);
    assert_int_equal(export_dropped_total(s), 0);
    assert_int_equal(s->requests, 20);
    assert_int_equal(s->failed_requests, 0);
    assert_int_equal(s->retried, 0);
    assert_int_equal(s->bytes, jget(js, "bytes"));
    assert_true(s->latency_p50_us > 0 && s->latency_max_us >= s->latency_p99_us);
    assert_int_equal(jget(js, "requests"), 20);
    assert_int_equal(jget(js, "spans"), 1000);
    assert_int_equal(jget(js, "content_type_ok"), 20);
    assert_int_equal(jget(js, "user_agent_ok"), 20);
    assert_int_equal(jget(js, "gzip"), 0);
    assert_true(jget(js, "connections") <= 4); /* kept alive, not one per request */
}

/* An idle exporter sleeps in curl_multi_poll; a submitted batch must wake it at once, not
 * at the poll timeout (1 s). */
static void submit_wakes_idle_exporter(void **state)
{
    struct peer p;
    peer_start(&p, NULL);
    char url[64], err[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", p.port);
    struct export_otlp_http_cfg c;
    assert_int_equal(export_otlp_http_cfg_resolve(&c, url, err, sizeof err), 0);
    struct export_otlp_http_cfg want = fast_retries(1);
    overrides(&c, &want);
    struct export_output *o = export_otlp_http_new(&c);
    export_otlp_http_cfg_free(&c);
    struct export_hub_cfg hc = {.batch_size = {5, 5, 5}, .queue_batches = 4};
    struct export_hub *h = export_hub_new(&hc, &o, 1);
    assert_int_equal(export_hub_start(h), 0);
    uint64_t seq = 0;
    for (int i = 0; i < 3; i++) {
        usleep(150000); /* idle */
        struct rec_batch *b = export_hub_batch(h, REC_SPANS);
        fake_fill(b, 5, &seq);
        uint64_t t0 = core_mono_ns();
        export_hub_submit(h, b);
        struct export_stats st;
        do {
            usleep(1000);
            export_hub_stats(h, 0, &st);
        } while (st.s[REC_SPANS].delivered < (uint64_t)(i + 1) * 5 && core_mono_ns() - t0 < 30 * S);
        /* Each batch goes out while the exporter is otherwise idle, before the next one and
         * without a shutdown to push it (no timing asserted: tests never assert timings). */
        assert_int_equal(st.s[REC_SPANS].delivered, (uint64_t)(i + 1) * 5);
    }
    export_hub_shutdown(h, core_mono_ns() + S);
    export_hub_free(h);
    char js[2048];
    peer_stop(&p, js, sizeof js);
    assert_int_equal(jget(js, "spans"), 15);
}

static void gzip_headers_metrics_logs(void **state)
{
    static const char *const args[] = {"--expect-header", "x-api-key: s3cr3t", NULL};
    struct peer p;
    peer_start(&p, args);
    setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=s3cr3t", 1);
    struct export_otlp_http_cfg c = fast_retries(2);
    c.gzip = 1;
    struct run r;
    run_export(p.port, &c, REC_METRICS, 5, 40, 5 * S, &r);
    struct export_otlp_http_cfg c2 = fast_retries(2);
    struct run r2;
    run_export(p.port, &c2, REC_LOGS, 3, 10, 5 * S, &r2);
    unsetenv("OTEL_EXPORTER_OTLP_HEADERS");
    char js[2048];
    peer_stop(&p, js, sizeof js);
    assert_int_equal(r.st.s[REC_METRICS].delivered, 200);
    assert_int_equal(r2.st.s[REC_LOGS].delivered, 30);
    assert_int_equal(jget(js, "gzip"), 5);
    assert_int_equal(jget(js, "header_hits"), 8);
    assert_int_equal(jget(js, "points"), 200);
    assert_int_equal(jget(js, "logs"), 30);
    assert_int_equal(jget(js, "bad_requests"), 0);
}

static void retry_after_503_then_delivered(void **state)
{
    static const char *const args[] = {"--fail-first",  "2", "--status", "503",
                                       "--retry-after", "1", NULL};
    struct peer p;
    peer_start(&p, args);
    struct export_otlp_http_cfg c = fast_retries(1);
    struct run r;
    run_export(p.port, &c, REC_SPANS, 1, 10, 10 * S, &r);
    char js[2048];
    peer_stop(&p, js, sizeof js);
    const struct export_signal_stats *s = &r.st.s[REC_SPANS];
    assert_int_equal(s->delivered, 10);
    assert_int_equal(export_dropped_total(s), 0);
    assert_int_equal(s->requests, 3);
    assert_int_equal(s->failed_requests, 2);
    assert_int_equal(s->retried, 20);
    /* Retry-After: 1 honoured twice (backoff alone would be ~0.15 s). */
    assert_true(r.elapsed_ns >= 2 * S); /* a lower bound: load can only make it longer */
    assert_int_equal(jget(js, "503"), 2);
    assert_int_equal(jget(js, "200"), 1);
    assert_int_equal(jget(js, "spans"), 10);
}

static void status_429_retried(void **state)
{
    static const char *const args[] = {"--fail-first", "3", "--status", "429", NULL};
    struct peer p;
    peer_start(&p, args);
    struct export_otlp_http_cfg c = fast_retries(1);
    struct run r;
    run_export(p.port, &c, REC_LOGS, 2, 10, 10 * S, &r);
    char js[2048];
    peer_stop(&p, js, sizeof js);
    const struct export_signal_stats *s = &r.st.s[REC_LOGS];
    assert_int_equal(s->delivered, 20);
    assert_int_equal(s->requests, 5);
    assert_int_equal(s->failed_requests, 3);
    assert_int_equal(s->retried, 30);
    assert_int_equal(jget(js, "logs"), 20);
}

static void status_400_and_500_rejected_not_retried(void **state)
{
    static const char *const codes[] = {"400", "500", "413", "404"};
    for (size_t i = 0; i < 4; i++) {
        const char *args[] = {"--status", codes[i], NULL};
        struct peer p;
        peer_start(&p, args);
        struct export_otlp_http_cfg c = fast_retries(2);
        struct run r;
        run_export(p.port, &c, REC_SPANS, 3, 10, 5 * S, &r);
        char js[2048];
        peer_stop(&p, js, sizeof js);
        const struct export_signal_stats *s = &r.st.s[REC_SPANS];
        assert_int_equal(s->delivered, 0);
        assert_int_equal(s->dropped[EXPORT_DROP_REJECTED], 30);
        assert_int_equal(export_dropped_total(s), 30);
        assert_int_equal(s->requests, 3);
        assert_int_equal(s->failed_requests, 3);
        assert_int_equal(s->retried, 0);
        assert_int_equal(jget(js, "requests"), 3);
    }
}

static void dropped_connection_retried(void **state)
{
    static const char *const args[] = {"--drop-connection", "2", NULL};
    struct peer p;
    peer_start(&p, args);
    struct export_otlp_http_cfg c = fast_retries(1);
    struct run r;
    run_export(p.port, &c, REC_SPANS, 1, 10, 10 * S, &r);
    char js[2048];
    peer_stop(&p, js, sizeof js);
    const struct export_signal_stats *s = &r.st.s[REC_SPANS];
    assert_int_equal(s->delivered, 10);
    assert_int_equal(s->requests, 3);
    assert_int_equal(s->failed_requests, 2);
    assert_int_equal(s->retried, 20);
    assert_int_equal(jget(js, "dropped_connections"), 2);
    assert_int_equal(jget(js, "spans"), 10);
}

static void partial_success_rejected_not_retried(void **state)
{
    static const char *const args[] = {"--partial-reject", "3", NULL};
    struct peer p;
    peer_start(&p, args);
    struct export_otlp_http_cfg c = fast_retries(2);
    struct run r;
    run_export(p.port, &c, REC_SPANS, 4, 10, 5 * S, &r);
    char js[2048];
    peer_stop(&p, js, sizeof js);
    const struct export_signal_stats *s = &r.st.s[REC_SPANS];
    assert_int_equal(s->delivered, 28);
    assert_int_equal(s->dropped[EXPORT_DROP_REJECTED], 12);
    assert_int_equal(s->requests, 4);
    assert_int_equal(s->failed_requests, 0);
    assert_int_equal(s->retried, 0);
    assert_int_equal(jget(js, "items_ok"), 28);
    assert_int_equal(jget(js, "items_rejected"), 12);
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    bind(fd, (struct sockaddr *)&a, sizeof a);
    getsockname(fd, (struct sockaddr *)&a, &al);
    close(fd); /* nothing listens there now: connections are refused */
    return ntohs(a.sin_port);
}

static void unreachable_retries_exhausted_within_budget(void **state)
{
    struct export_otlp_http_cfg c = fast_retries(2);
    c.retry_budget_ns = 600 * MS;
    struct run r;
    run_export(free_port(), &c, REC_SPANS, 2, 10, 10 * S, &r);
    const struct export_signal_stats *s = &r.st.s[REC_SPANS];
    assert_int_equal(s->delivered, 0);
    assert_int_equal(s->dropped[EXPORT_DROP_RETRIES], 20);
    assert_int_equal(export_dropped_total(s), 20);
    assert_true(s->requests >= 6); /* 50, 100, 200, 200 ms ... within 600 ms, per batch */
    assert_int_equal(s->failed_requests, s->requests);
    assert_int_equal(s->retried, (s->requests - 2) * 10);
}

/* Retries that could only happen after the deadline are given up when shutdown starts:
 * shutdown does not sit out the deadline for nothing. */
static void shutdown_gives_up_late_retries_at_once(void **state)
{
    struct export_otlp_http_cfg c = fast_retries(2);
    c.retry_initial_ns = 10 * S;
    c.retry_max_ns = 10 * S;
    c.retry_budget_ns = 60 * S;
    struct run r;
    pause_before_shutdown_ns = 300 * MS;
    run_export(free_port(), &c, REC_LOGS, 2, 10, 3 * S, &r);
    pause_before_shutdown_ns = 0;
    const struct export_signal_stats *s = &r.st.s[REC_LOGS];
    assert_int_equal(s->dropped[EXPORT_DROP_SHUTDOWN], 20);
    assert_int_equal(s->requests, 2);
    /* Gave up at once instead of waiting out the 3 s deadline (generous: no timing race). */
    assert_true(r.shutdown_ns < 2 * S);
}

/* Shutdown with a slow peer and a full queue: what can be sent before the deadline is
 * delivered, the rest is dropped(shutdown), and shutdown returns by the deadline. */
static void shutdown_flushes_until_deadline(void **state)
{
    static const char *const args[] = {"--delay-ms", "200", NULL};
    struct peer p;
    peer_start(&p, args);
    struct export_otlp_http_cfg c = fast_retries(2);
    struct run r;
    run_export(p.port, &c, REC_SPANS, 16, 10, 900 * MS, &r);
    char js[2048];
    peer_stop(&p, js, sizeof js);
    const struct export_signal_stats *s = &r.st.s[REC_SPANS];
    /* 2 in parallel, 200 ms each: some batches fit in 900 ms, never all 16. */
    assert_true(s->delivered > 0 && s->delivered < 160);
    assert_int_equal(s->delivered + s->dropped[EXPORT_DROP_SHUTDOWN] + s->timed_out, 160);
    assert_true(s->dropped[EXPORT_DROP_SHUTDOWN] > 0);
    assert_true(r.shutdown_ns < 900 * MS + S); /* returns near its deadline, not at the end */
    /* Requests cut at the deadline after the peer had them are timed_out, not dropped: the
     * receiver holds at least what was delivered and at most that plus what timed out. */
    assert_true(jget(js, "items_ok") >= s->delivered);
    assert_true(jget(js, "items_ok") <= s->delivered + s->timed_out);

    /* A fast peer: everything queued is flushed before the deadline. */
    peer_start(&p, NULL);
    struct export_otlp_http_cfg c2 = fast_retries(4);
    run_export(p.port, &c2, REC_METRICS, 16, 100, 5 * S, &r);
    peer_stop(&p, js, sizeof js);
    assert_int_equal(r.st.s[REC_METRICS].delivered, 1600);
    assert_int_equal(jget(js, "points"), 1600);
}

/* A peer that takes every request and answers after the client gave up: each attempt times
 * out with the body sent, so when the retry budget runs out the records are timed_out (they
 * may have arrived: here they did), never dropped. */
static void unanswered_requests_are_timed_out_not_dropped(void **state)
{
    static const char *const args[] = {"--delay-ms", "5000", NULL};
    struct peer p;
    peer_start(&p, args);
    struct export_otlp_http_cfg c = fast_retries(2);
    c.timeout_ns = 300 * MS;
    c.retry_budget_ns = 700 * MS;
    struct run r;
    run_export(p.port, &c, REC_SPANS, 2, 10, 10 * S, &r);
    char js[2048];
    peer_stop(&p, js, sizeof js);
    const struct export_signal_stats *s = &r.st.s[REC_SPANS];
    assert_int_equal(s->delivered, 0);
    assert_int_equal(export_dropped_total(s), 0);
    assert_int_equal(s->timed_out, 20);
    assert_true(s->failed_requests >= 2);
    assert_true(jget(js, "spans") >= 20); /* they did arrive (maybe more than once) */
}

int main(void)
{
    core_log_level = getenv("VERBOSE") ? CORE_LOG_DEBUG : -1; /* failure paths log */
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(all_delivered_keepalive),
        cmocka_unit_test(submit_wakes_idle_exporter),
        cmocka_unit_test(gzip_headers_metrics_logs),
        cmocka_unit_test(retry_after_503_then_delivered),
        cmocka_unit_test(status_429_retried),
        cmocka_unit_test(status_400_and_500_rejected_not_retried),
        cmocka_unit_test(dropped_connection_retried),
        cmocka_unit_test(partial_success_rejected_not_retried),
        cmocka_unit_test(unreachable_retries_exhausted_within_budget),
        cmocka_unit_test(shutdown_gives_up_late_retries_at_once),
        cmocka_unit_test(shutdown_flushes_until_deadline),
        cmocka_unit_test(unanswered_requests_are_timed_out_not_dropped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
