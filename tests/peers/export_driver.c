/* export_driver: a stand-in engine for the export integration tests. Generates batches of
 * all three signals at a steady rate into a hub with one output, optionally serves /metrics,
 * and on SIGTERM/SIGINT shuts the hub down with a deadline and prints the accounting as JSON.
 *
 *   export_driver (--url BASE | --file PATH | --null) [--rate BATCHES_PER_S] [--batch N]
 *                 [--deadline-ms D] [--max-concurrent N] [--gzip] [--drop]
 *                 [--prom ADDR --prom-port-file F] [--out F]
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/export.h"
#include "wire/wire.h"
#include "fake_batch.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1; /* shutdown happens in main, not here */
}

struct opts {
    const char *url, *file, *prom, *prom_port_file, *out;
    int null, gzip, drop, max_concurrent;
    double rate;
    uint32_t batch;
    uint64_t deadline_ms;
};

static void usage(void)
{
    fprintf(stderr, "usage: export_driver (--url BASE | --file PATH | --null) [options]\n");
    exit(2);
}

static void parse(int argc, char **argv, struct opts *o)
{
    *o = (struct opts){.rate = 50, .batch = 20, .deadline_ms = 3000};
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(k, "--null"))
            o->null = 1;
        else if (!strcmp(k, "--gzip"))
            o->gzip = 1;
        else if (!strcmp(k, "--drop"))
            o->drop = 1;
        else if (!v)
            usage();
        else {
            i++;
            if (!strcmp(k, "--url"))
                o->url = v;
            else if (!strcmp(k, "--file"))
                o->file = v;
            else if (!strcmp(k, "--prom"))
                o->prom = v;
            else if (!strcmp(k, "--prom-port-file"))
                o->prom_port_file = v;
            else if (!strcmp(k, "--out"))
                o->out = v;
            else if (!strcmp(k, "--rate"))
                o->rate = atof(v);
            else if (!strcmp(k, "--batch"))
                o->batch = (uint32_t)atoi(v);
            else if (!strcmp(k, "--deadline-ms"))
                o->deadline_ms = strtoull(v, NULL, 10);
            else if (!strcmp(k, "--max-concurrent"))
                o->max_concurrent = atoi(v);
            else
                usage();
        }
    }
    if (!o->url + !o->file + !o->null != 2 || o->rate <= 0 || o->batch == 0)
        usage();
}

static struct export_output *make_output(const struct opts *o)
{
    char err[256];
    if (o->null)
        return export_null_new(1);
    if (o->file) {
        struct export_output *out = export_otlp_file_new(o->file, 1, err, sizeof err);
        if (!out)
            fprintf(stderr, "export_driver: %s\n", err);
        return out;
    }
    struct export_otlp_http_cfg c;
    if (export_otlp_http_cfg_resolve(&c, o->url, err, sizeof err) != 0) {
        fprintf(stderr, "export_driver: %s\n", err);
        return NULL;
    }
    c.gzip = o->gzip;
    if (o->max_concurrent > 0)
        c.max_concurrent = o->max_concurrent;
    c.retry_initial_ns = 100000000ULL;
    c.retry_max_ns = 500000000ULL;
    c.verify_attrs = 1;
    struct export_output *out = export_otlp_http_new(&c);
    export_otlp_http_cfg_free(&c);
    return out;
}

