/* diorama run: load the scenario, build the world, wire the engine to the export hub, the
 * Prometheus listener and the labels file, run, flush, summarise. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/dataset.h"
#include "cli/run.h"
#include "cli/tui.h"
#include "report/report.h"
#include "scenario/scenario.h"
#include "server/server.h"
#include "wire/wire.h"
#include "world/world.h"

#define DEFAULT_OTLP "http://localhost:4318"
#define DEFAULT_OTLP_GRPC "grpc://localhost:4317"
#define RUN_MAX_OUTPUTS 8                   /* --otlp, --otlp-file, --null, --postgres ... */
#define MAX_START_NS 1767225600000000000ULL /* 2026-01-01T00:00:00Z: --speed max default */

struct run {
    struct run_opts o;
    struct scenario *scn;
    struct world *w;
    struct export_hub *hub;
    struct export_prom *prom;
    struct engine *eng;
    struct export_output *pg;         /* the --postgres output (owned by the hub), for labels */
    struct server_control *ctl;       /* --control: the control API */
    struct world_agg *agg;            /* per-second aggregates (control API, SSE) */
    struct cli_dataset *ds;           /* --dataset: states and labels for its rows */
    struct server *srv;               /* --serve: the scenario's routes, planned by r->w */
    struct run_prom_stats ps;         /* /metrics numbers for the status line */
    char otlp_url[REC_NSIGNALS][256]; /* for the start banner; "" = signal not exported */
    int prom_too_big;                 /* a tick's exposition did not fit: warned once */
    FILE *labels;
    struct core_buf lbuf, pbuf;
    uint64_t seed, start_ns, duration_ns;
    int label_errors;
};

static struct rec_batch *cb_batch(void *ctx, int signal)
{
    return export_hub_batch(((struct run *)ctx)->hub, signal);
}

static void cb_submit(void *ctx, struct rec_batch *b)
{
    export_hub_submit(((struct run *)ctx)->hub, b);
}

static void cb_drop(void *ctx, int signal, uint64_t n)
{
    export_hub_drop(((struct run *)ctx)->hub, signal, n, EXPORT_DROP_QUEUE_FULL);
}

static void cb_tick(void *ctx, const struct rec_batch *points)
{
    struct run *r = ctx;
    cli_dataset_tick(r->ds, points); /* before the tick's points reach the dataset output */
    if (!r->prom)
        return;
    core_buf_reset(&r->pbuf);
    if (wire_prom_encode(&r->pbuf, &points, 1) == 0) {
        export_prom_publish(r->prom, r->pbuf.p, r->pbuf.len);
        atomic_store_explicit(&r->ps.series, points->n, memory_order_relaxed);
        atomic_fetch_add_explicit(&r->ps.points, points->n, memory_order_relaxed);
    } else if (!r->prom_too_big++) {
        core_error("/metrics: %u series do not fit in %zu MiB of exposition text; /metrics "
                   "keeps its previous content (see docs/scenario-format.md#limits)",
                   points->n, r->pbuf.max >> 20);
    }
}

static void cb_label(void *ctx, const struct world_label *l)
{
    struct run *r = ctx;
    cli_dataset_label(r->ds, l);
    core_buf_reset(&r->lbuf);
    world_label_json(l, &r->lbuf);
    /* real-time runs flush each label, so a scorer can tail the file as the run goes */
    if (r->labels &&
        (fwrite(r->lbuf.p, 1, r->lbuf.len, r->labels) != r->lbuf.len ||
         (r->o.speed > 0 && fflush(r->labels))) &&
        !r->label_errors++)
        core_error("labels file: write failed");
    server_control_label(r->ctl, l);
    if (r->pg && !l->open &&
        !l->control) { /* a state period is a row once complete (its end line) */
        struct export_label el = {l->start_ns,
                                  l->end_ns,
                                  l->target,
                                  l->fault ? l->fault->kind : "state",
                                  l->fault ? l->fault->scn->name : l->state->name,
                                  l->trace_id,
                                  (const char *)r->lbuf.p,
                                  r->lbuf.len ? r->lbuf.len - 1 : 0}; /* without the '\n' */
        export_pg_label(r->pg, &el);
    }
}

