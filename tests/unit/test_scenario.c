/* scenario: built-in scenarios load with the expected values, and every accepted syntax
 * (durations, rates, percentages, latency forms, call forms, parallel forms, attributes,
 * defaults) decodes to what docs/scenario-format.md promises. Bad input: test_scenario_bad.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "scenario/scenario.h"

#define MS 1000000ULL
#define SEC 1000000000ULL

static void assert_near(double a, double b)
{
    if (fabs(a - b) > 1e-9 * (fabs(b) > 1 ? fabs(b) : 1)) {
        print_error("%.12g != %.12g\n", a, b);
        fail();
    }
}

static struct scenario *load_ok(const char *yaml)
{
    struct scenario *s = NULL;
    struct scn_error e;
    char buf[1024];
    int rc = scenario_load_string("test.yaml", yaml, strlen(yaml), &s, &e);
    if (rc) {
        scenario_format_error(&e, buf, sizeof(buf));
        print_error("%s\n", buf);
    }
    assert_int_equal(rc, 0);
    assert_non_null(s);
    return s;
}

static int load_err(const char *yaml, struct scn_error *e)
{
    struct scenario *s = NULL;
    int rc = scenario_load_string("test.yaml", yaml, strlen(yaml), &s, e);
    assert_null(s);
    return rc;
}

static const struct scn_model *model(const struct scenario *s, const char *name)
{
    for (int i = 0; i < s->nmodels; i++)
        if (!strcmp(s->models[i].name, name))
            return &s->models[i];
    fail_msg("no model %s", name);
    return NULL;
}

/* ---- builtins -------------------------------------------------------------------------- */
static void test_builtins_all_load(void **state)
{
    (void)state;
    int n = 0;
    for (const struct scenario_builtin *b = scenario_builtins; b->name; b++, n++) {
        struct scenario *s = NULL;
        struct scn_error e;
        char buf[1024], file[128];
        int rc = scenario_load(b->name, &s, &e);
        if (rc) {
            scenario_format_error(&e, buf, sizeof(buf));
            print_error("%s\n", buf);
        }
        assert_int_equal(rc, 0);
        snprintf(file, sizeof(file), "builtin:%s", b->name);
        assert_string_equal(s->file, file);
        assert_string_equal(s->name, b->name);
        assert_ptr_equal(scenario_builtin_find(b->name), b);
        scenario_free(s);
    }
    assert_true(n >= 4);
    assert_null(scenario_builtin_find("no-such-scenario"));
    assert_null(scenario_builtin_find(NULL));
}

static void check_model(const struct scenario *s, const char *name, uint64_t base_ms, int batch,
                        double rate, int tokens_in)
{
    const struct scn_model *m = model(s, name);
    assert_int_equal(m->base_latency_ns, base_ms * MS);
    assert_int_equal(m->max_batch, batch);
    assert_near(m->rate, rate);
    assert_near(m->jitter, 0.2);
    assert_int_equal(m->tokens_in, tokens_in);
    assert_string_equal(m->gpu, "A100"); /* from the model server's host */
    const struct scn_service *sv = &s->services[m->entry_svc];
    assert_string_equal(sv->name, "gateway");
    const struct scn_operation *op = &sv->ops[m->entry_op];
    assert_string_equal(op->method, "POST");
    const struct scn_operation *inf = &s->services[op->calls[0].svc].ops[op->calls[0].op];
    assert_true(inf->inference);
}

/* The one fault of `kind` ("latency" or "gpu") aimed at model m. */
static const struct scn_fault *fault_for(const struct scenario *s, int m, const char *kind)
{
    for (int i = 0; i < s->nfaults; i++) {
        const struct scn_fault *f = &s->faults[i];
        int is_latency = f->latency_factor > 0;
        if (f->target_kind == SCN_TARGET_MODEL && f->target_idx == m &&
            is_latency == !strcmp(kind, "latency"))
            return f;
    }
    return NULL;
}

static void test_builtin_inference(void **state)
{
    (void)state;
    struct scenario *s = NULL;
    assert_int_equal(scenario_load("inference", &s, NULL), 0);
    assert_int_equal(s->nmodels, 3);
    check_model(s, "gpt-4", 80, 32, 50, 400);
    check_model(s, "llama-70b", 200, 8, 20, 400);
    check_model(s, "clip-vit", 15, 64, 200, 0);
    assert_int_equal(model(s, "gpt-4")->tokens_out, 250);
    assert_string_equal(
        s->services[model(s, "clip-vit")->entry_svc].ops[model(s, "clip-vit")->entry_op].route,
        "/v1/embeddings");
    for (int m = 0; m < s->nmodels; m++) {
        const struct scn_fault *gpu = fault_for(s, m, "gpu");
        assert_non_null(gpu);
        assert_int_equal(gpu->trigger, SCN_EVERY_N);
        assert_int_equal(gpu->every_n, 50);
        assert_near(gpu->gpu_util, 0.22);
        assert_int_equal(gpu->queue_depth, 5);
        assert_true(gpu->latency_factor == 0 && gpu->error_status == 0);
    }
    const struct scn_fault *spike = fault_for(s, 0, "latency");
    assert_non_null(spike);
    assert_string_equal(s->models[0].name, "gpt-4");
    assert_int_equal(spike->every_n, 100);
    assert_near(spike->latency_factor, 10);
    assert_near(spike->gpu_util, -1);
    assert_int_equal(spike->queue_depth, -1);
    assert_null(fault_for(s, 1, "latency"));
    /* hosts: gateway on an edge host, model server on a GPU host with A100s */
    const struct scn_service *gw = &s->services[model(s, "gpt-4")->entry_svc];
    assert_string_equal(s->hosts[gw->host_idx].profile, "edge");
    const struct scn_operation *gop = &gw->ops[0];
    const struct scn_service *ms = &s->services[gop->calls[0].svc];
    assert_string_equal(s->hosts[ms->host_idx].profile, "gpu");
    assert_true(s->hosts[ms->host_idx].gpus >= 1);
    assert_int_equal(gop->latency.base_ns, 2 * MS);
    scenario_free(s);
}

