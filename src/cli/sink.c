/* diorama sink: receive OTLP/HTTP and remote write, verify what arrived, optionally against
 * a `diorama run --summary-json` (--expect), with faults on demand. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "sink/sink.h"

static const char help[] =
    "usage: diorama sink [options]\n"
    "\n"
    "Receives OTLP/HTTP (/v1/traces, /v1/metrics, /v1/logs; protobuf or JSON, gzip) and\n"
    "Prometheus remote write 1.0 (/api/v1/write), counts what arrived and checks diorama's\n"
    "verification attributes: loss, duplicates, reordering, end-to-end latency. Runs until\n"
    "Ctrl-C / SIGTERM or --duration; with --expect, until everything the run delivered\n"
    "arrived (or --settle after the summary appeared). With --grpc-listen also OTLP/gRPC\n"
    "(the Trace/Metrics/LogsService Export calls over HTTP/2 cleartext, gzip).\n"
    "\n"
    "  --listen ADDR          where to listen (default 127.0.0.1:4318; port 0 = any free one)\n"
    "  --port-file FILE       write the port listened on to FILE\n"
    "  --grpc-listen ADDR     also receive OTLP/gRPC on ADDR (e.g. 127.0.0.1:4317; port 0 =\n"
    "                         any free one); same caps, limits and faults (not --delay)\n"
    "  --grpc-port-file FILE  write the gRPC port to FILE\n"
    "  --expect FILE          a `diorama run --summary-json` file (may appear later): verdict\n"
    "                         pass when every record the run delivered arrived exactly once\n"
    "  --settle D             with --expect: give up waiting D after the summary appeared\n"
    "                         (default 10s)\n"
    "  --json FILE            write the full result as JSON (docs/sink.md)\n"
    "  --duration D           stop after D\n"
    "  --max-request-size N   body limit in bytes after decompression, suffixes k/M/G\n"
    "                         (default 64M); larger requests get 413\n"
    "  --max-buffered N       request bytes held over all connections (default 4 x the\n"
    "                         request size); past it requests get 503 + Retry-After: 1\n"
    "  --threads N            server threads (default: number of CPUs)\n"
    "  --max-connections N    open connections at most (default 4096); more get 503\n"
    "  --header-timeout D     time to send a request's headers (default 10s)\n"
    "  --idle-timeout D       close a connection silent for D (default 60s)\n"
    "\n"
    "faults (deterministic for a given --seed and request order):\n"
    "  --fail STATUS:PCT      answer PCT% of data requests with STATUS, e.g. 503:10%\n"
    "                         (repeatable; the body is not counted)\n"
    "  --retry-after D        send Retry-After: D (whole seconds) with injected faults\n"
    "  --delay D              hold every response for D (e.g. 50ms; at most 30s; a stop\n"
    "                         answers held responses at once)\n"
    "  --down-for D@T         refuse connections for D, T after the start (e.g. 5s@10s;\n"
    "                         repeatable)\n"
    "  --seed N               seed for the fault choices (default 1)\n"
    "\n"
    "limits: --max-names N (distinct services/names counted per signal, default 1000),\n"
    "--max-runs N (run ids with sequence tracking, default 16), --seq-window N (sequence\n"
    "numbers tracked per stream, a power of two, default 1048576).\n"
    "  --record DIR           write every accepted request body to DIR, an existing writable\n"
    "                         directory (benchmarks)\n"
    "  -q, --quiet            no status line    -v, --verbose  log more\n"
    "\n"
    "exit codes: 0 ok / verdict pass, 1 runtime error, 2 usage, 6 verdict fail.\n";

enum {
    O_LISTEN = 256,
    O_PORT_FILE,
    O_EXPECT,
    O_SETTLE,
    O_JSON,
    O_DURATION,
    O_MAX_REQ,
    O_MAX_BUF,
    O_THREADS,
    O_FAIL,
    O_RETRY_AFTER,
    O_DELAY,
    O_DOWN,
    O_SEED,
    O_MAX_NAMES,
    O_MAX_RUNS,
    O_WINDOW,
    O_RECORD,
    O_MAX_CONN,
    O_HEADER_TIMEOUT,
    O_IDLE_TIMEOUT,
    O_GRPC_LISTEN,
    O_GRPC_PORT_FILE,
};

static const struct option longopts[] = {
    {"listen", 1, 0, O_LISTEN},
    {"port-file", 1, 0, O_PORT_FILE},
    {"grpc-listen", 1, 0, O_GRPC_LISTEN},
    {"grpc-port-file", 1, 0, O_GRPC_PORT_FILE},
    {"expect", 1, 0, O_EXPECT},
    {"settle", 1, 0, O_SETTLE},
    {"json", 1, 0, O_JSON},
    {"duration", 1, 0, O_DURATION},
    {"max-request-size", 1, 0, O_MAX_REQ},
    {"max-buffered", 1, 0, O_MAX_BUF},
    {"threads", 1, 0, O_THREADS},
    {"fail", 1, 0, O_FAIL},
    {"retry-after", 1, 0, O_RETRY_AFTER},
    {"delay", 1, 0, O_DELAY},
    {"down-for", 1, 0, O_DOWN},
    {"seed", 1, 0, O_SEED},
    {"max-names", 1, 0, O_MAX_NAMES},
    {"max-runs", 1, 0, O_MAX_RUNS},
    {"seq-window", 1, 0, O_WINDOW},
    {"record", 1, 0, O_RECORD},
    {"max-connections", 1, 0, O_MAX_CONN},
    {"header-timeout", 1, 0, O_HEADER_TIMEOUT},
    {"idle-timeout", 1, 0, O_IDLE_TIMEOUT},
    {"quiet", 0, 0, 'q'},
    {"verbose", 0, 0, 'v'},
    {"help", 0, 0, 'h'},
    {0, 0, 0, 0},
};

struct sink_opts {
    struct sink_cfg cfg;
    const char *port_file, *expect, *json;
    const char *grpc_port_file;
    uint64_t settle_ns, duration_ns;
    int quiet, verbose;
};

/* "503:10%", "503:0.1", "400:100%". */
static int parse_fail(const char *s, struct sink_fault *f)
{
    char *end;
    unsigned long st = strtoul(s, &end, 10);
    if (*end != ':' || st < 400 || st > 599)
        return -1;
    double v = strtod(end + 1, &end);
    if (*end == '%' && !end[1])
        v /= 100;
    else if (*end)
        return -1;
    if (!(v >= 0 && v <= 1))
        return -1;
    f->status = (unsigned)st;
    f->share = v;
    return 0;
}

