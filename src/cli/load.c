/* diorama load: flags, the progress line, the final report and the exit code. The engine is
 * src/driver/; this file only turns argv into driver_opts and results into report_load. */
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "driver/driver.h"
#include "report/report.h"
#include "scenario/scenario.h"
#include "wire/wire.h"

static const char help[] =
    "usage: diorama load URL [options]\n"
    "\n"
    "Sends HTTP/1.1 requests to URL at a fixed rate (open loop: each request has an intended\n"
    "send time and latency is measured from it, so a slow target cannot slow the test down\n"
    "and hide its own latency), then reports latency percentiles, errors and the achieved\n"
    "rate. Ctrl-C ends the run early and still reports.\n"
    "\n"
    "rate:\n"
    "  --rate R               requests per second in total (default 50); 'max' = closed loop,\n"
    "                         every connection sends again as soon as it has an answer (wrk)\n"
    "  --rate 'STAGE ...'     stages, space separated: 'FROM:TO,D' ramps, 'R,D' holds, e.g.\n"
    "                         --rate 0:100,30s 100,2m 100:0,30s (the run lasts their sum)\n"
    "  -d, --duration D       run length: 300, 300s, 5m (default 10s; not with stages)\n"
    "  --arrival constant|poisson  spacing of requests (default constant)\n"
    "  -c, --connections N    connection cap (default 256 open loop, 10 with --rate max); open\n"
    "                         loop starts with what the peak rate needs and grows to N\n"
    "  -t, --threads N        threads, each with its own event loop (default 2, at most -c)\n"
    "  --timeout D            per request (default 10s)\n"
    "  --late D               a request sent more than D after its time is late (default 10ms)\n"
    "\n"
    "requests:\n"
    "  --url URL              the target (instead of the positional URL)\n"
    "  --scenario S           spread requests over a scenario's HTTP entry routes (built-in\n"
    "                         name or file) by their rates, paths appended to URL; --rate\n"
    "                         defaults to the scenario's total (try: diorama serve S)\n"
    "  -X, --method M         default GET without a body; POST when a body goes out (--body,\n"
    "                         --body-file, --corpus, --mode); -X POST alone sends the corpus\n"
    "  -H, --header 'K: V'    extra request header (repeatable)\n"
    "  --body S, --body-file F  the request body (implies POST)\n"
    "  --corpus FILE          bodies: one per line ({...} as is, text as {\"text\": ...}) or a\n"
    "                         JSON array of strings/objects\n"
    "  --mode M               normal_traffic (default), latency_injection, error_injection,\n"
    "                         token_bloat (see docs/load.md)\n"
    "  --share P              share of requests that carry the mode's failure: 30% or 0.3\n"
    "                         (defaults: latency 30%, errors 50%, token_bloat 100%)\n"
    "  --client-delay D       latency_injection: also hold the affected requests D in diorama\n"
    "                         before sending (for targets that ignore X-Diorama-Delay)\n"
    "  --tag-header NAME      default X-Traffic-Type\n"
    "  --tag-value V          default DIORAMA_<MODE>, e.g. DIORAMA_LATENCY_INJECTION\n"
    "  --seed N               which requests get which body and failure (default 1)\n"
    "\n"
    "results:\n"
    "  --threshold EXPR       e.g. 'p99<200ms,errors<0.1%,rate>990' (p50..p999, max, mean,\n"
    "                         errors, rate; < <= > >=); a failed one gives exit code 7\n"
    "  --json FILE            the report as JSON (docs/load-json.md), with the HDR histogram\n"
    "  --html FILE            a self-contained HTML report with charts\n"
    "  -q, --quiet            no progress line    -v, --verbose  scheduler details\n"
    "\n"
    "exit codes: 0 ok, 1 runtime error, 2 usage, 3 bad scenario, 4 no request succeeded (no\n"
    "response, or only 4xx/5xx), 7 a threshold failed.\n";