static void test_builtin_shop(void **state)
{
    (void)state;
    struct scenario *s = NULL;
    assert_int_equal(scenario_load("shop", &s, NULL), 0);
    int parallel = 0, sequential_multi = 0, errors = 0, windows = 0;
    for (int i = 0; i < s->nservices; i++) {
        for (int j = 0; j < s->services[i].nops; j++) {
            const struct scn_operation *op = &s->services[i].ops[j];
            parallel += op->parallel && op->ncalls > 1;
            sequential_multi += !op->parallel && op->ncalls > 1;
            errors += op->error_rate > 0;
        }
    }
    for (int i = 0; i < s->nfaults; i++)
        windows += s->faults[i].trigger == SCN_WINDOW;
    assert_true(parallel >= 1);
    assert_true(sequential_multi >= 1);
    assert_true(errors >= 1);
    assert_true(windows >= 1);
    scenario_free(s);
}

static void test_builtin_minimal(void **state)
{
    (void)state;
    struct scenario *s = NULL;
    assert_int_equal(scenario_load("minimal", &s, NULL), 0);
    assert_int_equal(s->nservices, 1);
    assert_int_equal(s->services[0].nops, 1);
    assert_true(s->services[0].ops[0].rate > 0);
    scenario_free(s);
}

/* classify: the demo target of serve/load: one HTTP route feeding a small model, and faults that
 * slow it down (never past the 2 s of load's injected delays) but never fail it. */
static void test_builtin_classify(void **state)
{
    (void)state;
    struct scenario *s = NULL;
    assert_int_equal(scenario_load("classify", &s, NULL), 0);
    assert_int_equal(s->nmodels, 1);
    const struct scn_model *m = &s->models[0];
    const struct scn_operation *entry = &s->services[m->entry_svc].ops[m->entry_op];
    assert_string_equal(entry->method, "POST");
    assert_string_equal(entry->route, "/classify");
    assert_int_equal(m->base_latency_ns, 150 * MS);
    assert_true(m->tokens_in > 0 && m->tokens_out > 0);
    assert_true(m->rate > 0);
    const struct scn_operation *callee = &s->services[entry->calls[0].svc].ops[entry->calls[0].op];
    assert_true(callee->inference);
    for (int i = 0; i < s->nfaults; i++) {
        const struct scn_fault *f = &s->faults[i];
        assert_int_equal(f->error_status, 0);
        assert_true(f->latency_factor * (1 + m->jitter) * (double)m->base_latency_ns < 1.5e9);
    }
    scenario_free(s);
}

/* Loading by path goes through the file reader; names default from the file name. */
static void test_load_by_path(void **state)
{
    (void)state;
    struct scenario *s = NULL;
    struct scn_error e;
    assert_int_equal(scenario_load("scenarios/inference.yaml", &s, &e), 0);
    assert_string_equal(s->file, "scenarios/inference.yaml");
    assert_int_equal(s->nmodels, 3);
    scenario_free(s);
    assert_int_equal(scenario_load("tests/data/no-such-file.yaml", &s, &e), DIO_EIO);
    assert_null(s);
    assert_string_equal(e.file, "tests/data/no-such-file.yaml");
    assert_int_equal(e.line, 0);
    assert_non_null(strstr(e.msg, "cannot open"));
    assert_int_equal(scenario_load("tests/data", &s, &e), DIO_EIO);
}

/* ---- syntaxes -------------------------------------------------------------------------- */
static void test_durations(void **state)
{
    (void)state;
    struct scenario *s = load_ok("duration: 300\n"
                                 "metric_interval: 1.5s\n"
                                 "services:\n"
                                 "  - name: a\n"
                                 "    operations:\n"
                                 "      - {name: x, latency: 80ms}\n"
                                 "      - {name: y, latency: 5m}\n"
                                 "      - {name: z, latency: 300}\n"
                                 "      - {name: w, latency: 2h30m}\n"
                                 "      - {name: v, latency: 250us}\n");
    assert_int_equal(s->duration_ns, 300 * SEC);
    assert_int_equal(s->metric_interval_ns, 1500 * MS);
    const struct scn_operation *o = s->services[0].ops;
    assert_int_equal(o[0].latency.base_ns, 80 * MS);
    assert_int_equal(o[1].latency.base_ns, 300 * SEC);
    assert_int_equal(o[2].latency.base_ns, 300 * SEC);
    assert_int_equal(o[3].latency.base_ns, 9000 * SEC);
    assert_int_equal(o[4].latency.base_ns, 250000);
    scenario_free(s);
}

