/* engine_call: a real request that changes the world's state (a pool's connections) runs on the
 * engine's thread, between two events, while the engine runs in real time (it is woken from
 * its pacing sleep); callers on many threads are served one at a time, so state only the
 * engine's thread touches needs no lock; once engine_run returned, a call is refused without
 * running, and an engine without opts.inject refuses every call. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "engine/engine.h"
#include "scenario/scenario.h"

#define CALLERS 4
#define CALLS 50

static struct rec_batch *c_batch(void *ctx, int signal)
{
    (void)ctx;
    return rec_batch_new(signal, 512, 16, 16, 256);
}

static void c_submit(void *ctx, struct rec_batch *b)
{
    (void)ctx;
    rec_batch_free(b);
}

static void c_drop(void *ctx, int signal, uint64_t n)
{
    (void)ctx, (void)signal, (void)n;
}

struct fix {
    struct scenario *s;
    struct world *w;
    struct engine *e;
    volatile sig_atomic_t stop;
    pthread_t engine_thread;
    uint64_t counter; /* touched only by the calls, on the engine's thread */
    int wrong_thread; /* a call ran on another thread */
};

static void fix_open(struct fix *f, int inject)
{
    struct scn_error err;
    char msg[256];
    memset(f, 0, sizeof *f);
    assert_int_equal(scenario_load("shop", &f->s, &err), 0);
    struct world_opts wo = {.seed = 9, .nshards = 1};
    assert_int_equal(world_build(&f->w, f->s, &wo, msg, sizeof msg), 0);
    struct engine_opts eo = {
        .speed = 1, .start_unix_ns = 1767225600000000000ULL, .stop = &f->stop, .inject = inject};
    struct engine_out out = {f, c_batch, c_submit, c_drop, NULL, NULL};
    assert_int_equal(engine_new(&f->e, f->w, &eo, &out, msg, sizeof msg), 0);
}

static void fix_close(struct fix *f)
{
    engine_free(f->e);
    world_free(f->w);
    scenario_free(f->s);
}

static void bump(void *arg)
{
    struct fix *f = arg;
    if (!pthread_equal(pthread_self(), f->engine_thread))
        f->wrong_thread = 1;
    f->counter++;
}

static void *engine_main(void *arg)
{
    engine_run(((struct fix *)arg)->e);
    return NULL;
}

static void *caller(void *arg)
{
    struct fix *f = arg;
    for (int i = 0; i < CALLS; i++)
        if (engine_call(f->e, bump, f))
            return (void *)1;
    return NULL;
}

static void calls_run_on_the_engine_thread(void **state)
{
    (void)state;
    struct fix f;
    fix_open(&f, 1);
    assert_int_equal(pthread_create(&f.engine_thread, NULL, engine_main, &f), 0);
    pthread_t t[CALLERS];
    for (int i = 0; i < CALLERS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, caller, &f), 0);
    int failed = 0;
    for (int i = 0; i < CALLERS; i++) {
        void *rc;
        pthread_join(t[i], &rc);
        failed += rc != NULL;
    }
    assert_int_equal(failed, 0);
    /* every call ran once, one at a time (a lost update would show), on the engine's thread */
    assert_int_equal(f.counter, (uint64_t)CALLERS * CALLS);
    assert_int_equal(f.wrong_thread, 0);
    f.stop = 1;
    pthread_join(f.engine_thread, NULL);
    /* the engine stopped: refused, not run */
    assert_int_equal(engine_call(f.e, bump, &f), -1);
    assert_int_equal(f.counter, (uint64_t)CALLERS * CALLS);
    fix_close(&f);
}

static void without_inject_refused(void **state)
{
    (void)state;
    struct fix f;
    fix_open(&f, 0);
    assert_int_equal(engine_call(f.e, bump, &f), -1);
    assert_int_equal(f.counter, 0);
    fix_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(calls_run_on_the_engine_thread),
        cmocka_unit_test(without_inject_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