/* "5s@10s" */
static int parse_down(const char *s, struct sink_window *w)
{
    char buf[64];
    const char *at = strchr(s, '@');
    if (!at || (size_t)(at - s) >= sizeof buf)
        return -1;
    memcpy(buf, s, (size_t)(at - s));
    buf[at - s] = 0;
    return core_parse_duration(buf, &w->for_ns) || core_parse_duration(at + 1, &w->at_ns) ||
                   !w->for_ns
               ? -1
               : 0;
}

static int apply_fault(struct sink_opts *o, int c, const char *a)
{
    uint64_t ns;
    switch (c) {
    case O_FAIL:
        if (o->cfg.nfaults >= SINK_MAX_FAULTS || parse_fail(a, &o->cfg.faults[o->cfg.nfaults]))
            return cli_bad_value("--fail", a, "STATUS:PCT like 503:10% (at most 8)");
        o->cfg.nfaults++;
        return 0;
    case O_RETRY_AFTER:
        if (core_parse_duration(a, &ns) || ns > 86400000000000ULL)
            return cli_bad_value("--retry-after", a, "a duration like 1s");
        o->cfg.retry_after_s = (int64_t)((ns + 999999999ULL) / 1000000000ULL);
        return 0;
    case O_DELAY:
        return core_parse_duration(a, &o->cfg.delay_ns) || o->cfg.delay_ns > SINK_MAX_DELAY_NS
                   ? cli_bad_value("--delay", a, "a duration of at most 30s")
                   : 0;
    case O_DOWN:
        if (o->cfg.ndown >= SINK_MAX_DOWN || parse_down(a, &o->cfg.down[o->cfg.ndown]))
            return cli_bad_value("--down-for", a, "D@T like 5s@10s (at most 8)");
        o->cfg.ndown++;
        return 0;
    case O_SEED:
        return cli_parse_u64(a, UINT64_MAX, &o->cfg.seed) ? cli_bad_value("--seed", a, "an integer")
                                                          : 0;
    default:
        return -1;
    }
}