enum {
    O_RATE = 256,
    O_ARRIVAL,
    O_TIMEOUT,
    O_LATE,
    O_URL,
    O_SCENARIO,
    O_BODY,
    O_BODY_FILE,
    O_CORPUS,
    O_MODE,
    O_SHARE,
    O_CLIENT_DELAY,
    O_TAG_HEADER,
    O_TAG_VALUE,
    O_SEED,
    O_THRESHOLD,
    O_JSON,
    O_HTML,
};

static const struct option longopts[] = {
    {"rate", 1, 0, O_RATE},
    {"duration", 1, 0, 'd'},
    {"arrival", 1, 0, O_ARRIVAL},
    {"connections", 1, 0, 'c'},
    {"threads", 1, 0, 't'},
    {"timeout", 1, 0, O_TIMEOUT},
    {"late", 1, 0, O_LATE},
    {"url", 1, 0, O_URL},
    {"scenario", 1, 0, O_SCENARIO},
    {"method", 1, 0, 'X'},
    {"header", 1, 0, 'H'},
    {"body", 1, 0, O_BODY},
    {"body-file", 1, 0, O_BODY_FILE},
    {"corpus", 1, 0, O_CORPUS},
    {"mode", 1, 0, O_MODE},
    {"share", 1, 0, O_SHARE},
    {"client-delay", 1, 0, O_CLIENT_DELAY},
    {"tag-header", 1, 0, O_TAG_HEADER},
    {"tag-value", 1, 0, O_TAG_VALUE},
    {"seed", 1, 0, O_SEED},
    {"threshold", 1, 0, O_THRESHOLD},
    {"json", 1, 0, O_JSON},
    {"html", 1, 0, O_HTML},
    {"quiet", 0, 0, 'q'},
    {"verbose", 0, 0, 'v'},
    {"help", 0, 0, 'h'},
    {0, 0, 0, 0},
};

struct load {
    struct driver_opts o;
    const char *url, *rate, *duration, *body_file, *corpus_file, *json, *html;
    const char *scenario_name; /* --scenario */
    struct scenario *scn;
    struct driver_route routes[DRIVER_MAX_ROUTES];
    char rate_s[32]; /* the scenario's total rate, when --rate is not given */
    char threshold_s[1024];
    struct driver_threshold th[DRIVER_MAX_THRESHOLDS];
    int nth;
    char *body;
    struct driver_corpus corpus;
    int quiet, verbose, conns_set, threads_set, mode_set;
};

static int usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cli_fail(CLI_ERR_USAGE, "load: %s", msg);
    fputs("run 'diorama load --help' for the options\n", stderr);
    return CLI_ERR_USAGE;
}

/* ---- argv ------------------------------------------------------------------------------ */

/* "100,2m" or "100:0,30s": the words after --rate that continue its stages. */
static int stage_word(const char *s)
{
    return (s[0] >= '0' && s[0] <= '9') && strchr(s, ',') && !strstr(s, "://");
}

/* getopt sees one word per option; --rate's further stage words are joined into its value
 * here so that `--rate 0:100,30s 100,2m` reads as users write it. Returns a new argv whose
 * strings are argv's, except the joined --rate values, which the caller frees. */
static char **join_stages(int argc, char **argv, int *nargc)
{
    char **out = core_calloc((size_t)argc + 1, sizeof *out);
    int n = 0;
    for (int i = 0; i < argc; i++) {
        out[n++] = argv[i];
        int eq = !strncmp(argv[i], "--rate=", 7);
        if ((strcmp(argv[i], "--rate") && !eq) || (!eq && i + 1 >= argc))
            continue;
        if (!eq)
            out[n++] = argv[++i];
        struct core_buf b;
        core_buf_init(&b, 1 << 16);
        core_buf_puts(&b, out[n - 1]);
        while (i + 1 < argc && stage_word(argv[i + 1])) {
            core_buf_putc(&b, ' ');
            core_buf_puts(&b, argv[++i]);
        }
        core_buf_putc(&b, '\0');
        out[n - 1] = (char *)b.p;
    }
    *nargc = n;
    return out;
}

