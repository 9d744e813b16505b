/* The series count that caps a scenario (scenario_series_count, scenario/series.c) against the
 * series the engine really creates: every metric tick carries one point per series, so a tick
 * never has more points than the count's total, the first tick at least its initial count,
 * and a world where every route sees every status code reaches the total exactly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"
#include "scenario/scenario.h"

_Static_assert(SCENARIO_ROUTE_STATUSES == ENGINE_MAX_STATUSES,
               "scenario/series.c counts the engine's status codes per route");

struct ticks {
    uint64_t first, min, max, n;
};

static struct rec_batch *t_batch(void *ctx, int signal)
{
    (void)ctx;
    return rec_batch_new(signal, 4096, 16, 16, 256);
}

static void t_submit(void *ctx, struct rec_batch *b)
{
    (void)ctx;
    rec_batch_free(b);
}

static void t_drop(void *ctx, int signal, uint64_t n)
{
    (void)ctx;
    (void)signal;
    (void)n;
}

static void t_tick(void *ctx, const struct rec_batch *points)
{
    struct ticks *t = ctx;
    if (!t->n++)
        t->first = t->min = points->n;
    t->min = points->n < t->min ? points->n : t->min;
    t->max = points->n > t->max ? points->n : t->max;
}

/* Runs the scenario for `seconds` simulated seconds at --speed max; the tick counts. */
static void run(struct scenario *s, uint64_t seconds, struct ticks *t)
{
    struct world *w;
    struct engine *e;
    char msg[256];
    struct world_opts wo = {.seed = 5, .verify_attrs = 1, .nshards = 1};
    assert_int_equal(world_build(&w, s, &wo, msg, sizeof msg), 0);
    struct engine_opts eo = {.speed = 0,
                             .start_unix_ns = 1767225600000000000ULL,
                             .duration_ns = seconds * 1000000000ULL,
                             .metric_interval_ns = 1000000000ULL};
    struct engine_out out = {t, t_batch, t_submit, t_drop, t_tick, NULL};
    memset(t, 0, sizeof *t);
    assert_int_equal(engine_new(&e, w, &eo, &out, msg, sizeof msg), 0);
    engine_run(e);
    engine_free(e);
    world_free(w);
    assert_true(t->n > 0);
}

static void test_builtins_within_count(void **state)
{
    (void)state;
    for (const struct scenario_builtin *b = scenario_builtins; b->name; b++) {
        struct scenario *s;
        struct scn_error err;
        struct scenario_series c;
        struct ticks t;
        assert_int_equal(scenario_load(b->name, &s, &err), 0);
        scenario_series_count(s, &c);
        run(s, 60, &t);
        if (t.first < c.initial || t.max > c.total)
            fail_msg("%s: ticks of %llu..%llu points, counted %llu initial, %llu at most", b->name,
                     (unsigned long long)t.first, (unsigned long long)t.max,
                     (unsigned long long)c.initial, (unsigned long long)c.total);
        scenario_free(s);
    }
}

static struct scenario *load(const char *yaml)
{
    struct scenario *s = NULL;
    struct scn_error err;
    int rc = scenario_load_string("t.yaml", yaml, strlen(yaml), &s, &err);
    if (rc)
        fail_msg("%s", err.msg);
    return s;
}

/* No errors anywhere and no state changes: the initial count is exact at every tick. */
static void test_exact_without_errors(void **state)
{
    (void)state;
    struct scenario *s = load("hosts: [{name: h, cpus: 7}, {name: g}]\n"
                              "services:\n"
                              "  - name: a\n"
                              "    host: h\n"
                              "    operations:\n"
                              "      - {name: GET /a, rate: 50/s, calls: [b/y]}\n"
                              "  - name: b\n"
                              "    operations: [{name: y}, {name: z, kind: client}]\n");
    struct scenario_series c;
    struct ticks t;
    scenario_series_count(s, &c);
    run(s, 20, &t);
    assert_int_equal(t.min, c.initial);
    assert_int_equal(t.max, c.initial);
    assert_true(c.total >= c.initial);
    scenario_free(s);
}

/* One route that gets every status code the scenario has (its own errors and faults with
 * those of the built-in states, 500 and 503): the count's upper bound is reached, not just
 * respected. */
static void test_total_reached(void **state)
{
    (void)state;
    struct scenario *s = load("services:\n"
                              "  - name: a\n"
                              "    operations:\n"
                              "      - {name: GET /a, rate: 200/s, error_rate: 30%, "
                              "error_status: 500}\n"
                              "faults:\n"
                              "  - {name: f1, target: a, probability: 0.2, effect: {error_status: "
                              "429}}\n"
                              "  - {name: f2, target: a, probability: 0.2, effect: {error_status: "
                              "504}}\n"
                              "  - {name: f3, target: a, probability: 0.2, effect: {error_status: "
                              "503}}\n");
    struct scenario_series c;
    struct ticks t;
    scenario_series_count(s, &c);
    /* 200, 500, 429, 504, 503; diorama.state x 3; diorama.fault.active x 3 */
    assert_int_equal(c.total, 1 + 2 * 5 + 3 + 3);
    run(s, 30, &t);
    assert_int_equal(t.first >= c.initial, 1);
    assert_int_equal(t.max, c.total);
    scenario_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtins_within_count),
        cmocka_unit_test(test_exact_without_errors),
        cmocka_unit_test(test_total_reached),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