static void test_rates_and_arrivals(void **state)
{
    (void)state;
    struct scenario *s = load_ok("services:\n"
                                 "  - name: a\n"
                                 "    operations:\n"
                                 "      - {name: x, rate: 50}\n"
                                 "      - {name: y, rate: 50/s, arrival: constant}\n"
                                 "      - {name: z, rate: 3000/m, arrival: poisson}\n"
                                 "      - {name: w, rate: 0.5}\n"
                                 "      - {name: v}\n");
    const struct scn_operation *o = s->services[0].ops;
    assert_near(o[0].rate, 50);
    assert_near(o[1].rate, 50);
    assert_int_equal(o[1].arrival, SCN_CONSTANT);
    assert_near(o[2].rate, 50);
    assert_int_equal(o[2].arrival, SCN_POISSON);
    assert_near(o[3].rate, 0.5);
    assert_near(o[4].rate, 0); /* not an entry operation */
    scenario_free(s);
}

static void test_percentages(void **state)
{
    (void)state;
    struct scenario *s = load_ok("hosts:\n"
                                 "  - {name: h, cpu: 45%}\n"
                                 "  - {name: g, cpu: 0.45}\n"
                                 "services:\n"
                                 "  - name: a\n"
                                 "    operations:\n"
                                 "      - {name: x, error_rate: 20%}\n"
                                 "      - {name: y, error_rate: 0.2}\n"
                                 "      - {name: z, error_rate: 0.5%}\n"
                                 "      - {name: w, error_rate: 1}\n"
                                 "      - {name: v, error_rate: '2.5%'}\n");
    const struct scn_operation *o = s->services[0].ops;
    assert_near(o[0].error_rate, 0.2);
    assert_near(o[1].error_rate, 0.2);
    assert_near(o[2].error_rate, 0.005);
    assert_near(o[3].error_rate, 1);
    assert_near(o[4].error_rate, 0.025);
    assert_near(s->hosts[0].cpu, 0.45);
    assert_near(s->hosts[1].cpu, 0.45);
    scenario_free(s);
}

static void test_latency_forms(void **state)
{
    (void)state;
    struct scenario *s = load_ok("services:\n"
                                 "  - name: a\n"
                                 "    operations:\n"
                                 "      - {name: x, latency: 10ms}\n"
                                 "      - name: y\n"
                                 "        latency: {base: 20ms, jitter: 5%}\n"
                                 "      - name: z\n"
                                 "        latency:\n"
                                 "          base: 30ms\n"
                                 "          jitter: 0.3\n"
                                 "          tail: {p: 1%, factor: 10}\n"
                                 "      - {name: w}\n");
    const struct scn_operation *o = s->services[0].ops;
    assert_int_equal(o[0].latency.base_ns, 10 * MS);
    assert_near(o[0].latency.jitter, 0.2); /* default */
    assert_near(o[0].latency.tail_p, 0);
    assert_near(o[0].latency.tail_factor, 1);
    assert_int_equal(o[1].latency.base_ns, 20 * MS);
    assert_near(o[1].latency.jitter, 0.05);
    assert_int_equal(o[2].latency.base_ns, 30 * MS);
    assert_near(o[2].latency.jitter, 0.3);
    assert_near(o[2].latency.tail_p, 0.01);
    assert_near(o[2].latency.tail_factor, 10);
    assert_int_equal(o[3].latency.base_ns, 1 * MS); /* default */
    scenario_free(s);
}

static void test_call_forms_and_parallel(void **state)
{
    (void)state;
    struct scenario *s = load_ok("services:\n"
                                 "  - name: api\n"
                                 "    operations:\n"
                                 "      - name: GET /a\n"
                                 "        parallel: true\n"
                                 "        calls:\n"
                                 "          - db/SELECT x\n"
                                 "          - {service: db, operation: SELECT y}\n"
                                 "          - service: svc-c\n"
                                 "            operation: POST /v1/p/q\n"
                                 "      - {name: GET /b, calls: [db/SELECT x], parallel: false}\n"
                                 "      - {name: GET /c, calls_mode: parallel}\n"
                                 "      - {name: GET /d, calls_mode: sequential}\n"
                                 "      - {name: GET /e, parallel: yes}\n"
                                 "  - name: db\n"
                                 "    operations: [{name: SELECT x}, {name: SELECT y}]\n"
                                 "  - name: svc-c\n"
                                 "    operations: [{name: POST /v1/p/q}]\n");
    const struct scn_operation *o = s->services[0].ops;
    assert_int_equal(o[0].ncalls, 3);
    assert_true(o[0].parallel);
    assert_string_equal(o[0].calls[0].service, "db");
    assert_string_equal(o[0].calls[0].operation, "SELECT x");
    assert_int_equal(o[0].calls[0].svc, 1);
    assert_int_equal(o[0].calls[0].op, 0);
    assert_int_equal(o[0].calls[1].op, 1);
    assert_int_equal(o[0].calls[2].svc, 2);
    assert_int_equal(o[0].calls[2].op, 0);
    assert_int_equal(o[0].calls[1].pos.line, 8);
    assert_int_equal(o[0].calls[1].pos.col, 13);
    assert_false(o[1].parallel);
    assert_true(o[2].parallel);
    assert_false(o[3].parallel);
    assert_true(o[4].parallel);
    scenario_free(s);
}

