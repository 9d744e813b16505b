/* The control API without sockets: every route, every bad input, the token rule, the label
 * ring, and that a change goes through the world's command queue (nothing changes until the
 * world's thread applies it, and then GET shows it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "server/control_int.h"

static const char yaml[] =
    "name: ctl\n"
    "hosts: [{name: ppdb002, cpu: 20%}, {name: ppweb001}]\n"
    "services:\n"
    "  - {name: web, host: ppweb001, operations: [{name: GET /, rate: 1}]}\n";

struct fx {
    struct scenario *scn;
    struct world *w;
    struct server_control *c;
    struct server__answer a;
};

static void fx_open(struct fx *f, const char *token)
{
    memset(f, 0, sizeof *f);
    struct scn_error e;
    char msg[256];
    assert_int_equal(scenario_load_string("ctl.yaml", yaml, strlen(yaml), &f->scn, &e), 0);
    struct world_opts wo = {.seed = 1, .nshards = 1};
    assert_int_equal(world_build(&f->w, f->scn, &wo, msg, sizeof msg), 0);
    struct server_control_cfg cfg = {.listen = "127.0.0.1:0", .token = token, .max_body = 1024};
    assert_int_equal(server_control_new(&f->c, f->w, &cfg, msg, sizeof msg), 0);
    server__answer_init(&f->a);
}

static void fx_close(struct fx *f)
{
    server__answer_free(&f->a);
    server_control_free(f->c);
    world_free(f->w);
    scenario_free(f->scn);
}

/* Sends one request; returns the status and leaves the body (NUL-terminated) in f->a. */
static int req(struct fx *f, const char *method, const char *path, const char *body,
               const char *auth)
{
    struct server__control_req rq = {method, path, auth, NULL, body, body ? strlen(body) : 0, 0};
    const char *q = strchr(path, '?');
    char p[256];
    if (q) { /* the listener hands the path and ?after= separately */
        snprintf(p, sizeof p, "%.*s", (int)(q - path), path);
        rq.path = p;
        rq.after = strstr(q, "after=") ? strstr(q, "after=") + 6 : NULL;
    }
    server__control_handle(f->c, &rq, &f->a);
    core_buf_putc(&f->a.body, 0);
    f->a.body.len--;
    return f->a.status;
}

static const char *body(const struct fx *f)
{
    return (const char *)f->a.body.p;
}

static void on_label(void *ctx, const struct world_label *l)
{
    server_control_label(ctx, l);
}

static void tick(struct fx *f, uint64_t t)
{
    struct world_out out = {f->c, 1767225600000000000ULL, on_label, NULL};
    world_advance(f->w, t, &out);
}

static void test_read(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, NULL);
    assert_int_equal(req(&f, "GET", "/api/world", NULL, NULL), 200);
    json_t *j = json_loads(body(&f), 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "scenario")), "ctl");
    assert_int_equal(json_array_size(json_object_get(j, "entities")), 3); /* 2 hosts, 1 svc */
    assert_int_equal(json_array_size(json_object_get(j, "states")), 3);
    json_decref(j);
    assert_int_equal(req(&f, "GET", "/api/entities/ppdb002", NULL, NULL), 200);
    assert_non_null(strstr(body(&f), "\"state\":\"healthy\""));
    assert_non_null(strstr(body(&f), "\"kind\":\"host\""));
    assert_int_equal(req(&f, "GET", "/api/entities/ppdb02", NULL, NULL), 404);
    assert_non_null(strstr(body(&f), "did you mean 'ppdb002'"));
    assert_int_equal(req(&f, "GET", "/api/nope", NULL, NULL), 404);
    assert_int_equal(req(&f, "GET", "/api/entities/ppdb002/x", NULL, NULL), 404);
    assert_int_equal(req(&f, "POST", "/api/world", NULL, NULL), 405);
    assert_string_equal(f.a.allow, "GET");
    assert_int_equal(req(&f, "GET", "/api/entities/ppdb002/state", NULL, NULL), 405);
    assert_string_equal(f.a.allow, "PUT");
    assert_int_equal(req(&f, "GET", "/api/labels?after=x", NULL, NULL), 400);
    /* no wrap-around to "everything" */
    assert_int_equal(req(&f, "GET", "/api/labels?after=-1", NULL, NULL), 400);
    assert_int_equal(req(&f, "GET", "/api/labels?after=18446744073709551615", NULL, NULL), 400);
    assert_int_equal(req(&f, "GET", "/api/labels?after=7", NULL, NULL), 200);
    assert_non_null(strstr(body(&f), "\"labels\":[]"));
    fx_close(&f);
}

