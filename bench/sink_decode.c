/* Benchmark: decode + verify of pre-recorded OTLP requests on one core, without sockets.
 *
 *   sink_decode DIR [seconds] [traces]
 *
 * DIR holds request bodies as `diorama sink --record DIR` writes them (NNNNNNNN-spans.pb ...).
 * Every *-spans.pb / *-logs.pb / *-metric_points.pb file is loaded into memory, then replayed
 * through sink_handle (the whole request path: route, decode, verify, response) over and over
 * for the given time (default 3 s), on the calling thread; with "traces" only the span
 * requests are replayed (spans_per_s is then the span rate alone). A fresh sink per pass keeps the
 * sequence windows realistic (each pass is the run once, not duplicates). Prints JSON.
 * A second line compares the decoders alone on the same requests, in alternating passes: the
 * in-place walker the sink uses against protobuf-c's unpack (its reference), CPU ns per item. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sink/sink.h"
#include "wire/decode_int.h"

struct req {
    char path[32];
    uint8_t *body;
    size_t len;
};

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int only_traces;

static int load(const char *dir, const char *name, struct req *r)
{
    static const char *const kinds[][2] = {{"-spans.pb", "/v1/traces"},
                                           {"-logs.pb", "/v1/logs"},
                                           {"-metric_points.pb", "/v1/metrics"}};
    size_t n = strlen(name);
    for (int k = 0; k < (only_traces ? 1 : 3); k++) {
        size_t kl = strlen(kinds[k][0]);
        if (n < kl || strcmp(name + n - kl, kinds[k][0]))
            continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, name);
        FILE *f = fopen(p, "rb");
        if (!f)
            return -1;
        fseek(f, 0, SEEK_END);
        long sz = ftell(f);
        fseek(f, 0, SEEK_SET);
        r->body = malloc(sz > 0 ? (size_t)sz : 1);
        r->len = fread(r->body, 1, sz > 0 ? (size_t)sz : 0, f);
        fclose(f);
        snprintf(r->path, sizeof r->path, "%s", kinds[k][1]);
        return 0;
    }
    return -1;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Loads DIR's requests in recording order. Returns how many. */
static size_t load_all(const char *dir, struct req **out)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    char **names = NULL;
    size_t nn = 0;
    for (struct dirent *e; (e = readdir(d));) {
        names = realloc(names, (nn + 1) * sizeof *names);
        names[nn++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, nn, sizeof *names, by_name);
    struct req *rs = calloc(nn ? nn : 1, sizeof *rs);
    size_t n = 0;
    for (size_t i = 0; i < nn; i++) {
        if (!load(dir, names[i], &rs[n]))
            n++;
        free(names[i]);
    }
    free(names);
    *out = rs;
    return n;
}

static int signal_of(const char *path)
{
    return !strcmp(path, "/v1/traces")    ? REC_SPANS
           : !strcmp(path, "/v1/metrics") ? REC_METRICS
                                          : REC_LOGS;
}

/* One pass of decoder `walk` (1: in place, 0: protobuf-c) over every request: items decoded. */
static uint64_t decode_pass(const struct req *rq, size_t n, int walk)
{
    uint64_t items = 0;
    for (size_t i = 0; i < n; i++) {
        struct wire_decode_stats st = {0, 0};
        struct wire__sink k = {NULL, NULL, &st, 0};
        char err[128];
        int sig = signal_of(rq[i].path);
        if (walk)
            wire__otlp_walk(sig, rq[i].body, rq[i].len, &k, err, sizeof err);
        else
            wire__otlp_unpack(sig, rq[i].body, rq[i].len, &k, err, sizeof err);
        items += st.items;
    }
    return items;
}

static void compare_decoders(const struct req *rq, size_t n, double secs)
{
    double t[2] = {0, 0};
    uint64_t items[2] = {0, 0};
    while (t[0] + t[1] < secs)
        for (int w = 0; w < 2; w++) {
            double t0 = cpu_s();
            items[w] += decode_pass(rq, n, w);
            t[w] += cpu_s() - t0;
        }
    double ns[2] = {t[0] * 1e9 / (double)items[0], t[1] * 1e9 / (double)items[1]};
    printf("{\"bench\":\"sink_decoders\",\"only_traces\":%s,\"items\":%llu,"
           "\"protobuf_c_ns_per_item\":%.0f,\"walk_ns_per_item\":%.0f,\"speedup\":%.2f}\n",
           only_traces ? "true" : "false", (unsigned long long)items[1], ns[0], ns[1],
           ns[0] / ns[1]);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: sink_decode DIR [seconds]\n");
        return 2;
    }
    double secs = argc > 2 ? atof(argv[2]) : 3;
    only_traces = argc > 3 && !strcmp(argv[3], "traces");
    struct req *rq;
    size_t n = load_all(argv[1], &rq);
    if (!n) {
        fprintf(stderr, "sink_decode: no recorded requests in %s\n", argv[1]);
        return 1;
    }
    struct sink_cfg cfg = {.retry_after_s = -1};
    struct sink_response rs;
    core_buf_init(&rs.body, 1 << 20);
    uint64_t items[SINK_NSIGNALS] = {0}, bytes = 0, reqs = 0, bad = 0;
    double t0 = cpu_s(), t = 0;
    while (t < secs) {
        struct sink *s;
        char err[128];
        if (sink_new(&s, &cfg, err, sizeof err))
            return 1;
        for (size_t i = 0; i < n; i++) {
            struct sink_request r = {
                "POST", rq[i].path, "application/x-protobuf", NULL, rq[i].body, rq[i].len, 0};
            sink_handle(s, &r, &rs);
            bad += rs.status != 200;
            bytes += rq[i].len;
        }
        reqs += n;
        struct sink_totals tt;
        sink_totals(s, &tt);
        for (int k = 0; k < SINK_NSIGNALS; k++)
            items[k] += tt.received[k];
        sink_free(s);
        t = cpu_s() - t0;
    }
    uint64_t all = items[0] + items[1] + items[2];
    printf("{\"bench\":\"sink_decode\",\"only_traces\":%s,", only_traces ? "true" : "false");
    printf("\"cpu_seconds\":%.3f,\"requests\":%llu,\"bad\":%llu,"
           "\"spans\":%llu,\"metric_points\":%llu,\"logs\":%llu,\"mb_per_s\":%.1f,"
           "\"spans_per_s\":%.0f,\"items_per_s\":%.0f}\n",
           t, (unsigned long long)reqs, (unsigned long long)bad, (unsigned long long)items[0],
           (unsigned long long)items[1], (unsigned long long)items[2], (double)bytes / t / 1e6,
           (double)items[0] / t, (double)all / t);
    compare_decoders(rq, n, secs);
    core_buf_free(&rs.body);
    for (size_t i = 0; i < n; i++)
        free(rq[i].body);
    free(rq);
    return bad ? 1 : 0;
}