static int load_world(struct run *r)
{
    int rc = cli_load_scenario_max(r->o.scenario, r->o.max_series, &r->scn);
    if (rc)
        return rc;
    if (r->o.prom_listen && !r->o.quiet)
        cli_warn_prom_size(r->o.scenario, r->scn,
                           r->o.prom_max_bytes ? r->o.prom_max_bytes : EXPORT_PROM_MAX_BYTES);
    r->seed = r->o.has_seed ? r->o.seed : r->scn->seed;
    r->duration_ns = r->o.has_duration ? r->o.duration_ns : r->scn->duration_ns;
    r->start_ns = r->o.has_start ? r->o.start_ns : r->o.speed == 0 ? MAX_START_NS : core_wall_ns();
    if (r->start_ns > RUN_MAX_TIME_NS ||
        r->duration_ns > RUN_MAX_TIME_NS - r->start_ns) /* timestamps would wrap */
        return cli_fail(CLI_ERR_USAGE,
                        "--start plus --duration ends after %s, the last time a "
                        "nanosecond timestamp can hold",
                        RUN_MAX_TIME_TEXT);
    struct world_opts wo = {.seed = r->seed,
                            .start_ns = r->start_ns,
                            .run_id = r->o.run_id,
                            .verify_attrs = r->o.verify,
                            .ns_override = getenv("OTEL_SERVICE_NAME"),
                            .extra_attrs = getenv("OTEL_RESOURCE_ATTRIBUTES"),
                            .nshards = 1};
    char msg[256];
    if (world_build(&r->w, r->scn, &wo, msg, sizeof msg))
        return cli_fail(CLI_ERR_USAGE, "%s", msg);
    return 0;
}

/* url into out with any user:password@ shown as ****@ (the banner is often pasted). */
static void run_mask_url(const char *url, char *out, size_t n)
{
    out[0] = '\0';
    if (!url)
        return;
    const char *host = strstr(url, "://");
    host = host ? host + 3 : url;
    const char *at = strchr(host, '@'), *slash = strchr(host, '/');
    if (at && (!slash || at < slash))
        snprintf(out, n, "%.*s****%s", (int)(host - url), url, at);
    else
        snprintf(out, n, "%s", url);
}

static void add_headers(struct export_otlp_http_cfg *cfg, char **extra, int n)
{
    int have = 0;
    while (cfg->headers && cfg->headers[have])
        have++;
    cfg->headers = core_realloc(cfg->headers, (size_t)(have + n + 1) * sizeof(char *));
    for (int i = 0; i < n; i++)
        cfg->headers[have + i] = core_strdup(extra[i]);
    cfg->headers[have + n] = NULL;
}

/* Signals whose protocol is gRPC (grpc:// or OTEL_EXPORTER_OTLP_[<SIGNAL>_]PROTOCOL=grpc) go
 * to an OTLP/gRPC output, the others to OTLP/HTTP: one or two outputs. */
static int otlp_split(struct export_otlp_http_cfg *cfg, struct export_output **outs, size_t *n)
{
    struct export_otlp_http_cfg h = *cfg; /* shallow: the constructors copy what they keep */
    int grpc = 0, http = 0;
    for (int s = 0; s < REC_NSIGNALS; s++) {
        if (cfg->url[s] && cfg->protocol[s] == EXPORT_OTLP_GRPC)
            grpc = 1, h.url[s] = NULL;
        else if (cfg->url[s])
            http = 1;
    }
    if (http)
        outs[(*n)++] = export_otlp_http_new(&h);
    if (grpc)
        outs[(*n)++] = export_otlp_grpc_new(cfg);
    return 0;
}

static int otlp_output(struct run *r, struct export_output **outs, size_t *n)
{
    struct export_otlp_http_cfg cfg;
    char err[512];
    const char *proto = getenv("OTEL_EXPORTER_OTLP_PROTOCOL");
    int rc = export_otlp_http_cfg_resolve(&cfg, r->o.otlp, err, sizeof err);
    if (rc == DIO_ENOENT) /* the spec's defaults: 4317 for gRPC, 4318 for HTTP */
        rc = export_otlp_http_cfg_resolve(
            &cfg, proto && !strcmp(proto, "grpc") ? DEFAULT_OTLP_GRPC : DEFAULT_OTLP, err,
            sizeof err);
    if (rc)
        return cli_fail(CLI_ERR_USAGE, "%s", err);
    if (r->o.compression) { /* the flag beats every environment variable, per signal too */
        cfg.gzip = !strcmp(r->o.compression, "gzip");
        memset(cfg.signal_gzip, 0, sizeof cfg.signal_gzip);
    }
    if (r->o.nheaders)
        add_headers(&cfg, r->o.headers, r->o.nheaders);
    for (int s = 0; r->o.otlp_protocol >= 0 && s < REC_NSIGNALS; s++)
        if (cfg.protocol[s] != EXPORT_OTLP_GRPC) /* --otlp-protocol beats the environment */
            cfg.protocol[s] = r->o.otlp_protocol;
    cfg.verify_attrs = r->o.verify;
    cfg.seed = r->seed;
    for (int s = 0; s < REC_NSIGNALS; s++) {
        char g[256]; /* gRPC: the banner says grpc[s]://host:port (url[s] is http[s]://...) */
        int grpc = cfg.url[s] && cfg.protocol[s] == EXPORT_OTLP_GRPC;
        if (grpc)
            snprintf(g, sizeof g, "%s://%s", cfg.url[s][4] == 's' ? "grpcs" : "grpc",
                     strstr(cfg.url[s], "://") + 3);
        run_mask_url(grpc ? g : cfg.url[s], r->otlp_url[s], sizeof r->otlp_url[s]);
    }
    otlp_split(&cfg, outs, n);
    export_otlp_http_cfg_free(&cfg);
    return 0;
}

