/* wire: Prometheus text exposition. Name mapping table, a golden scrape
 * (tests/data/golden/prom_scrape.txt; regenerate with WIRE_GOLDEN_UPDATE=1, review the diff),
 * histogram invariants, families kept together across batches, last point wins, and
 * `promtool check metrics` on the output when promtool is installed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wire/wire.h"

#define GOLDEN "tests/data/golden/prom_scrape.txt"

static void names_table(void **state)
{
    static const struct {
        const char *name, *unit;
        uint8_t type, mono;
        const char *want;
    } t[] = {
        {"http.server.request.duration", "s", REC_HISTOGRAM, 0,
         "http_server_request_duration_seconds"},
        {"http.server.requests", "{request}", REC_SUM, 1, "http_server_requests_total"},
        {"http.server.active_requests", "{request}", REC_SUM, 0, "http_server_active_requests"},
        {"system.cpu.utilization", "1", REC_GAUGE, 0, "system_cpu_utilization_ratio"},
        {"system.cpu.time", "s", REC_SUM, 1, "system_cpu_time_seconds_total"},
        {"x.count", "1", REC_SUM, 1, "x_count_total"},
        {"process.memory.usage", "By", REC_SUM, 0, "process_memory_usage_bytes"},
        {"net.io.rate", "By/s", REC_GAUGE, 0, "net_io_rate_bytes_per_second"},
        {"gen_ai.client.token.usage", "{token}", REC_HISTOGRAM, 0, "gen_ai_client_token_usage"},
        {"gen_ai.tokens.rate", "{token}/s", REC_GAUGE, 0, "gen_ai_tokens_rate_per_second"},
        {"queue.latency_seconds", "s", REC_GAUGE, 0, "queue_latency_seconds"},
        {"jobs_total", "", REC_SUM, 1, "jobs_total"},
        {"jobs.seconds_total", "s", REC_SUM, 1, "jobs_seconds_total"},
        {"weird-name..x", "", REC_GAUGE, 0, "weird_name_x"},
        {"9lives", NULL, REC_GAUGE, 0, "_9lives"},
        {"temp", "Cel", REC_GAUGE, 0, "temp_celsius"},
        {"odd", "furlong", REC_GAUGE, 0, "odd_furlong"},
    };
    char out[256];
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        struct rec_metric m = {t[i].name, NULL, t[i].unit, t[i].type, t[i].mono, 2, 0, NULL, 0};
        assert_int_equal(wire_prom_name(&m, out, sizeof out), 0);
        if (strcmp(out, t[i].want) != 0)
            fail_msg("%s [%s]: got %s, want %s", t[i].name, t[i].unit ? t[i].unit : "(null)", out,
                     t[i].want);
    }
    struct rec_metric m = {"a.rather.long.name", NULL, "s", REC_GAUGE, 0, 0, 0, NULL, 0};
    assert_int_equal(wire_prom_name(&m, out, 8), DIO_ERANGE);
}

/* ---- a scrape's worth of batches ------------------------------------------------------- */

static const double bounds[] = {0.005, 0.1, 1, 2.5, 1e6};
static const struct rec_metric m_dur = {"http.server.request.duration",
                                        "Duration of HTTP server requests.\nIn seconds \\o/",
                                        "s",
                                        REC_HISTOGRAM,
                                        0,
                                        2,
                                        0,
                                        bounds,
                                        5};
static const struct rec_metric m_req = {
    "http.server.requests", "Requests served.", "{request}", REC_SUM, 1, 2, 1, NULL, 0};
static const struct rec_metric m_mem = {
    "process.memory.usage", "Resident memory.", "By", REC_SUM, 0, 2, 1, NULL, 0};
static const struct rec_metric m_cpu = {
    "system.cpu.utilization", NULL, "1", REC_GAUGE, 0, 0, 0, NULL, 0};
static const struct rec_metric m_delta = {
    "x.delta", "Delta sums cannot be exposed.", "", REC_SUM, 1, 1, 1, NULL, 0};

static const struct rec_resource resources[2] = {
    {NULL, 0, "diorama", NULL, "shop/frontend", "frontend-0"},
    {NULL, 0, "diorama", NULL, "shop/checkout", "checkout-\"1\""},
};

struct sample {
    struct rec_batch b;
    struct rec_point pts[16];
    struct rec_attr attrs[32];
    uint64_t buckets[32];
};