static int apply_limit(struct sink_opts *o, int c, const char *a)
{
    uint64_t u;
    switch (c) {
    case O_MAX_REQ:
        if (cli_parse_bytes(a, &u) || u < 1024)
            return cli_bad_value("--max-request-size", a, "a size of at least 1k, like 64M");
        o->cfg.max_request = (size_t)u;
        return 0;
    case O_MAX_BUF:
        if (cli_parse_bytes(a, &u) || u < 1024)
            return cli_bad_value("--max-buffered", a, "a size of at least 1k, like 256M");
        o->cfg.max_buffered = (size_t)u;
        return 0;
    case O_THREADS:
        if (cli_parse_u64(a, 256, &u) || !u)
            return cli_bad_value("--threads", a, "an integer 1..256");
        o->cfg.threads = (unsigned)u;
        return 0;
    case O_MAX_NAMES:
        if (cli_parse_u64(a, 1000000, &u) || !u)
            return cli_bad_value("--max-names", a, "an integer 1..1000000");
        o->cfg.max_names = (uint32_t)u;
        return 0;
    case O_MAX_RUNS:
        if (cli_parse_u64(a, 1024, &u) || !u)
            return cli_bad_value("--max-runs", a, "an integer 1..1024");
        o->cfg.max_runs = (uint32_t)u;
        return 0;
    case O_WINDOW:
        if (cli_parse_u64(a, 1ULL << 30, &u) || u < 64 || (u & (u - 1)))
            return cli_bad_value("--seq-window", a, "a power of two 64..2^30");
        o->cfg.window_log2 = (unsigned)__builtin_ctzll(u);
        return 0;
    default:
        return apply_fault(o, c, a);
    }
}

static int apply(void *ctx, int c, const char *a)
{
    struct sink_opts *o = ctx;
    switch (c) {
    case O_LISTEN:
        o->cfg.listen = a;
        return cli_parse_listen("--listen", a);
    case O_MAX_CONN:
        return cli_listener_opt(CLI_LISTEN_MAX_CONNECTIONS, "--max-connections", a, &o->cfg.http);
    case O_HEADER_TIMEOUT:
        return cli_listener_opt(CLI_LISTEN_HEADER_TIMEOUT, "--header-timeout", a, &o->cfg.http);
    case O_IDLE_TIMEOUT:
        return cli_listener_opt(CLI_LISTEN_IDLE_TIMEOUT, "--idle-timeout", a, &o->cfg.http);
    case O_PORT_FILE:
        o->port_file = a;
        return 0;
    case O_GRPC_LISTEN:
        o->cfg.grpc_listen = a;
        return cli_parse_listen("--grpc-listen", a);
    case O_GRPC_PORT_FILE:
        o->grpc_port_file = a;
        return 0;
    case O_EXPECT:
        o->expect = a;
        return 0;
    case O_JSON:
        o->json = a;
        return 0;
    case O_RECORD:
        o->cfg.record_dir = a;
        return 0;
    case O_SETTLE:
        return core_parse_duration(a, &o->settle_ns) ? cli_bad_value("--settle", a, "a duration")
                                                     : 0;
    case O_DURATION:
        return core_parse_duration(a, &o->duration_ns) || !o->duration_ns
                   ? cli_bad_value("--duration", a, "a duration like 10m")
                   : 0;
    case 'q':
        o->quiet = 1;
        return 0;
    case 'v':
        o->verbose++;
        return 0;
    default:
        return apply_limit(o, c, a);
    }
}

