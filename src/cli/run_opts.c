/* diorama run: flags, defaults and help. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/dataset.h"
#include "cli/run.h"
#include "cli/tui.h"

static const char help[] =
    "usage: diorama run [SCENARIO] [options]\n"
    "\n"
    "Runs SCENARIO (a built-in name or a YAML file; default: inference) and exports the\n"
    "traces, metrics and logs of the simulated system. Stop with Ctrl-C: generation stops and\n"
    "queued records are flushed within --shutdown-timeout.\n"
    "\n"
    "simulation:\n"
    "  --seed N               random seed (default: the scenario's, else 1)\n"
    "  --speed N|max          simulated seconds per wall second (default 1); max = no sleeping\n"
    "  --duration D           simulated run length: 300, 300s, 5m, 1h, 250ms (default: the\n"
    "                         scenario's, else until stopped)\n"
    "  --start TIME           simulated start: RFC 3339, unix seconds or 'now' (default now;\n"
    "                         with --speed max 2026-01-01T00:00:00Z, so output is reproducible)\n"
    "  --metric-interval D    metric export interval (default: the scenario's, else 10s)\n"
    "  --signals LIST         traces,metrics,logs (default all)\n"
    "  --no-verify-attrs      omit diorama.seq / diorama.gen_time_unix_nano / diorama.run_id\n"
    "  --run-id ID            diorama.run_id of this run (default: a hash of the scenario's\n"
    "                         content, seed, shard and start; 1-63 of A-Za-z0-9._:-)\n"
    "  --max-series N         refuse a scenario whose world has more metric series than N\n"
    "                         (default 1000000; memory grows with them, docs/scenario-format.md)\n"
    "\n"
    "outputs (any combination; with none but --prom-listen, OTLP/HTTP to\n"
    "$OTEL_EXPORTER_OTLP_ENDPOINT or http://localhost:4318):\n"
    "  --otlp URL             OTLP/HTTP protobuf to URL (base URL; /v1/traces etc. appended);\n"
    "                         grpc://HOST:PORT = OTLP/gRPC (h2c, e.g. grpc://localhost:4317),\n"
    "                         grpcs://HOST:PORT = OTLP/gRPC over TLS\n"
    "  --otlp-protocol P      http/protobuf (default), http/json (OTLP/JSON bodies) or grpc\n"
    "                         (default $OTEL_EXPORTER_OTLP_PROTOCOL)\n"
    "  --compression gzip|none  OTLP body compression, gRPC: grpc-encoding (default none, or\n"
    "                         $OTEL_EXPORTER_OTLP_COMPRESSION)\n"
    "  -H, --header 'K: V'    extra OTLP/HTTP header (repeatable; also K=V)\n"
    "  --otlp-file PATH       OTLP/JSON lines, one Export*ServiceRequest per line ('-' = stdout)\n"
    "  --null                 encode to OTLP protobuf and discard (benchmarking)\n"
    "  --dataset DIR          training data: one row per entity and metric interval with its\n"
    "                         state and active fault labels, in DIR/metrics.csv and\n"
    "                         DIR/metrics.parquet; a scenario's business metrics in\n"
    "                         DIR/business.{csv,parquet} (docs/dataset.md)\n"
    "  --dataset-format F     csv, parquet or both (default both)\n"
    "  --influx URL           metric points as InfluxDB line protocol, POSTed to an InfluxDB 1.x\n"
    "                         or VictoriaMetrics /write, e.g. http://127.0.0.1:8086/write?db=dio\n"
    "                         (docs/influx.md; credentials: user:pass@, u=/p=, $INFLUX_USERNAME/\n"
    "                         $INFLUX_PASSWORD or $INFLUX_TOKEN; --compression gzip applies)\n"
    "  --openmetrics-file PATH  the whole run's metrics as one OpenMetrics text file, for\n"
    "                         promtool tsdb create-blocks-from openmetrics (docs/openmetrics.md)\n"
    "  --remote-write URL     metrics by Prometheus remote write (snappy protobuf) to URL, e.g.\n"
    "                         http://127.0.0.1:9090/api/v1/write; user:pass@ = basic auth,\n"
    "                         $DIORAMA_REMOTE_WRITE_BEARER = bearer token (docs/remote-write.md)\n"
    "  --remote-write-version 1|2  protocol version (default 1; 2 falls back to 1 on a 415)\n"
    "  --remote-write-max-samples N  samples per request (default 2000)\n"
    "  --remote-write-shards N  requests in flight, series split among them (default 1; 1..64)\n"
    "  --postgres URL         rows into PostgreSQL tables via COPY (docs/postgres.md);\n"
    "                         postgresql://[user[:password]@]host[:port]/db, or PG* env\n"
    "  --prom-listen ADDR     serve Prometheus /metrics on ADDR (e.g. 127.0.0.1:9464; a bare\n"
    "                         port is 127.0.0.1, :PORT every interface; docs/listeners.md)\n"
    "  --prom-max-bytes N     largest /metrics answer, suffixes k/M (default 64M; larger\n"
    "                         scrapes get 503, are logged and counted)\n"
    "  --prom-max-connections N, --prom-header-timeout D, --prom-idle-timeout D\n"
    "                         the /metrics listener's caps (default 4096, 10s, 60s)\n"
    "  --linger D             after the run, keep serving /metrics for D (Ctrl-C ends it):\n"
    "                         lets Prometheus scrape a --speed max or short run\n"
    "  --labels FILE          write every injected fault and state change as a JSON line\n"
    "                         (ground truth; flushed as written in real-time runs)\n"
    "  --control ADDR         serve the control API on ADDR (docs/control-api.md): read the\n"
    "                         world, change entity states live (labelled source: command)\n"
    "  --chaos SPEC           a seeded chaos scheduler: random states held a while, e.g.\n"
    "                         every=10m,hold=1m-3m,max=2[,seed=N] (docs/control-api.md)\n"
    "  --control-token T      changes need 'Authorization: Bearer T' (default\n"
    "                         $DIORAMA_CONTROL_TOKEN; required off loopback)\n"
    "  --serve ADDR           also answer the scenario's routes as real HTTP endpoints on\n"
    "                         ADDR (what `diorama serve` does), planned by the same world:\n"
    "                         real requests' spans, logs and metrics join the run's outputs\n"
    "  --summary-json FILE    write the final summary as JSON (docs/summary-json.md)\n"
    "\n"
    "batching and delivery:\n"
    "  --batch-size N         records per export request (default 1024; metrics 4096)\n"
    "  --batch-timeout D      send a partial batch after D (default 1s)\n"
    "  --queue-size N         batches queued per signal before blocking/dropping (default 64)\n"
    "  --on-full block|drop   when the queue is full (default: block with --speed max, else drop)\n"
    "  --shutdown-timeout D   how long to flush on exit (default 5s)\n"
    "\n"
    "  --tui                  a full-screen live view on the terminal instead of the status\n"
    "                         line: rates, errors, p50/p99, hosts, faults, outputs (q stops;\n"
    "                         stdout must be a terminal, else exit 2; docs/cli.md)\n"
    "  -q, --quiet            no status line, no warnings (errors still print)\n"
    "  -v, --verbose          log more\n"
    "\n"
    "environment: OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT,\n"
    "OTEL_EXPORTER_OTLP_HEADERS, OTEL_EXPORTER_OTLP_COMPRESSION, OTEL_EXPORTER_OTLP_TIMEOUT,\n"
    "OTEL_EXPORTER_OTLP_PROTOCOL, INFLUX_USERNAME, INFLUX_PASSWORD, INFLUX_TOKEN,\n"
    "DIORAMA_REMOTE_WRITE_BEARER,\n"
    "OTEL_SERVICE_NAME (becomes service.namespace), OTEL_RESOURCE_ATTRIBUTES,\n"
    "DIORAMA_CONTROL_TOKEN.\n"
    "exit codes: 0 ok, 1 runtime error, 2 usage, 3 bad scenario, 4 nothing delivered,\n"
    "5 some records dropped.\n";

enum {
    O_SEED = 256,
    O_RUN_ID,
    O_SPEED,
    O_DURATION,
    O_START,
    O_METRIC_INTERVAL,
    O_SIGNALS,
    O_NO_VERIFY,
    O_OTLP,
    O_COMPRESSION,
    O_OTLP_FILE,
    O_NULL,
    O_DATASET,
    O_DATASET_FORMAT,
    O_POSTGRES,
    O_INFLUX,
    O_RW,
    O_RW_VERSION,
    O_RW_MAX_SAMPLES,
    O_RW_SHARDS,
    O_OM_FILE,
    O_OTLP_PROTOCOL,
    O_PROM,
    O_LABELS,
    O_SUMMARY,
    O_BATCH_SIZE,
    O_BATCH_TIMEOUT,
    O_QUEUE,
    O_ON_FULL,
    O_SHUTDOWN,
    O_MAX_SERIES,
    O_LINGER,
    O_CONTROL,
    O_CONTROL_TOKEN,
    O_CHAOS,
    O_SERVE,
    O_TUI,
    O_PROM_MAX_BYTES,
    O_PROM_MAX_CONN,
    O_PROM_HEADER_TIMEOUT,
    O_PROM_IDLE_TIMEOUT,
};

static const struct option longopts[] = {
    {"seed", 1, 0, O_SEED},
    {"run-id", 1, 0, O_RUN_ID},
    {"speed", 1, 0, O_SPEED},
    {"duration", 1, 0, O_DURATION},
    {"start", 1, 0, O_START},
    {"metric-interval", 1, 0, O_METRIC_INTERVAL},
    {"signals", 1, 0, O_SIGNALS},
    {"no-verify-attrs", 0, 0, O_NO_VERIFY},
    {"otlp", 1, 0, O_OTLP},
    {"compression", 1, 0, O_COMPRESSION},
    {"header", 1, 0, 'H'},
    {"otlp-file", 1, 0, O_OTLP_FILE},
    {"null", 0, 0, O_NULL},
    {"dataset", 1, 0, O_DATASET},
    {"dataset-format", 1, 0, O_DATASET_FORMAT},
    {"postgres", 1, 0, O_POSTGRES},
    {"influx", 1, 0, O_INFLUX},
    {"remote-write", 1, 0, O_RW},
    {"remote-write-version", 1, 0, O_RW_VERSION},
    {"remote-write-max-samples", 1, 0, O_RW_MAX_SAMPLES},
    {"remote-write-shards", 1, 0, O_RW_SHARDS},
    {"openmetrics-file", 1, 0, O_OM_FILE},
    {"otlp-protocol", 1, 0, O_OTLP_PROTOCOL},
    {"prom-listen", 1, 0, O_PROM},
    {"labels", 1, 0, O_LABELS},
    {"summary-json", 1, 0, O_SUMMARY},
    {"batch-size", 1, 0, O_BATCH_SIZE},
    {"batch-timeout", 1, 0, O_BATCH_TIMEOUT},
    {"queue-size", 1, 0, O_QUEUE},
    {"on-full", 1, 0, O_ON_FULL},
    {"shutdown-timeout", 1, 0, O_SHUTDOWN},
    {"prom-max-bytes", 1, 0, O_PROM_MAX_BYTES},
    {"prom-max-connections", 1, 0, O_PROM_MAX_CONN},
    {"prom-header-timeout", 1, 0, O_PROM_HEADER_TIMEOUT},
    {"prom-idle-timeout", 1, 0, O_PROM_IDLE_TIMEOUT},
    {"max-series", 1, 0, O_MAX_SERIES},
    {"linger", 1, 0, O_LINGER},
    {"control", 1, 0, O_CONTROL},
    {"control-token", 1, 0, O_CONTROL_TOKEN},
    {"chaos", 1, 0, O_CHAOS},
    {"serve", 1, 0, O_SERVE},
    {"tui", 0, 0, O_TUI},
    {"quiet", 0, 0, 'q'},
    {"verbose", 0, 0, 'v'},
    {"help", 0, 0, 'h'},
    {0, 0, 0, 0},
};

/* "2026-01-01T00:00:00Z", "2026-01-01T00:00:00.5+02:00", "1767225600", "now". Times after
 * RUN_MAX_TIME_NS are refused (a uint64 ns count would wrap past 2554 and write 2015). */