static void test_method_route(void **state)
{
    (void)state;
    struct scenario *s = load_ok("services:\n"
                                 "  - name: a\n"
                                 "    operations:\n"
                                 "      - name: POST /v1/chat/completions\n"
                                 "      - name: /health\n"
                                 "      - name: GET\n"
                                 "      - name: DELETE carts\n"
                                 "      - name: SELECT orders\n"
                                 "      - name: process\n"
                                 "        kind: internal\n");
    const struct scn_operation *o = s->services[0].ops;
    assert_string_equal(o[0].method, "POST");
    assert_string_equal(o[0].route, "/v1/chat/completions");
    assert_null(o[1].method);
    assert_string_equal(o[1].route, "/health");
    assert_string_equal(o[2].method, "GET");
    assert_null(o[2].route);
    assert_null(o[3].method);
    assert_null(o[3].route);
    assert_null(o[4].method);
    assert_null(o[5].method);
    assert_int_equal(o[0].kind, SCN_KIND_SERVER);
    assert_int_equal(o[5].kind, SCN_KIND_INTERNAL);
    scenario_free(s);
}

static void test_kinds(void **state)
{
    (void)state;
    static const char *const names[] = {"internal", "server", "client", "producer", "consumer"};
    static const int kinds[] = {SCN_KIND_INTERNAL, SCN_KIND_SERVER, SCN_KIND_CLIENT,
                                SCN_KIND_PRODUCER, SCN_KIND_CONSUMER};
    for (int i = 0; i < 5; i++) {
        char y[256];
        snprintf(y, sizeof(y), "services: [{name: a, operations: [{name: x, kind: %s}]}]\n",
                 names[i]);
        struct scenario *s = load_ok(y);
        assert_int_equal(s->services[0].ops[0].kind, kinds[i]);
        scenario_free(s);
    }
}

static void test_attributes(void **state)
{
    (void)state;
    struct scenario *s = load_ok("resource:\n"
                                 "  team: core\n"
                                 "  replicas: 3\n"
                                 "  ratio: 0.5\n"
                                 "  canary: true\n"
                                 "  quoted: \"42\"\n"
                                 "  neg: -7\n"
                                 "hosts:\n"
                                 "  - name: h\n"
                                 "    attributes: {cloud.region: eu-west-1}\n"
                                 "services:\n"
                                 "  - name: a\n"
                                 "    attributes: {team: x}\n"
                                 "    operations: [{name: x}]\n");
    assert_int_equal(s->nresource_attrs, 6);
    const struct scn_attr *a = s->resource_attrs;
    assert_string_equal(a[0].key, "team");
    assert_int_equal(a[0].type, SCN_STR);
    assert_string_equal(a[0].str, "core");
    assert_int_equal(a[1].type, SCN_INT);
    assert_int_equal(a[1].i, 3);
    assert_int_equal(a[2].type, SCN_DBL);
    assert_near(a[2].d, 0.5);
    assert_int_equal(a[3].type, SCN_BOOL);
    assert_int_equal(a[3].i, 1);
    assert_int_equal(a[4].type, SCN_STR);
    assert_string_equal(a[4].str, "42");
    assert_int_equal(a[5].type, SCN_INT);
    assert_int_equal(a[5].i, -7);
    assert_string_equal(s->hosts[0].attrs[0].str, "eu-west-1");
    assert_int_equal(s->services[0].nattrs, 1);
    scenario_free(s);
}

static void test_defaults(void **state)
{
    (void)state;
    struct scenario *s = load_ok("hosts:\n"
                                 "  - name: g\n"
                                 "    profile: gpu\n"
                                 "  - name: h\n"
                                 "services:\n"
                                 "  - name: a\n"
                                 "    operations:\n"
                                 "      - name: x\n"
                                 "        inference: true\n"
                                 "models:\n"
                                 "  - {name: m, base_latency: 1s, rate: 1, entry: a/x}\n"
                                 "faults:\n");
    assert_string_equal(s->name, "test"); /* from "test.yaml" */
    assert_null(s->description);
    assert_int_equal(s->seed, 1);
    assert_int_equal(s->duration_ns, 0);
    assert_int_equal(s->metric_interval_ns, 10 * SEC);
    assert_int_equal(s->nfaults, 0); /* null list = empty */
    assert_string_equal(s->hosts[0].profile, "gpu");
    assert_int_equal(s->hosts[0].gpus, 1);
    assert_string_equal(s->hosts[1].profile, "general");
    assert_int_equal(s->hosts[1].gpus, 0);
    assert_null(s->hosts[1].gpu_model);
    const struct scn_service *sv = &s->services[0];
    assert_string_equal(sv->version, "1.0.0");
    assert_string_equal(sv->namespace_, "test");
    assert_int_equal(sv->host_idx, -1);
    assert_int_equal(sv->instances, 1);
    assert_int_equal(sv->ops[0].error_status, 500);
    assert_int_equal(sv->ops[0].kind, SCN_KIND_SERVER);
    const struct scn_model *m = &s->models[0];
    assert_string_equal(m->provider, "diorama");
    assert_string_equal(m->operation, "chat");
    assert_near(m->jitter, 0.2);
    assert_near(m->gpu_util, 0.75);
    assert_int_equal(m->max_batch, 1);
    assert_null(m->gpu); /* the service has no host */
    assert_int_equal(m->arrival, SCN_POISSON);
    scenario_free(s);
}

