/* Entity states and the command path: the scenario's timeline and live commands change state
 * only through world_advance, every change is labelled (begin, then end), transitions drift,
 * a service's requests feel its host's state, and commands from another thread all arrive. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>

#include "world/world.h"

#define S 1000000000ULL

static const char yaml[] = "name: states\n"
                           "hosts:\n"
                           "  - {name: ppdb002, cpu: 20%}\n"
                           "  - {name: ppweb001, cpu: 30%}\n"
                           "services:\n"
                           "  - name: db\n"
                           "    host: ppdb002\n"
                           "    operations: [{name: SELECT, latency: 5ms}]\n"
                           "  - name: web\n"
                           "    host: ppweb001\n"
                           "    operations: [{name: GET /, rate: 10, calls: [db/SELECT]}]\n"
                           "states:\n"
                           "  slow: {latency_factor: 3}\n"
                           "timeline:\n"
                           "  - {at: 3m, target: ppdb002, state: critical}\n"
                           "  - {at: 1m, target: ppdb002, state: degrading, over: 60s}\n"
                           "  - {at: 4m, target: ppdb002, state: healthy}\n";

struct rec {
    int begins, ends;
    char last[64];
    int last_source;
    uint64_t last_start, last_end;
};

static void on_label(void *ctx, const struct world_label *l)
{
    struct rec *r = ctx;
    assert_null(l->fault);
    if (l->open)
        r->begins++;
    else
        r->ends++;
    snprintf(r->last, sizeof r->last, "%s:%s", l->target, l->state->name);
    r->last_source = l->source;
    r->last_start = l->start_ns;
    r->last_end = l->end_ns;
}

struct fx {
    struct scenario *scn;
    struct world *w;
    struct rec r;
    struct world_out out;
};

static void fx_open(struct fx *f)
{
    memset(f, 0, sizeof *f);
    struct scn_error e;
    char msg[256];
    int rc = scenario_load_string("states.yaml", yaml, strlen(yaml), &f->scn, &e);
    if (rc) {
        scenario_format_error(&e, msg, sizeof msg);
        fail_msg("%s", msg);
    }
    struct world_opts wo = {.seed = 1, .nshards = 1};
    assert_int_equal(world_build(&f->w, f->scn, &wo, msg, sizeof msg), 0);
    f->out = (struct world_out){&f->r, 1000 * S, on_label, NULL};
}

static void fx_close(struct fx *f)
{
    world_free(f->w);
    scenario_free(f->scn);
}

static const struct world_entity *ent(const struct fx *f, const char *name)
{
    int i = world_entity_find(f->w, name);
    assert_true(i >= 0);
    return &f->w->ents[i];
}

static struct world_req_fx svc_fx(const struct fx *f, const char *svc, const char *host)
{
    struct world_req_fx r = {1, 0, 0, -1, -1};
    world_state_effect(f->w, world_entity_find(f->w, svc), &r);
    world_state_effect(f->w, world_entity_find(f->w, host), &r);
    return r;
}

static void test_timeline(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f);
    const struct world_entity *db = ent(&f, "ppdb002");
    /* entries are applied in time order whatever the file order */
    assert_int_equal(world_next_due(f.w), 60 * S);
    world_advance(f.w, 0, &f.out);
    assert_int_equal(db->state, SCN_STATE_HEALTHY);
    assert_true(db->cur.cpu > 0.19 && db->cur.cpu < 0.21);
    world_advance(f.w, 60 * S, &f.out);
    assert_int_equal(db->state, SCN_STATE_DEGRADING);
    assert_int_equal(f.r.begins, 1);
    assert_string_equal(f.r.last, "ppdb002:degrading");
    assert_int_equal(f.r.last_source, WORLD_SRC_SCHEDULE);
    assert_int_equal(f.r.last_start, 1060 * S);
    /* a transition: the next tick is one WORLD_TICK later, and effects drift linearly */
    assert_int_equal(world_next_due(f.w), 60 * S + WORLD_TICK_NS);
    world_advance(f.w, 90 * S, &f.out);
    double mid = (0.2 + f.scn->states[SCN_STATE_DEGRADING].fx.cpu) / 2;
    assert_true(db->cur.cpu > mid - 0.01 && db->cur.cpu < mid + 0.01);
    double lf = (1 + f.scn->states[SCN_STATE_DEGRADING].fx.latency_factor) / 2;
    struct world_req_fx r = svc_fx(&f, "db", "ppdb002");
    assert_true(r.latency > lf - 0.01 && r.latency < lf + 0.01);
    /* the web host is untouched */
    r = svc_fx(&f, "web", "ppweb001");
    assert_true(r.latency == 1 && r.error_rate == 0);
    world_advance(f.w, 180 * S, &f.out);
    assert_int_equal(db->state, SCN_STATE_CRITICAL);
    assert_int_equal(f.r.ends, 1); /* degrading ended when critical began */
    assert_int_equal(f.r.begins, 2);
    r = svc_fx(&f, "db", "ppdb002");
    assert_true(r.error_rate > 0.19 && r.status == 503);
    assert_true(db->leaked > 0);
    world_advance(f.w, 240 * S, &f.out);
    assert_int_equal(db->state, SCN_STATE_HEALTHY);
    assert_int_equal(f.r.ends, 2);
    assert_int_equal(f.r.begins, 2); /* healthy is no incident: no label of its own */
    assert_int_equal(f.r.last_end, 1240 * S);
    assert_true(db->leaked == 0); /* recovery gives leaked memory back */
    r = svc_fx(&f, "db", "ppdb002");
    assert_true(r.latency == 1 && r.error_rate == 0);
    assert_int_equal(world_next_due(f.w), UINT64_MAX);
    fx_close(&f);
}

