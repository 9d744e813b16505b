#ifndef DIORAMA_CLI_RUN_H
#define DIORAMA_CLI_RUN_H
/* diorama run, split over run_opts.c (flags), run.c (wiring) and status.c (progress, summary). */
#include <stdint.h>
#include <stdio.h>

#include "core/core.h"
#include "engine/engine.h"
#include "export/export.h"

struct run_opts {
    const char *scenario;
    uint64_t seed;
    int has_seed;
    double speed; /* 0 = max */
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
    const char *compression;
    char **headers; /* "Name: value", NULL-terminated */
    int nheaders;
    const char *prom_listen;
    const char *labels;
    const char *summary_json;
    uint32_t batch_size;
    uint64_t batch_timeout_ns;
    uint32_t queue_batches;
    int on_full; /* 1 block, 0 drop */
    uint64_t shutdown_ns;
    int quiet;
    int verbose;
};

int run_parse(struct run_opts *o, int argc, char **argv);
void run_opts_free(struct run_opts *o);
int run_parse_time(const char *s, uint64_t *unix_ns);

/* status.c: a thread printing a status line (twice a second on a terminal, every 10 s
 * otherwise) until run_status_stop. */
struct run_status;
struct run_status *run_status_start(const struct engine *e, const struct export_hub *h,
                                    double speed);
void run_status_stop(struct run_status *s);

#endif