int run_parse_time(const char *s, uint64_t *unix_ns)
{
    uint64_t secs;
    if (!strcmp(s, "now")) {
        *unix_ns = core_wall_ns();
        return 0;
    }
    if (!cli_parse_u64(s, RUN_MAX_TIME_NS / 1000000000ULL, &secs)) {
        *unix_ns = secs * 1000000000ULL;
        return 0;
    }
    struct tm tm = {0};
    const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p)
        return -1;
    double frac = 0;
    if (*p == '.') {
        char *end;
        frac = strtod(p, &end);
        p = end;
    }
    long off = 0;
    int hh, mm;
    if (*p == 'Z' && p[1] == '\0')
        off = 0;
    else if ((*p == '+' || *p == '-') && sscanf(p + 1, "%2d:%2d", &hh, &mm) == 2 && !p[6])
        off = (*p == '+' ? 1 : -1) * (hh * 3600L + mm * 60L);
    else
        return -1;
    time_t t = timegm(&tm) - off;
    if (t < 0 || (uint64_t)t > RUN_MAX_TIME_NS / 1000000000ULL)
        return -1;
    *unix_ns = (uint64_t)t * 1000000000ULL + (uint64_t)(frac * 1e9);
    return *unix_ns > RUN_MAX_TIME_NS ? -1 : 0; /* the fraction may cross the last second */
}

