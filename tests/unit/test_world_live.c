/* Live control in world/: the chaos spec, the chaos scheduler (seeded, never more than max
 * holds, every change labelled "chaos", the same labels for the same seed), rate factors and
 * pause through the command path, and the per-second aggregates. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "world/world.h"

#define S 1000000000ULL
#define T0 1767225600000000000ULL

static const char yaml[] = "name: live\n"
                           "hosts: [{name: h1, cpu: 20%}, {name: h2}, {name: h3}]\n"
                           "services:\n"
                           "  - {name: web, host: h1, operations: [{name: GET /, rate: 10}]}\n"
                           "  - {name: db, host: h2, operations: [{name: q, rate: 5}]}\n";

struct fx {
    struct scenario *scn;
    struct world *w;
    struct core_buf labels;
    int open_chaos, max_open_chaos, chaos_labels;
};

static void on_label(void *ctx, const struct world_label *l)
{
    struct fx *f = ctx;
    world_label_json(l, &f->labels);
    if (l->source != WORLD_SRC_CHAOS || l->control)
        return;
    f->chaos_labels++;
    f->open_chaos += l->open ? 1 : -1; /* a chaos period began, or one ended */
    f->max_open_chaos = f->open_chaos > f->max_open_chaos ? f->open_chaos : f->max_open_chaos;
}

static void fx_open(struct fx *f, uint64_t seed)
{
    memset(f, 0, sizeof *f);
    struct scn_error e;
    char msg[256];
    assert_int_equal(scenario_load_string("live.yaml", yaml, strlen(yaml), &f->scn, &e), 0);
    struct world_opts wo = {.seed = seed, .nshards = 1};
    assert_int_equal(world_build(&f->w, f->scn, &wo, msg, sizeof msg), 0);
    core_buf_init(&f->labels, 1 << 24);
}

static void fx_close(struct fx *f)
{
    core_buf_free(&f->labels);
    world_free(f->w);
    scenario_free(f->scn);
}

/* Advances like the engine does: to every time the world is due, up to end. */
static void run_until(struct fx *f, uint64_t end)
{
    struct world_out out = {f, T0, on_label, NULL};
    for (uint64_t t = world_next_due(f->w); t <= end; t = world_next_due(f->w))
        world_advance(f->w, t, &out);
    world_advance(f->w, end, &out);
}

static void test_spec(void **state)
{
    (void)state;
    struct world_chaos_cfg c;
    char err[200], out[WORLD_CHAOS_SPEC_MAX];
    assert_int_equal(world_chaos_parse("every=10m,hold=1m-3m,max=2", &c, err, sizeof err), 0);
    assert_true(c.enabled && c.every_ns == 600 * S && c.hold_min_ns == 60 * S &&
                c.hold_max_ns == 180 * S && c.max == 2 && !c.has_seed);
    world_chaos_format(&c, out, sizeof out);
    assert_string_equal(out, "every=10m0s,hold=1m0s-3m0s,max=2");
    assert_int_equal(world_chaos_parse("every=30s,hold=5s,seed=7", &c, err, sizeof err), 0);
    assert_true(c.hold_min_ns == 5 * S && c.hold_max_ns == 5 * S && c.has_seed && c.seed == 7);
    assert_int_equal(world_chaos_parse("off", &c, err, sizeof err), 0);
    assert_false(c.enabled);
    const char *bad[] = {"every=0s", "every=x", "hold=3m-1m", "max=0",    "max=65",
                         "seed=-1",  "nope=1",  "every",      "hold=1m-", "max=2x"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = 0;
        assert_int_equal(world_chaos_parse(bad[i], &c, err, sizeof err), DIO_EINVAL);
        assert_true(strlen(err) > 0);
    }
}

/* Chaos over a simulated day: labelled "chaos", never more than max at once, the same seed
 * the same labels, another seed others. */
static void test_chaos(void **state)
{
    (void)state;
    struct world_chaos_cfg c;
    char err[200];
    assert_int_equal(world_chaos_parse("every=2m,hold=1m-5m,max=2", &c, err, sizeof err), 0);
    struct fx a, b, d;
    fx_open(&a, 11);
    fx_open(&b, 11);
    fx_open(&d, 12);
    world_live_init(a.w, 0, &c);
    world_live_init(b.w, 0, &c);
    world_live_init(d.w, 0, &c);
    run_until(&a, 86400 * S);
    run_until(&b, 86400 * S);
    run_until(&d, 86400 * S);
    assert_true(a.chaos_labels > 100);
    assert_true(a.max_open_chaos >= 1 && a.max_open_chaos <= 2);
    assert_int_equal(a.labels.len, b.labels.len);
    assert_memory_equal(a.labels.p, b.labels.p, a.labels.len);
    assert_true(d.labels.len != a.labels.len || memcmp(d.labels.p, a.labels.p, a.labels.len));
    core_buf_putc(&a.labels, 0);
    assert_non_null(strstr((const char *)a.labels.p, "\"source\":\"chaos\""));
    fx_close(&a);
    fx_close(&b);
    fx_close(&d);
}

/* Rates through the command path: a factor for one source, rps for all (shared by base
 * rate), pause and resume; nothing changes before the tick; bad values refused. */
