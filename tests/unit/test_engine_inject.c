/* engine_inject: real requests' plans (run/up --serve) join the simulated stream. The queue
 * takes ENGINE_INJECT_SLOTS plans; past that a plan is refused and its spans are counted
 * generated and dropped, never lost silently; every accepted plan's spans are emitted once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "scenario/scenario.h"

struct counts {
    uint64_t spans, dropped;
};

static struct rec_batch *c_batch(void *ctx, int signal)
{
    (void)ctx;
    return rec_batch_new(signal, 512, 16, 16, 256);
}

static void c_submit(void *ctx, struct rec_batch *b)
{
    struct counts *c = ctx;
    if (b->signal == REC_SPANS)
        c->spans += b->n;
    rec_batch_free(b);
}

static void c_drop(void *ctx, int signal, uint64_t n)
{
    struct counts *c = ctx;
    if (signal == REC_SPANS)
        c->dropped += n;
}

static struct core_rng rng;
static struct core_rng *any_rng(void *ctx, int a, int b)
{
    (void)ctx, (void)a, (void)b;
    return &rng;
}
static struct core_rng *model_rng(void *ctx, int m)
{
    (void)ctx, (void)m;
    return &rng;
}
static uint64_t count1(void *ctx, int a, int b)
{
    (void)ctx, (void)a, (void)b;
    return 1;
}
static uint64_t mcount1(void *ctx, int m)
{
    (void)ctx, (void)m;
    return 1;
}

/* Runs `shop` for 30 simulated seconds, injecting `n` plans of its first entry first. */
static struct counts run(int n, uint32_t *plan_spans, uint64_t *refused)
{
    struct scenario *s;
    struct world *w;
    struct engine *e;
    struct scn_error err;
    char msg[256];
    assert_int_equal(scenario_load("shop", &s, &err), 0);
    struct world_opts wo = {.seed = 9, .nshards = 1};
    assert_int_equal(world_build(&w, s, &wo, msg, sizeof msg), 0);
    struct counts c = {0};
    struct engine_opts eo = {
        .start_unix_ns = 1767225600000000000ULL, .duration_ns = 30000000000ULL, .inject = 1};
    struct engine_out out = {&c, c_batch, c_submit, c_drop, NULL, NULL};
    assert_int_equal(engine_new(&e, w, &eo, &out, msg, sizeof msg), 0);
    static const struct world_plan_env env = {any_rng, model_rng, count1, mcount1,
                                              NULL,    NULL,      NULL};
    struct world_span spans[ENGINE_INJECT_SPANS];
    core_rng_init(&rng, 1, 2, 3);
    *refused = 0;
    for (int i = 0; i < n; i++) {
        struct world_plan p = {.spans = spans, .cap = ENGINE_INJECT_SPANS, .model = -1};
        world_plan_request(w, &env, &p, 0, 0, 1000000000ULL);
        *plan_spans = p.n;
        *refused += engine_inject(e, spans, p.n, -1) != 0;
    }
    engine_run(e);
    engine_free(e);
    world_free(w);
    scenario_free(s);
    return c;
}

static void full_queue_counts_drops(void **state)
{
    (void)state;
    uint32_t per = 0;
    uint64_t refused0, refused;
    struct counts base = run(0, &per, &refused0);
    struct counts c = run(ENGINE_INJECT_SLOTS + 44, &per, &refused);
    assert_true(per > 0);
    assert_int_equal(refused0, 0);
    assert_int_equal(refused, 44);
    assert_int_equal(base.dropped, 0);
    /* Simulated arrivals draw from their own streams: the same count with or without. */
    assert_int_equal(c.spans, base.spans + (uint64_t)ENGINE_INJECT_SLOTS * per);
    assert_int_equal(c.dropped, 44ULL * per);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(full_queue_counts_drops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
