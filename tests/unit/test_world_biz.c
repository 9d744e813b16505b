/* Business metrics (`business:`, world/biz.c): counters split over a dimension by weight,
 * histograms drawn per request and scaled by load, gauges as bounded walks around a shaped
 * base, per-value shapes that move the split over the day, determinism. The world is driven
 * as the engine drives it: request counts rise, then a tick samples. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "world/world.h"

#define SEC 1000000000ULL
#define T0 1767225600000000000ULL /* 2026-01-01T00:00:00Z */

static const char yaml[] =
    "name: biz\n"
    "services:\n"
    "  - name: app\n"
    "    operations:\n"
    "      - {name: GET /ride, rate: 10/s}\n"
    "business:\n"
    "  - name: rides.requested\n"
    "    type: counter\n"
    "    unit: '{ride}'\n"
    "    per: app/GET /ride\n"
    "    by: {city: {SF: 3, NYC: 1}}\n"
    "  - name: rides.eta\n"
    "    type: histogram\n"
    "    per: app/GET /ride\n"
    "    value: {base: 4m, jitter: 50%}\n"
    "    load: 0.5\n"
    "    by: {city: [SF, NYC]}\n"
    "  - name: drivers.available\n"
    "    type: gauge\n"
    "    unit: '{driver}'\n"
    "    value: {base: 1000, step: 5%, range: 10%}\n"
    "    by: {city: {SF: 1, NYC: {weight: 1, shape: {diurnal: {amplitude: 100%, peak: "
    "'06:00'}}}}}\n";

#define MAXV 4
struct rec {
    double sum[3][MAXV];
    uint64_t n[3][MAXV];
    double last[3][MAXV];
};

static void observe(void *ctx, int m, int k, double x)
{
    struct rec *r = ctx;
    assert_true(m >= 0 && m < 3 && k >= 0 && k < MAXV);
    r->sum[m][k] += x;
    r->n[m][k]++;
    r->last[m][k] = x;
}

struct fx {
    struct scenario *scn;
    struct world *w;
    struct rec r;
};

static void fx_open(struct fx *f, uint64_t seed)
{
    memset(f, 0, sizeof *f);
    struct scn_error e;
    if (scenario_load_string("biz.yaml", yaml, strlen(yaml), &f->scn, &e))
        fail_msg("%d:%d: %s", e.line, e.col, e.msg);
    char msg[256];
    struct world_opts wo = {.seed = seed, .nshards = 1};
    assert_int_equal(world_build(&f->w, f->scn, &wo, msg, sizeof msg), 0);
}

/* n requests of app/GET /ride in a 10 s interval, then the tick at `off`. */
static void tick(struct fx *f, uint64_t n, uint64_t off)
{
    f->w->svcs[0].ops[0].count += n;
    struct world_msink sink = {&f->r, observe};
    world_sample_metrics(f->w, off, T0 + off, 10, &sink);
}

static void test_descriptors(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, 1);
    int n;
    const struct world_bmetric *m = world_metrics(f.w, &n);
    assert_int_equal(n, 3);
    assert_string_equal(m[0].def.name, "rides.requested");
    assert_int_equal(m[0].def.type, REC_SUM);
    assert_true(m[0].def.monotonic && m[0].def.is_int);
    assert_string_equal(m[0].key, "city");
    assert_string_equal(m[0].values[1], "NYC");
    assert_int_equal(m[1].def.type, REC_HISTOGRAM);
    assert_string_equal(m[1].def.unit, "s");
    assert_int_equal(m[1].def.nbounds, 11); /* default buckets around the base (240 s) */
    assert_true(fabs(m[1].def.bounds[4] - 240) < 1e-9);
    assert_int_equal(m[2].def.type, REC_GAUGE);
    assert_int_equal(m[2].res, 0); /* no per: the first resource */
    world_free(f.w);
    scenario_free(f.scn);
}

