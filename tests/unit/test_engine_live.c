/* The engine follows live control: a rate factor scales Poisson arrivals (and composes with
 * shapes), pause stops new traffic, the same command gives the same run, and the per-second
 * aggregates count every completed request. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/engine.h"

static struct rec_batch *no_batch(void *ctx, int signal)
{
    (void)ctx, (void)signal;
    return NULL; /* the engine counts its records as dropped: we only want the requests */
}

static void no_submit(void *ctx, struct rec_batch *b)
{
    (void)ctx, (void)b;
}

static void no_drop(void *ctx, int signal, uint64_t n)
{
    (void)ctx, (void)signal, (void)n;
}

/* Runs inference for 120 simulated seconds after queueing cmds; returns completed requests. */
static uint64_t run(const struct world_cmd *cmds, int n, struct world_agg **agg_out)
{
    struct scenario *s;
    struct world *w;
    struct engine *e;
    struct scn_error err;
    char msg[256];
    assert_int_equal(scenario_load("inference", &s, &err), 0);
    struct world_opts wo = {.seed = 5, .nshards = 1};
    assert_int_equal(world_build(&w, s, &wo, msg, sizeof msg), 0);
    struct world_agg *agg = agg_out ? world_agg_new(w) : NULL;
    struct engine_opts eo = {
        .start_unix_ns = 1767225600000000000ULL, .duration_ns = 120000000000ULL, .agg = agg};
    struct engine_out out = {NULL, no_batch, no_submit, no_drop, NULL, NULL};
    assert_int_equal(engine_new(&e, w, &eo, &out, msg, sizeof msg), 0);
    for (int i = 0; i < n; i++)
        assert_int_equal(world_command(w, &cmds[i]), 0);
    engine_run(e);
    struct engine_progress p;
    engine_progress(e, &p);
    if (agg_out) {
        struct core_buf b;
        core_buf_init(&b, 1 << 24);
        assert_true(world_agg_last(agg) >= 1);
        assert_int_equal(world_agg_get(agg, world_agg_last(agg), &b), 0);
        core_buf_putc(&b, 0);
        double sum = 0; /* the whole run in one snapshot (no wall second passed): rate x 120 s */
        for (const char *r = strstr((const char *)b.p, "\"rate\":"); r;
             r = strstr(r + 1, "\"rate\":"))
            sum += strtod(r + 7, NULL);
        if (world_agg_last(agg) == 1)
            assert_true(sum * 120 > (double)p.requests * 0.999 &&
                        sum * 120 < (double)p.requests * 1.001);
        core_buf_free(&b);
        *agg_out = agg;
    }
    engine_free(e);
    if (agg_out)
        world_agg_free(*agg_out);
    world_free(w);
    scenario_free(s);
    return p.requests;
}

static void test_rate_and_pause(void **state)
{
    (void)state;
    uint64_t base = run(NULL, 0, NULL);
    struct world_cmd x3 = {.kind = WORLD_CMD_RATE, .entity = -1, .value = 3};
    uint64_t tripled = run(&x3, 1, NULL);
    assert_true(base > 1000);
    assert_true(tripled > base * 27 / 10 && tripled < base * 33 / 10);
    assert_int_equal(run(&x3, 1, NULL), tripled); /* deterministic */
    struct world_cmd half = {.kind = WORLD_CMD_RATE, .entity = -1, .value = 0.5};
    uint64_t halved = run(&half, 1, NULL);
    assert_true(halved > base * 4 / 10 && halved < base * 6 / 10);
    struct world_cmd pause = {.kind = WORLD_CMD_PAUSE, .entity = -1};
    assert_int_equal(run(&pause, 1, NULL), 0);
    struct world_cmd both[] = {pause, {.kind = WORLD_CMD_RESUME, .entity = -1}};
    uint64_t resumed = run(both, 2, NULL);
    assert_true(resumed > base * 9 / 10 && resumed < base * 11 / 10);
}

static void test_aggregates(void **state)
{
    (void)state;
    struct world_agg *agg = NULL;
    assert_true(run(NULL, 0, &agg) > 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rate_and_pause),
        cmocka_unit_test(test_aggregates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