/* An unreachable server at start is a runtime error (exit 1), like a port we cannot bind. */
static int postgres_output(struct run *r, struct export_output **outs, size_t *n)
{
    char err[1024];
    struct export_pg_cfg cfg = {
        .url = r->o.postgres, .run_id = r->w->run_id, .verify_attrs = r->o.verify, .seed = r->seed};
    if (!(r->pg = export_pg_new(&cfg, err, sizeof err)))
        return cli_fail(CLI_ERR_RUNTIME, "--postgres: %s", err);
    outs[(*n)++] = r->pg;
    return 0;
}

/* --remote-write: credentials from the URL (basic) or $DIORAMA_REMOTE_WRITE_BEARER, not
 * both (a receiver would see two Authorization headers). */
static int rw_output(struct run *r, struct export_output **outs, size_t *n)
{
    const char *bearer = getenv("DIORAMA_REMOTE_WRITE_BEARER");
    const char *host = strstr(r->o.remote_write, "://");
    const char *at = host ? strchr(host, '@') : NULL, *slash = host ? strchr(host + 3, '/') : NULL;
    if (bearer && *bearer && at && (!slash || at < slash))
        return cli_fail(CLI_ERR_USAGE, "--remote-write: user:password in the URL and "
                                       "$DIORAMA_REMOTE_WRITE_BEARER both set; use one");
    struct export_rw_cfg c = {.url = r->o.remote_write,
                              .bearer = bearer && *bearer ? bearer : NULL,
                              .version = r->o.rw_version,
                              .max_samples = r->o.rw_max_samples,
                              .shards = r->o.rw_shards,
                              .seed = r->seed};
    outs[(*n)++] = export_rw_new(&c);
    return 0;
}

/* After the summary: what remote write wrote, in samples and series (the hub counts points). */
static void rw_summary(const struct run *r, FILE *f)
{
    for (size_t i = 0; i < export_hub_noutputs(r->hub); i++) {
        struct export_rw_stats st;
        if (export_rw_stats(export_hub_output(r->hub, i), &st))
            continue;
        fprintf(f, "remote write: %llu samples in %s%llu series delivered (%llu sent), version %d",
                (unsigned long long)st.samples_delivered, st.series_capped ? "at least " : "",
                (unsigned long long)st.series, (unsigned long long)st.samples_sent, st.version);
        if (st.version != st.requested_version)
            fprintf(f, " (fell back from %d after a 415)", st.requested_version);
        if (st.requested_version == 2)
            fprintf(
                f,
                "; receiver wrote %llu samples, %llu histograms, %llu exemplars; %llu answers "
                "disagreed with what was sent, %llu had no Written headers",
                (unsigned long long)st.written_samples, (unsigned long long)st.written_histograms,
                (unsigned long long)st.written_exemplars, (unsigned long long)st.written_mismatch,
                (unsigned long long)st.written_missing);
        if (st.unwritable_points)
            fprintf(f, "; %llu points not writable as Prometheus series",
                    (unsigned long long)st.unwritable_points);
        fputc('\n', f);
    }
}

/* The same figures for the summary JSON ("remote_write"). 0: no remote write output. */
static int rw_report(const struct run *r, struct report_rw *w)
{
    for (size_t i = 0; i < export_hub_noutputs(r->hub); i++) {
        struct export_rw_stats st;
        if (export_rw_stats(export_hub_output(r->hub, i), &st))
            continue;
        *w = (struct report_rw){st.version,
                                st.requested_version,
                                st.samples_sent,
                                st.samples_delivered,
                                st.series,
                                st.series_capped,
                                st.unwritable_points,
                                st.written_samples,
                                st.written_histograms,
                                st.written_exemplars,
                                st.written_mismatch,
                                st.written_missing};
        return 1;
    }
    return 0;
}

/* --dataset: the directory was checked while parsing; a file that cannot be made is a
 * runtime error. */