static void test_top_level(void **state)
{
    (void)state;
    struct scenario *s = load_ok("name: demo\n"
                                 "description: |\n"
                                 "  two lines\n"
                                 "  of text\n"
                                 "seed: 18446744073709551615\n"
                                 "hosts:\n"
                                 "  - {name: h, memory_gib: 0.5, gpus: 2, gpu_model: H100}\n"
                                 "services:\n"
                                 "  - name: a\n"
                                 "    namespace: ns\n"
                                 "    version: v2\n"
                                 "    host: h\n"
                                 "    instances: 4\n"
                                 "    operations: [{name: x}]\n");
    assert_string_equal(s->name, "demo");
    assert_string_equal(s->description, "two lines\nof text\n");
    assert_true(s->seed == UINT64_MAX);
    assert_near(s->hosts[0].memory_gib, 0.5);
    assert_int_equal(s->hosts[0].gpus, 2);
    assert_string_equal(s->hosts[0].gpu_model, "H100");
    assert_string_equal(s->services[0].namespace_, "ns");
    assert_string_equal(s->services[0].version, "v2");
    assert_int_equal(s->services[0].host_idx, 0);
    assert_int_equal(s->services[0].instances, 4);
    assert_int_equal(s->services[0].pos.line, 9);
    assert_int_equal(s->services[0].pos.col, 5);
    scenario_free(s);
}

static void test_faults(void **state)
{
    (void)state;
    struct scenario *s =
        load_ok("services:\n"
                "  - name: gw\n"
                "    operations: [{name: GET /a, calls: [ms/infer], rate: 1}]\n"
                "  - name: ms\n"
                "    operations: [{name: infer, inference: true}]\n"
                "models:\n"
                "  - {name: m, base_latency: 1s, rate: 1, entry: gw/GET /a}\n"
                "faults:\n"
                "  - {target: m, every: 7, effect: {tokens_factor: 2}}\n"
                "  - {name: p, target: gw/GET /a, probability: 5%, effect: {error_status: 503}}\n"
                "  - name: w\n"
                "    target: ms\n"
                "    window: {start: 1m, duration: 30s, repeat: 10m}\n"
                "    effect: {latency_factor: 2.5, queue_depth: 0}\n"
                "  - {target: ms, window: {duration: 5}, effect: {gpu_util: 0}}\n");
    const struct scn_fault *f = s->faults;
    assert_string_equal(f[0].name, "fault-0");
    assert_int_equal(f[0].target_kind, SCN_TARGET_MODEL);
    assert_int_equal(f[0].target_idx, 0);
    assert_int_equal(f[0].target_op, -1);
    assert_int_equal(f[0].trigger, SCN_EVERY_N);
    assert_int_equal(f[0].every_n, 7);
    assert_near(f[0].tokens_factor, 2);
    assert_int_equal(f[1].target_kind, SCN_TARGET_OPERATION);
    assert_int_equal(f[1].target_idx, 0);
    assert_int_equal(f[1].target_op, 0);
    assert_int_equal(f[1].trigger, SCN_PROBABILITY);
    assert_near(f[1].probability, 0.05);
    assert_int_equal(f[1].error_status, 503);
    assert_int_equal(f[2].target_kind, SCN_TARGET_SERVICE);
    assert_int_equal(f[2].target_idx, 1);
    assert_int_equal(f[2].trigger, SCN_WINDOW);
    assert_int_equal(f[2].start_ns, 60 * SEC);
    assert_int_equal(f[2].duration_ns, 30 * SEC);
    assert_int_equal(f[2].repeat_ns, 600 * SEC);
    assert_near(f[2].latency_factor, 2.5);
    assert_int_equal(f[2].queue_depth, 0);
    assert_near(f[2].gpu_util, -1);
    assert_int_equal(f[3].start_ns, 0);
    assert_int_equal(f[3].repeat_ns, 0);
    assert_int_equal(f[3].duration_ns, 5 * SEC);
    assert_near(f[3].gpu_util, 0);
    scenario_free(s);
}

/* Model names may hold a '/': a fault target names a model before a service/operation. */
static void test_model_name_with_slash(void **state)
{
    (void)state;
    struct scenario *s =
        load_ok("services:\n"
                "  - name: meta-llama\n"
                "    operations: [{name: infer, inference: true}]\n"
                "models:\n"
                "  - {name: meta-llama/Llama-3, base_latency: 1s, rate: 1,\n"
                "     entry: meta-llama/infer}\n"
                "faults:\n"
                "  - {target: meta-llama/Llama-3, every: 2, effect: {gpu_util: 1}}\n"
                "  - {target: meta-llama/infer, every: 2, effect: {gpu_util: 1}}\n");
    assert_int_equal(s->faults[0].target_kind, SCN_TARGET_MODEL);
    assert_int_equal(s->faults[1].target_kind, SCN_TARGET_OPERATION);
    assert_int_equal(s->faults[1].target_op, 0);
    scenario_free(s);
}

