/* Connection pools (`pool: N`, world/plan.c): requests that reach a pooled operation while
 * all N connections are busy wait for the first to free, in simulated time. Checked against
 * queueing theory (M/G/1: at arrival rate l and service time S with E[S^2], the mean wait is
 * l E[S^2] / (2 (1 - l E[S]))), at low load (about 0), the timeout, a pool behind a call, and
 * that a caller without op_pool never queues. (Real requests queue too: test_server_pool.) */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "world/world.h"

#define MS 1000000ULL

static const char yaml[] = "name: pool\n"
                           "services:\n"
                           "  - name: db\n"
                           "    operations:\n"
                           "      - {name: SELECT, kind: client, pool: 1,"
                           " latency: {base: 10ms, jitter: 30%}}\n"
                           "      - {name: FIXED, kind: client,"
                           " pool: {size: 1, timeout: 25ms, error_status: 500},"
                           " latency: {base: 10ms, jitter: 0}}\n"
                           "      - {name: TWO, kind: client, pool: 2,"
                           " latency: {base: 10ms, jitter: 0}}\n"
                           "  - name: api\n"
                           "    operations:\n"
                           "      - {name: GET /c, latency: {base: 2ms, jitter: 0},"
                           " calls: [db/TWO]}\n";

struct env_ctx {
    struct core_rng rng;
    uint64_t ops[4][4];
    struct world *w;
};

static struct core_rng *c_op_rng(void *ctx, int svc, int op)
{
    (void)svc, (void)op;
    return &((struct env_ctx *)ctx)->rng;
}
static struct core_rng *c_model_rng(void *ctx, int m)
{
    (void)m;
    return &((struct env_ctx *)ctx)->rng;
}
static uint64_t c_op_count(void *ctx, int svc, int op)
{
    return ++((struct env_ctx *)ctx)->ops[svc][op];
}
static uint64_t c_model_count(void *ctx, int m)
{
    (void)ctx, (void)m;
    return 1;
}
static struct world_pool *c_op_pool(void *ctx, int svc, int op)
{
    return &((struct env_ctx *)ctx)->w->svcs[svc].ops[op].pool;
}

struct fx {
    struct scenario *scn;
    struct world *w;
    struct env_ctx c;
    struct world_plan_env env;
    struct world_span spans[8];
    struct world_plan p;
};

static void fx_open(struct fx *f, int pools)
{
    memset(f, 0, sizeof *f);
    struct scn_error e;
    assert_int_equal(scenario_load_string("pool.yaml", yaml, strlen(yaml), &f->scn, &e), 0);
    char msg[256];
    struct world_opts wo = {.seed = 7, .nshards = 1};
    assert_int_equal(world_build(&f->w, f->scn, &wo, msg, sizeof msg), 0);
    core_rng_init(&f->c.rng, 7, 1, 2);
    f->c.w = f->w;
    struct world_plan_env env = {
        c_op_rng, c_model_rng, c_op_count, c_model_count, NULL, &f->c, pools ? c_op_pool : NULL};
    f->env = env;
    f->p.spans = f->spans;
    f->p.cap = 8;
    f->p.model = -1;
}

static void fx_close(struct fx *f)
{
    world_free(f->w);
    scenario_free(f->scn);
}

/* Mean wait (ms) of n Poisson arrivals at rate per second on db/SELECT (10ms +-30%). */
static double mean_wait_ms(double rate, int n)
{
    struct fx f;
    fx_open(&f, 1);
    struct core_rng arr;
    core_rng_init(&arr, 99, 3, 4);
    double t = 0, own = 0;
    for (int i = 0; i < n; i++) {
        t += core_rng_exp(&arr, 1e9 / rate);
        uint64_t end = world_plan_request(f.w, &f.env, &f.p, 0, 0, (uint64_t)t);
        own += (double)(end - (uint64_t)t);
    }
    const struct world_pool *pl = &f.w->svcs[0].ops[0].pool;
    assert_int_equal(pl->timeouts, 0);
    double wait = (double)pl->wait_ns / n / 1e6;
    /* the span carries the wait: mean duration = mean wait + mean service (10ms) */
    assert_true(fabs(own / n / 1e6 - wait - 10.0) < 0.2);
    fx_close(&f);
    return wait;
}

/* M/G/1 mean wait for S uniform on 10ms +-30%: E[S^2] = S^2 (1 + 0.3^2 / 3). */
static double mg1_ms(double rate)
{
    double s = 0.010, es2 = s * s * (1 + 0.09 / 3), rho = rate * s;
    return rate * es2 / (2 * (1 - rho)) * 1e3;
}

static void test_wait_grows_with_load(void **state)
{
    (void)state;
    double low = mean_wait_ms(5, 20000), mid = mean_wait_ms(50, 100000),
           high = mean_wait_ms(80, 200000);
    print_message("pool 1, S=10ms: wait %.3f ms at 5/s (theory %.3f), %.3f at 50/s (%.3f), "
                  "%.3f at 80/s (%.3f)\n",
                  low, mg1_ms(5), mid, mg1_ms(50), high, mg1_ms(80));
    assert_true(low < 0.05 * 10);                   /* ~0 at low load */
    assert_true(low < mid && mid < high);           /* rises with load */
    assert_true(fabs(mid / mg1_ms(50) - 1) < 0.10); /* and by as much as theory says */
    assert_true(fabs(high / mg1_ms(80) - 1) < 0.10);
}

/* Ten requests at once on a 10ms pool of 1 with a 25ms timeout: waits 0, 10, 20ms, then every
 * later one gives up after 25ms with the pool's status. */
static void test_timeout(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, 1);
    for (int i = 0; i < 10; i++) {
        uint64_t end = world_plan_request(f.w, &f.env, &f.p, 0, 1, 0);
        const struct world_span *s = &f.p.spans[0];
        if (i < 3) {
            assert_int_equal(end, (uint64_t)(i + 1) * 10 * MS);
            assert_int_equal(s->status, 200);
        } else {
            assert_int_equal(end, 25 * MS);
            assert_int_equal(s->status, 500);
            assert_int_equal(s->cause, WORLD_CAUSE_POOL);
            assert_true(s->error);
        }
    }
    assert_int_equal(f.w->svcs[0].ops[1].pool.timeouts, 7);
    fx_close(&f);
}

/* A pool of 2 behind a call: of three simultaneous requests the third waits one service time,
 * and its caller's spans grow by as much. Without op_pool nobody waits. */
static void test_pool_behind_call(void **state)
{
    (void)state;
    for (int pools = 0; pools < 2; pools++) {
        struct fx f;
        fx_open(&f, pools);
        uint64_t end[3], db[3];
        for (int i = 0; i < 3; i++) {
            end[i] = world_plan_request(f.w, &f.env, &f.p, 1, 0, 0);
            db[i] = f.p.spans[2].end - f.p.spans[2].start; /* root, client, db */
        }
        /* the calls' network delays (100..400us) differ: compare within them */
        assert_int_equal(db[0], 10 * MS);
        assert_int_equal(db[1], 10 * MS);
        if (pools) {
            assert_true(db[2] > 19 * MS + 600000 && db[2] < 20 * MS + 400000);
            assert_true(end[2] > end[1] + 9 * MS);
        } else {
            assert_int_equal(db[2], 10 * MS);
            assert_true(end[2] < end[1] + 1 * MS);
        }
        fx_close(&f);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wait_grows_with_load),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_pool_behind_call),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
