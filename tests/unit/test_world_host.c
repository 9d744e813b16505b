/* Host metrics (world/host.c): the layout has as many series as scenario/series.c counts and
 * the metric names and attributes of docs/metrics.md; values stay in their bounds over a
 * simulated month; counters never go back; the same seed gives the same values and another
 * seed other ones; a host put in the degrading and critical states reports more CPU, load and
 * memory than it did healthy, and another host does not change. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "world/world.h"

#define S 1000000000ULL
#define T0 1767225600000000000ULL /* 2026-01-01T00:00:00Z */

static const char yaml[] = "hosts:\n"
                           "  - {name: \"db%02d\", count: 2, profile: db}\n"
                           "  - {name: gpu1, profile: gpu, cpus: 4, gpus: 3, gpu_model: H100}\n"
                           "  - {name: w1, profile: web, cpu: 20%, cpus: 2, memory_gib: 8}\n";

struct fx {
    struct scenario *scn;
    struct world *w;
};

static void fx_open(struct fx *f, uint64_t seed)
{
    struct scn_error e;
    char msg[256];
    int rc = scenario_load_string("hosts.yaml", yaml, strlen(yaml), &f->scn, &e);
    if (rc) {
        scenario_format_error(&e, msg, sizeof msg);
        fail_msg("%s", msg);
    }
    struct world_opts wo = {.seed = seed, .nshards = 1};
    assert_int_equal(world_build(&f->w, f->scn, &wo, msg, sizeof msg), 0);
}

static void fx_close(struct fx *f)
{
    world_free(f->w);
    scenario_free(f->scn);
}

/* Index of the first series of `metric` with attribute key=str (str NULL: any), or -1. */
static int find(const struct world_hseries *l, uint32_t n, int metric, const char *key,
                const char *str)
{
    for (uint32_t i = 0; i < n; i++) {
        if (l[i].metric != metric)
            continue;
        for (int k = 0; k < l[i].nattrs; k++)
            if (!key || (!strcmp(l[i].attrs[k].key, key) && l[i].attrs[k].str &&
                         !strcmp(l[i].attrs[k].str, str)))
                return (int)i;
        if (!key)
            return (int)i;
    }
    return -1;
}

static void test_layout(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, 1);
    assert_int_equal(f.scn->nhosts, 4);
    assert_string_equal(f.scn->hosts[1].name, "db02");
    for (int h = 0; h < f.w->nhosts; h++) {
        uint32_t n;
        const struct world_hseries *l = world_host_layout(f.w, h, &n);
        assert_int_equal(n, scenario_host_series(&f.scn->hosts[h]));
        for (uint32_t i = 1; i < n; i++) /* grouped by metric, in order */
            assert_true(l[i].metric >= l[i - 1].metric);
    }
    uint32_t n;
    const struct world_hseries *db = world_host_layout(f.w, 0, &n);
    /* db: 8 CPUs x 5 modes x 2 + 3 + 8 + 2 disks x 6 + 6 + 3 */
    assert_int_equal(n, 80 + 3 + 8 + 12 + 6 + 3);
    assert_true(find(db, n, WORLD_HM_CPU_UTIL, "cpu.mode", "steal") >= 0);
    assert_true(find(db, n, WORLD_HM_MEM_USAGE, "system.memory.state", "buffered") >= 0);
    assert_true(find(db, n, WORLD_HM_DISK_IO, "system.device", "sdb") >= 0);
    assert_true(find(db, n, WORLD_HM_FS_USAGE, "system.filesystem.mountpoint", "/data") >= 0);
    assert_true(find(db, n, WORLD_HM_NET_ERR, "network.io.direction", "receive") >= 0);
    assert_true(find(db, n, WORLD_HM_PROCS, "status", "blocked") >= 0);
    assert_int_equal(find(db, n, WORLD_HM_GPU_UTIL, NULL, NULL), -1);
    const struct world_hseries *g = world_host_layout(f.w, 2, &n);
    assert_int_equal(n, 40 + 26 + 3 * 4);
    assert_true(find(g, n, WORLD_HM_GPU_POWER, "hw.id", "gpu2") >= 0);
    assert_true(find(g, n, WORLD_HM_GPU_TEMP, "hw.model", "H100") >= 0);
    assert_string_equal(world_host_metrics[WORLD_HM_CPU_TIME].name, "system.cpu.time");
    assert_string_equal(world_host_metrics[WORLD_HM_GPU_MEM].unit, "By");
    fx_close(&f);
}

struct bounds {
    double lo, hi;
};

/* Per metric, the values a host of this scenario may report (bytes and counts: >= 0). */
static struct bounds bound_of(int metric)
{
    switch (metric) {
    case WORLD_HM_CPU_UTIL:
    case WORLD_HM_MEM_UTIL:
    case WORLD_HM_GPU_UTIL:
        return (struct bounds){0, 1};
    case WORLD_HM_LOAD1:
    case WORLD_HM_LOAD5:
    case WORLD_HM_LOAD15:
        return (struct bounds){0, 2 * 8};
    case WORLD_HM_GPU_TEMP:
        return (struct bounds){30, 90};
    case WORLD_HM_GPU_POWER:
        return (struct bounds){0, 700};
    default:
        return (struct bounds){0, 1e18};
    }
}