static struct rec_point *add(struct sample *s, const struct rec_metric *m, uint16_t res,
                             const char *route)
{
    struct rec_point *p = &s->pts[s->b.n++];
    memset(p, 0, sizeof *p);
    p->metric = m;
    p->res = res;
    p->time_ns = 1700000000000000000ULL;
    p->attr_off = s->b.nattrs;
    if (route) {
        rec_attr_str(&s->attrs[s->b.nattrs++], REC_KEY("http.route"), route,
                     (uint32_t)strlen(route));
        p->nattrs++;
    }
    return p;
}

static void hist(struct sample *s, struct rec_point *p, uint64_t b0, uint64_t b1, uint64_t b5)
{
    p->bucket_off = s->b.nbuckets;
    uint64_t *bk = s->buckets + s->b.nbuckets;
    s->b.nbuckets += 6;
    memset(bk, 0, 6 * sizeof *bk);
    bk[0] = b0, bk[1] = b1, bk[5] = b5;
    p->count = b0 + b1 + b5;
    p->sum = 0.004 * (double)b0 + 0.05 * (double)b1 + 2e6 * (double)b5;
}

static void build(struct sample *s1, struct sample *s2)
{
    memset(s1, 0, sizeof *s1);
    memset(s2, 0, sizeof *s2);
    struct sample *ss[2] = {s1, s2};
    for (int i = 0; i < 2; i++) {
        ss[i]->b = (struct rec_batch){.signal = REC_METRICS,
                                      .r.points = ss[i]->pts,
                                      .attrs = ss[i]->attrs,
                                      .buckets = ss[i]->buckets,
                                      .resources = resources,
                                      .nresources = 2};
    }
    /* First interval. */
    hist(s1, add(s1, &m_dur, 1, "/cart"), 3, 1, 0);
    hist(s1, add(s1, &m_dur, 0, "/"), 5, 0, 1);
    add(s1, &m_req, 0, "/")->value.i = 10;
    add(s1, &m_req, 1, "/cart")->value.i = 4;
    add(s1, &m_delta, 0, NULL)->value.i = 3;
    struct rec_point *p = add(s1, &m_cpu, 0, NULL);
    p->value.d = 0.25;
    /* Awkward attributes: a value to escape, a key to sanitize, keys that would clash. */
    p->nattrs = 4;
    rec_attr_str(&s1->attrs[s1->b.nattrs++], REC_KEY("cpu.mode"), "us\"er\\\n", 7);
    rec_attr_int(&s1->attrs[s1->b.nattrs++], REC_KEY("1cpu-id"), 3);
    rec_attr_str(&s1->attrs[s1->b.nattrs++], REC_KEY("job"), "clash", 5);
    rec_attr_bool(&s1->attrs[s1->b.nattrs++], REC_KEY("cpu.online"), 1);
    add(s1, &m_mem, 1, NULL)->value.i = 123456789;
    /* Second interval: newer values of some series (they win) and one new series. */
    add(s2, &m_req, 0, "/")->value.i = 12;
    add(s2, &m_req, 0, "/new")->value.i = 1;
    hist(s2, add(s2, &m_dur, 0, "/"), 6, 0, 1);
    add(s2, &m_cpu, 1, NULL)->value.d = NAN;
}

static void encode(struct core_buf *out)
{
    struct sample s1, s2;
    build(&s1, &s2);
    const struct rec_batch *const bs[] = {&s1.b, &s2.b};
    core_buf_init(out, 1 << 16);
    assert_int_equal(wire_prom_encode(out, bs, 2), 0);
}

static void scrape_golden(void **state)
{
    struct core_buf out;
    encode(&out);
    if (getenv("WIRE_GOLDEN_UPDATE")) {
        FILE *f = fopen(GOLDEN, "wb");
        assert_non_null(f);
        fwrite(out.p, 1, out.len, f);
        fclose(f);
    }
    FILE *f = fopen(GOLDEN, "rb");
    if (!f)
        fail_msg("cannot open %s (run from the repository root)", GOLDEN);
    static char want[1 << 16];
    size_t n = fread(want, 1, sizeof want, f);
    fclose(f);
    if (n != out.len || memcmp(want, out.p, n) != 0) {
        fwrite(out.p, 1, out.len, stderr);
        fail_msg("output differs from %s (printed above)", GOLDEN);
    }
    core_buf_free(&out);
}