/* --run-id: receivers key streams by it and it is written into JSON and labels unescaped, so
 * it is short and plain. */
static int run_id_ok(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n <= 63 &&
           strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-") == n;
}

static int parse_signals(const char *s, int *mask)
{
    static const char *const names[][2] = {
        {"traces", "spans"}, {"metrics", "points"}, {"logs", "logs"}};
    *mask = 0;
    char buf[128];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int found = 0;
        for (int i = 0; i < REC_NSIGNALS; i++)
            if (!strcmp(t, names[i][0]) || !strcmp(t, names[i][1]))
                *mask |= 1 << i, found = 1;
        if (!found)
            return -1;
    }
    return *mask ? 0 : -1;
}

static int add_header(struct run_opts *o, const char *h)
{
    const char *sep = strchr(h, ':');
    const char *eq = strchr(h, '=');
    if ((!sep && !eq) || strpbrk(h, "\r\n")) /* no header injection through a value */
        return -1;
    char buf[1024];
    if (sep)
        snprintf(buf, sizeof buf, "%s", h);
    else
        snprintf(buf, sizeof buf, "%.*s: %s", (int)(eq - h), h, eq + 1);
    if (buf[0] == ':' || buf[0] == ' ')
        return -1;
    o->headers = core_realloc(o->headers, (size_t)(o->nheaders + 2) * sizeof(char *));
    o->headers[o->nheaders++] = core_strdup(buf);
    o->headers[o->nheaders] = NULL;
    return 0;
}