static void test_commands(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f);
    int slow = world_state_find(f.w, "slow"), web = world_entity_find(f.w, "web");
    assert_true(slow > SCN_STATE_CRITICAL && web >= 0);
    assert_int_equal(world_state_find(f.w, "nope"), -1);
    assert_int_equal(world_entity_find(f.w, "nope"), -1);
    struct world_cmd bad = {
        .kind = WORLD_CMD_STATE, .entity = f.w->nents, .state = slow, .source = WORLD_SRC_COMMAND};
    assert_int_equal(world_command(f.w, &bad), DIO_EINVAL);
    bad.entity = web;
    bad.state = f.scn->nstates;
    assert_int_equal(world_command(f.w, &bad), DIO_EINVAL);
    struct world_cmd c = {
        .kind = WORLD_CMD_STATE, .entity = web, .state = slow, .source = WORLD_SRC_COMMAND};
    assert_int_equal(world_command(f.w, &c), 0);
    assert_true(world_pending(f.w));
    /* nothing changes until the world's thread applies it */
    assert_int_equal(ent(&f, "web")->state, SCN_STATE_HEALTHY);
    world_advance(f.w, 5 * S, &f.out);
    assert_false(world_pending(f.w));
    assert_int_equal(ent(&f, "web")->state, slow);
    assert_string_equal(f.r.last, "web:slow");
    assert_int_equal(f.r.last_source, WORLD_SRC_COMMAND);
    assert_true(svc_fx(&f, "web", "ppweb001").latency == 3);
    /* the queue is bounded */
    for (int i = 0; i < WORLD_CMD_QUEUE; i++)
        assert_int_equal(world_command(f.w, &c), 0);
    assert_int_equal(world_command(f.w, &c), DIO_EFULL);
    world_advance(f.w, 6 * S, &f.out);
    assert_int_equal(world_command(f.w, &c), 0);
    fx_close(&f);
}

struct pusher {
    struct world *w;
    int entity, n, refused;
};

static void *push(void *arg)
{
    struct pusher *p = arg;
    for (int i = 0; i < p->n; i++) {
        struct world_cmd c = {.kind = WORLD_CMD_STATE,
                              .entity = p->entity,
                              .state = i % 3,
                              .source = WORLD_SRC_COMMAND};
        while (world_command(p->w, &c) == DIO_EFULL)
            p->refused++;
    }
    return NULL;
}

/* Commands from other threads, applied by this one: none lost, none applied twice. */
static void test_commands_threads(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f);
    enum { N = 20000 };
    struct pusher p[2] = {{f.w, world_entity_find(f.w, "web"), N, 0},
                          {f.w, world_entity_find(f.w, "db"), N, 0}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, push, &p[i]), 0);
    uint64_t now = 0;
    while (f.w->changes < 2 * N)
        world_advance(f.w, now += 1000, &f.out);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    world_advance(f.w, now + 1000, &f.out);
    assert_int_equal(f.w->changes, 2 * N);
    fx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timeline),
        cmocka_unit_test(test_commands),
        cmocka_unit_test(test_commands_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