/* A diamond (two paths to one operation) is not a cycle. */
static void test_diamond_is_not_cycle(void **state)
{
    (void)state;
    struct scenario *s = load_ok("services:\n"
                                 "  - name: a\n"
                                 "    operations: [{name: x, calls: [b/y, c/z], rate: 1}]\n"
                                 "  - name: b\n"
                                 "    operations: [{name: y, calls: [d/w]}]\n"
                                 "  - name: c\n"
                                 "    operations: [{name: z, calls: [d/w, d/w]}]\n"
                                 "  - name: d\n"
                                 "    operations: [{name: w}]\n");
    assert_int_equal(s->nservices, 4);
    scenario_free(s);
}

/* ---- errors and caps ------------------------------------------------------------------- */
static void test_error_format(void **state)
{
    (void)state;
    struct scn_error e;
    char buf[1024];
    assert_int_equal(load_err("services: [\n", &e), DIO_EPARSE);
    scenario_format_error(&e, buf, sizeof(buf));
    assert_true(e.line >= 1 && e.col >= 1);
    assert_int_equal(strncmp(buf, "test.yaml:", 10), 0);
    struct scn_error nopos = {.file = "x.yaml", .msg = "boom"};
    scenario_format_error(&nopos, buf, sizeof(buf));
    assert_string_equal(buf, "x.yaml: boom");
    /* a NULL error pointer is allowed */
    struct scenario *s = NULL;
    assert_int_equal(scenario_load_string(NULL, "x: [", 4, &s, NULL), DIO_EPARSE);
    assert_int_equal(scenario_load_string("empty", NULL, 0, &s, NULL), DIO_EPARSE);
    scenario_free(NULL);
}

static void test_too_big(void **state)
{
    (void)state;
    size_t n = SCENARIO_MAX_BYTES + 1;
    char *big = calloc(1, n + 1);
    assert_non_null(big);
    memset(big, '#', n);
    struct scn_error e;
    assert_int_equal(load_err(big, &e), DIO_ERANGE);
    assert_non_null(strstr(e.msg, "larger than"));
    /* the same through a file */
    char path[] = "/tmp/diorama-scn-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (f) {
        fwrite(big, 1, n, f);
        fclose(f);
        struct scenario *s = NULL;
        assert_int_equal(scenario_load_file(path, &s, &e), DIO_ERANGE);
        remove(path);
    }
    free(big);
}

static void test_too_many_services(void **state)
{
    (void)state;
    size_t cap = 64 * 10002 + 32, len = 0;
    char *y = malloc(cap);
    assert_non_null(y);
    len += (size_t)snprintf(y + len, cap - len, "services:\n");
    for (int i = 0; i < 10001; i++)
        len += (size_t)snprintf(y + len, cap - len, "- {name: s%d, operations: [{name: a}]}\n", i);
    struct scn_error e;
    assert_int_equal(load_err(y, &e), DIO_EPARSE);
    assert_non_null(strstr(e.msg, "services: too many items (10001, the limit is 10000)"));
    /* exactly at the limit loads, with a cross reference resolved by the sorted index */
    *strrchr(y, '-') = '\0';
    char *last = strrchr(y, '-');
    snprintf(last, cap - (size_t)(last - y),
             "- {name: z, operations: [{name: a, calls: [s9998/a]}]}\n");
    struct scenario *s = load_ok(y);
    assert_int_equal(s->nservices, 10000);
    assert_string_equal(s->services[9999].name, "z");
    assert_int_equal(s->services[9999].ops[0].calls[0].svc, 9998);
    scenario_free(s);
    free(y);
}

static void test_long_value_is_cut_in_message(void **state)
{
    (void)state;
    char y[1024];
    char v[300];
    memset(v, 'x', sizeof(v) - 1);
    v[sizeof(v) - 1] = '\0';
    snprintf(y, sizeof(y), "seed: %s\nservices: [{name: a, operations: [{name: x}]}]\n", v);
    struct scn_error e;
    assert_int_equal(load_err(y, &e), DIO_EPARSE);
    assert_non_null(strstr(e.msg, "seed: expected a non-negative integer, got 'xxx"));
    assert_non_null(strstr(e.msg, "...'"));
    assert_true(strlen(e.msg) < 200);
}

/* ---- metric series ---------------------------------------------------------------------- */
/* Counted by hand from the layout in series.c: hosts cpus x 3 + 2; per non-client operation
 * 1 + 2 per status code (here 200, 503 from an error rate and the built-in critical state, 429
 * from a fault, 500 from the built-in degrading state: 4); per model 4, + 2 with tokens.
 * Histograms have 14 bounds (17 samples) except batch size (9: 12). */
static const char series_yaml[] =
    "hosts:\n"
    "  - {name: a, cpus: 2}\n"
    "  - {name: b}\n"
    "services:\n"
    "  - name: api\n"
    "    host: a\n"
    "    operations:\n"
    "      - {name: GET /x, rate: 10/s, error_rate: 1%, "
    "error_status: 503, calls: [llm/infer]}\n"
    "      - {name: out, kind: client}\n"
    "  - name: llm\n"
    "    operations: [{name: infer, inference: true}]\n"
    "models:\n"
    "  - {name: m, entry: api/GET /x, rate: 1/s, base_latency: 50ms, tokens_in: 10, "
    "tokens_out: 5}\n"
    "faults:\n"
    "  - {name: f, target: llm, every: 10, effect: {error_status: "
    "429}}\n";