/* --postgres: checked here so that a bad URL is a usage error before anything starts. */
static int run_postgres_flag(struct run_opts *o, const char *url)
{
    char err[768];
    if (export_pg_url_check(url, err, sizeof err))
        return cli_fail(CLI_ERR_USAGE, "--postgres: %s", err);
    o->postgres = url;
    return 0;
}

/* --remote-write*: the URL is checked here so that a bad one is a usage error (its password
 * masked in the message). Returns 0, an exit code, or -1 (not ours). */
static int apply_rw(struct run_opts *o, int c, const char *a)
{
    char err[768];
    uint64_t u;
    switch (c) {
    case O_RW:
        if (export_rw_url_check(a, err, sizeof err))
            return cli_fail(CLI_ERR_USAGE, "%s", err);
        o->remote_write = a;
        return 0;
    case O_RW_VERSION:
        if (strcmp(a, "1") && strcmp(a, "2") && strcmp(a, "1.0") && strcmp(a, "2.0"))
            return cli_bad_value("--remote-write-version", a, "1 or 2");
        o->rw_version = a[0] - '0';
        return 0;
    case O_RW_MAX_SAMPLES:
        if (cli_parse_u64(a, 1000000, &u) || !u)
            return cli_bad_value("--remote-write-max-samples", a, "an integer 1..1000000");
        o->rw_max_samples = (uint32_t)u;
        return 0;
    case O_RW_SHARDS:
        if (cli_parse_u64(a, 64, &u) || !u)
            return cli_bad_value("--remote-write-shards", a, "an integer 1..64");
        o->rw_shards = (int)u;
        return 0;
    default:
        return -1;
    }
}

