/* server/model.c and connection pools (`pool:`): real requests queue on the world's pools by
 * the same plan as simulated ones. Five requests at the same moment on a one-connection pool
 * with a 100 ms query wait 0, 100, 200, 300 and 400 ms; past the pool's timeout a request
 * fails with its error_status after waiting the timeout; a later request finds the pool free
 * again. Only routes whose plan reaches a pool go through on_world (the world's thread inside
 * a run); when it refuses (the run ended) the plan still queues, under the server's lock. The
 * answer says how long a request waited, and a pool timeout's error names the pool. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "server/internal.h"

#define MS 1000000ULL

static const char yaml[] = "name: pool\n"
                           "services:\n"
                           "  - name: api\n"
                           "    operations:\n"
                           "      - {name: GET /q, latency: {base: 1ms, jitter: 0},"
                           " calls: [db/SELECT]}\n"
                           "      - {name: GET /t, latency: {base: 1ms, jitter: 0},"
                           " calls: [db/SLOW]}\n"
                           "      - {name: GET /free, latency: {base: 1ms, jitter: 0}}\n"
                           "  - name: db\n"
                           "    operations:\n"
                           "      - {name: SELECT, kind: client, pool: 1,"
                           " latency: {base: 100ms, jitter: 0}}\n"
                           "      - {name: SLOW, kind: client,"
                           " pool: {size: 1, timeout: 250ms, error_status: 503},"
                           " latency: {base: 100ms, jitter: 0}}\n";

struct fx {
    struct scenario *scn;
    struct world *w;
    struct server *s;
    int hook_calls, refuse;
};

static void fx_open(struct fx *f)
{
    memset(f, 0, sizeof *f);
    struct scn_error e;
    char msg[256];
    assert_int_equal(scenario_load_string("pool.yaml", yaml, strlen(yaml), &f->scn, &e), 0);
    struct world_opts wo = {.seed = 5, .nshards = 1};
    assert_int_equal(world_build(&f->w, f->scn, &wo, msg, sizeof msg), 0);
    struct server_cfg cfg = {.listen = "127.0.0.1:0", .seed = 5, .max_delay_ns = 1000 * MS};
    assert_int_equal(server_new(&f->s, f->w, &cfg, msg, sizeof msg), 0);
}

static void fx_close(struct fx *f)
{
    server_free(f->s);
    world_free(f->w);
    scenario_free(f->scn);
}

static const struct server__route *route(const struct fx *f, const char *name)
{
    for (int i = 0; i < f->s->rt.n; i++)
        if (!strcmp(f->s->rt.r[i].name, name))
            return &f->s->rt.r[i];
    fail_msg("no route %s", name);
    return NULL;
}

static uint64_t k_next;

static void plan_at(struct fx *f, const char *name, uint64_t t, struct server__plan *p)
{
    server__plan(&f->s->model, route(f, name), ++k_next, t, p);
}

/* Five at once: waits 0, 100 .. 400 ms, give or take the difference of two network delays. */
static void check_queue(struct fx *f, uint64_t t)
{
    uint64_t prev = 0;
    for (int i = 0; i < 5; i++) {
        struct server__plan p;
        plan_at(f, "GET /q", t, &p);
        assert_int_equal(p.status, 200);
        assert_int_equal(p.pool_svc, -1);
        uint64_t want = (uint64_t)i * 100 * MS;
        assert_true(p.pool_wait_ns + MS > want && p.pool_wait_ns < want + MS);
        assert_true(p.latency_ns >= p.pool_wait_ns + 101 * MS); /* the wait is in the answer */
        assert_true(i == 0 || p.pool_wait_ns > prev);
        prev = p.pool_wait_ns;
    }
}

static void test_serve_queues(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f);
    check_queue(&f, 0);
    /* a request long after finds the connection free again */
    struct server__plan p;
    plan_at(&f, "GET /q", 10000 * MS, &p);
    assert_int_equal(p.pool_wait_ns, 0);
    /* no pool on the way: never waits, however many at once */
    for (int i = 0; i < 5; i++) {
        plan_at(&f, "GET /free", 0, &p);
        assert_int_equal(p.pool_wait_ns, 0);
        assert_int_equal(p.latency_ns, 1 * MS);
    }
    fx_close(&f);
}

static void test_timeout(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f);
    int ok = 0, gave_up = 0;
    for (int i = 0; i < 5; i++) {
        struct server__plan p;
        plan_at(&f, "GET /t", 0, &p);
        if (p.status == 200) {
            ok++;
            assert_true(p.pool_wait_ns <= 250 * MS);
            continue;
        }
        gave_up++;
        assert_int_equal(p.status, 503);
        assert_int_equal(p.pool_wait_ns, 250 * MS); /* waited the timeout, then failed */
        assert_string_equal(f.w->svcs[p.pool_svc].ops[p.pool_op].scn->name, "SLOW");
        assert_true(p.latency_ns >= 250 * MS);
    }
    /* 0, 100, 200 ms fit within 250 ms; 300 does not, and a timed-out request frees nothing */
    assert_int_equal(ok, 3);
    assert_int_equal(gave_up, 2);
    fx_close(&f);
}

static int hook(void *ctx, void (*fn)(void *arg), void *arg)
{
    struct fx *f = ctx;
    f->hook_calls++;
    if (f->refuse)
        return -1;
    fn(arg);
    return 0;
}

static void test_on_world(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f);
    f.s->model.on_world = hook;
    f.s->model.hook_ctx = &f;
    struct server__plan p;
    plan_at(&f, "GET /free", 0, &p);
    assert_int_equal(f.hook_calls, 0); /* no pool on its way: planned where it is */
    check_queue(&f, 0);
    assert_int_equal(f.hook_calls, 5);
    /* the world stopped: the hook refuses, the plans still queue (under the lock) */
    f.refuse = 1;
    check_queue(&f, 20000 * MS);
    assert_int_equal(f.hook_calls, 10);
    fx_close(&f);
}

static uint64_t clock0(void *ctx)
{
    (void)ctx;
    return 0; /* every request at the same moment, however slow the test runs */
}

static int has(const struct server__answer *a, const char *text)
{
    return memmem(a->body.p, a->body.len, text, strlen(text)) != NULL;
}

static int handle(struct fx *f, const char *path, struct server__answer *a)
{
    struct server__request rq = {.method = "GET", .path = path};
    server__answer_init(a);
    server__handle(f->s, &rq, a);
    return a->status;
}

static void test_answers(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f);
    f.s->cfg.clock = clock0;
    struct server__answer a;
    assert_int_equal(handle(&f, "/q", &a), 200);
    assert_false(has(&a, "pool_wait_ms")); /* it did not wait */
    server__answer_free(&a);
    assert_int_equal(handle(&f, "/q", &a), 200); /* at the same moment: behind the first */
    assert_true(has(&a, "\"pool_wait_ms\":"));
    assert_true(a.wait_ns > 150 * MS); /* held for the wait too */
    server__answer_free(&a);
    for (int i = 0; i < 3; i++) {
        handle(&f, "/t", &a);
        server__answer_free(&a);
    }
    assert_int_equal(handle(&f, "/t", &a), 503);
    assert_true(has(&a, "no connection of db/SLOW's pool within 250ms"));
    server__answer_free(&a);
    fx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_serve_queues),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_on_world),
        cmocka_unit_test(test_answers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