static int in_argv(const char *s, int argc, char **argv)
{
    for (int i = 0; i < argc; i++)
        if (argv[i] == s)
            return 1;
    return 0;
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

static int parse_share(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || !isfinite(v) || v < 0)
        return -1;
    if (*end == '%' && !end[1])
        v /= 100;
    else if (*end)
        return -1;
    else if (v > 1)
        v /= 100; /* "30" means 30% */
    if (v > 1)
        return -1;
    *out = v;
    return 0;
}

static int opt_duration(const char *flag, const char *s, uint64_t *ns)
{
    if (core_parse_duration(s, ns) || *ns == 0)
        return usage("bad duration for %s (e.g. 300, 300s, 5m, 250ms)", flag);
    return 0;
}

static int opt_value(struct load *l, int c, const char *arg)
{
    struct driver_opts *o = &l->o;
    switch (c) {
    case O_RATE:
        l->rate = arg;
        return 0;
    case 'd':
        l->duration = arg;
        return 0;
    case O_ARRIVAL:
        if (strcmp(arg, "constant") && strcmp(arg, "poisson"))
            return usage("--arrival: constant or poisson, not '%s'", arg);
        o->poisson = !strcmp(arg, "poisson");
        return 0;
    case 'c':
        l->conns_set = 1;
        return parse_int(arg, 1, 1000000, &o->connections) ? usage("bad -c '%s'", arg) : 0;
    case 't':
        l->threads_set = 1;
        return parse_int(arg, 1, 1024, &o->threads) ? usage("bad -t '%s'", arg) : 0;
    case O_TIMEOUT:
        return opt_duration("--timeout", arg, &o->timeout_ns);
    case O_LATE:
        return opt_duration("--late", arg, &o->late_ns);
    case O_CLIENT_DELAY:
        return opt_duration("--client-delay", arg, &o->client_delay_ns);
    case O_URL:
        l->url = arg;
        return 0;
    case 'X':
        if (!*arg || strpbrk(arg, " \t\r\n"))
            return usage("bad method '%s'", arg);
        o->method = arg;
        return 0;
    case 'H':
        if (!driver_header_ok(arg))
            return usage("bad header '%s' (want 'Name: value')", arg);
        if (o->nheaders == DRIVER_MAX_HEADERS)
            return usage("too many headers (%d at most)", DRIVER_MAX_HEADERS);
        o->headers[o->nheaders++] = arg;
        return 0;
    }
    return -1;
}

static int opt_value2(struct load *l, int c, const char *arg)
{
    struct driver_opts *o = &l->o;
    switch (c) {
    case O_BODY:
        o->body = arg, o->body_len = strlen(arg);
        return 0;
    case O_BODY_FILE:
        l->body_file = arg;
        return 0;
    case O_CORPUS:
        l->corpus_file = arg;
        return 0;
    case O_SCENARIO:
        l->scenario_name = arg;
        return 0;
    case O_MODE:
        l->mode_set = 1;
        if ((o->mode = driver_mode_parse(arg)) < 0)
            return usage("unknown mode '%s' (normal_traffic, latency_injection, "
                         "error_injection, token_bloat)",
                         arg);
        return 0;
    case O_SHARE:
        return parse_share(arg, &o->share) ? usage("bad --share '%s'", arg) : 0;
    case O_TAG_HEADER:
        if (!*arg || strpbrk(arg, ": \t\r\n"))
            return usage("bad --tag-header '%s'", arg);
        o->tag_header = arg;
        return 0;
    case O_TAG_VALUE:
        if (strpbrk(arg, "\r\n"))
            return usage("bad --tag-value '%s'", arg);
        o->tag_value = arg;
        return 0;
    case O_SEED:
        return cli_parse_u64(arg, UINT64_MAX, &o->seed)
                   ? usage("bad --seed '%s' (an integer 0 .. 18446744073709551615)", arg)
                   : 0;
    case O_THRESHOLD:
        if (strlen(l->threshold_s) + strlen(arg) + 2 >= sizeof l->threshold_s)
            return usage("--threshold too long");
        strcat(l->threshold_s, l->threshold_s[0] ? "," : "");
        strcat(l->threshold_s, arg);
        return 0;
    case O_JSON:
        l->json = arg;
        return 0;
    case O_HTML:
        l->html = arg;
        return 0;
    case 'q':
        l->quiet = 1;
        return 0;
    case 'v':
        l->verbose = 1;
        return 0;
    }
    return usage("unknown option");
}

