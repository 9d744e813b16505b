/* diorama serve: the scenario's services as real HTTP endpoints (the demo target of load). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "server/server.h"

static const char help[] =
    "usage: diorama serve [SCENARIO|FILE] [options]\n"
    "\n"
    "Serves every \"METHOD /path\" server operation of the scenario (default: classify) as a\n"
    "real HTTP endpoint whose latency, errors and token counts follow the scenario, plus\n"
    "GET /metrics (Prometheus) and GET /healthz. Honours X-Diorama-Delay (see diorama load).\n"
    "Runs until Ctrl-C / SIGTERM, then prints a summary.\n"
    "\n"
    "  --listen ADDR          host:port, :port or [::1]:port (default 127.0.0.1:8000, or\n"
    "                         $DIORAMA_SERVE_LISTEN); port 0 = any free one\n"
    "  --port-file FILE       write the port listened on to FILE\n"
    "  --seed N               seed for latencies, model choices and faults (default: the\n"
    "                         scenario's)\n"
    "  --threads N            server threads (default: number of CPUs)\n"
    "  --max-delay D          largest X-Diorama-Delay honoured (default 30s; above: 400)\n"
    "  --max-body N           largest request body, suffixes k/M (default 1M; above: 413)\n"
    "  --max-connections N    open connections at most (default 4096); more get 503\n"
    "  --header-timeout D     time to send a request's headers (default 10s)\n"
    "  --idle-timeout D       close a connection silent for D (default 60s)\n"
    "  --max-series N         refuse a scenario with more metric series (default 1000000)\n"
    "  --control ADDR         the control API on ADDR (docs/control-api.md): change entity\n"
    "                         states live; the answers of the routes follow them; per-route\n"
    "                         rate, errors, p50/p99 each second (/api/aggregates, SSE)\n"
    "  --control-token T      changes need 'Authorization: Bearer T' (default\n"
    "                         $DIORAMA_CONTROL_TOKEN; required off loopback)\n"
    "  -q, --quiet            no start line, no status line    -v, --verbose  log more\n"
    "\n"
    "exit codes: 0 stopped by a signal, 1 cannot listen, 2 usage, 3 bad scenario.\n"
    "Details: docs/serve.md\n";

enum {
    O_LISTEN = 256,
    O_PORT_FILE,
    O_SEED,
    O_THREADS,
    O_MAX_DELAY,
    O_MAX_BODY,
    O_MAX_CONN,
    O_MAX_SERIES,
    O_HEADER_TIMEOUT,
    O_IDLE_TIMEOUT,
    O_CONTROL,
    O_CONTROL_TOKEN,
};

static const struct option longopts[] = {
    {"listen", 1, 0, O_LISTEN},
    {"port-file", 1, 0, O_PORT_FILE},
    {"seed", 1, 0, O_SEED},
    {"threads", 1, 0, O_THREADS},
    {"max-delay", 1, 0, O_MAX_DELAY},
    {"max-body", 1, 0, O_MAX_BODY},
    {"max-connections", 1, 0, O_MAX_CONN},
    {"header-timeout", 1, 0, O_HEADER_TIMEOUT},
    {"idle-timeout", 1, 0, O_IDLE_TIMEOUT},
    {"max-series", 1, 0, O_MAX_SERIES},
    {"control", 1, 0, O_CONTROL},
    {"control-token", 1, 0, O_CONTROL_TOKEN},
    {"quiet", 0, 0, 'q'},
    {"verbose", 0, 0, 'v'},
    {"help", 0, 0, 'h'},
    {0, 0, 0, 0},
};

struct serve_opts {
    struct server_cfg cfg;
    const char *scenario;
    const char *port_file;
    uint64_t max_series; /* 0: the scenario module's default cap */
    const char *control, *control_token;
    int has_seed, quiet, verbose;
};

static int apply_limit(struct serve_opts *o, int c, const char *a)
{
    uint64_t u;
    switch (c) {
    case O_THREADS:
        if (cli_parse_u64(a, 256, &u) || !u)
            return cli_bad_value("--threads", a, "an integer 1..256");
        o->cfg.threads = (unsigned)u;
        return 0;
    case O_MAX_DELAY:
        if (core_parse_duration(a, &o->cfg.max_delay_ns) || o->cfg.max_delay_ns > 3600000000000ULL)
            return cli_bad_value("--max-delay", a, "a duration up to 1h, like 30s");
        return 0;
    case O_MAX_BODY:
        if (cli_parse_bytes(a, &u) || u < 1024 || u > (1ULL << 30))
            return cli_bad_value("--max-body", a, "a size from 1k to 1G, like 1M");
        o->cfg.max_body = (size_t)u;
        return 0;
    case O_MAX_CONN:
        return cli_listener_opt(CLI_LISTEN_MAX_CONNECTIONS, "--max-connections", a, &o->cfg.http);
    case O_HEADER_TIMEOUT:
        return cli_listener_opt(CLI_LISTEN_HEADER_TIMEOUT, "--header-timeout", a, &o->cfg.http);
    case O_IDLE_TIMEOUT:
        return cli_listener_opt(CLI_LISTEN_IDLE_TIMEOUT, "--idle-timeout", a, &o->cfg.http);
    case O_MAX_SERIES:
        return cli_parse_max_series(a, &o->max_series);
    default:
        return -1;
    }
}

