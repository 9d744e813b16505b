/* The event stream without sockets: labels fed as the world's thread feeds them, the stream
 * pulled as the listener pulls it. A stream of every label (the default, ?labels=all) gets
 * every label once, in id order; a ?labels=incident stream gets the incidents and exact
 * per-fault counts of the one-request labels; a bad ?labels= is a 400. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "server/control_int.h"

static const char yaml[] = "name: sse\n"
                           "hosts: [{name: ppdb002}, {name: ppweb001}]\n"
                           "services:\n"
                           "  - {name: web, host: ppweb001, operations: [{name: GET /, rate: 1}]}\n"
                           "faults:\n"
                           "  - {name: slow-every, target: web, every: 10, effect: "
                           "{latency_factor: 3}}\n"
                           "  - {name: err-some, target: web/GET /, probability: 0.1, effect: "
                           "{error_rate: 100%}}\n";

#define NLABELS 6000 /* over the GET window (1024) and the world-side queue (4096) */
#define BATCH 1500   /* labels between pulls: over what the old 1024-label ring held */

struct fx {
    struct scenario *scn;
    struct world *w;
    struct server_control *c;
};

struct stream {
    struct httpd_h1_response rs;
    struct core_buf text; /* everything pulled */
};

static void fx_open(struct fx *f)
{
    memset(f, 0, sizeof *f);
    struct scn_error e;
    char msg[256];
    assert_int_equal(scenario_load_string("sse.yaml", yaml, strlen(yaml), &f->scn, &e), 0);
    struct world_opts wo = {.seed = 1, .nshards = 1};
    assert_int_equal(world_build(&f->w, f->scn, &wo, msg, sizeof msg), 0);
    assert_int_equal(f->w->nfaults, 2);
    struct server_control_cfg cfg = {.listen = "127.0.0.1:0", .max_body = 1024};
    assert_int_equal(server_control_new(&f->c, f->w, &cfg, msg, sizeof msg), 0);
}

static void fx_close(struct fx *f)
{
    server_control_free(f->c);
    world_free(f->w);
    scenario_free(f->scn);
}

static int open_stream(struct fx *f, const char *which, struct stream *s)
{
    struct server__answer a;
    server__answer_init(&a);
    memset(s, 0, sizeof *s);
    core_buf_init(&s->text, 64u << 20);
    int rc = control__sse_open(f->c, which, &a, &s->rs);
    if (rc)
        rc = a.status;
    server__answer_free(&a);
    return rc;
}

static void pull(struct stream *s)
{
    assert_int_equal(s->rs.stream->pull(s->rs.stream_cls, &s->text), 0);
}

/* Label i: every 7th a state change of ppdb002 (an incident), the others one request's blip
 * of fault i % 2. The last one is an incident, so the counts before it are flushed. */
static int is_incident(int i)
{
    return i % 7 == 0 || i == NLABELS - 1;
}

