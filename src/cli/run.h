#ifndef DIORAMA_CLI_RUN_H
#define DIORAMA_CLI_RUN_H
/* diorama run, split over run_opts.c (flags), run.c (wiring) and status.c (progress, summary). */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "core/core.h"
#include "engine/engine.h"
#include "export/export.h"

struct run_opts {
    const char *scenario;
    uint64_t max_series; /* --max-series; 0 = SCENARIO_MAX_SERIES */
    uint64_t seed;
    int has_seed;
    const char *run_id; /* --run-id, checked; NULL = derived (world.c) */
    double speed;       /* 0 = max */
    uint64_t duration_ns;
    int has_duration;
    uint64_t start_ns;
    int has_start;
    uint64_t metric_interval_ns;
    int signals;
    int verify;
    const char *otlp;
    const char *otlp_file;
    int null_out;
    const char *dataset;          /* --dataset DIR (checked: a writable directory) */
    int dataset_formats;          /* --dataset-format: EXPORT_DATASET_* bits; 0 = both */
    const char *postgres;         /* --postgres URL (checked by export_pg_url_check) */
    const char *influx;           /* --influx URL (checked by export_influx_url_check) */
    const char *remote_write;     /* --remote-write URL (checked by export_rw_url_check) */
    int rw_version;               /* --remote-write-version: 1 or 2; 0 = default (1) */
    uint32_t rw_max_samples;      /* --remote-write-max-samples; 0 = default (2000) */
    int rw_shards;                /* --remote-write-shards; 0 = default (1) */
    const char *openmetrics_file; /* --openmetrics-file PATH */
    int otlp_protocol;            /* --otlp-protocol: enum export_otlp_protocol, -1 = env */
    const char *compression;
    char **headers; /* "Name: value", NULL-terminated */
    int nheaders;
    const char *prom_listen;
    struct httpd_config prom_http; /* --prom-max-connections etc.; zeros = defaults */
    size_t prom_max_bytes;         /* --prom-max-bytes; 0 = EXPORT_PROM_MAX_BYTES */
    const char *labels;
    const char *summary_json;
    uint32_t batch_size;
    uint64_t batch_timeout_ns;
    uint32_t queue_batches;
    int on_full; /* 1 block, 0 drop */
    uint64_t shutdown_ns;
    uint64_t linger_ns;           /* --linger: keep /metrics up this long after the run */
    const char *control;          /* --control ADDR: the control API, NULL = none */
    const char *control_token;    /* --control-token, else $DIORAMA_CONTROL_TOKEN */
    struct world_chaos_cfg chaos; /* --chaos SPEC (docs/control-api.md); enabled = 0: off */
    const char *serve;            /* --serve ADDR: the scenario's routes, NULL = none */
    int tui;                      /* --tui: the full-screen live view (cli/tui.h) */
    int quiet;
    int verbose;
};

/* `scenario`: the one to run when argv names none. */
int run_parse(struct run_opts *o, int argc, char **argv, const char *scenario);
void run_opts_free(struct run_opts *o);
/* The last simulated time a run may reach: the largest signed 64-bit nanosecond timestamp
 * (what collectors and TSDBs store), 2262-04-11T23:47:16Z; --start and --start + --duration
 * past it are usage errors. */
#define RUN_MAX_TIME_NS ((uint64_t)INT64_MAX)
#define RUN_MAX_TIME_TEXT "2262-04-11T23:47:16Z"
int run_parse_time(const char *s, uint64_t *unix_ns);

/* What the status line shows of /metrics: cb_tick (engine thread) stores, the status thread
 * loads. */
struct run_prom_stats {
    const struct export_prom *prom;
    _Atomic uint64_t series; /* points in the last tick: one per series */
    _Atomic uint64_t points; /* points published so far */
};

/* status.c: a thread printing a status line (twice a second on a terminal, every 10 s
 * otherwise) until run_status_stop. It shows what the outputs in use produce: per signal
 * rate and delivery of the push outputs, and /metrics (series, points, scrapes) when ps is
 * not NULL. */
struct run_status;
struct run_status *run_status_start(const struct engine *e, const struct export_hub *h,
                                    struct run_prom_stats *ps, double speed);
void run_status_stop(struct run_status *s);

#endif
