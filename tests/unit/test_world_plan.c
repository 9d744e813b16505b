/* world_plan_request: the one plan of a request that the engine and serve share. Structure
 * (preorder, client spans around callees), timing (sequential vs parallel calls), status
 * propagation and its cause, every-N faults through the caller's counters, the cap, and
 * determinism from the caller's streams. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "world/world.h"

#define MS 1000000ULL

static const char yaml[] = "name: plan\n"
                           "services:\n"
                           "  - name: front\n"
                           "    operations:\n"
                           "      - name: GET /seq\n"
                           "        latency: {base: 10ms, jitter: 0}\n"
                           "        calls: [back/GET /fail, back/GET /ok]\n"
                           "      - name: GET /par\n"
                           "        latency: {base: 10ms, jitter: 0}\n"
                           "        parallel: true\n"
                           "        calls: [back/GET /ok, back/GET /slow]\n"
                           "  - name: back\n"
                           "    operations:\n"
                           "      - {name: GET /fail, latency: {base: 1ms, jitter: 0},"
                           " error_rate: 50%, error_status: 503}\n"
                           "      - {name: GET /ok, latency: {base: 5ms, jitter: 0}}\n"
                           "      - {name: GET /slow, latency: {base: 50ms, jitter: 0}}\n"
                           "faults:\n"
                           "  - {name: ok-broken, target: back/GET /ok, every: 10,"
                           " effect: {error_status: 418}}\n";

/* A caller like serve: one stream for everything, counters of its own. */
struct env_ctx {
    struct core_rng rng;
    uint64_t ops[8][8];
    uint64_t models[8];
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
    return ++((struct env_ctx *)ctx)->models[m];
}

struct fx {
    struct scenario *scn;
    struct world *w;
    struct env_ctx c;
    struct world_plan_env env;
    struct world_span spans[64];
    struct world_plan p;
};

static void fx_open(struct fx *f, uint64_t seed)
{
    memset(f, 0, sizeof *f);
    struct scn_error e;
    assert_int_equal(scenario_load_string("plan.yaml", yaml, strlen(yaml), &f->scn, &e), 0);
    char msg[256];
    struct world_opts wo = {.seed = seed, .nshards = 1};
    assert_int_equal(world_build(&f->w, f->scn, &wo, msg, sizeof msg), 0);
    core_rng_init(&f->c.rng, seed, 1, 2);
    struct world_plan_env env = {c_op_rng, c_model_rng, c_op_count, c_model_count,
                                 NULL,     &f->c,       NULL};
    f->env = env;
    f->p.spans = f->spans;
    f->p.cap = 64;
    f->p.model = -1;
}

static void fx_close(struct fx *f)
{
    world_free(f->w);
    scenario_free(f->scn);
}

static void find(const struct world *w, const char *svc, const char *op, int *s, int *o)
{
    for (int i = 0; i < w->nsvcs; i++)
        for (int k = 0; k < w->svcs[i].nops; k++)
            if (!strcmp(w->svcs[i].scn->name, svc) && !strcmp(w->svcs[i].ops[k].scn->name, op)) {
                *s = i;
                *o = k;
                return;
            }
    fail_msg("no operation %s/%s", svc, op);
}

/* Every client span wraps its callee's server span, which follows it; children lie within
 * their parent. */
static void check_shape(const struct world_plan *p)
{
    assert_int_equal(p->spans[0].parent, -1);
    for (uint32_t i = 1; i < p->n; i++) {
        const struct world_span *s = &p->spans[i], *par = &p->spans[s->parent];
        assert_true(s->parent >= 0 && (uint32_t)s->parent < i);
        assert_true(s->start >= par->start && s->end <= par->end);
        if (s->call) {
            assert_int_equal(s->kind, SCN_KIND_CLIENT);
            const struct world_span *callee = &p->spans[i + 1];
            assert_int_equal(callee->parent, (int)i);
            assert_true(callee->start > s->start && callee->end < s->end);
            assert_int_equal(callee->status, s->status);
        }
    }
}