static int dataset_output(struct run *r, struct export_output **outs, size_t *n)
{
    char err[4400];
    r->ds = cli_dataset_new(r->w, r->o.dataset, r->o.dataset_formats, r->start_ns, &outs[*n], err,
                            sizeof err);
    if (!r->ds)
        return cli_fail(CLI_ERR_RUNTIME, "--dataset: %s", err);
    (*n)++;
    return 0;
}

static void dataset_summary(const struct run *r, FILE *f)
{
    for (size_t i = 0; r->ds && i < export_hub_noutputs(r->hub); i++) {
        const struct export_output *o = export_hub_output(r->hub, i);
        if (!strcmp(export_output_name(o), "dataset"))
            fprintf(f, "dataset: %llu rows in %s/metrics.{csv,parquet} (docs/dataset.md)\n",
                    (unsigned long long)export_dataset_rows(o), r->o.dataset);
        int nbiz;
        if (!strcmp(export_output_name(o), "dataset") && world_metrics(r->w, &nbiz) && nbiz)
            fprintf(f, "dataset: %llu business rows in %s/business.{csv,parquet}\n",
                    (unsigned long long)export_dataset_biz_rows(o), r->o.dataset);
    }
}

/* --influx and --openmetrics-file: metric points only. */
static int metric_outputs(struct run *r, struct export_output **outs, size_t *n)
{
    char err[768];
    if (r->o.remote_write && rw_output(r, outs, n))
        return CLI_ERR_USAGE;
    if (r->o.influx) {
        struct export_influx_cfg ic = {.url = r->o.influx, .seed = r->seed};
        ic.gzip = r->o.compression && !strcmp(r->o.compression, "gzip");
        if (!(outs[*n] = export_influx_new(&ic, err, sizeof err)))
            return cli_fail(CLI_ERR_USAGE, "%s", err);
        (*n)++;
    }
    if (r->o.openmetrics_file) {
        if (!(outs[*n] = export_om_file_new(r->o.openmetrics_file, err, sizeof err)))
            return cli_fail(CLI_ERR_RUNTIME, "--openmetrics-file: %s", err);
        (*n)++;
    }
    return 0;
}

/* OTLP/HTTP first (it is the primary output when present), then the file, then null. A run
 * with only --prom-listen has no push output at all. */
static int build_outputs(struct run *r, struct export_output **outs, size_t *n)
{
    int rc;
    *n = 0;
    int env_otlp =
        getenv("OTEL_EXPORTER_OTLP_ENDPOINT") || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") ||
        getenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT") || getenv("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT");
    /* No output named: OTLP/HTTP like an SDK would, unless only /metrics was asked for. */
    int want_otlp = r->o.otlp || env_otlp ||
                    (!r->o.otlp_file && !r->o.null_out && !r->o.prom_listen && !r->o.postgres &&
                     !r->o.influx && !r->o.openmetrics_file && !r->o.remote_write && !r->o.dataset);
    if (want_otlp && (rc = otlp_output(r, outs, n)) != 0)
        return rc;
    if (r->o.otlp_file) {
        char err[512];
        outs[*n] = export_otlp_file_new(r->o.otlp_file, r->o.verify, err, sizeof err);
        if (!outs[(*n)++])
            return cli_fail(CLI_ERR_RUNTIME, "--otlp-file: %s", err);
    }
    if (r->o.null_out)
        outs[(*n)++] = export_null_new(r->o.verify);
    if (r->o.dataset && dataset_output(r, outs, n))
        return CLI_ERR_RUNTIME;
    if ((rc = metric_outputs(r, outs, n)) != 0)
        return rc;
    if (r->o.postgres)
        return postgres_output(r, outs, n);
    return 0;
}

static int start_hub(struct run *r)
{
    struct export_output *outs[RUN_MAX_OUTPUTS] = {0};
    size_t n;
    int rc = build_outputs(r, outs, &n);
    if (rc) {
        for (size_t i = 0; i < n; i++)
            export_output_free(outs[i]);
        return rc;
    }
    uint32_t bs = r->o.batch_size;
    struct export_hub_cfg hc = {{bs ? bs : 1024, bs ? bs : 4096, bs ? bs : 1024},
                                r->o.batch_timeout_ns,
                                r->o.queue_batches,
                                r->o.on_full};
    r->hub = export_hub_new(&hc, outs, n);
    if (export_hub_start(r->hub))
        return cli_fail(CLI_ERR_RUNTIME, "could not start the exporters");
    return 0;
}

