/* report_sample: writes a `diorama load` report for a synthetic, deterministic run, for the
 * HTML check in headless Chromium (tests/integration/test_report_html.sh) and for looking at.
 *
 *   report_sample DIR     -> DIR/load.txt, DIR/load.json, DIR/load.html
 *
 * The run: 30 s at 1000 req/s, latency log-normal around 2 ms with a slow spell from 12 s to
 * 15 s; a few errors of every kind. The URL and a threshold carry "</script>" and quotes, so
 * the page also proves that nothing breaks out of its <script> elements. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "report/report.h"
#include "wire/wire.h"

#define SECONDS 30
#define RATE 1000

static int64_t sample_us(struct core_rng *rng, int second)
{
    double base = second >= 12 && second < 15 ? 9000 : 2000;
    double v = base * exp(0.45 * core_rng_normal(rng));
    if (core_rng_unit(rng) < 0.002)
        v *= 20; /* a rare stall */
    return (int64_t)v + 1;
}

static void fill_second(struct report_load_second *s, const struct core_hdr *h, int t)
{
    s->t_s = t;
    s->sent = RATE;
    s->done = (double)h->total;
    s->errors = (uint64_t)(t % 7 == 0);
    s->p50_us = core_hdr_value_at(h, 50);
    s->p90_us = core_hdr_value_at(h, 90);
    s->p99_us = core_hdr_value_at(h, 99);
    s->max_us = core_hdr_value_at(h, 100);
    s->width_s = 1;
    s->late = (uint64_t)(t >= 12 && t < 15) * 5;
}

static void make_run(struct report_load *r, struct core_hdr *all, struct report_load_second *tl)
{
    static const struct report_threshold th[] = {{"p99<50ms", 31.2, 1, "ms"},
                                                 {"errors<0.1%", 0.23, 0, "%"},
                                                 {"p50<3ms </script>\"'", 2.1, 1, "ms"}};
    static uint64_t codes[600];
    struct core_rng rng;
    struct core_hdr sec;
    core_rng_init(&rng, 42, 1, 1);
    core_hdr_init(all, 1, 60000000, 3);
    core_hdr_init(&sec, 1, 60000000, 3);
    for (int t = 0; t < SECONDS; t++) {
        core_hdr_reset(&sec);
        for (int i = 0; i < RATE; i++)
            core_hdr_record(&sec, sample_us(&rng, t));
        core_hdr_merge(all, &sec);
        fill_second(&tl[t], &sec, t);
    }
    core_hdr_free(&sec);
    codes[200] = SECONDS * RATE - 69 - 12;
    codes[404] = 12;
    codes[503] = 57;
    memset(r, 0, sizeof *r);
    r->url = "http://127.0.0.1:8080/api/checkout?q=</script><script>alert(1)</script>&x=\"'";
    r->method = "POST";
    r->mode = "normal_traffic";
    r->threads = 4;
    r->connections = 64;
    r->connections_open = 9;
    r->planned_s = SECONDS;
    r->target_rate = RATE;
    r->achieved_rate = 999.87;
    r->duration_s = SECONDS;
    r->requests = SECONDS * RATE;
    r->sent = SECONDS * RATE + 5 + 2 + 1;
    r->connect_errors = 3, r->timeouts = 5, r->read_errors = 2, r->write_errors = 1;
    r->status[2] = codes[200], r->status[4] = 12, r->status[5] = 57;
    r->errors = 3 + 5 + 2 + 1 + 12 + 57;
    r->late = 17;
    r->dropped = 4;
    memcpy(r->status_codes, codes, sizeof codes);
    r->bytes_read = 31457280, r->bytes_written = 4718592;
    r->latency = all;
    r->timeline = tl;
    r->ntimeline = SECONDS;
    r->thresholds = th;
    r->nthresholds = sizeof th / sizeof th[0];
    /* two routes, one with markup in its path: the page must show it literally */
    static struct report_route routes[2];
    routes[0] = (struct report_route){"GET", "/", 0.9, SECONDS * RATE - 3000, 9, all};
    routes[1] = (struct report_route){"POST", "/x?<b>bold</b>&", 0.1, 3000, 71, all};
    r->scenario = "shop";
    r->routes = routes;
    r->nroutes = 2;
}

static int write_file(const char *dir, const char *name, const struct core_buf *b)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b->p, 1, b->len, f) != b->len || fclose(f) != 0) {
        fprintf(stderr, "report_sample: cannot write %s\n", path);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: report_sample DIR\n");
        return 2;
    }
    static struct report_load r;
    static struct report_load_second tl[SECONDS];
    struct core_hdr all;
    struct core_buf b64, txt, json, html;
    make_run(&r, &all, tl);
    core_buf_init(&b64, 1 << 20);
    core_buf_init(&txt, 1 << 20);
    core_buf_init(&json, 1 << 22);
    core_buf_init(&html, 1 << 23);
    int rc = wire_hdr_encode(&all, &b64) || report_load_text(&r, &txt) ||
             report_load_json(&r, (const char *)b64.p, &json) || report_load_html(&r, &html);
    if (rc)
        fprintf(stderr, "report_sample: a report failed\n");
    else
        rc = write_file(argv[1], "load.txt", &txt) || write_file(argv[1], "load.json", &json) ||
             write_file(argv[1], "load.html", &html);
    core_buf_free(&b64);
    core_buf_free(&txt);
    core_buf_free(&json);
    core_buf_free(&html);
    core_hdr_free(&all);
    return rc ? 1 : 0;
}