static void test_series_count(void **state)
{
    (void)state;
    struct scenario *s = load_ok(series_yaml);
    struct scenario_series c;
    scenario_series_count(s, &c);
    /* a host: 10 per CPU (5 modes x time, utilisation) + 26 (load 3, memory 8, one disk 6,
     * network 6, processes 3) + 3 states (diorama.state); every entity: 3 states */
    assert_int_equal(scenario_host_series(&s->hosts[0]), 2 * 10 + 26);
    assert_int_equal(c.hosts, (2 * 10 + 26 + 3) + (4 * 10 + 26 + 3));
    /* GET /x and infer (the client op has none), and the two services' states */
    assert_int_equal(c.services, 2 * (1 + 2 * 4) + 2 * 3);
    assert_int_equal(c.models, 4 + 2 + 3);
    assert_int_equal(c.total, 118 + 24 + 9 + 1); /* + 1: the fault's diorama.fault.active */
    assert_int_equal(c.initial, 118 + 2 * (1 + 2) + 6 + 9 + 1);
    /* samples: hosts 1 each; per op 1 + 4 x (17 + 1); model 18 + 13 + 2 x 17; states 1 */
    assert_int_equal(c.samples, 118 + 2 * (1 + 4 * 18) + 6 + (18 + 13 + 34 + 3) + 1);
    assert_int_equal(c.worst_part, SCN_PART_HOST);
    assert_int_equal(c.worst, 1); /* b: 4 cpus (default) beats a: 2 */
    assert_int_equal(c.worst_series, 69);
    assert_true(c.prom_bytes > c.samples * 100 && c.prom_bytes < c.samples * 200);
    scenario_free(s);
}

/* Status codes per route stop at SCENARIO_ROUTE_STATUSES, as the engine's do. */
static void test_series_statuses_capped(void **state)
{
    (void)state;
    struct core_buf b;
    core_buf_init(&b, 1 << 16);
    core_buf_puts(&b, "services: [{name: a, operations: [{name: x, rate: 1}]}]\nfaults:\n");
    for (int i = 0; i < 12; i++)
        core_buf_printf(&b, "  - {name: f%d, target: a, every: 2, effect: {error_status: %d}}\n", i,
                        500 + i);
    struct scenario *s = NULL;
    struct scn_error e;
    assert_int_equal(scenario_load_string("t.yaml", (const char *)b.p, b.len, &s, &e), 0);
    struct scenario_series c;
    scenario_series_count(s, &c);
    assert_int_equal(c.total, 1 + 2 * SCENARIO_ROUTE_STATUSES + 3 + 12); /* + states, faults */
    scenario_free(s);
    core_buf_free(&b);
}

/* scenario_load_max on yaml written to a temporary file (it takes a path or a built-in). */
static int load_max(const char *yaml, uint64_t max, struct scn_error *e)
{
    char path[] = "/tmp/diorama-series-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
    close(fd);
    struct scenario *s = NULL;
    int rc = scenario_load_max(path, max, &s, e);
    unlink(path);
    assert_true(rc ? s == NULL : s != NULL);
    scenario_free(s);
    return rc;
}

/* Over the cap: refused, pointing at the largest contributor; a higher cap lets it through. */
static void test_series_cap(void **state)
{
    (void)state;
    const char *yaml = "services:\n"
                       "  - name: a\n"
                       "    operations: [{name: x, rate: 1}, {name: y}]\n"
                       "hosts:\n"
                       "  - {name: small, cpus: 1}\n"
                       "  - name: big\n"
                       "    cpus: 100\n";
    struct scn_error e;
    /* 2 ops x (1 + 2 x 3 codes: 200 and the built-in states' 500, 503) + hosts, + 3 states
     * each */
    uint64_t total = 2 * 7 + 3 + (1 * 10 + 26 + 3) + (100 * 10 + 26 + 3); /* 1085 */
    assert_int_equal(load_max(yaml, total - 1, &e), DIO_EPARSE);
    assert_int_equal(e.line, 7);
    assert_int_equal(e.col, 11);
    assert_non_null(strstr(e.msg, "hosts[1].cpus: the world would have up to 1,085 metric series"));
    assert_non_null(strstr(e.msg, "over the limit of 1,084"));
    assert_non_null(strstr(e.msg, "--max-series"));
    assert_int_equal(load_max(yaml, total, &e), 0);
    /* a service with many operations is blamed at its operations list */
    const char *ops = "hosts: [{name: h, cpus: 1}]\n"
                      "services:\n"
                      "  - name: a\n"
                      "    operations: [{name: x, rate: 1}, {name: y}, {name: z}, {name: p},\n"
                      "                 {name: q}, {name: r}, {name: s}, {name: t}]\n";
    assert_int_equal(load_max(ops, 8, &e), DIO_EPARSE);
    assert_int_equal(e.line, 4);
    /* host 39, the service 8 x 7 + 3 = 59 */
    assert_non_null(strstr(e.msg, "services[0].operations: the world would have up to 98"));
    /* 0 is the default cap */
    assert_int_equal(load_max(ops, 0, &e), 0);
}