/* --influx, --openmetrics-file, --otlp-protocol. Returns 0, an exit code, or -1 (not ours). */
static int apply_outputs(struct run_opts *o, int c, const char *a)
{
    char err[768];
    switch (c) {
    case O_INFLUX:
        if (export_influx_url_check(a, err, sizeof err))
            return cli_fail(CLI_ERR_USAGE, "%s", err);
        o->influx = a;
        return 0;
    case O_OM_FILE:
        o->openmetrics_file = a;
        return 0;
    case O_OTLP_PROTOCOL:
        return export_otlp_protocol_parse(a, &o->otlp_protocol)
                   ? cli_bad_value("--otlp-protocol", a, "http/protobuf, http/json or grpc")
                   : 0;
    default:
        return apply_rw(o, c, a);
    }
}

/* --dataset DIR is checked (created if missing) here: a bad one stops the run before it
 * starts. */
static int apply_dataset(struct run_opts *o, int c, const char *a)
{
    char err[4400];
    if (c == O_DATASET_FORMAT) {
        o->dataset_formats = cli_dataset_formats(a);
        return o->dataset_formats < 0 ? cli_bad_value("--dataset-format", a, "csv, parquet or both")
                                      : 0;
    }
    if (export_dataset_check_dir(a, err, sizeof err))
        return cli_fail(CLI_ERR_USAGE, "--dataset: %s", err);
    o->dataset = a;
    return 0;
}

/* The /metrics listener's flags (the caps every listener has, docs/listeners.md). */
static int apply_prom(struct run_opts *o, int c, const char *a)
{
    uint64_t u;
    switch (c) {
    case O_PROM_MAX_BYTES:
        if (cli_parse_bytes(a, &u) || u < 4096 || u > ((uint64_t)4 << 30))
            return cli_bad_value("--prom-max-bytes", a, "a size from 4k to 4G, like 64M");
        o->prom_max_bytes = (size_t)u;
        return 0;
    case O_PROM_MAX_CONN:
        return cli_listener_opt(CLI_LISTEN_MAX_CONNECTIONS, "--prom-max-connections", a,
                                &o->prom_http);
    case O_PROM_HEADER_TIMEOUT:
        return cli_listener_opt(CLI_LISTEN_HEADER_TIMEOUT, "--prom-header-timeout", a,
                                &o->prom_http);
    case O_PROM_IDLE_TIMEOUT:
        return cli_listener_opt(CLI_LISTEN_IDLE_TIMEOUT, "--prom-idle-timeout", a, &o->prom_http);
    default:
        return apply_outputs(o, c, a);
    }
}