static void defaults(struct load *l)
{
    memset(l, 0, sizeof *l);
    l->o.share = -1;
    l->o.seed = 1;
    l->o.threads = 2;
    l->o.timeout_ns = 10000000000ULL;
    l->o.late_ns = 10000000ULL;
    l->o.stop = &cli_stop;
}

static int parse_argv(struct load *l, int argc, char **argv)
{
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":d:c:t:X:H:qvh", longopts, NULL)) != -1) {
        if (c == 'h') {
            fputs(help, stdout);
            return -1;
        }
        if (c == '?')
            return usage("unknown option '%s'", argv[optind - 1]);
        if (c == ':')
            return usage("option '%s' needs a value", argv[optind - 1]);
        int rc = opt_value(l, c, optarg);
        if (rc == -1)
            rc = opt_value2(l, c, optarg);
        if (rc)
            return rc;
    }
    for (; optind < argc; optind++) {
        if (l->url)
            return usage("unexpected argument '%s'", argv[optind]);
        l->url = argv[optind];
    }
    return 0;
}

/* ---- checks after parsing --------------------------------------------------------------- */

/* Whole file into a NUL-terminated string, at most max bytes. */
static char *slurp(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct core_buf b;
    core_buf_init(&b, max + 1);
    char chunk[65536];
    size_t n;
    int rc = 0;
    while (!rc && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        rc = core_buf_append(&b, chunk, n);
    fclose(f);
    if (rc || core_buf_putc(&b, '\0')) {
        core_buf_free(&b);
        return NULL;
    }
    *len = b.len - 1;
    return (char *)b.p;
}

static int check_rate(struct load *l)
{
    struct driver_opts *o = &l->o;
    char err[256];
    uint64_t dur = 10000000000ULL;
    if (l->duration && opt_duration("--duration", l->duration, &dur))
        return CLI_ERR_USAGE;
    o->duration_ns = dur;
    const char *rate = l->rate ? l->rate : "50";
    if (!strcmp(rate, "max")) {
        o->closed_loop = 1;
        return 0;
    }
    if (driver_schedule_parse(rate, dur, &o->sched, err, sizeof err))
        return usage("--rate: %s", err);
    if (o->sched.n > 1 && l->duration)
        return usage("--duration: %s", "rate stages set the length; drop --duration");
    if (o->sched.total < 1)
        return usage("--rate: %s", "the schedule asks for no request at all");
    return 0;
}

static int check_inputs(struct load *l)
{
    struct driver_opts *o = &l->o;
    char err[256];
    size_t n;
    if (l->body_file) {
        if (o->body)
            return usage("--body and --body-file: %s", "give one");
        if (!(l->body = slurp(l->body_file, 64u << 20, &n)))
            return cli_fail(CLI_ERR_RUNTIME, "--body-file %s: cannot read (or over 64 MiB)",
                            l->body_file);
        o->body = l->body, o->body_len = n;
    }
    if (l->corpus_file) {
        char *d = slurp(l->corpus_file, 64u << 20, &n);
        if (!d)
            return cli_fail(CLI_ERR_RUNTIME, "--corpus %s: cannot read (or over 64 MiB)",
                            l->corpus_file);
        int rc = driver_corpus_parse(d, n, &l->corpus, err, sizeof err);
        core_free(d);
        if (rc)
            return usage("%s", err);
        o->corpus = &l->corpus;
    }
    if (l->threshold_s[0]) {
        l->nth =
            driver_threshold_parse(l->threshold_s, l->th, DRIVER_MAX_THRESHOLDS, err, sizeof err);
        if (l->nth < 0)
            return usage("--threshold: %s", err);
    }
    return 0;
}

/* Prints the routes and their shares (one line, stderr) unless quiet. */
static void say_routes(const struct load *l, double total)
{
    if (l->quiet)
        return;
    fprintf(stderr, "diorama: load: scenario %s, %d route%s:", l->scn->name, l->o.nroutes,
            l->o.nroutes == 1 ? "" : "s");
    for (int i = 0; i < l->o.nroutes; i++)
        fprintf(stderr, "%s %s %s %.1f%%", i ? "," : "", l->routes[i].method, l->routes[i].path,
                100 * l->routes[i].weight / total);
    fprintf(stderr, "%s%s\n",
            l->rate ? "" : "; rate from the scenario: ", l->rate ? "" : l->rate_s);
}

/* --scenario: the requests go to its HTTP entry routes, weighted by their rates. */
static int check_scenario(struct load *l)
{
    if (!l->scenario_name)
        return 0;
    if (l->o.method || l->o.body || l->body_file)
        return usage("--scenario: %s", "the routes set method and path; drop -X/--body");
    if (cli_load_scenario(l->scenario_name, &l->scn))
        return CLI_ERR_SCENARIO;
    double total;
    l->o.routes = l->routes;
    l->o.nroutes = driver_routes_from_scenario(l->scn, l->routes, DRIVER_MAX_ROUTES, &total);
    if (l->o.nroutes == 0 || total <= 0)
        return cli_fail(CLI_ERR_SCENARIO,
                        "load: scenario %s has no HTTP entry route (an operation named "
                        "'METHOD /path' with a rate, or a model's entry)",
                        l->scn->name);
    snprintf(l->rate_s, sizeof l->rate_s, "%.6g", total);
    say_routes(l, total);
    if (!l->rate)
        l->rate = l->rate_s;
    return 0;
}

/* A bare `load URL` sends GET without a body, as wrk, vegeta and k6 do. What asks for a body
 * (--body, --body-file, --corpus, --mode) makes it POST unless -X says otherwise; --scenario
 * takes each route's own method. */
static void default_method(struct load *l)
{
    struct driver_opts *o = &l->o;
    if (o->method || l->scenario_name || o->body || l->body_file || l->corpus_file || l->mode_set)
        return;
    o->method = "GET";
}

static int check(struct load *l)
{
    char err[256];
    if (!l->url)
        return usage("%s", "missing URL");
    default_method(l);
    if (driver_url_parse(l->url, &l->o.url, err, sizeof err))
        return usage("%s", err);
    int rc = check_scenario(l);
    if (rc)
        return rc;
    rc = check_rate(l);
    if (rc)
        return rc;
    if (!l->conns_set)
        l->o.connections = l->o.closed_loop ? 10 : 256;
    if (!l->threads_set && l->o.threads > l->o.connections)
        l->o.threads = l->o.connections;
    if (l->o.threads > l->o.connections)
        return usage("-t %d: at most one thread per connection (-c %d)", l->o.threads,
                     l->o.connections);
    return check_inputs(l);
}

/* ---- the run ---------------------------------------------------------------------------- */

static void progress_line(const struct load *l, const struct driver_progress *p, int tty)
{
    char p50[32], p99[32];
    core_format_duration((uint64_t)p->p50_us * 1000, p50, sizeof p50);
    core_format_duration((uint64_t)p->p99_us * 1000, p99, sizeof p99);
    double target =
        l->o.closed_loop ? 0 : driver_schedule_count(&l->o.sched, (uint64_t)(p->elapsed_s * 1e9));
    char line[256];
    snprintf(line, sizeof line,
             "%6.1fs  sent %llu (due %.0f)  done %llu  rate %.0f/s  p50 %s  p99 %s  errors %llu  "
             "late %llu  conns %d",
             p->elapsed_s, (unsigned long long)p->sent, target, (unsigned long long)p->done,
             p->elapsed_s > 0 ? (double)p->done / p->elapsed_s : 0, p50, p99,
             (unsigned long long)p->errors, (unsigned long long)p->late, p->connections);
    fprintf(stderr, tty ? "\r\033[K%s" : "%s\n", line);
}

static void watch(const struct load *l, struct driver_run *run)
{
    int tty = isatty(STDERR_FILENO);
    uint64_t every = tty ? 250000000ULL : 10000000000ULL, next = core_mono_ns() + every;
    struct driver_progress p;
    while (driver_poll(run, &p)) {
        core_sleep_until_ns(core_mono_ns() + 100000000ULL);
        if (!l->quiet && core_mono_ns() >= next) {
            progress_line(l, &p, tty);
            next += every;
        }
    }
    if (!l->quiet && tty)
        fputs("\r\033[K", stderr);
}

static struct report_load_second *timeline(const struct driver_result *res)
{
    struct report_load_second *t = core_calloc(res->ntimeline + 1, sizeof *t);
    for (size_t i = 0; i < res->ntimeline; i++) {
        const struct driver_second *s = &res->timeline[i];
        double w = s->width > 0 ? s->width : 1;
        t[i] = (struct report_load_second){s->t_s,
                                           (double)s->sent / w,
                                           (double)s->done / w,
                                           s->errors,
                                           s->p50,
                                           s->p90,
                                           s->p99,
                                           s->max,
                                           w,
                                           s->late};
    }
    return t;
}

/* --scenario: the routes' shares and results, into out (DRIVER_MAX_ROUTES entries). */
static size_t fill_routes(const struct load *l, const struct driver_result *res,
                          struct report_route *out)
{
    double total = 0;
    for (int i = 0; i < l->o.nroutes; i++)
        total += l->o.routes[i].weight;
    for (int i = 0; i < res->nroutes; i++) {
        const struct driver_route *rt = &l->o.routes[i];
        out[i] = (struct report_route){rt->method,
                                       rt->path,
                                       rt->weight / total,
                                       res->routes[i].requests,
                                       res->routes[i].errors,
                                       &res->routes[i].latency};
    }
    return (size_t)res->nroutes;
}

static void fill_report(const struct load *l, const struct driver_result *res,
                        struct report_load *r)
{
    const struct driver_opts *o = &l->o;
    memset(r, 0, sizeof *r);
    r->url = l->url;
    r->method = o->method ? o->method : "POST"; /* without -X a body always goes out */
    if (o->nroutes) {
        r->scenario = l->scn->name;
        r->method = o->routes[0].method;
        for (int i = 1; i < o->nroutes; i++)
            if (strcmp(o->routes[i].method, r->method))
                r->method = "mixed";
    }
    r->mode = driver_mode_name(o->mode);
    r->threads = o->threads, r->connections = o->connections;
    r->connections_open = res->max_connections;
    r->closed_loop = o->closed_loop;
    r->planned_s = (double)(o->closed_loop ? o->duration_ns : o->sched.total_ns) / 1e9;
    r->sent = res->sent, r->unfinished = res->unfinished;
    double total_s = (double)o->sched.total_ns / 1e9;
    r->target_rate = o->closed_loop ? 0 : o->sched.total / total_s;
    r->duration_s = res->send_seconds;
    r->achieved_rate = res->send_seconds > 0 ? (double)res->requests / res->send_seconds : 0;
    r->requests = res->requests, r->errors = res->errors;
    r->late = res->late, r->dropped = res->dropped, r->injected = res->injected;
    r->connect_errors = res->connect_errors, r->timeouts = res->timeouts;
    r->read_errors = res->read_errors, r->write_errors = res->write_errors;
    memcpy(r->status, res->status, sizeof r->status);
    memcpy(r->status_codes, res->status_codes, sizeof r->status_codes);
    r->bytes_read = res->bytes_read, r->bytes_written = res->bytes_written;
    r->latency = &res->latency;
    r->jitter = &res->jitter, r->send_delay = &res->send_delay;
    r->conn_waits = res->conn_waits;
    r->ntimeline = res->ntimeline;
}

static int write_file(const char *path, const struct core_buf *b)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return cli_fail(CLI_ERR_RUNTIME, "%s: cannot open for writing", path);
    int bad = fwrite(b->p, 1, b->len, f) != b->len;
    bad |= fclose(f) != 0;
    return bad ? cli_fail(CLI_ERR_RUNTIME, "%s: write failed", path) : 0;
}