static void test_plan_sequential(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, 3);
    int svc, op;
    find(f.w, "front", "GET /seq", &svc, &op);
    assert_int_equal(world_max_spans(f.w, svc, op), 5);
    int failed = 0, via_callee = 0;
    for (int k = 0; k < 400; k++) {
        uint64_t t = 1000 * MS * (uint64_t)k;
        uint64_t end = world_plan_request(f.w, &f.env, &f.p, svc, op, t);
        assert_int_equal(f.p.n, 5);
        assert_false(f.p.truncated);
        check_shape(&f.p);
        const struct world_span *root = &f.p.spans[0];
        assert_int_equal(root->start, t);
        assert_int_equal(root->end, end);
        /* sequential: the second call starts when the first returned */
        assert_true(f.p.spans[3].start >= f.p.spans[1].end);
        /* 10 ms own + 1 ms + 5 ms + two round trips of 0.2..0.8 ms */
        assert_true(end - t >= 16 * MS + 400000 && end - t <= 16 * MS + 1600000);
        /* /fail's 503 passes through; /ok's every-10th 418 stays with /ok */
        assert_true(root->status == 200 || root->status == 503);
        failed += root->status == 503;
        via_callee += root->cause == WORLD_CAUSE_CALLEE;
        assert_int_equal(f.p.spans[2].cause == WORLD_CAUSE_ERROR_RATE, f.p.spans[2].status == 503);
        int tenth = (k + 1) % 10 == 0;
        assert_int_equal(f.p.spans[4].status, tenth ? 418 : 200);
        assert_int_equal(f.p.spans[4].cause, tenth ? WORLD_CAUSE_FAULT : WORLD_CAUSE_NONE);
        assert_int_equal(f.p.spans[4].fired, tenth ? 1u : 0u);
    }
    assert_int_equal(failed, via_callee);
    assert_true(failed > 140 && failed < 260);
    fx_close(&f);
}

static void test_plan_parallel(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, 4);
    int svc, op;
    find(f.w, "front", "GET /par", &svc, &op);
    uint64_t end = world_plan_request(f.w, &f.env, &f.p, svc, op, 0);
    check_shape(&f.p);
    /* both calls start together; the operation waits for the slowest (50 ms), not the sum */
    assert_int_equal(f.p.spans[1].start, f.p.spans[3].start);
    assert_true(end >= 60 * MS + 200000 && end <= 60 * MS + 800000);
    fx_close(&f);
}

static void test_plan_cap(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, 5);
    int svc, op;
    find(f.w, "front", "GET /seq", &svc, &op);
    for (uint32_t cap = 1; cap < 5; cap++) {
        f.p.cap = cap;
        world_plan_request(f.w, &f.env, &f.p, svc, op, 0);
        assert_true(f.p.n <= cap);
        assert_true(f.p.truncated);
        check_shape(&f.p);
    }
    f.p.cap = 0;
    world_plan_request(f.w, &f.env, &f.p, svc, op, 0);
    assert_int_equal(f.p.n, 0);
    fx_close(&f);
}

/* The same streams and counts give the same plan; another seed another one. */
static void test_plan_deterministic(void **state)
{
    (void)state;
    struct fx a, b, c;
    fx_open(&a, 7);
    fx_open(&b, 7);
    fx_open(&c, 8);
    int svc, op;
    find(a.w, "front", "GET /seq", &svc, &op);
    int differ = 0;
    for (int k = 0; k < 100; k++) {
        world_plan_request(a.w, &a.env, &a.p, svc, op, 0);
        world_plan_request(b.w, &b.env, &b.p, svc, op, 0);
        world_plan_request(c.w, &c.env, &c.p, svc, op, 0);
        assert_int_equal(a.p.n, b.p.n);
        assert_memory_equal(a.spans, b.spans, a.p.n * sizeof a.spans[0]);
        differ += a.spans[0].end != c.spans[0].end;
    }
    assert_true(differ > 50);
    fx_close(&a);
    fx_close(&b);
    fx_close(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan_sequential),
        cmocka_unit_test(test_plan_parallel),
        cmocka_unit_test(test_plan_cap),
        cmocka_unit_test(test_plan_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