static void print_stats(FILE *f, struct export_hub *h, uint64_t shutdown_ns)
{
    fprintf(f, "{\"shutdown_ms\":%llu,\"outputs\":[", (unsigned long long)(shutdown_ns / 1000000));
    for (size_t i = 0; i < export_hub_noutputs(h); i++) {
        struct export_stats st;
        export_hub_stats(h, i, &st);
        fprintf(f, "%s{\"name\":\"%s\",\"signals\":{", i ? "," : "",
                export_output_name(export_hub_output(h, i)));
        for (int s = 0; s < REC_NSIGNALS; s++) {
            const struct export_signal_stats *x = &st.s[s];
            fprintf(
                f,
                "%s\"%s\":{\"generated\":%llu,\"delivered\":%llu,\"in_flight\":%llu,"
                "\"timed_out\":%llu,\"requests\":%llu,\"failed_requests\":%llu,\"retried\":%llu,"
                "\"bytes\":%llu,\"dropped_total\":%llu,\"dropped\":{",
                s ? "," : "", rec_signal_names[s], (unsigned long long)x->generated,
                (unsigned long long)x->delivered, (unsigned long long)x->in_flight,
                (unsigned long long)x->timed_out, (unsigned long long)x->requests,
                (unsigned long long)x->failed_requests, (unsigned long long)x->retried,
                (unsigned long long)x->bytes, (unsigned long long)export_dropped_total(x));
            for (int r = 0; r < EXPORT_DROP_NREASONS; r++)
                fprintf(f, "%s\"%s\":%llu", r ? "," : "", export_drop_reason_names[r],
                        (unsigned long long)x->dropped[r]);
            fprintf(f, "}}");
        }
        fprintf(f, "}}");
    }
    fprintf(f, "]}\n");
}

static struct export_prom *start_prom(const struct opts *o)
{
    char err[256];
    struct export_prom_cfg pc = {.listen = o->prom};
    struct export_prom *p = export_prom_start(&pc, NULL, err, sizeof err);
    if (!p) {
        fprintf(stderr, "export_driver: %s\n", err);
        exit(1);
    }
    if (o->prom_port_file) {
        FILE *f = fopen(o->prom_port_file, "w");
        fprintf(f, "%d\n", export_prom_port(p));
        fclose(f);
    }
    return p;
}

/* The "world" metrics: one small batch rendered with the wire encoder, as the engine would. */
static void publish_world(struct export_prom *p, uint64_t *seq)
{
    struct rec_batch *b = rec_batch_new(REC_METRICS, 8, 4, 16, 16);
    fake_fill(b, 2, seq);
    struct core_buf out;
    core_buf_init(&out, 1 << 20);
    const struct rec_batch *bs[1] = {b};
    if (wire_prom_encode(&out, bs, 1) == 0)
        export_prom_publish(p, out.p, out.len);
    core_buf_free(&out);
    rec_batch_free(b);
}

int main(int argc, char **argv)
{
    struct opts o;
    parse(argc, argv, &o);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    struct export_output *out = make_output(&o);
    if (!out)
        return 1;
    struct export_hub_cfg hc = {
        .batch_size = {o.batch, o.batch, o.batch}, .queue_batches = 16, .block_when_full = !o.drop};
    struct export_hub *h = export_hub_new(&hc, &out, 1);
    if (export_hub_start(h) != 0)
        return 1;
    struct export_prom *p = o.prom ? start_prom(&o) : NULL;
    if (p)
        export_prom_set_hub(p, h);
    uint64_t seq = 0, wseq = 0, period = (uint64_t)(1e9 / o.rate), next = core_mono_ns();
    for (uint64_t i = 0; !stop; i++) {
        int s = (int)(i % REC_NSIGNALS);
        struct rec_batch *b = export_hub_batch(h, s);
        if (b) {
            fake_fill(b, o.batch, &seq);
            export_hub_submit(h, b);
        } else {
            export_hub_drop(h, s, o.batch, EXPORT_DROP_QUEUE_FULL);
        }
        if (p && i % 10 == 0)
            publish_world(p, &wseq);
        next += period;
        core_sleep_until_ns(next);
    }
    uint64_t t0 = core_mono_ns();
    export_hub_shutdown(h, t0 + o.deadline_ms * 1000000ULL);
    uint64_t took = core_mono_ns() - t0;
    FILE *f = o.out ? fopen(o.out, "w") : stdout;
    print_stats(f ? f : stdout, h, took);
    if (f && f != stdout)
        fclose(f);
    if (p)
        export_prom_stop(p); /* before the hub goes */
    export_hub_free(h);
    return 0;
}