static void test_change(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, NULL);
    const char *p = "/api/entities/ppdb002/state";
    assert_int_equal(req(&f, "PUT", p, "{\"state\":\"degrading\",\"over\":\"30s\"}", NULL), 202);
    assert_true(world_pending(f.w));
    assert_int_equal(req(&f, "GET", "/api/entities/ppdb002", NULL, NULL), 200);
    assert_non_null(strstr(body(&f), "healthy")); /* not before the world's tick */
    tick(&f, 5000000000ULL);
    assert_int_equal(req(&f, "GET", "/api/entities/ppdb002", NULL, NULL), 200);
    assert_non_null(strstr(body(&f), "\"state\":\"degrading\""));
    assert_non_null(strstr(body(&f), "\"source\":\"command\""));
    assert_non_null(strstr(body(&f), "2026-01-01T00:00:05"));
    assert_int_equal(req(&f, "GET", "/api/labels?after=0", NULL, NULL), 200);
    assert_non_null(strstr(body(&f), "\"phase\":\"begin\""));
    assert_non_null(strstr(body(&f), "\"last\":1"));
    assert_int_equal(req(&f, "PUT", p, "{\"state\":\"healthy\"}", NULL), 202);
    tick(&f, 6000000000ULL);
    assert_int_equal(req(&f, "GET", "/api/entities/ppdb002", NULL, NULL), 200);
    assert_non_null(strstr(body(&f), "\"state\":\"healthy\""));
    assert_int_equal(req(&f, "GET", "/api/labels?after=1", NULL, NULL), 200);
    assert_non_null(strstr(body(&f), "\"phase\":\"end\""));
    assert_null(strstr(body(&f), "\"phase\":\"begin\""));
    /* bad bodies */
    assert_int_equal(req(&f, "PUT", p, "{\"state\":", NULL), 400);
    assert_non_null(strstr(body(&f), "not JSON"));
    assert_int_equal(req(&f, "PUT", p, "[1]", NULL), 400);
    assert_int_equal(req(&f, "PUT", p, "{\"state\":\"dead\"}", NULL), 400);
    assert_non_null(strstr(body(&f), "unknown state 'dead'"));
    assert_int_equal(req(&f, "PUT", p, "{\"state\":\"critical\",\"over\":\"soon\"}", NULL), 400);
    assert_int_equal(req(&f, "PUT", "/api/entities/nope/state", "{\"state\":\"critical\"}", NULL),
                     404);
    struct server__control_req big = {"PUT", p, NULL, NULL, "", 0, 1};
    server__control_handle(f.c, &big, &f.a);
    assert_int_equal(f.a.status, 413);
    /* the queue is bounded: 503 when full, nothing lost silently */
    int accepted = 0;
    for (int i = 0; i < WORLD_CMD_QUEUE + 5; i++)
        accepted += req(&f, "PUT", p, "{\"state\":\"critical\"}", NULL) == 202;
    assert_int_equal(accepted, WORLD_CMD_QUEUE);
    assert_int_equal(f.a.status, 503);
    /* after the run (e.g. --linger) changes are refused: they would never apply */
    tick(&f, 7000000000ULL);
    server_control_end(f.c);
    assert_int_equal(req(&f, "PUT", p, "{\"state\":\"critical\"}", NULL), 503);
    assert_non_null(strstr(body(&f), "the run has ended"));
    assert_int_equal(req(&f, "GET", "/api/world", NULL, NULL), 200);
    fx_close(&f);
}

static void test_token(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "s3cret");
    const char *p = "/api/entities/ppdb002/state", *b = "{\"state\":\"critical\"}";
    assert_int_equal(req(&f, "GET", "/api/world", NULL, NULL), 200); /* loopback: reads open */
    assert_int_equal(req(&f, "PUT", p, b, NULL), 401);
    assert_int_equal(req(&f, "PUT", p, b, "Bearer wrong"), 401);
    assert_int_equal(req(&f, "PUT", p, b, "s3cret"), 401);
    assert_int_equal(req(&f, "PUT", p, b, "Bearer s3cret"), 202);
    fx_close(&f);
    /* a non-loopback address without a token does not start */
    struct fx g;
    fx_open(&g, NULL);
    struct server_control *c = NULL;
    char msg[256];
    struct server_control_cfg cfg = {.listen = "0.0.0.0:0"};
    assert_int_equal(server_control_new(&c, g.w, &cfg, msg, sizeof msg), DIO_EINVAL);
    assert_non_null(strstr(msg, "needs a token"));
    assert_null(c);
    fx_close(&g);
}