/* Returns -1 to go on, or an exit code. */
static int parse(struct sink_opts *o, int argc, char **argv)
{
    memset(o, 0, sizeof *o);
    o->cfg.listen = "127.0.0.1:4318";
    o->cfg.seed = 1;
    o->cfg.retry_after_s = -1;
    o->settle_ns = 10000000000ULL;
    int rc = cli_getopt(argc, argv, "sink", ":qvh", longopts, help, apply, o);
    if (rc != -1)
        return rc;
    if (optind < argc)
        return cli_fail(CLI_ERR_USAGE, "sink: unexpected argument '%s'", argv[optind]);
    return -1;
}

/* The status line: redrawn twice a second on a terminal, one line every 10 s otherwise. */
struct status {
    int on, tty;
    uint64_t period, next, last_ns;
    struct sink_totals last;
};

static void status_init(struct status *st, int quiet)
{
    memset(st, 0, sizeof *st);
    st->on = !quiet;
    st->tty = isatty(STDERR_FILENO);
    st->period = st->tty ? 500000000ULL : 10000000000ULL;
    st->last_ns = core_mono_ns();
    st->next = st->last_ns + st->period;
}

static void status_tick(struct status *st, struct sink *s, int final)
{
    uint64_t now = core_mono_ns();
    if (!st->on || (!final && now < st->next))
        return;
    struct sink_totals cur;
    sink_totals(s, &cur);
    struct core_buf b;
    core_buf_init(&b, 4096);
    core_buf_puts(&b, st->tty ? "\r\033[2K" : "");
    sink_status_line(&st->last, &cur, (double)(now - st->last_ns) / 1e9, &b);
    core_buf_puts(&b, st->tty && !final ? "" : "\n");
    if (write(STDERR_FILENO, b.p, b.len) < 0)
        st->on = 0;
    core_buf_free(&b);
    st->last = cur;
    st->last_ns = now;
    st->next = now + st->period;
}

struct waiter {
    struct sink_expect e;
    int have;         /* e is loaded */
    uint64_t seen_ns; /* when the summary was first read */
    char err[512];
};

/* With --expect: 1 once everything arrived or --settle passed since the summary appeared. */
static int expect_done(const struct sink_opts *o, struct sink *s, struct waiter *w)
{
    if (!o->expect)
        return 0;
    if (!w->have) {
        if (sink_expect_load(o->expect, &w->e, w->err, sizeof w->err))
            return 0; /* not written yet, or being written */
        w->have = 1;
        w->seen_ns = core_mono_ns();
        core_info("sink: expecting run %s", w->e.run_id);
    }
    return sink_expect_complete(s, &w->e) || core_mono_ns() - w->seen_ns >= o->settle_ns;
}

static void serve(const struct sink_opts *o, struct sink *s, struct waiter *w)
{
    struct status st;
    status_init(&st, o->quiet);
    uint64_t t0 = core_mono_ns();
    while (!cli_stop) {
        core_sleep_until_ns(core_mono_ns() + 20000000ULL);
        sink_poll(s);
        if (o->duration_ns && core_mono_ns() - t0 >= o->duration_ns)
            break;
        if (expect_done(o, s, w))
            break;
        status_tick(&st, s, 0);
    }
    status_tick(&st, s, 1);
}