static int outputs(const struct load *l, const struct report_load *r, const struct core_hdr *h)
{
    struct core_buf b, hb;
    int rc = 0;
    core_buf_init(&b, 256u << 20);
    if (report_load_text(r, &b) == 0)
        fwrite(b.p, 1, b.len, stdout);
    fflush(stdout);
    if (l->json) {
        core_buf_init(&hb, 64u << 20);
        core_buf_reset(&b);
        if (wire_hdr_encode(h, &hb) || core_buf_putc(&hb, '\0') ||
            report_load_json(r, (const char *)hb.p, &b))
            rc = cli_fail(CLI_ERR_RUNTIME, "--json: could not build the report");
        else
            rc = write_file(l->json, &b);
        core_buf_free(&hb);
    }
    if (l->html && !rc) {
        core_buf_reset(&b);
        rc = report_load_html(r, &b)
                 ? cli_fail(CLI_ERR_RUNTIME, "--html: could not build the report")
                 : write_file(l->html, &b);
    }
    core_buf_free(&b);
    return rc;
}

static void verbose_lines(const struct driver_result *res)
{
    fprintf(stderr,
            "diorama: sent %llu, responses %llu, unfinished %llu, late %llu, dropped %llu, "
            "injected %llu, connections opened at most %d\n",
            (unsigned long long)res->sent, (unsigned long long)res->requests,
            (unsigned long long)res->unfinished, (unsigned long long)res->late,
            (unsigned long long)res->dropped, (unsigned long long)res->injected,
            res->max_connections);
    if (res->jitter.total + res->send_delay.total == 0)
        return;
    fprintf(stderr,
            "diorama: scheduler jitter (handed to a connection - due) p50 %lldus p99 %lldus "
            "max %lldus\n",
            (long long)core_hdr_value_at(&res->jitter, 50),
            (long long)core_hdr_value_at(&res->jitter, 99),
            (long long)(res->jitter.total ? res->jitter.max : 0));
    fprintf(stderr,
            "diorama: send delay (first byte written - due) p50 %lldus p99 %lldus max %lldus; "
            "%llu found every connection busy (at most %d open)\n",
            (long long)core_hdr_value_at(&res->send_delay, 50),
            (long long)core_hdr_value_at(&res->send_delay, 99),
            (long long)(res->send_delay.total ? res->send_delay.max : 0),
            (unsigned long long)res->conn_waits, res->max_connections);
}