static int apply(void *ctx, int c, const char *a)
{
    struct serve_opts *o = ctx;
    switch (c) {
    case O_LISTEN:
        o->cfg.listen = a;
        return cli_parse_listen("--listen", a);
    case O_PORT_FILE:
        o->port_file = a;
        return 0;
    case O_CONTROL:
        o->control = a;
        return cli_parse_listen("--control", a);
    case O_CONTROL_TOKEN:
        o->control_token = a;
        return 0;
    case O_SEED:
        o->has_seed = 1;
        return cli_parse_u64(a, UINT64_MAX, &o->cfg.seed) ? cli_bad_value("--seed", a, "an integer")
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
static int parse(struct serve_opts *o, int argc, char **argv)
{
    memset(o, 0, sizeof *o);
    const char *env = getenv("DIORAMA_SERVE_LISTEN");
    o->cfg.listen = env && *env ? env : "127.0.0.1:8000";
    o->cfg.max_delay_ns = 30000000000ULL;
    o->scenario = "classify";
    int rc = cli_getopt(argc, argv, "serve", ":qvh", longopts, help, apply, o);
    if (rc != -1)
        return rc;
    if (o->cfg.listen == env && cli_parse_listen("DIORAMA_SERVE_LISTEN", env))
        return CLI_ERR_USAGE;
    if (optind < argc)
        o->scenario = argv[optind++];
    if (optind < argc)
        return cli_fail(CLI_ERR_USAGE, "serve: unexpected argument '%s'", argv[optind]);
    return -1;
}

static int load_world(struct serve_opts *o, struct scenario **scn, struct world **w)
{
    if (cli_load_scenario_max(o->scenario, o->max_series, scn))
        return CLI_ERR_SCENARIO;
    if (!o->has_seed)
        o->cfg.seed = (*scn)->seed;
    struct world_opts wo = {.seed = o->cfg.seed, .nshards = 1};
    char msg[256];
    if (world_build(w, *scn, &wo, msg, sizeof msg))
        return cli_fail(CLI_ERR_SCENARIO, "%s: %s", o->scenario, msg);
    return 0;
}

/* "diorama serve: classify on http://127.0.0.1:8000 (routes: POST /classify, GET /metrics,
 * GET /healthz)" */
static void start_line(const struct serve_opts *o, const struct server *s)
{
    struct httpd_addr a;
    char err[512];
    if (httpd_addr_parse(o->cfg.listen, &a, err, sizeof err)) /* checked at option time */
        snprintf(a.host, sizeof a.host, "?");
    int v6 = strchr(a.host, ':') != NULL;
    struct core_buf b;
    core_buf_init(&b, 1 << 20);
    core_buf_printf(&b, "diorama serve: %s on http://%s%s%s:%d (routes:", o->scenario,
                    v6 ? "[" : "", a.host, v6 ? "]" : "", server_port(s));
    int n = server_nroutes(s);
    for (int i = 0; i < n; i++) /* scenario routes first, the built-ins (0, 1) last */
        core_buf_printf(&b, "%s %s", i ? "," : "", server_route_name(s, (i + 2) % n));
    core_buf_puts(&b, ")\n");
    fwrite(b.p, 1, b.len, stderr);
    core_buf_free(&b);
}

/* The status line: on a terminal only (not with -q or CI=true), redrawn every 2 s. */
static void status_tick(const struct server *s, struct server_stats *last, uint64_t *last_ns)
{
    struct server_stats st;
    uint64_t now = core_mono_ns();
    server_stats(s, &st);
    double dt = (double)(now - *last_ns) / 1e9;
    fprintf(stderr,
            "\r\033[2Kserve: %.1f req/s | 2xx %llu 4xx %llu 5xx %llu | in flight %lld | "
            "delayed %llu",
            dt > 0 ? (double)(st.requests - last->requests) / dt : 0,
            (unsigned long long)st.by_class[2], (unsigned long long)st.by_class[4],
            (unsigned long long)st.by_class[5], (long long)st.inflight,
            (unsigned long long)st.delayed);
    *last = st;
    *last_ns = now;
}

static void on_label(void *ctx, const struct world_label *l)
{
    server_control_label(ctx, l);
}

static uint64_t wall_now(void *ctx)
{
    (void)ctx;
    return core_wall_ns();
}

/* This thread is the world's: every 100 ms it applies the timeline and the control API's
 * commands (world_advance), so the routes' answers follow the entities' states, and once a
 * second it publishes the aggregates of the requests answered meanwhile (--control). */
static void run_until_stopped(const struct serve_opts *o, const struct server *s, struct world *w,
                              struct server_control *ctl, struct world_agg *agg)
{
    uint64_t t0 = core_mono_ns(), wall0 = core_wall_ns();
    struct world_out out = {ctl, wall0, ctl ? on_label : NULL, wall_now};
    const char *ci = getenv("CI");
    int status = !o->quiet && isatty(STDERR_FILENO) && !(ci && !strcmp(ci, "true"));
    struct server_stats last = {0};
    uint64_t last_ns = core_mono_ns(), next = last_ns + 2000000000ULL;
    while (!cli_stop) {
        core_sleep_until_ns(core_mono_ns() + 100000000ULL);
        world_advance(w, core_mono_ns() - t0, &out);
        if (agg)
            world_agg_poll(agg, core_mono_ns() - t0, wall0, core_mono_ns());
        if (status && core_mono_ns() >= next) {
            status_tick(s, &last, &last_ns);
            next = last_ns + 2000000000ULL;
        }
    }
    if (status)
        fputs("\n", stderr);
}

static void summary(const struct server *s, double secs)
{
    struct server_stats st;
    server_stats(s, &st);
    printf("diorama serve: %llu requests in %.1fs (%.1f/s)\n", (unsigned long long)st.requests,
           secs, secs > 0 ? (double)st.requests / secs : 0);
    printf("  status   1xx %llu  2xx %llu  3xx %llu  4xx %llu  5xx %llu\n",
           (unsigned long long)st.by_class[1], (unsigned long long)st.by_class[2],
           (unsigned long long)st.by_class[3], (unsigned long long)st.by_class[4],
           (unsigned long long)st.by_class[5]);
    printf("  delayed  %llu (X-Diorama-Delay honoured), cut short at stop %llu\n",
           (unsigned long long)st.delayed, (unsigned long long)st.cut);
    printf("  faults  ");
    for (int k = 0; k < SERVER_NFAULT_KINDS; k++)
        printf(" %s %llu", server_fault_kinds[k], (unsigned long long)st.faults[k]);
    printf("\n");
    fflush(stdout);
}

static int start_control(const struct serve_opts *o, struct world *w, struct world_agg *agg,
                         struct server_control **ctl)
{
    int rc = cli_control_start(o->control, o->control_token, 1, core_wall_ns(), w, agg, ctl);
    if (rc == 0 && !o->quiet) {
        char url[300];
        cli_listen_url(o->control, server_control_port(*ctl), "/api/world", url, sizeof url);
        fprintf(stderr, "diorama serve: control API on %s\n", url);
    }
    return rc;
}

/* The aggregates' entries are the scenario's routes, as serve's real requests hit them. */
static void set_routes(struct world_agg *agg, const struct server *s)
{
    int n = server_nroutes(s) - SERVER_BUILTIN_ROUTES;
    const char **names = core_calloc((size_t)(n > 0 ? n : 1), sizeof *names);
    for (int i = 0; i < n; i++)
        names[i] = server_route_name(s, i + SERVER_BUILTIN_ROUTES);
    world_agg_set_routes(agg, names, n > 0 ? n : 0);
    core_free(names);
}

static int execute(struct serve_opts *o, struct server *s, struct world *w,
                   struct server_control **ctl, struct world_agg *agg)
{
    char err[512];
    cli_install_signals();
    int rc = server_start(s, err, sizeof err);
    if (rc) /* a malformed --listen is a usage error, a busy port a runtime one */
        return cli_fail(rc == DIO_EINVAL ? CLI_ERR_USAGE : CLI_ERR_RUNTIME, "serve: %s", err);
    if (o->control && (rc = start_control(o, w, agg, ctl)) != 0)
        return rc;
    if (o->port_file && cli_write_port_file(o->port_file, server_port(s)))
        return cli_fail(CLI_ERR_RUNTIME, "--port-file %s: cannot write", o->port_file);
    if (!o->quiet)
        start_line(o, s);
    uint64_t t0 = core_mono_ns();
    run_until_stopped(o, s, w, *ctl, agg);
    server_stop(s, 1000000000ULL); /* in-flight requests get a second to finish */
    summary(s, (double)(core_mono_ns() - t0) / 1e9);
    return CLI_OK;
}

int cli_serve(int argc, char **argv)
{
    struct serve_opts o;
    int rc = parse(&o, argc, argv);
    if (rc >= 0)
        return rc;
    core_log_level = o.verbose ? CORE_LOG_INFO + (o.verbose > 1) : CORE_LOG_WARN;
    struct scenario *scn = NULL;
    struct world *w = NULL;
    struct server *s = NULL;
    struct server_control *ctl = NULL;
    struct world_agg *agg = NULL;
    char err[256];
    rc = load_world(&o, &scn, &w);
    if (rc == 0 && o.control) /* routes are set once the server has its table */
        agg = o.cfg.agg = world_agg_new(w);
    if (rc == 0 && server_new(&s, w, &o.cfg, err, sizeof err))
        rc = cli_fail(CLI_ERR_USAGE, "serve: %s", err);
    if (rc == 0 && agg)
        set_routes(agg, s);
    if (rc == 0)
        rc = execute(&o, s, w, &ctl, agg);
    server_control_free(ctl);
    server_free(s);
    world_agg_free(agg);
    world_free(w);
    scenario_free(scn);
    return rc;
}