static int write_result(const struct sink_opts *o, struct sink *s, const struct waiter *w,
                        double wall_s)
{
    const struct sink_expect *e = w->have ? &w->e : NULL;
    struct core_buf b;
    core_buf_init(&b, 64u << 20);
    int verdict = sink_result_text(s, e, wall_s, &b);
    fwrite(b.p, 1, b.len, stdout);
    fflush(stdout);
    int rc = verdict == SINK_VERDICT_FAIL ? CLI_ERR_VERDICT : CLI_OK;
    if (o->json) {
        core_buf_reset(&b);
        sink_result_json(s, e, wall_s, &b);
        FILE *f = fopen(o->json, "w");
        if (!f || fwrite(b.p, 1, b.len, f) != b.len || fclose(f))
            rc = cli_fail(CLI_ERR_RUNTIME, "--json %s: write failed", o->json);
    }
    core_buf_free(&b);
    return rc;
}

/* --record DIR must be there and writable before the first request, or every body would be
 * answered 200 and silently not recorded. */
static int check_record_dir(const char *dir)
{
    struct stat st;
    if (!dir)
        return 0;
    if (stat(dir, &st) != 0)
        return cli_fail(CLI_ERR_RUNTIME, "--record %s: %s (create the directory first)", dir,
                        strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return cli_fail(CLI_ERR_RUNTIME, "--record %s: not a directory", dir);
    if (access(dir, W_OK | X_OK) != 0)
        return cli_fail(CLI_ERR_RUNTIME, "--record %s: not writable: %s", dir, strerror(errno));
    return 0;
}

static int execute(const struct sink_opts *o, struct sink *s)
{
    char err[512];
    int rc = check_record_dir(o->cfg.record_dir);
    if (rc)
        return rc;
    if (sink_start(s, err, sizeof err)) /* a --grpc-listen problem names its flag itself */
        return strncmp(err, "--grpc-listen", 13)
                   ? cli_fail(CLI_ERR_RUNTIME, "--listen %s: %s", o->cfg.listen, err)
                   : cli_fail(CLI_ERR_RUNTIME, "%s", err);
    if (o->port_file && cli_write_port_file(o->port_file, sink_port(s)))
        return cli_fail(CLI_ERR_RUNTIME, "--port-file %s: cannot write", o->port_file);
    if (o->grpc_port_file && cli_write_port_file(o->grpc_port_file, sink_grpc_port(s)))
        return cli_fail(CLI_ERR_RUNTIME, "--grpc-port-file %s: cannot write", o->grpc_port_file);
    if (!o->quiet)
        fprintf(stderr, "diorama sink: listening on port %d\n", sink_port(s));
    if (!o->quiet && o->cfg.grpc_listen)
        fprintf(stderr, "diorama sink: OTLP/gRPC on port %d\n", sink_grpc_port(s));
    cli_install_signals();
    uint64_t t0 = core_mono_ns();
    struct waiter w;
    memset(&w, 0, sizeof w);
    serve(o, s, &w);
    sink_stop(s); /* requests in progress finish first */
    if (o->expect && !w.have && sink_expect_load(o->expect, &w.e, w.err, sizeof w.err) == 0)
        w.have = 1;
    rc = write_result(o, s, &w, (double)(core_mono_ns() - t0) / 1e9);
    if (o->expect && !w.have)
        return cli_fail(CLI_ERR_RUNTIME, "--expect: %s", w.err);
    return rc;
}

int cli_sink(int argc, char **argv)
{
    struct sink_opts o;
    int rc = parse(&o, argc, argv);
    if (rc >= 0)
        return rc;
    core_log_level = o.verbose ? CORE_LOG_INFO + (o.verbose > 1) : CORE_LOG_WARN;
    struct sink *s;
    char err[256];
    if (sink_new(&s, &o.cfg, err, sizeof err))
        return cli_fail(CLI_ERR_USAGE, "sink: %s", err);
    rc = execute(&o, s);
    sink_free(s);
    return rc;
}