static void test_rates(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, 1);
    assert_int_equal(f.w->ntraffic, 2);
    int web = world_traffic_find(f.w, "web/GET /"), db = world_traffic_find(f.w, "db/q");
    assert_true(web >= 0 && db >= 0 && world_traffic_find(f.w, "web") < 0);
    assert_int_equal(world_traffic_of(f.w, 1, 0, -1), db);
    struct world_cmd c = {.kind = WORLD_CMD_RATE, .entity = web, .value = 3};
    assert_int_equal(world_command(f.w, &c), 0);
    assert_true(world_traffic_factor(f.w, web) == 1);
    uint64_t gen = f.w->live_gen;
    run_until(&f, S);
    assert_true(world_traffic_factor(f.w, web) == 3 && world_traffic_factor(f.w, db) == 1);
    assert_true(f.w->live_gen > gen);
    struct world_cmd r = {.kind = WORLD_CMD_RPS, .entity = -1, .value = 30}; /* bases 10 + 5 */
    struct world_cmd p = {.kind = WORLD_CMD_PAUSE, .entity = -1};
    assert_int_equal(world_command(f.w, &r), 0);
    assert_int_equal(world_command(f.w, &p), 0);
    run_until(&f, 2 * S);
    assert_true(world_traffic_factor(f.w, web) == 0 && world_traffic_factor(f.w, db) == 0);
    struct world_cmd q = {.kind = WORLD_CMD_RESUME, .entity = -1};
    assert_int_equal(world_command(f.w, &q), 0);
    run_until(&f, 3 * S);
    assert_true(world_traffic_factor(f.w, web) == 2 && world_traffic_factor(f.w, db) == 2);
    struct world_cmd bad[] = {{.kind = WORLD_CMD_RATE, .entity = 2, .value = 1},
                              {.kind = WORLD_CMD_RATE, .entity = -1, .value = -1},
                              {.kind = WORLD_CMD_RATE, .entity = -1, .value = 1e9},
                              {.kind = WORLD_CMD_SPEED, .entity = -1, .value = 0},
                              {.kind = WORLD_CMD_CHAOS, .chaos = {.enabled = 1}},
                              {.kind = 42}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(world_command(f.w, &bad[i]), DIO_EINVAL);
    core_buf_putc(&f.labels, 0);
    const char *l = (const char *)f.labels.p;
    assert_non_null(
        strstr(l, "\"target\":\"web/GET /\",\"kind\":\"rate\",\"params\":{\"factor\":3}"));
    assert_non_null(strstr(l, "\"kind\":\"pause\""));
    assert_non_null(strstr(l, "\"kind\":\"resume\""));
    fx_close(&f);
}

static void test_agg_ring(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, 1);
    struct world_agg *a = world_agg_new(f.w);
    for (int i = 0; i < WORLD_AGG_KEPT + 10; i++) {
        world_agg_count(a, i % 2, 1000000, 0);
        world_agg_count(a, 7, 1000000, 0); /* not a source: ignored */
        world_agg_publish(a, (uint64_t)(i + 1) * S, T0);
    }
    assert_int_equal(world_agg_last(a), WORLD_AGG_KEPT + 10);
    struct core_buf b;
    core_buf_init(&b, 1 << 24);
    assert_int_equal(world_agg_get(a, 5, &b), DIO_ENOENT); /* overwritten */
    assert_int_equal(world_agg_get(a, WORLD_AGG_KEPT + 10, &b), 0);
    core_buf_putc(&b, 0);
    assert_non_null(
        strstr((const char *)b.p, "\"entries\":[{\"name\":\"web/GET /\",\"n\":0,\"rate\":0,"));
    core_buf_reset(&b);
    assert_int_equal(world_agg_after(a, 0, &b), WORLD_AGG_KEPT);
    core_buf_reset(&b);
    assert_int_equal(world_agg_after(a, T0 / 1000000 + (WORLD_AGG_KEPT + 5) * 1000ULL, &b), 5);
    core_buf_free(&b);
    world_agg_free(a);
    fx_close(&f);
}

/* serve's routes: counted from several threads at once, every request in the snapshot. */
struct route_arg {
    struct world_agg *a;
    int k;
};

static void *count_routes(void *p)
{
    struct route_arg *r = p;
    for (int i = 0; i < 5000; i++)
        world_agg_count_route(r->a, i % 2, (uint64_t)(1 + r->k) * 1000000, i % 10 == 0);
    world_agg_count_route(r->a, 2, 1000000, 0); /* not a route: ignored */
    return NULL;
}

static void test_agg_routes(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, 1);
    struct world_agg *a = world_agg_new(f.w);
    const char *names[] = {"GET /", "POST /orders"};
    world_agg_set_routes(a, names, 2);
    pthread_t th[4];
    struct route_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (struct route_arg){a, i};
        assert_int_equal(pthread_create(&th[i], NULL, count_routes, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    world_agg_publish(a, 2 * S, T0);
    struct core_buf b;
    core_buf_init(&b, 1 << 24);
    assert_int_equal(world_agg_get(a, 1, &b), 0);
    core_buf_putc(&b, 0);
    const char *j = (const char *)b.p;
    /* 10,000 each over 2 s; every 5xx (one in ten) on the first; latencies 1..4 ms (HDR: 2
     * significant digits) */
    assert_non_null(strstr(j, "\"entries\":[{\"name\":\"GET /\",\"n\":10000,\"rate\":5000,"
                              "\"errors\":1000,\"p50\":2.007,\"p99\":4}"));
    assert_non_null(
        strstr(j, "{\"name\":\"POST /orders\",\"n\":10000,\"rate\":5000,\"errors\":0,"));
    core_buf_reset(&b);
    world_agg_publish(a, 3 * S, T0); /* the next second starts from zero */
    assert_int_equal(world_agg_get(a, 2, &b), 0);
    core_buf_putc(&b, 0);
    assert_non_null(strstr((const char *)b.p, "{\"name\":\"GET /\",\"n\":0,\"rate\":0,"));
    core_buf_free(&b);
    world_agg_free(a);
    fx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec),       cmocka_unit_test(test_chaos),
        cmocka_unit_test(test_rates),      cmocka_unit_test(test_agg_ring),
        cmocka_unit_test(test_agg_routes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