/* The outputs' accounting for the aggregates (world's thread, once a second). */
static int cb_accounting(void *ctx, struct world_acct *out, int max)
{
    struct run *r = ctx;
    int n = (int)export_hub_noutputs(r->hub);
    n = n < max ? n : max;
    for (int i = 0; i < n; i++) {
        struct export_stats st;
        export_hub_stats(r->hub, (size_t)i, &st);
        memset(&out[i], 0, sizeof out[i]);
        snprintf(out[i].name, sizeof out[i].name, "%s",
                 export_output_name(export_hub_output(r->hub, (size_t)i)));
        for (int s = 0; s < REC_NSIGNALS; s++) {
            out[i].generated += st.s[s].generated;
            out[i].delivered += st.s[s].delivered;
            out[i].dropped += export_dropped_total(&st.s[s]);
            out[i].timed_out += st.s[s].timed_out;
            out[i].in_flight += st.s[s].in_flight;
        }
    }
    return n;
}

/* --control: the API with the run's aggregates (the world's speed and --chaos are set in
 * make_engine, with or without the API). */
static int start_control(struct run *r)
{
    return cli_control_start(r->o.control, r->o.control_token, r->o.speed, r->start_ns, r->w,
                             r->agg, &r->ctl);
}

static int open_extras(struct run *r)
{
    char err[512];
    if (r->o.prom_listen) {
        struct export_prom_cfg pc = {r->o.prom_listen, r->o.prom_http, r->o.prom_max_bytes};
        r->prom = export_prom_start(&pc, NULL, err, sizeof err);
        if (!r->prom)
            return cli_fail(CLI_ERR_RUNTIME, "--prom-listen %s: %s", r->o.prom_listen, err);
        export_prom_set_hub(r->prom, r->hub);
    }
    if (r->o.labels && !(r->labels = fopen(r->o.labels, "w")))
        return cli_fail(CLI_ERR_RUNTIME, "--labels %s: cannot open for writing", r->o.labels);
    if (r->o.control || r->o.tui) { /* the aggregates feed the API and the --tui view */
        r->agg = world_agg_new(r->w);
        world_agg_set_accounting(r->agg, cb_accounting, r);
    }
    return r->o.control ? start_control(r) : 0;
}

/* The signals the engine generates: --signals, or else those some output exports (spans and
 * logs nobody takes cost the engine half its time for a metrics-only output such as
 * --dataset or --remote-write; metrics do not depend on them). With --control, --tui or
 * --serve all are kept, as their views count every signal. */
static int engine_signals(const struct run *r)
{
    if (r->o.signals || r->o.control || r->o.tui || r->o.serve)
        return r->o.signals;
    unsigned s = 0;
    for (size_t i = 0; i < export_hub_noutputs(r->hub); i++)
        s |= export_output_signals(export_hub_output(r->hub, i));
    return (int)s;
}

static int make_engine(struct run *r)
{
    struct engine_opts eo = {.speed = r->o.speed,
                             .start_unix_ns = r->start_ns,
                             .duration_ns = r->duration_ns,
                             .metric_interval_ns = r->o.metric_interval_ns,
                             .batch_timeout_ns = r->o.batch_timeout_ns,
                             .signals = engine_signals(r),
                             .stop = &cli_stop,
                             .inject = r->o.serve != NULL,
                             .agg = r->agg};
    world_live_init(r->w, r->o.speed, &r->o.chaos);
    struct engine_out out = {r,
                             cb_batch,
                             cb_submit,
                             cb_drop,
                             r->prom || r->ds ? cb_tick : NULL,
                             r->labels || r->pg || r->ctl || r->ds ? cb_label : NULL};
    char err[256];
    if (engine_new(&r->eng, r->w, &eo, &out, err, sizeof err))
        return cli_fail(CLI_ERR_SCENARIO, "%s: %s", r->o.scenario, err);
    return 0;
}

static uint64_t cb_clock(void *ctx)
{
    return engine_sim_now(((struct run *)ctx)->eng);
}

static void cb_planned(void *ctx, const struct world_span *spans, uint32_t n, int model)
{
    engine_inject(((struct run *)ctx)->eng, spans, n, model);
}

static int cb_on_world(void *ctx, void (*fn)(void *arg), void *arg)
{
    return engine_call(((struct run *)ctx)->eng, fn, arg);
}

/* --serve: the routes answer from the run's world and clock; their requests' spans go to the
 * engine, which emits them with the simulated ones. */