/* The ring keeps the last 1024 labels; after= pages through them. */
static void test_label_ring(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, NULL);
    int e = world_entity_find(f.w, "web");
    for (int i = 0; i < 1000; i++) {
        struct world_cmd c = {
            .kind = WORLD_CMD_STATE, .entity = e, .state = 1 + i % 2, .source = WORLD_SRC_COMMAND};
        assert_int_equal(world_command(f.w, &c), 0);
        tick(&f, (uint64_t)(i + 1) * 1000000000ULL);
    }
    /* 1000 changes between two non-healthy states: a begin each, an end for all but the first */
    assert_int_equal(req(&f, "GET", "/api/labels?after=1990", NULL, NULL), 200);
    json_t *j = json_loads(body(&f), 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(j, "last")), 1999);
    assert_int_equal(json_integer_value(json_object_get(j, "oldest_kept")), 1999 - 1024 + 1);
    assert_int_equal(json_array_size(json_object_get(j, "labels")), 9);
    json_decref(j);
    assert_int_equal(req(&f, "GET", "/api/labels", NULL, NULL), 200);
    j = json_loads(body(&f), 0, NULL);
    assert_int_equal(json_array_size(json_object_get(j, "labels")), 1024);
    json_decref(j);
    fx_close(&f);
}

/* Rate, pause, resume, speed and chaos: bad input answered 4xx naming the problem, good
 * input queued (202) and applied only at the world's next tick, each labelled (command). */
static void test_live(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "tok");
    const char *tk = "Bearer tok";
    assert_int_equal(req(&f, "PUT", "/api/rate", "{\"factor\":2}", NULL), 401);
    assert_int_equal(req(&f, "GET", "/api/rate", NULL, tk), 405);
    assert_string_equal(f.a.allow, "PUT");
    assert_int_equal(req(&f, "PUT", "/api/rate", "{\"factor\":", tk), 400);
    assert_non_null(strstr(body(&f), "not JSON"));
    assert_int_equal(req(&f, "PUT", "/api/rate", "[2]", tk), 400);
    assert_int_equal(req(&f, "PUT", "/api/rate", "{\"factor\":2,\"rps\":3}", tk), 400);
    assert_int_equal(req(&f, "PUT", "/api/rate", "{\"factor\":\"2\"}", tk), 400);
    assert_int_equal(req(&f, "PUT", "/api/rate", "{\"factor\":-1}", tk), 400);
    assert_int_equal(req(&f, "PUT", "/api/rate", "{\"factor\":2,\"target\":\"web/GET\"}", tk), 404);
    assert_non_null(strstr(body(&f), "did you mean 'web/GET /'"));
    assert_false(world_pending(f.w));
    assert_int_equal(req(&f, "PUT", "/api/rate", "{\"factor\":2.5,\"target\":\"web/GET /\"}", tk),
                     202);
    assert_int_equal(world_traffic_factor(f.w, 0) * 10, 10); /* not before the tick */
    tick(&f, 1000000000ULL);
    assert_true(world_traffic_factor(f.w, 0) == 2.5);
    assert_int_equal(req(&f, "PUT", "/api/rate", "{\"rps\":4}", tk), 202); /* base rate 1 */
    assert_int_equal(req(&f, "POST", "/api/pause", NULL, tk), 202);
    tick(&f, 2000000000ULL);
    assert_true(world_traffic_factor(f.w, 0) == 0); /* paused */
    assert_int_equal(req(&f, "GET", "/api/world", NULL, NULL), 200);
    assert_non_null(strstr(body(&f), "\"paused\":true"));
    assert_non_null(strstr(body(&f), "\"name\":\"web/GET /\",\"base\":1,\"factor\":4"));
    assert_int_equal(req(&f, "POST", "/api/resume", "", tk), 202);
    tick(&f, 3000000000ULL);
    assert_true(world_traffic_factor(f.w, 0) == 4);
    /* --speed max (cfg.speed 0): the speed cannot change */
    assert_int_equal(req(&f, "PUT", "/api/speed", "{\"speed\":10}", tk), 400);
    assert_non_null(strstr(body(&f), "--speed max"));
    f.c->cfg.speed = 1;
    assert_int_equal(req(&f, "PUT", "/api/speed", "{\"speed\":0}", tk), 400);
    assert_int_equal(req(&f, "PUT", "/api/speed", "{\"speed\":\"x\"}", tk), 400);
    assert_int_equal(req(&f, "PUT", "/api/speed", "{\"speed\":10}", tk), 202);
    /* chaos */
    assert_int_equal(req(&f, "PUT", "/api/chaos", "{\"spec\":\"every=1m\"}", tk), 400);
    assert_int_equal(req(&f, "PUT", "/api/chaos", "{\"enabled\":true,\"spec\":\"every=x\"}", tk),
                     400);
    assert_non_null(strstr(body(&f), "every=x"));
    assert_int_equal(req(&f, "PUT", "/api/chaos", "{\"enabled\":true,\"spec\":\"bogus=1\"}", tk),
                     400);
    assert_int_equal(
        req(&f, "PUT", "/api/chaos", "{\"enabled\":true,\"spec\":\"every=5s,hold=2s,max=1\"}", tk),
        202);
    tick(&f, 4000000000ULL);
    assert_int_equal(req(&f, "GET", "/api/world", NULL, NULL), 200);
    assert_non_null(strstr(body(&f), "\"speed\":10"));
    assert_non_null(strstr(body(&f), "\"chaos\":{\"enabled\":true,\"spec\":\"every=5s"));
    assert_int_equal(req(&f, "PUT", "/api/chaos", "{\"enabled\":false}", tk), 202);
    tick(&f, 5000000000ULL);
    /* every change is a label, source command */
    assert_int_equal(req(&f, "GET", "/api/labels?after=0", NULL, NULL), 200);
    const char *kinds[] = {"\"kind\":\"rate\"", "\"kind\":\"pause\"", "\"kind\":\"resume\"",
                           "\"kind\":\"speed\"", "\"kind\":\"chaos\""};
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
        assert_non_null(strstr(body(&f), kinds[i]));
    assert_non_null(strstr(body(&f), "\"params\":{\"factor\":2.5},\"source\":\"command\""));
    assert_null(strstr(body(&f), "\"source\":\"schedule\""));
    fx_close(&f);
}