/* Returns 0, or an exit code. */
static int apply(struct run_opts *o, int c, const char *a)
{
    uint64_t u;
    switch (c) {
    case O_SEED:
        if (cli_parse_u64(a, UINT64_MAX, &o->seed))
            return cli_bad_value("--seed", a, "an integer 0..18446744073709551615");
        o->has_seed = 1;
        return 0;
    case O_SPEED:
        if (!strcmp(a, "max")) {
            o->speed = 0;
            return 0;
        }
        o->speed = strtod(a, NULL);
        return o->speed > 0 && o->speed <= 1e9
                   ? 0
                   : cli_bad_value("--speed", a, "a positive number or max");
    case O_DURATION:
        o->has_duration = 1;
        return core_parse_duration(a, &o->duration_ns)
                   ? cli_bad_value("--duration", a, "a duration like 10m")
                   : 0;
    case O_START:
        o->has_start = 1;
        return run_parse_time(a, &o->start_ns)
                   ? cli_bad_value("--start", a,
                                   "RFC 3339, unix seconds or now, before " RUN_MAX_TIME_TEXT)
                   : 0;
    case O_METRIC_INTERVAL:
        if (core_parse_duration(a, &o->metric_interval_ns) || o->metric_interval_ns < 1000000)
            return cli_bad_value("--metric-interval", a, "a duration of at least 1ms");
        return 0;
    case O_SIGNALS:
        return parse_signals(a, &o->signals) ? cli_bad_value("--signals", a, "traces,metrics,logs")
                                             : 0;
    case O_BATCH_SIZE:
        if (cli_parse_u64(a, 1 << 20, &u) || !u)
            return cli_bad_value("--batch-size", a, "an integer 1..1048576");
        o->batch_size = (uint32_t)u;
        return 0;
    case O_MAX_SERIES:
        return cli_parse_max_series(a, &o->max_series);
    case O_QUEUE:
        if (cli_parse_u64(a, 1 << 16, &u) || u < 2)
            return cli_bad_value("--queue-size", a, "an integer 2..65536");
        o->queue_batches = (uint32_t)u;
        return 0;
    default:
        return apply_prom(o, c, a);
    }
}