static int start_serve(struct run *r)
{
    if (!r->o.serve)
        return 0;
    struct server_cfg cfg = {.listen = r->o.serve,
                             .seed = r->seed ^ 0x5e7e,
                             .clock = cb_clock,
                             .planned = cb_planned,
                             .on_world = cb_on_world,
                             .hook_ctx = r};
    char err[256];
    if (server_new(&r->srv, r->w, &cfg, err, sizeof err))
        return cli_fail(CLI_ERR_USAGE, "--serve %s: %s", r->o.serve, err);
    if (server_start(r->srv, err, sizeof err))
        return cli_fail(CLI_ERR_RUNTIME, "--serve %s: %s", r->o.serve, err);
    return 0;
}

/* "http://HOST:PORT/metrics" with the port really bound (--prom-listen may say :0) and the
 * host as given ("localhost" for a bare port). */
/* One line per endpoint on stderr before the run starts, so a user knows where to look and a
 * script can find the port it got. */
static void print_banner(const struct run *r)
{
    static const char *const sig[REC_NSIGNALS] = {"OTLP traces", "OTLP metrics", "OTLP logs"};
    struct core_buf b;
    char line[600];
    core_buf_init(&b, 1 << 16);
    core_buf_printf(&b, "diorama: running %s (seed %llu, speed ", r->scn->name,
                    (unsigned long long)r->seed);
    core_buf_printf(&b, r->o.speed > 0 ? "%g" : "max", r->o.speed);
    core_buf_printf(&b, r->duration_ns ? ", %g s simulated)\n" : ", until Ctrl-C)\n",
                    (double)r->duration_ns / 1e9);
    for (int s = 0; s < REC_NSIGNALS; s++)
        if (r->otlp_url[s][0])
            core_buf_printf(&b, "  %-13s %s\n", sig[s], r->otlp_url[s]);
    if (r->o.otlp_file)
        core_buf_printf(&b, "  %-13s %s\n", "OTLP file",
                        strcmp(r->o.otlp_file, "-") ? r->o.otlp_file : "stdout");
    if (r->o.postgres) {
        export_pg_url_mask(r->o.postgres, line, sizeof line);
        core_buf_printf(&b, "  %-13s %s\n", "PostgreSQL", line);
    }
    if (r->o.null_out)
        core_buf_printf(&b, "  %-13s %s\n", "null", "encoded and discarded");
    if (r->o.dataset)
        core_buf_printf(&b, "  %-13s %s/metrics.{csv,parquet}\n", "dataset", r->o.dataset);
    if (r->o.influx) {
        export_url_mask(r->o.influx, line, sizeof line);
        core_buf_printf(&b, "  %-13s %s\n", "InfluxDB", line);
    }
    if (r->o.remote_write) {
        export_rw_url_mask(r->o.remote_write, line, sizeof line);
        core_buf_printf(&b, "  %-13s %s (version %d)\n", "remote write", line,
                        r->o.rw_version ? r->o.rw_version : 1);
    }
    if (r->o.openmetrics_file)
        core_buf_printf(&b, "  %-13s %s (written at the end)\n", "OpenMetrics",
                        r->o.openmetrics_file);
    if (r->prom) {
        cli_listen_url(r->o.prom_listen, export_prom_port(r->prom), "/metrics", line, sizeof line);
        core_buf_printf(&b, "  %-13s %s\n", "/metrics", line);
    }
    if (r->ctl) {
        cli_listen_url(r->o.control, server_control_port(r->ctl), "/api/world", line, sizeof line);
        core_buf_printf(&b, "  %-13s %s\n", "control API", line);
    }
    if (r->srv) {
        cli_listen_url(r->o.serve, server_port(r->srv), "/", line, sizeof line);
        core_buf_printf(&b, "  %-13s %s\n", "routes", line);
    }
    if (r->o.labels)
        core_buf_printf(&b, "  %-13s %s\n", "labels", r->o.labels);
    if (r->o.summary_json)
        core_buf_printf(&b, "  %-13s %s (at the end)\n", "summary JSON", r->o.summary_json);
    if (r->ctl) { /* last, so `make run` ends on the line a user opens (docs/console.md) */
        cli_listen_url(r->o.control, server_control_port(r->ctl), "/", line, sizeof line);
        core_buf_printf(&b, "console: %s\n", line);
    }
    fwrite(b.p, 1, b.len, stderr);
    core_buf_free(&b);
}

/* --tui's footer: the endpoints a user opens (the banner is behind the full screen). */
static void tui_links(const struct run *r, char *out, size_t n)
{
    char url[300];
    out[0] = 0;
    if (r->ctl) {
        cli_listen_url(r->o.control, server_control_port(r->ctl), "/", url, sizeof url);
        snprintf(out, n, "console %s", url);
    }
    if (r->prom) {
        size_t k = strlen(out);
        cli_listen_url(r->o.prom_listen, export_prom_port(r->prom), "/metrics", url, sizeof url);
        snprintf(out + k, n - k, "%s%s", k ? "  " : "", url);
    }
}