/* Faults by name: unknown -> 404 with a suggestion; wrong method -> 405. */
static void test_faults(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, NULL);
    assert_int_equal(req(&f, "POST", "/api/faults/nope/start", "{}", NULL), 404);
    assert_non_null(strstr(body(&f), "no fault 'nope'"));
    assert_int_equal(req(&f, "GET", "/api/faults/nope/start", NULL, NULL), 405);
    assert_int_equal(req(&f, "POST", "/api/faults/nope/restart", NULL, NULL), 404);
    assert_int_equal(req(&f, "POST", "/api/faults//start", NULL, NULL), 404);
    assert_int_equal(req(&f, "GET", "/api/world", NULL, NULL), 200);
    assert_non_null(strstr(body(&f), "\"faults\":[]"));
    fx_close(&f);
}

/* A fault started and stopped live: 202, applied at the tick, shown in GET /api/world with its
 * variant and end, labelled source command. */
static void test_fault_live(void **state)
{
    (void)state;
    static const char fy[] =
        "name: f\n"
        "hosts: [{name: h1}]\n"
        "services:\n"
        "  - {name: pay, host: h1, operations: [{name: POST /charge, rate: 1}]}\n"
        "faults:\n"
        "  - name: payment-failure\n"
        "    target: pay/POST /charge\n"
        "    manual: true\n"
        "    effect: {error_status: 503}\n"
        "    variants: {\"10%\": {error_rate: 10%}, \"50%\": {error_rate: 50%}}\n"
        "    default_variant: \"10%\"\n";
    struct fx f;
    memset(&f, 0, sizeof f);
    struct scn_error e;
    char msg[256];
    assert_int_equal(scenario_load_string("f.yaml", fy, strlen(fy), &f.scn, &e), 0);
    struct world_opts wo = {.seed = 1, .nshards = 1};
    assert_int_equal(world_build(&f.w, f.scn, &wo, msg, sizeof msg), 0);
    struct server_control_cfg cfg = {
        .listen = "127.0.0.1:0", .max_body = 1024, .start_unix_ns = 1767225600000000000ULL};
    assert_int_equal(server_control_new(&f.c, f.w, &cfg, msg, sizeof msg), 0);
    server__answer_init(&f.a);
    const char *p = "/api/faults/payment-failure/start";
    assert_int_equal(req(&f, "POST", "/api/faults/payment-failur/start", NULL, NULL), 404);
    assert_non_null(strstr(body(&f), "did you mean 'payment-failure'"));
    assert_int_equal(req(&f, "POST", p, "{\"variant\":\"70%\"}", NULL), 400);
    assert_int_equal(req(&f, "POST", p, "{\"for\":\"soon\"}", NULL), 400);
    assert_int_equal(req(&f, "POST", p, "{\"for\":2}", NULL), 400);
    assert_int_equal(req(&f, "POST", p, "{\"for\":\"2m\",\"variant\":\"50%\"}", NULL), 202);
    assert_non_null(strstr(body(&f), "\"variant\":\"50%\""));
    assert_int_equal(req(&f, "GET", "/api/world", NULL, NULL), 200);
    assert_non_null(strstr(body(&f), "\"active\":false")); /* not before the tick */
    tick(&f, 10000000000ULL);
    assert_int_equal(req(&f, "GET", "/api/world", NULL, NULL), 200);
    assert_non_null(strstr(body(&f), "\"variants\":[\"10%\",\"50%\"],\"active\":true,"
                                     "\"until\":1767225730000,\"variant\":\"50%\""));
    assert_int_equal(req(&f, "POST", "/api/faults/payment-failure/stop", NULL, NULL), 202);
    tick(&f, 20000000000ULL);
    assert_int_equal(req(&f, "GET", "/api/world", NULL, NULL), 200);
    assert_non_null(strstr(body(&f), "\"active\":false"));
    assert_int_equal(req(&f, "GET", "/api/labels?after=0", NULL, NULL), 200);
    assert_non_null(strstr(body(&f), "payment-failure"));
    assert_non_null(strstr(body(&f), "\"source\":\"command\""));
    fx_close(&f);
}

