/* Benchmark: remote write encoding (points -> requests -> protobuf -> snappy) on one core.
 *
 *   remote_write_encode [seconds] [version] [max_samples] [dump_dir]
 *
 * Builds hub-sized batches (4096 points) shaped like the `fleet` scenario's metrics: per host
 * 32 CPU-utilisation gauges (8 CPUs x 4 modes) and 2 memory gauges; per service instance and
 * route a request-duration histogram (14 bounds: 17 series), a request counter and an
 * in-flight gauge (20 hosts, 20 instances x 5 routes: 880 points and 2580 samples per
 * interval). Then, for the given time (default 3 s), it does what the remote write output
 * does with them: wire_rw_req_add every point, and wire_rw_req_encode (protobuf + snappy)
 * each time a request holds max_samples (default 2000). Prints JSON: samples per CPU second,
 * points per second, bytes per sample after snappy. With dump_dir it also writes the first
 * 20 requests' bodies there (NNNN.snappy, and their sample counts in NNNN.samples) for a
 * receiver benchmark to replay. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wire/wire.h"

#define HOSTS 20
#define INSTANCES 20
#define ROUTES 5
#define CPUS 8
#define BATCH 4096

static const double bounds[] = {0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25,
                                0.5,   0.75, 1,     2.5,  5,     7.5, 10};
static const struct rec_metric m_dur = {"http.server.request.duration",
                                        "Duration of HTTP server requests.",
                                        "s",
                                        REC_HISTOGRAM,
                                        0,
                                        2,
                                        0,
                                        bounds,
                                        14};
static const struct rec_metric m_req = {
    "http.server.requests", "Completed server requests.", "{request}", REC_SUM, 1, 2, 1, NULL, 0};
static const struct rec_metric m_act = {
    "http.server.active_requests", "Requests in flight.", "{request}", REC_SUM, 0, 2, 1, NULL, 0};
static const struct rec_metric m_cpu = {
    "system.cpu.utilization", "Host CPU utilisation.", "1", REC_GAUGE, 0, 2, 0, NULL, 0};
static const struct rec_metric m_mem = {
    "system.memory.usage", "Host memory in use.", "By", REC_GAUGE, 0, 2, 1, NULL, 0};

static struct rec_resource res[HOSTS + INSTANCES];
static char names[HOSTS + INSTANCES][2][32];
static const char *const modes[] = {"user", "system", "idle", "iowait"};
static const char *const cpus[] = {"0", "1", "2", "3", "4", "5", "6", "7"};
static const char *const routes[] = {"/", "/cart", "/checkout", "/api/items", "/api/search"};

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void setup(void)
{
    for (int i = 0; i < HOSTS + INSTANCES; i++) {
        snprintf(names[i][0], 32, i < HOSTS ? "fleet/node" : "shop/frontend");
        snprintf(names[i][1], 32, i < HOSTS ? "host-%02d" : "frontend-%02d", i);
        res[i] = (struct rec_resource){NULL, 0, "diorama", "0.1", names[i][0], names[i][1]};
    }
}

static struct rec_point *point(struct rec_batch *b, const struct rec_metric *m, int r, uint64_t t)
{
    struct rec_point *p = &b->r.points[b->n++];
    memset(p, 0, sizeof *p);
    p->metric = m;
    p->res = (uint16_t)r;
    p->time_ns = t;
    p->start_ns = 1767225600000000000ULL;
    p->attr_off = b->nattrs;
    return p;
}

static void attr(struct rec_batch *b, struct rec_point *p, const char *k, const char *v)
{
    rec_attr_str(&b->attrs[b->nattrs++], k, (uint32_t)strlen(k), v, (uint32_t)strlen(v));
    p->nattrs++;
}

/* One interval's points, appended; returns 0 when the batch has no room for them. */
static int interval(struct rec_batch *b, uint64_t t, uint64_t k)
{
    if (b->n + 880 > b->cap)
        return 0;
    for (int h = 0; h < HOSTS; h++) {
        for (int c = 0; c < CPUS * 4; c++) {
            struct rec_point *p = point(b, &m_cpu, h, t);
            attr(b, p, "cpu", cpus[c / 4]);
            attr(b, p, "state", modes[c % 4]);
            p->value.d = (double)((k * 7 + (uint64_t)c) % 100) / 100.0;
        }
        point(b, &m_mem, h, t)->value.i = (int64_t)(1 << 30) + (int64_t)k;
        struct rec_point *p = point(b, &m_mem, h, t);
        attr(b, p, "state", "free");
        p->value.i = (int64_t)(1 << 29);
    }
    for (int i = 0; i < INSTANCES; i++) {
        for (int r = 0; r < ROUTES; r++) {
            struct rec_point *p = point(b, &m_dur, HOSTS + i, t);
            attr(b, p, "http.route", routes[r]);
            attr(b, p, "http.request.method", "GET");
            p->bucket_off = b->nbuckets;
            for (int q = 0; q < 15; q++)
                b->buckets[b->nbuckets++] = k * (uint64_t)(q + 1);
            p->count = k * 120;
            p->sum = (double)k * 3.25;
            p = point(b, &m_req, HOSTS + i, t);
            attr(b, p, "http.route", routes[r]);
            p->value.i = (int64_t)(k * 120);
            p = point(b, &m_act, HOSTS + i, t);
            attr(b, p, "http.route", routes[r]);
            p->value.i = (int64_t)(k % 7);
        }
    }
    return 1;
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 3;
    int version = argc > 2 ? atoi(argv[2]) : 1;
    uint32_t max_samples = argc > 3 ? (uint32_t)atoi(argv[3]) : WIRE_RW_DEFAULT_SAMPLES;
    const char *dump = argc > 4 ? argv[4] : NULL;
    setup();
    enum { NB = 4 };
    struct rec_batch *bs[NB];
    uint64_t k = 1;
    for (int i = 0; i < NB; i++) {
        bs[i] = rec_batch_new(REC_METRICS, BATCH, 2, 4, 0);
        bs[i]->resources = res;
        bs[i]->nresources = HOSTS + INSTANCES;
        while (interval(bs[i], 1767225600000000000ULL + k * 10000000000ULL, k))
            k++;
    }
    struct wire_rw_req *r = wire_rw_req_new(max_samples);
    struct core_buf body;
    core_buf_init(&body, (size_t)64 << 20);
    uint64_t samples = 0, points = 0, bytes = 0, requests = 0;
    double t0 = cpu_s(), t;
    do {
        for (int i = 0; i < NB; i++) {
            const struct rec_batch *b = bs[i];
            for (uint32_t j = 0; j < b->n; j++) {
                if (wire_rw_req_full(r)) {
                    core_buf_reset(&body);
                    if (wire_rw_req_encode(r, version, &body))
                        return 1;
                    if (dump && requests < 20) {
                        char p[4096];
                        snprintf(p, sizeof p, "%s/%04llu.snappy", dump,
                                 (unsigned long long)requests);
                        FILE *f = fopen(p, "wb");
                        if (!f || fwrite(body.p, 1, body.len, f) != body.len || fclose(f))
                            return 1;
                        snprintf(p, sizeof p, "%s/%04llu.samples", dump,
                                 (unsigned long long)requests);
                        if (!(f = fopen(p, "w")) ||
                            fprintf(f, "%llu\n", (unsigned long long)wire_rw_req_samples(r)) < 0 ||
                            fclose(f))
                            return 1;
                    }
                    samples += wire_rw_req_samples(r);
                    bytes += body.len;
                    requests++;
                    wire_rw_req_reset(r);
                }
                wire_rw_req_add(r, b, &b->r.points[j]);
                points++;
            }
        }
        t = cpu_s() - t0;
    } while (t < secs);
    printf("{\"version\":%d,\"max_samples\":%u,\"cpu_seconds\":%.3f,\"samples_per_s\":%.0f,"
           "\"points_per_s\":%.0f,\"requests\":%llu,\"bytes_per_sample\":%.2f}\n",
           version, max_samples, t, (double)samples / t, (double)points / t,
           (unsigned long long)requests, samples ? (double)bytes / (double)samples : 0);
    core_buf_free(&body);
    wire_rw_req_free(r);
    for (int i = 0; i < NB; i++)
        rec_batch_free(bs[i]);
    return 0;
}
