/* diorama run: load the scenario, build the world, wire the engine to the export hub, the
 * Prometheus listener and the labels file, run, flush, summarise. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/run.h"
#include "report/report.h"
#include "scenario/scenario.h"
#include "wire/wire.h"
#include "world/world.h"

#define DEFAULT_OTLP "http://localhost:4318"
#define MAX_START_NS 1767225600000000000ULL /* 2026-01-01T00:00:00Z: --speed max default */

struct run {
    struct run_opts o;
    struct scenario *scn;
    struct world *w;
    struct export_hub *hub;
    struct export_prom *prom;
    struct engine *eng;
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
    core_buf_reset(&r->pbuf);
    if (wire_prom_encode(&r->pbuf, &points, 1) == 0)
        export_prom_publish(r->prom, r->pbuf.p, r->pbuf.len);
}

static void cb_label(void *ctx, const struct world_label *l)
{
    struct run *r = ctx;
    core_buf_reset(&r->lbuf);
    world_label_json(l, &r->lbuf);
    if (fwrite(r->lbuf.p, 1, r->lbuf.len, r->labels) != r->lbuf.len && !r->label_errors++)
        core_error("labels file: write failed");
}

static int load_world(struct run *r)
{
    int rc = cli_load_scenario(r->o.scenario, &r->scn);
    if (rc)
        return rc;
    r->seed = r->o.has_seed ? r->o.seed : r->scn->seed;
    r->duration_ns = r->o.has_duration ? r->o.duration_ns : r->scn->duration_ns;
    r->start_ns = r->o.has_start ? r->o.start_ns : r->o.speed == 0 ? MAX_START_NS : core_wall_ns();
    struct world_opts wo = {.seed = r->seed,
                            .verify_attrs = r->o.verify,
                            .ns_override = getenv("OTEL_SERVICE_NAME"),
                            .extra_attrs = getenv("OTEL_RESOURCE_ATTRIBUTES"),
                            .nshards = 1};
    char msg[256];
    if (world_build(&r->w, r->scn, &wo, msg, sizeof msg))
        return cli_fail(CLI_ERR_USAGE, "%s", msg);
    return 0;
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

static struct export_output *otlp_output(struct run *r)
{
    struct export_otlp_http_cfg cfg;
    char err[512];
    int rc = export_otlp_http_cfg_resolve(&cfg, r->o.otlp, err, sizeof err);
    if (rc == DIO_ENOENT)
        rc = export_otlp_http_cfg_resolve(&cfg, DEFAULT_OTLP, err, sizeof err);
    if (rc) {
        cli_fail(CLI_ERR_USAGE, "%s", err);
        return NULL;
    }
    if (r->o.compression) { /* the flag beats every environment variable, per signal too */
        cfg.gzip = !strcmp(r->o.compression, "gzip");
        memset(cfg.signal_gzip, 0, sizeof cfg.signal_gzip);
    }
    if (r->o.nheaders)
        add_headers(&cfg, r->o.headers, r->o.nheaders);
    cfg.verify_attrs = r->o.verify;
    cfg.seed = r->seed;
    struct export_output *out = export_otlp_http_new(&cfg);
    export_otlp_http_cfg_free(&cfg);
    return out;
}

/* OTLP/HTTP first (it is the primary output when present), then the file, then null. A run
 * with only --prom-listen has no push output at all. */
static int build_outputs(struct run *r, struct export_output **outs, size_t *n)
{
    *n = 0;
    int env_otlp =
        getenv("OTEL_EXPORTER_OTLP_ENDPOINT") || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") ||
        getenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT") || getenv("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT");
    /* No output named: OTLP/HTTP like an SDK would, unless only /metrics was asked for. */
    int want_otlp =
        r->o.otlp || env_otlp || (!r->o.otlp_file && !r->o.null_out && !r->o.prom_listen);
    if (want_otlp && !(outs[(*n)++] = otlp_output(r)))
        return CLI_ERR_USAGE;
    if (r->o.otlp_file) {
        char err[512];
        outs[*n] = export_otlp_file_new(r->o.otlp_file, r->o.verify, err, sizeof err);
        if (!outs[(*n)++])
            return cli_fail(CLI_ERR_RUNTIME, "--otlp-file: %s", err);
    }
    if (r->o.null_out)
        outs[(*n)++] = export_null_new(r->o.verify);
    return 0;
}

static int start_hub(struct run *r)
{
    struct export_output *outs[3] = {0};
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

static int open_extras(struct run *r)
{
    char err[512];
    if (r->o.prom_listen) {
        r->prom = export_prom_start(r->o.prom_listen, err, sizeof err);
        if (!r->prom)
            return cli_fail(CLI_ERR_RUNTIME, "--prom-listen %s: %s", r->o.prom_listen, err);
        export_prom_set_hub(r->prom, r->hub);
    }
    if (r->o.labels && !(r->labels = fopen(r->o.labels, "w")))
        return cli_fail(CLI_ERR_RUNTIME, "--labels %s: cannot open for writing", r->o.labels);
    return 0;
}

static int make_engine(struct run *r)
{
    struct engine_opts eo = {.speed = r->o.speed,
                             .start_unix_ns = r->start_ns,
                             .duration_ns = r->duration_ns,
                             .metric_interval_ns = r->o.metric_interval_ns,
                             .batch_timeout_ns = r->o.batch_timeout_ns,
                             .signals = r->o.signals,
                             .stop = &cli_stop};
    struct engine_out out = {
        r, cb_batch, cb_submit, cb_drop, r->prom ? cb_tick : NULL, r->labels ? cb_label : NULL};
    char err[256];
    if (engine_new(&r->eng, r->w, &eo, &out, err, sizeof err))
        return cli_fail(CLI_ERR_SCENARIO, "%s: %s", r->o.scenario, err);
    return 0;
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
            drop += outs[i].s[s].dropped + outs[i].s[s].in_flight;
        }
    if (gen && !del)
        return CLI_ERR_NOTHING;
    return drop ? CLI_ERR_DROPPED : CLI_OK;
}

static int summarise(struct run *r, double wall_s)
{
    size_t n = export_hub_noutputs(r->hub);
    struct report_output outs[3];
    double target[REC_NSIGNALS];
    engine_target_rates(r->eng, target);
    for (int s = 0; s < REC_NSIGNALS; s++)
        target[s] *= r->o.speed > 0 ? r->o.speed : 0;
    for (size_t i = 0; i < n && i < 3; i++)
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
                            (int)n};
    rr.exit_code = exit_code(outs, n);
    struct core_buf b;
    core_buf_init(&b, 1 << 20);
    report_summary_text(&rr, &b);
    int to_stderr = r->o.otlp_file && !strcmp(r->o.otlp_file, "-");
    fwrite(b.p, 1, b.len, to_stderr ? stderr : stdout);
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

static int execute(struct run *r)
{
    int rc = load_world(r);
    if (!rc)
        rc = start_hub(r);
    if (!rc)
        rc = open_extras(r);
    if (!rc)
        rc = make_engine(r);
    if (rc)
        return rc;
    cli_install_signals();
    uint64_t t0 = core_mono_ns();
    struct run_status *st = r->o.quiet ? NULL : run_status_start(r->eng, r->hub, r->o.speed);
    engine_run(r->eng);
    export_hub_shutdown(r->hub, core_mono_ns() + r->o.shutdown_ns);
    run_status_stop(st);
    if (r->labels && fflush(r->labels) && !r->label_errors++)
        core_error("labels file: write failed");
    rc = summarise(r, (double)(core_mono_ns() - t0) / 1e9);
    return r->label_errors && rc == CLI_OK ? CLI_ERR_RUNTIME : rc;
}

int cli_run(int argc, char **argv)
{
    struct run r;
    memset(&r, 0, sizeof r);
    int rc = run_parse(&r.o, argc, argv);
    if (rc >= 0) {
        run_opts_free(&r.o);
        return rc;
    }
    core_log_level = r.o.verbose ? CORE_LOG_INFO + (r.o.verbose > 1) : CORE_LOG_WARN;
    core_buf_init(&r.lbuf, 1 << 16);
    core_buf_init(&r.pbuf, 256u << 20);
    rc = execute(&r);
    if (r.prom)
        export_prom_stop(r.prom);
    if (r.labels)
        fclose(r.labels);
    engine_free(r.eng);
    export_hub_free(r.hub);
    world_free(r.w);
    scenario_free(r.scn);
    core_buf_free(&r.lbuf);
    core_buf_free(&r.pbuf);
    run_opts_free(&r.o);
    return rc;
}