/* Aggregates: counted requests become a snapshot; ?after= filters by time; the stream route
 * answers a socketless caller (the listener turns it into an event stream). */
static void test_aggregates(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, NULL);
    struct world_agg *ag = world_agg_new(f.w);
    f.c->cfg.agg = ag;
    assert_int_equal(req(&f, "GET", "/api/aggregates", NULL, NULL), 200);
    assert_string_equal(body(&f), "{\"interval_ms\":1000,\"points\":[]}\n");
    for (int i = 1; i <= 100; i++)
        world_agg_count(ag, 0, (uint64_t)i * 1000000ULL, i > 90);
    world_agg_publish(ag, 2000000000ULL, 1767225600000000000ULL);
    assert_int_equal(req(&f, "GET", "/api/aggregates?after=0", NULL, NULL), 200);
    json_t *j = json_loads(body(&f), 0, NULL);
    assert_non_null(j);
    json_t *pt = json_array_get(json_object_get(j, "points"), 0);
    assert_int_equal(json_integer_value(json_object_get(pt, "t")), 1767225602000LL);
    json_t *en = json_array_get(json_object_get(pt, "entries"), 0);
    assert_string_equal(json_string_value(json_object_get(en, "name")), "web/GET /");
    assert_true(json_number_value(json_object_get(en, "rate")) == 50); /* 100 in 2 s */
    assert_true(json_number_value(json_object_get(en, "errors")) == 5);
    double p50 = json_number_value(json_object_get(en, "p50"));
    double p99 = json_number_value(json_object_get(en, "p99"));
    assert_true(p50 > 49 && p50 < 52 && p99 > 98 && p99 < 101);
    json_t *h = json_array_get(json_object_get(pt, "hosts"), 0);
    assert_string_equal(json_string_value(json_object_get(h, "name")), "ppdb002");
    assert_true(json_number_value(json_object_get(h, "cpu")) == 0.2);
    json_decref(j);
    assert_int_equal(req(&f, "GET", "/api/aggregates?after=1767225602000", NULL, NULL), 200);
    assert_non_null(strstr(body(&f), "\"points\":[]"));
    assert_int_equal(req(&f, "GET", "/api/aggregates?after=x", NULL, NULL), 400);
    assert_int_equal(req(&f, "GET", "/api/stream", NULL, NULL), 200);
    assert_string_equal(f.a.content_type, "text/event-stream");
    assert_int_equal(req(&f, "POST", "/api/stream", NULL, NULL), 405);
    fx_close(&f);
    world_agg_free(ag);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read),       cmocka_unit_test(test_change),
        cmocka_unit_test(test_token),      cmocka_unit_test(test_label_ring),
        cmocka_unit_test(test_live),       cmocka_unit_test(test_faults),
        cmocka_unit_test(test_aggregates), cmocka_unit_test(test_fault_live),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