/* Every request is counted once, split 3:1; each is one ETA observation. */
static void test_counter_split(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, 1);
    for (int i = 1; i <= 400; i++)
        tick(&f, 100, (uint64_t)i * 10 * SEC);
    double sf = f.r.sum[0][0], ny = f.r.sum[0][1];
    assert_true(sf + ny == 40000);
    assert_true(fabs(sf / 40000 - 0.75) < 0.01);
    assert_int_equal(f.r.n[1][0] + f.r.n[1][1], 40000);
    double mean = (f.r.sum[1][0] + f.r.sum[1][1]) / 40000; /* 100 per 10 s = the usual rate */
    assert_true(fabs(mean - 240) < 3);
    world_free(f.w);
    scenario_free(f.scn);
}

/* load 0.5: at twice the scenario's rate, ETAs are 1.5 times as long. */
static void test_histogram_load(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, 2);
    for (int i = 1; i <= 200; i++)
        tick(&f, 200, (uint64_t)i * 10 * SEC);
    double mean = (f.r.sum[1][0] + f.r.sum[1][1]) / (double)(f.r.n[1][0] + f.r.n[1][1]);
    assert_true(fabs(mean - 360) < 5);
    world_free(f.w);
    scenario_free(f.scn);
}

/* Gauges: whole numbers, within base x share x (1 +- range); NYC's share follows its own day
 * (peak 06:00, trough 18:00) while SF's weight is constant. */
static void test_gauge_walk_and_shape(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, 3);
    double at6 = 0, at18 = 0;
    for (uint64_t s = 10; s <= 86400; s += 10) {
        tick(&f, 0, s * SEC);
        double sf = f.r.last[2][0], ny = f.r.last[2][1];
        assert_true(sf == floor(sf) && ny == floor(ny));
        assert_true(sf + ny >= 1000 * 0.9 - 1 && sf + ny <= 1000 * 1.1 + 1);
        if (s == 6 * 3600)
            at6 = ny / (sf + ny);
        if (s == 18 * 3600)
            at18 = ny / (sf + ny);
    }
    /* NYC's weight is 2 at 06:00 (share 2/3) and 0 at 18:00 */
    assert_true(fabs(at6 - 2.0 / 3) < 0.08);
    assert_true(at18 < 0.01);
    world_free(f.w);
    scenario_free(f.scn);
}

/* Same seed, same samples; another seed, others. */
static void test_deterministic(void **state)
{
    (void)state;
    struct fx a, b, c;
    fx_open(&a, 5);
    fx_open(&b, 5);
    fx_open(&c, 6);
    for (int i = 1; i <= 50; i++) {
        tick(&a, 37, (uint64_t)i * 10 * SEC);
        tick(&b, 37, (uint64_t)i * 10 * SEC);
        tick(&c, 37, (uint64_t)i * 10 * SEC);
    }
    assert_memory_equal(&a.r, &b.r, sizeof a.r);
    assert_memory_not_equal(&a.r, &c.r, sizeof a.r);
    world_free(a.w);
    world_free(b.w);
    world_free(c.w);
    scenario_free(a.scn);
    scenario_free(b.scn);
    scenario_free(c.scn);
}

/* The kinds scenario/ accepts are the kinds world/ has, and the default is "services". */
static void test_kinds(void **state)
{
    (void)state;
    for (int i = 0; scenario_kinds[i]; i++) {
        const struct world_kind *k = world_kind_find(scenario_kinds[i]);
        assert_non_null(k);
        assert_string_equal(k->name, scenario_kinds[i]);
    }
    assert_ptr_equal(world_kind_find(NULL), world_kind_find("services"));
    assert_null(world_kind_find("rideshare"));
    struct fx f;
    fx_open(&f, 1);
    assert_string_equal(f.scn->kind, "services");
    assert_ptr_equal(f.w->kind, &world__kind_services);
    world_free(f.w);
    scenario_free(f.scn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_descriptors),    cmocka_unit_test(test_counter_split),
        cmocka_unit_test(test_histogram_load), cmocka_unit_test(test_gauge_walk_and_shape),
        cmocka_unit_test(test_deterministic),  cmocka_unit_test(test_kinds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
