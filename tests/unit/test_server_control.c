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

#include "server/internal.h"

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
        struct world_cmd c = {WORLD_CMD_STATE, e, 1 + i % 2, 0, WORLD_SRC_COMMAND};
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read),
        cmocka_unit_test(test_change),
        cmocka_unit_test(test_token),
        cmocka_unit_test(test_label_ring),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