/* The most frequent status code among the responses (0 if none). */
static int top_status(const struct driver_result *res)
{
    int top = 0;
    for (int c = 100; c < 600; c++)
        if (res->status_codes[c] > res->status_codes[top])
            top = c;
    return top;
}

/* Not one request succeeded (no response, or only 4xx/5xx): one line that says so and what
 * the commonest answer suggests; 1 in that case. */
static int no_success(const struct load *l, const struct driver_result *res)
{
    uint64_t ok = res->status[1] + res->status[2] + res->status[3];
    if (ok)
        return 0;
    if (res->requests == 0) {
        cli_fail(CLI_ERR_NOTHING,
                 "load: no request succeeded: no response at all (%llu "
                 "connect, %llu timeout, %llu read, %llu write errors)",
                 (unsigned long long)res->connect_errors, (unsigned long long)res->timeouts,
                 (unsigned long long)res->read_errors, (unsigned long long)res->write_errors);
        return 1;
    }
    int top = top_status(res);
    const char *method = l->o.nroutes ? "the routes' methods" : l->o.method ? l->o.method : "POST";
    char h[160] = "";
    if (top == 405)
        snprintf(h, sizeof h, "; 405: the route does not take %s (try -X or --body)", method);
    else if (top == 404)
        snprintf(h, sizeof h, "; 404: check the URL's path");
    cli_fail(CLI_ERR_NOTHING,
             "load: no request succeeded: all %llu responses were 4xx/5xx "
             "(most: %d, %llu times)%s",
             (unsigned long long)res->requests, top, (unsigned long long)res->status_codes[top], h);
    return 1;
}