/* Fills one report_output from the hub's accounting for output i. */
static void collect(const struct run *r, size_t i, const double *target, struct report_output *ro)
{
    struct export_stats st;
    export_hub_stats(r->hub, i, &st);
    ro->name = export_output_name(export_hub_output(r->hub, i));
    for (int s = 0; s < REC_NSIGNALS; s++) {
        const struct export_signal_stats *x = &st.s[s];
        struct report_signal *y = &ro->s[s];
        memset(y, 0, sizeof *y);
        y->generated = x->generated;
        y->delivered = x->delivered;
        y->dropped = export_dropped_total(x);
        y->in_flight = x->in_flight;
        y->timed_out = x->timed_out;
        for (int k = 0; k < EXPORT_DROP_NREASONS && k < REPORT_MAX_DROP_REASONS; k++)
            y->dropped_by[k] = x->dropped[k];
        y->retried = x->retried;
        y->requests = x->requests;
        y->failed_requests = x->failed_requests;
        y->bytes = x->bytes;
        y->latency_p50_us = x->latency_p50_us;
        y->latency_p99_us = x->latency_p99_us;
        y->latency_max_us = x->latency_max_us;
        y->target_rate = target[s];
    }
}

static int exit_code(const struct report_output *outs, size_t n)
{
    uint64_t gen = 0, del = 0, drop = 0;
    for (size_t i = 0; i < n; i++)
        for (int s = 0; s < REC_NSIGNALS; s++) {
            gen += outs[i].s[s].generated;
            del += outs[i].s[s].delivered;
            drop += outs[i].s[s].dropped + outs[i].s[s].in_flight + outs[i].s[s].timed_out;
        }
    if (gen && !del)
        return CLI_ERR_NOTHING;
    return drop ? CLI_ERR_DROPPED : CLI_OK;
}

static int summarise(struct run *r, double wall_s)
{
    size_t n = export_hub_noutputs(r->hub);
    struct report_output outs[RUN_MAX_OUTPUTS];
    double target[REC_NSIGNALS];
    engine_target_rates(r->eng, target);
    for (int s = 0; s < REC_NSIGNALS; s++)
        target[s] *= r->o.speed > 0 ? r->o.speed : 0;
    for (size_t i = 0; i < n && i < RUN_MAX_OUTPUTS; i++)
        collect(r, i, target, &outs[i]);
    struct engine_progress p;
    engine_progress(r->eng, &p);
    struct report_run rr = {r->scn->name,
                            r->scn->file,
                            r->w->run_id,
                            r->seed,
                            r->o.speed,
                            r->start_ns,
                            wall_s,
                            (double)p.sim_offset_ns / 1e9,
                            p.requests,
                            p.labels,
                            cli_stop ? "signal" : "duration",
                            0,
                            export_drop_reason_names,
                            EXPORT_DROP_NREASONS,
                            outs,
                            (int)n,
                            NULL};
    rr.exit_code = exit_code(outs, n);
    struct report_rw rw;
    if (rw_report(r, &rw))
        rr.remote_write = &rw;
    struct core_buf b;
    core_buf_init(&b, 1 << 20);
    report_summary_text(&rr, &b);
    int to_stderr = r->o.otlp_file && !strcmp(r->o.otlp_file, "-");
    fwrite(b.p, 1, b.len, to_stderr ? stderr : stdout);
    rw_summary(r, to_stderr ? stderr : stdout);
    dataset_summary(r, to_stderr ? stderr : stdout);
    if (r->o.summary_json) {
        core_buf_reset(&b);
        report_summary_json(&rr, &b);
        FILE *f = fopen(r->o.summary_json, "w");
        if (!f || fwrite(b.p, 1, b.len, f) != b.len || fclose(f)) {
            core_buf_free(&b);
            return cli_fail(CLI_ERR_RUNTIME, "--summary-json %s: write failed", r->o.summary_json);
        }
    }
    core_buf_free(&b);
    return rr.exit_code;
}

/* Prometheus scrapes every 15 s or more: a /metrics that lives for less is never scraped. */
#define RUN_SCRAPE_WINDOW_NS 15000000000ULL