/* Families appear once, in one block: a TYPE line is never repeated and no family's samples
 * are interleaved with another's. Series lines are unique. */
static void families_together_series_unique(void **state)
{
    struct core_buf out;
    encode(&out);
    core_buf_putc(&out, 0);
    char *text = strdup((const char *)out.p), *save = NULL;
    char fams[16][128], series[64][512];
    int nf = 0, ns = 0;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "# TYPE ", 7) == 0) {
            char name[128];
            assert_int_equal(sscanf(line + 7, "%127s", name), 1);
            for (int i = 0; i < nf; i++)
                assert_string_not_equal(fams[i], name);
            strcpy(fams[nf++], name);
            continue;
        }
        if (line[0] == '#')
            continue;
        assert_true(nf > 0);
        assert_int_equal(strncmp(line, fams[nf - 1], strlen(fams[nf - 1])), 0);
        char *sp = strrchr(line, ' ');
        *sp = 0;
        for (int i = 0; i < ns; i++)
            assert_string_not_equal(series[i], line);
        assert_true(strlen(line) < sizeof series[0]);
        strcpy(series[ns++], line);
    }
    assert_int_equal(nf, 4); /* the delta sum is left out */
    free(text);
    core_buf_free(&out);
}

/* _bucket counts are cumulative and non-decreasing in le order, le="+Inf" equals _count. */
static void histogram_invariants(void **state)
{
    struct core_buf out;
    encode(&out);
    core_buf_putc(&out, 0);
    const char *pfx = "http_server_request_duration_seconds_";
    int series = 0;
    double prev_le = -INFINITY, prev = -1;
    char *text = strdup((const char *)out.p), *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, pfx, strlen(pfx)) != 0)
            continue;
        const char *kind = line + strlen(pfx);
        double v = strtod(strrchr(line, ' ') + 1, NULL);
        if (strncmp(kind, "bucket", 6) == 0) {
            const char *le = strstr(line, "le=\"") + 4;
            double lev = strncmp(le, "+Inf", 4) == 0 ? INFINITY : strtod(le, NULL);
            if (lev < prev_le) { /* a new series starts */
                prev = -1;
            }
            assert_true(lev > prev_le || prev < 0);
            assert_true(v >= prev);
            prev_le = lev, prev = v;
        } else if (strncmp(kind, "count", 5) == 0) {
            assert_true(prev_le == INFINITY);
            assert_true(v == prev);
            series++;
            prev_le = -INFINITY, prev = -1;
        }
    }
    assert_int_equal(series, 2);
    free(text);
    core_buf_free(&out);
}

static void promtool_accepts(void **state)
{
    if (access("/usr/bin/promtool", X_OK) != 0) {
        skip();
        return;
    }
    struct core_buf out;
    encode(&out);
    char path[] = "/tmp/diorama-prom-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, out.p, out.len), (ssize_t)out.len);
    close(fd);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "/usr/bin/promtool check metrics < %s", path);
    int rc = system(cmd);
    unlink(path);
    assert_true(WIFEXITED(rc));
    assert_int_equal(WEXITSTATUS(rc), 0);
    core_buf_free(&out);
}

static void invalid_points_are_rejected(void **state)
{
    struct sample s1, s2;
    build(&s1, &s2);
    s1.pts[0].bucket_off = 1000;
    const struct rec_batch *const bs[] = {&s1.b};
    struct core_buf out;
    core_buf_init(&out, 1 << 16);
    assert_int_equal(wire_prom_encode(&out, bs, 1), DIO_EINVAL);
    core_buf_free(&out);
    /* A full buffer reports DIO_EFULL. */
    build(&s1, &s2);
    core_buf_init(&out, 300);
    assert_int_equal(wire_prom_encode(&out, bs, 1), DIO_EFULL);
    core_buf_free(&out);
}

int main(void)
{
    /* clang-format off */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names_table),
        cmocka_unit_test(scrape_golden),
        cmocka_unit_test(families_together_series_unique),
        cmocka_unit_test(histogram_invariants),
        cmocka_unit_test(promtool_accepts),
        cmocka_unit_test(invalid_points_are_rejected),
    };
    /* clang-format on */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