static void feed(struct fx *f, int i)
{
    static const uint8_t tid[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    uint64_t t = 1767225600000000000ULL + (uint64_t)i * 1000000ULL;
    struct world_label l = {.start_ns = t, .end_ns = t + 500000, .target = "web"};
    if (is_incident(i)) {
        l.target = "ppdb002";
        l.state = &f->scn->states[1 + (i / 7) % 2];
        l.from = &f->scn->states[0];
        l.source = WORLD_SRC_COMMAND;
        l.open = 1;
        l.id = (uint64_t)i + 1;
    } else {
        l.fault = &f->w->faults[i % 2];
        l.trace_id = tid;
        l.source = WORLD_SRC_EVERY;
    }
    server_control_label(f->c, &l);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Checks a stream of every label: ids 1..NLABELS once each, in order, each a JSON object. */
static void check_all(struct stream *s)
{
    const char *p = (const char *)s->text.p;
    uint64_t want = 1;
    while ((p = strstr(p, "event: label\ndata: "))) {
        p += strlen("event: label\ndata: ");
        const char *end = strstr(p, "\n\n");
        assert_non_null(end);
        json_error_t je;
        json_t *j = json_loadb(p, (size_t)(end - p), 0, &je);
        assert_non_null(j);
        assert_int_equal(json_integer_value(json_object_get(j, "id")), want);
        json_t *l = json_object_get(j, "label");
        const char *scope = json_string_value(json_object_get(l, "scope"));
        assert_int_equal(is_incident((int)want - 1), !scope || strcmp(scope, "request"));
        json_decref(j);
        want++;
        p = end;
    }
    assert_int_equal(want - 1, NLABELS);
}

/* Checks an incident stream: the incidents in order, the blips counted exactly per fault, the
 * counts' "to" rising and each covering every id before it. */
static void check_incident(struct stream *s, const uint64_t per_fault[2])
{
    const char *p = (const char *)s->text.p;
    uint64_t seen = 0, counted = 0, by[2] = {0, 0}, incidents = 0;
    while ((p = strstr(p, "event: "))) {
        int is_label = !strncmp(p, "event: label\n", 13);
        int is_count = !strncmp(p, "event: request_labels\n", 22);
        p = strstr(p, "data: ") + 6;
        const char *end = strstr(p, "\n\n");
        if (!is_label && !is_count) {
            p = end;
            continue;
        }
        json_error_t je;
        json_t *j = json_loadb(p, (size_t)(end - p), 0, &je);
        assert_non_null(j);
        if (is_label) {
            uint64_t id = (uint64_t)json_integer_value(json_object_get(j, "id"));
            assert_true(id > seen);
            assert_true(is_incident((int)id - 1));
            assert_int_equal(counted + incidents, id - 1); /* every id before it: sent or counted */
            seen = id;
            incidents++;
        } else {
            uint64_t to = (uint64_t)json_integer_value(json_object_get(j, "to"));
            uint64_t n = (uint64_t)json_integer_value(json_object_get(j, "n"));
            assert_true(to > seen);
            uint64_t sum = 0;
            json_t *fs = json_object_get(j, "faults"), *x;
            size_t i;
            json_array_foreach(fs, i, x)
            {
                const char *name = json_string_value(json_object_get(x, "fault"));
                uint64_t k = (uint64_t)json_integer_value(json_object_get(x, "n"));
                assert_string_equal(json_string_value(json_object_get(x, "target")),
                                    !strcmp(name, "slow-every") ? "web" : "web/GET /");
                by[!strcmp(name, "slow-every") ? 0 : 1] += k;
                sum += k;
            }
            assert_int_equal(sum, n);
            counted += n;
            seen = to;
            assert_int_equal(counted + incidents, to); /* every id up to "to": sent or counted */
        }
        json_decref(j);
        p = end;
    }
    assert_int_equal(seen, NLABELS);
    assert_int_equal(counted + incidents, NLABELS);
    assert_int_equal(by[0], per_fault[0]);
    assert_int_equal(by[1], per_fault[1]);
}

static void test_stream_labels(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f);
    struct stream dflt, all, inc;
    assert_int_equal(open_stream(&f, NULL, &dflt), 0);
    assert_int_equal(open_stream(&f, "all", &all), 0);
    assert_int_equal(open_stream(&f, "incident", &inc), 0);
    uint64_t per_fault[2] = {0, 0};
    for (int i = 0; i < NLABELS; i++) {
        feed(&f, i);
        per_fault[i % 2] += !is_incident(i);
        if ((i + 1) % BATCH == 0 || i == NLABELS - 1) {
            sleep_ms(60); /* past the stream's batching window */
            pull(&dflt);
            pull(&all);
            pull(&inc);
        }
    }
    sleep_ms(60);
    pull(&dflt);
    pull(&all);
    pull(&inc);
    assert_non_null(strstr((const char *)dflt.text.p, "event: world\n"));
    check_all(&dflt);
    check_all(&all);
    check_incident(&inc, per_fault);
    /* GET /api/labels: the last 1024, the data lines of the same events */
    struct server__answer a;
    server__answer_init(&a);
    struct server__control_req rq = {"GET", "/api/labels", NULL, NULL, NULL, 0, 0};
    server__control_handle(f.c, &rq, &a);
    json_error_t je;
    json_t *j = json_loadb((const char *)a.body.p, a.body.len, 0, &je);
    assert_non_null(j);
    json_t *ls = json_object_get(j, "labels");
    assert_int_equal(json_array_size(ls), CONTROL_LABELS_KEPT);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(ls, 0), "id")),
                     NLABELS - CONTROL_LABELS_KEPT + 1);
    json_decref(j);
    server__answer_free(&a);
    struct stream *ss[] = {&dflt, &all, &inc};
    for (int i = 0; i < 3; i++) {
        ss[i]->rs.stream->done(ss[i]->rs.stream_cls, HTTPD_H1_STREAM_GONE);
        core_buf_free(&ss[i]->text);
    }
    fx_close(&f);
}

static void test_bad_filter(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f);
    struct stream s;
    assert_int_equal(open_stream(&f, "some", &s), 400);
    assert_int_equal(open_stream(&f, "", &s), 400);
    core_buf_free(&s.text);
    fx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_labels),
        cmocka_unit_test(test_bad_filter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