/* count: expands name patterns (hosts, services and a counted service's host); a profile sets
 * the baselines a host's own keys override; the series count covers every expanded entity. */
static void test_count_profiles(void **state)
{
    (void)state;
    struct scenario *s =
        load_ok("hosts:\n"
                "  - {name: \"ppweb%03d\", count: 3, profile: web}\n"
                "  - {name: \"db-%d\", count: 2, profile: db, cpu: 50%}\n"
                "  - {name: \"ml%02d%%\", count: 1, profile: ml}\n"
                "  - {name: literal%d, profile: cache}\n"
                "services:\n"
                "  - name: \"api%d\"\n"
                "    count: 3\n"
                "    host: \"ppweb%03d\"\n"
                "    instances: 2\n"
                "    operations: [{name: GET /, rate: 1}]\n"
                "  - {name: \"q%d\", count: 2, host: db-1, operations: [{name: x}]}\n");
    static const char *const names[] = {"ppweb001", "ppweb002", "ppweb003", "db-1",
                                        "db-2",     "ml01%",    "literal%d"};
    assert_int_equal(s->nhosts, 7);
    for (int i = 0; i < 7; i++)
        assert_string_equal(s->hosts[i].name, names[i]);
    assert_int_equal(s->hosts[2].item, 0);
    assert_int_equal(s->hosts[4].item, 1);
    const struct scn_host *web = &s->hosts[0], *db = &s->hosts[3], *ml = &s->hosts[5];
    assert_int_equal(web->profile_id, SCN_PROF_WEB);
    assert_int_equal(web->cpus, 4);
    assert_true(web->memory_gib == 16 && web->cpu > 0.24 && web->cpu < 0.26);
    assert_int_equal(db->cpus, 8);
    assert_true(db->memory_gib == 64 && db->cpu > 0.49 && db->cpu < 0.51); /* own cpu wins */
    assert_int_equal(ml->gpus, 2);
    assert_int_equal(ml->cpus, 16);
    assert_string_equal(s->hosts[6].profile, "cache");
    assert_int_equal(s->nservices, 5);
    assert_string_equal(s->services[2].name, "api3");
    assert_string_equal(s->services[2].host, "ppweb003");
    assert_int_equal(s->services[2].host_idx, 2);
    assert_int_equal(s->services[4].host_idx, 3); /* a plain host: all on it */
    assert_int_equal(s->services[1].instances, 2);
    struct scenario_series c;
    scenario_series_count(s, &c);
    uint64_t hosts = 0;
    for (int i = 0; i < 7; i++)
        hosts += scenario_host_series(&s->hosts[i]) + 3;
    assert_int_equal(c.hosts, hosts);
    /* 3 api x 2 instances x (1 + 2 x 3 codes) and 2 q x 1 x 7, each service 3 states */
    assert_int_equal(c.services, 3 * 2 * 7 + 2 * 7 + 5 * 3);
    assert_int_equal(c.worst_part, SCN_PART_HOST);
    assert_int_equal(c.worst, 1); /* the db item: 2 x 115 beats web 3 x 69 and ml 1 x 197 */
    scenario_free(s);
    struct scn_error e;
    for (int i = 0; i < SCN_NPROFILES; i++) /* every profile is valid and named */
        assert_int_equal(scenario_profile_find(scenario_profile(i)->name), i);
    (void)e;
}

static void test_null_is_absent(void **state)
{
    (void)state;
    struct scenario *s = load_ok("description: ~\n"
                                 "hosts:\n"
                                 "models: null\n"
                                 "services:\n"
                                 "  - name: a\n"
                                 "    version:\n"
                                 "    operations: [{name: x, latency: ~}]\n");
    assert_null(s->description);
    assert_string_equal(s->services[0].version, "1.0.0");
    assert_int_equal(s->services[0].ops[0].latency.base_ns, 1 * MS);
    scenario_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtins_all_load),
        cmocka_unit_test(test_builtin_inference),
        cmocka_unit_test(test_builtin_shop),
        cmocka_unit_test(test_builtin_minimal),
        cmocka_unit_test(test_builtin_classify),
        cmocka_unit_test(test_load_by_path),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_rates_and_arrivals),
        cmocka_unit_test(test_percentages),
        cmocka_unit_test(test_latency_forms),
        cmocka_unit_test(test_call_forms_and_parallel),
        cmocka_unit_test(test_method_route),
        cmocka_unit_test(test_kinds),
        cmocka_unit_test(test_attributes),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_top_level),
        cmocka_unit_test(test_faults),
        cmocka_unit_test(test_model_name_with_slash),
        cmocka_unit_test(test_diamond_is_not_cycle),
        cmocka_unit_test(test_error_format),
        cmocka_unit_test(test_too_big),
        cmocka_unit_test(test_too_many_services),
        cmocka_unit_test(test_long_value_is_cut_in_message),
        cmocka_unit_test(test_null_is_absent),
        cmocka_unit_test(test_count_profiles),
        cmocka_unit_test(test_series_count),
        cmocka_unit_test(test_series_statuses_capped),
        cmocka_unit_test(test_series_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