static int apply2(struct run_opts *o, int c, const char *a)
{
    switch (c) {
    case O_NO_VERIFY:
        o->verify = 0;
        return 0;
    case O_OTLP: {
        char err[512];
        if (export_otlp_url_check(a, "--otlp", err, sizeof err))
            return cli_fail(CLI_ERR_USAGE, "%s", err);
        o->otlp = a;
        return 0;
    }
    case O_RUN_ID:
        if (!run_id_ok(a))
            return cli_bad_value("--run-id", a, "1 to 63 of A-Z a-z 0-9 . _ : -");
        o->run_id = a;
        return 0;
    case O_OTLP_FILE:
        o->otlp_file = a;
        return 0;
    case O_NULL:
        o->null_out = 1;
        return 0;
    case O_POSTGRES:
        return run_postgres_flag(o, a);
    case O_PROM:
        o->prom_listen = a;
        return cli_parse_listen("--prom-listen", a);
    case O_CONTROL:
        o->control = a;
        return cli_parse_listen("--control", a);
    case O_CONTROL_TOKEN:
        o->control_token = a;
        return 0;
    case O_CHAOS: {
        char err[200];
        if (world_chaos_parse(a, &o->chaos, err, sizeof err))
            return cli_fail(CLI_ERR_USAGE, "--chaos %s: %s", a, err);
        return 0;
    }
    case O_SERVE:
        o->serve = a;
        return cli_parse_listen("--serve", a);
    case O_DATASET:
    case O_DATASET_FORMAT:
        return apply_dataset(o, c, a);
    case O_LABELS:
        o->labels = a;
        return 0;
    case O_SUMMARY:
        o->summary_json = a;
        return 0;
    case O_TUI:
        o->tui = 1;
        return 0;
    case 'q':
        o->quiet = 1;
        return 0;
    case 'v':
        o->verbose++;
        return 0;
    case 'H':
        return add_header(o, a) ? cli_bad_value("--header", a, "'Name: value' or Name=value") : 0;
    case O_COMPRESSION:
        if (strcmp(a, "gzip") && strcmp(a, "none"))
            return cli_bad_value("--compression", a, "gzip or none");
        o->compression = a;
        return 0;
    case O_ON_FULL:
        if (strcmp(a, "block") && strcmp(a, "drop"))
            return cli_bad_value("--on-full", a, "block or drop");
        o->on_full = !strcmp(a, "block") ? 1 : 0;
        return 0;
    case O_BATCH_TIMEOUT:
        return core_parse_duration(a, &o->batch_timeout_ns) || !o->batch_timeout_ns
                   ? cli_bad_value("--batch-timeout", a, "a positive duration")
                   : 0;
    case O_LINGER:
        return core_parse_duration(a, &o->linger_ns) ? cli_bad_value("--linger", a, "a duration")
                                                     : 0;
    case O_SHUTDOWN:
        return core_parse_duration(a, &o->shutdown_ns)
                   ? cli_bad_value("--shutdown-timeout", a, "a duration")
                   : 0;
    default:
        return apply(o, c, a);
    }
}

/* --tui draws on stdout: it must be a terminal, and nothing else may write there. */
static int tui_check(const struct run_opts *o)
{
    char err[160];
    if (o->otlp_file && !strcmp(o->otlp_file, "-"))
        return cli_fail(CLI_ERR_USAGE, "--tui and --otlp-file - both write to stdout; use one");
    if (tui_usable(err, sizeof err))
        return cli_fail(CLI_ERR_USAGE, "--tui: %s", err);
    return -1;
}

static void defaults(struct run_opts *o, const char *scenario)
{
    memset(o, 0, sizeof *o);
    o->scenario = scenario;
    o->speed = 1;
    o->verify = 1;
    o->on_full = -1;
    o->shutdown_ns = 5000000000ULL;
    o->batch_timeout_ns = 1000000000ULL;
    o->queue_batches = 64;
    o->otlp_protocol = -1;
}

/* Returns -1 to go on, or an exit code (help printed, or a usage error). */
int run_parse(struct run_opts *o, int argc, char **argv, const char *scenario)
{
    defaults(o, scenario);
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":qvhH:", longopts, NULL)) != -1) {
        if (c == 'h') {
            fputs(help, stdout);
            return CLI_OK;
        }
        if (c == '?')
            return cli_fail(CLI_ERR_USAGE, "unknown option '%s' (see: diorama run --help)",
                            argv[optind - 1]);
        if (c == ':')
            return cli_fail(CLI_ERR_USAGE, "option '%s' needs a value", argv[optind - 1]);
        int rc = apply2(o, c, optarg);
        if (rc > 0)
            return rc;
    }
    if (optind < argc)
        o->scenario = argv[optind++];
    if (optind < argc)
        return cli_fail(CLI_ERR_USAGE, "unexpected argument '%s'", argv[optind]);
    if (o->on_full < 0)
        o->on_full = o->speed == 0;
    if (o->dataset && o->signals && !(o->signals & (1 << REC_METRICS)))
        return cli_fail(CLI_ERR_USAGE, "--dataset needs the metrics signal (see --signals)");
    return o->tui ? tui_check(o) : -1;
}

void run_opts_free(struct run_opts *o)
{
    for (int i = 0; i < o->nheaders; i++)
        core_free(o->headers[i]);
    core_free(o->headers);
}