/* A simulated month at a 60 s interval: every value in bounds, counters monotonic, memory and
 * filesystem parts within their totals. */
static void test_bounded_month(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, 3);
    double prev[4][512], v[512];
    memset(prev, 0, sizeof prev);
    for (uint64_t t = 60 * S; t <= 30 * 86400 * S; t += 60 * S) {
        for (int h = 0; h < f.w->nhosts; h++) {
            uint32_t n;
            const struct world_hseries *l = world_host_layout(f.w, h, &n);
            world_host_sample(f.w, h, t, T0 + t, 60, (double)(t / S % 700), v);
            double mem = 0, total = f.scn->hosts[h].memory_gib * 1073741824.0;
            for (uint32_t i = 0; i < n; i++) {
                struct bounds b = bound_of(l[i].metric);
                if (v[i] < b.lo || v[i] > b.hi)
                    fail_msg("host %d series %u (%s) = %g at %llus", h, i,
                             world_host_metrics[l[i].metric].name, v[i],
                             (unsigned long long)(t / S));
                const struct world_hmetric *m = &world_host_metrics[l[i].metric];
                if (m->sum && m->monotonic && v[i] < prev[h][i])
                    fail_msg("counter %s went back", m->name);
                prev[h][i] = v[i];
                mem += l[i].metric == WORLD_HM_MEM_USAGE ? v[i] : 0;
            }
            assert_true(mem <= total && mem > total * 0.99); /* the four states add up */
        }
    }
    fx_close(&f);
}

/* Busy share of host h now: 1 - mean idle utilisation. */
static double busy(struct world *w, int h, uint64_t t)
{
    uint32_t n;
    double v[512], idle = 0;
    int cnt = 0;
    const struct world_hseries *l = world_host_layout(w, h, &n);
    world_host_sample(w, h, t, T0 + t, 10, 0, v);
    for (uint32_t i = 0; i < n; i++)
        if (l[i].metric == WORLD_HM_CPU_UTIL && !strcmp(l[i].attrs[1].str, "idle")) {
            idle += v[i];
            cnt++;
        }
    return 1 - idle / cnt;
}

static void test_deterministic(void **state)
{
    (void)state;
    struct fx a, b, c;
    fx_open(&a, 9);
    fx_open(&b, 9);
    fx_open(&c, 10);
    int differ = 0;
    for (uint64_t t = 10 * S; t < 3600 * S; t += 10 * S) {
        double x = busy(a.w, 1, t), y = busy(b.w, 1, t), z = busy(c.w, 1, t);
        assert_true(x == y);
        differ |= x != z;
    }
    assert_true(differ);
    fx_close(&a);
    fx_close(&b);
    fx_close(&c);
}

/* Mean busy share and used memory of host h over ten 10 s samples from t. */
static void observe(struct fx *f, int h, uint64_t t, double *cpu, double *mem)
{
    *cpu = 0;
    for (int i = 0; i < 10; i++)
        *cpu += busy(f->w, h, t + (uint64_t)i * 10 * S) / 10;
    uint32_t n;
    double v[512];
    const struct world_hseries *l = world_host_layout(f->w, h, &n);
    world_host_sample(f->w, h, t + 100 * S, T0 + t + 100 * S, 10, 0, v);
    *mem = v[find(l, n, WORLD_HM_MEM_USAGE, "system.memory.state", "used")];
}

static void set_state(struct fx *f, const char *host, int st, uint64_t t)
{
    struct world_cmd c;
    memset(&c, 0, sizeof c);
    c.kind = WORLD_CMD_STATE;
    c.entity = world_entity_find(f->w, host);
    c.state = st;
    c.source = WORLD_SRC_COMMAND;
    assert_int_equal(world_command(f->w, &c), 0);
    struct world_out out = {NULL, T0, NULL, NULL};
    world_advance(f->w, t, &out);
}

static void test_degrading_host(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, 5);
    double c0, m0, c1, m1, c2, m2, o0, om0, o2, om2;
    observe(&f, 0, 10 * S, &c0, &m0);
    observe(&f, 1, 10 * S, &o0, &om0);
    set_state(&f, "db01", SCN_STATE_DEGRADING, 200 * S);
    observe(&f, 0, 200 * S, &c1, &m1);
    set_state(&f, "db01", SCN_STATE_CRITICAL, 400 * S);
    struct world_out out = {NULL, T0, NULL, NULL};
    world_advance(f.w, 1000 * S, &out); /* the critical leak: 40 MiB/min for 10 minutes */
    observe(&f, 0, 1000 * S, &c2, &m2);
    observe(&f, 1, 1000 * S, &o2, &om2);
    /* built-in degrading: cpu 78%; critical: 97% (docs/scenario-format.md) */
    assert_true(c0 < 0.5);
    assert_true(c1 > 0.7 && c1 > c0 + 0.3);
    assert_true(c2 > 0.9);
    assert_true(m2 > m0 + 300 * 1048576.0);
    assert_true(o2 < o0 + 0.1 && o2 > o0 - 0.1); /* db02 is left alone */
    fx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_bounded_month),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_degrading_host),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