static int finish(struct load *l, struct driver_result *res)
{
    struct report_load r;
    struct report_route routes[DRIVER_MAX_ROUTES];
    struct report_threshold th[DRIVER_MAX_THRESHOLDS];
    double actual[DRIVER_MAX_THRESHOLDS];
    int passed[DRIVER_MAX_THRESHOLDS];
    fill_report(l, res, &r);
    r.routes = routes;
    r.nroutes = fill_routes(l, res, routes);
    struct report_load_second *tl = timeline(res);
    r.timeline = tl;
    int failed = driver_threshold_check(l->th, l->nth, res, r.target_rate, actual, passed);
    for (int i = 0; i < l->nth; i++)
        th[i] = (struct report_threshold){l->th[i].expr, actual[i], passed[i],
                                          driver_threshold_unit(&l->th[i])};
    r.thresholds = th;
    r.nthresholds = (size_t)l->nth;
    if (l->verbose)
        verbose_lines(res);
    int rc = outputs(l, &r, &res->latency);
    core_free(tl);
    if (rc)
        return rc;
    if (no_success(l, res))
        return CLI_ERR_NOTHING;
    if (failed)
        return cli_fail(CLI_ERR_THRESHOLD, "load: %d threshold%s failed", failed,
                        failed > 1 ? "s" : "");
    return CLI_OK;
}

static int run(struct load *l)
{
    char err[512];
    cli_install_signals();
    if (l->verbose)
        core_log_level = CORE_LOG_DEBUG;
    struct driver_run *run = driver_start(&l->o, err, sizeof err);
    if (!run)
        return cli_fail(CLI_ERR_RUNTIME, "load: %s", err);
    watch(l, run);
    struct driver_result res;
    driver_finish(run, &res);
    int rc = finish(l, &res);
    driver_result_free(&res);
    return rc;
}

int cli_load(int argc, char **argv)
{
    struct load l;
    int nargc, rc;
    defaults(&l);
    char **args = join_stages(argc, argv, &nargc);
    rc = parse_argv(&l, nargc, args);
    if (rc == 0)
        rc = check(&l);
    if (rc == 0)
        rc = run(&l);
    else if (rc < 0)
        rc = CLI_OK; /* --help */
    core_free(l.body);
    driver_corpus_free(&l.corpus);
    if (l.scn)
        scenario_free(l.scn);
    for (int i = 0; i < nargc; i++) /* the joined --rate values are ours, the rest argv's */
        if (!in_argv(args[i], argc, argv))
            core_free(args[i]);
    core_free(args);
    return rc;
}