static void warn_short_metrics(const struct run *r)
{
    if (!r->prom || r->o.linger_ns || r->o.quiet || !r->duration_ns)
        return; /* without a duration the run lasts until Ctrl-C: time enough */
    if (r->o.speed == 0)
        core_warn("--speed max with --prom-listen: the run ends in moments and /metrics with "
                  "it, before Prometheus can scrape; add --linger 1m to keep serving the final "
                  "values after the run");
    else if (r->duration_ns && (double)r->duration_ns / r->o.speed < RUN_SCRAPE_WINDOW_NS)
        core_warn("--prom-listen: the run lasts %.1f s, shorter than a usual scrape interval "
                  "(15 s); add --linger 1m to keep serving the final values after the run",
                  (double)r->duration_ns / r->o.speed / 1e9);
}

/* --linger: /metrics keeps its last values until the time is up or Ctrl-C. */
static void linger(const struct run *r)
{
    if (!r->prom || !r->o.linger_ns || cli_stop)
        return;
    char url[300];
    cli_listen_url(r->o.prom_listen, export_prom_port(r->prom), "/metrics", url, sizeof url);
    fflush(stdout); /* the summary, before a wait that may be long */
    if (!r->o.quiet)
        fprintf(stderr, "diorama: serving the final metrics at %s for %g s (Ctrl-C to stop)\n", url,
                (double)r->o.linger_ns / 1e9);
    uint64_t end = core_mono_ns() + r->o.linger_ns;
    while (!cli_stop && core_mono_ns() < end)
        usleep(50000);
}

static int execute(struct run *r)
{
    int rc = load_world(r);
    if (!rc)
        rc = start_hub(r);
    if (!rc)
        rc = open_extras(r);
    if (!rc)
        rc = make_engine(r);
    if (!rc)
        rc = start_serve(r);
    if (rc)
        return rc;
    cli_install_signals();
    if (!r->o.quiet)
        print_banner(r);
    warn_short_metrics(r);
    uint64_t t0 = core_mono_ns();
    r->ps.prom = r->prom;
    char links[640];
    tui_links(r, links, sizeof links);
    struct tui_src ts = {r->w, r->agg, r->eng, r->start_ns, r->o.speed, links};
    struct tui *tui = r->o.tui ? tui_start(&ts) : NULL; /* replaces the status line */
    struct run_status *st =
        r->o.quiet || tui ? NULL
                          : run_status_start(r->eng, r->hub, r->prom ? &r->ps : NULL, r->o.speed);
    engine_run(r->eng);
    tui_stopping(tui);
    if (r->srv) /* its requests' plans have nowhere to go once the world stopped */
        server_stop(r->srv, 1000000000ULL);
    server_control_end(r->ctl);
    export_hub_shutdown(r->hub, core_mono_ns() + r->o.shutdown_ns);
    run_status_stop(st);
    tui_stop(tui); /* the normal screen back before the summary */
    if (r->labels && fflush(r->labels) && !r->label_errors++)
        core_error("labels file: write failed");
    rc = summarise(r, (double)(core_mono_ns() - t0) / 1e9);
    linger(r);
    return r->label_errors && rc == CLI_OK ? CLI_ERR_RUNTIME : rc;
}

int cli_run_default(int argc, char **argv, const char *scenario)
{
    struct run r;
    memset(&r, 0, sizeof r);
    int rc = run_parse(&r.o, argc, argv, scenario);
    if (rc >= 0) {
        run_opts_free(&r.o);
        return rc;
    }
    /* -q is quiet: warnings (retries, drops) go to the summary; errors still print. */
    core_log_level = r.o.verbose ? CORE_LOG_INFO + (r.o.verbose > 1)
                     : r.o.quiet ? CORE_LOG_ERROR
                                 : CORE_LOG_WARN;
    core_buf_init(&r.lbuf, 1 << 16);
    /* The exposition may grow past the listener's limit, so that the listener (not a failed
     * encode that would leave stale values up) answers the oversized scrape with 503. */
    size_t pmax = r.o.prom_max_bytes ? r.o.prom_max_bytes : EXPORT_PROM_MAX_BYTES;
    core_buf_init(&r.pbuf, pmax + pmax / 4 > (256u << 20) ? pmax + pmax / 4 : 256u << 20);
    rc = execute(&r);
    if (r.prom)
        export_prom_stop(r.prom);
    server_control_free(r.ctl); /* before the world its commands go to */
    server_free(r.srv);         /* before the engine its plans go to */
    if (r.labels)
        fclose(r.labels);
    engine_free(r.eng);
    world_agg_free(r.agg);
    export_hub_free(r.hub);
    cli_dataset_free(r.ds);
    world_free(r.w);
    scenario_free(r.scn);
    core_buf_free(&r.lbuf);
    core_buf_free(&r.pbuf);
    run_opts_free(&r.o);
    return rc;
}

int cli_run(int argc, char **argv)
{
    return cli_run_default(argc, argv, "inference");
}
