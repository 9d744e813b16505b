/* Faults (world/fault.c and world.c): the new effects (error_rate, dependency_down,
 * slow_dependency, host cpu/memory_leak), probability inside a window, variants, live
 * start/stop through the command path with their labels, world_fault_active, more than 32 (and
 * more than one per span) fired faults, and bad commands. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "world/world.h"

#define MS 1000000ULL
#define S 1000000000ULL

static const char yaml[] =
    "name: faults\n"
    "hosts: [{name: db-1, cpu: 20%}]\n"
    "services:\n"
    "  - name: front\n"
    "    operations:\n"
    "      - {name: GET /, latency: {base: 10ms, jitter: 0}, calls: [pay/charge, db/q]}\n"
    "  - name: pay\n"
    "    operations: [{name: charge, latency: {base: 5ms, jitter: 0}}]\n"
    "  - name: db\n"
    "    host: db-1\n"
    "    operations: [{name: q, latency: {base: 2ms, jitter: 0}}]\n"
    "faults:\n"
    "  - name: blip\n" /* 0: 10% errors for 2 minutes, from 1m */
    "    target: front\n"
    "    window: {start: 1m, duration: 2m}\n"
    "    probability: 10%\n"
    "    effect: {error_status: 500}\n"
    "  - name: pay-down\n" /* 1: manual, calls to pay fail fast */
    "    target: front/GET /\n"
    "    manual: true\n"
    "    effect: {dependency_down: pay}\n"
    "  - name: db-slow\n" /* 2: manual, calls to db wait 100ms */
    "    target: front\n"
    "    manual: true\n"
    "    effect: {slow_dependency: {service: db, add: 100ms}}\n"
    "  - name: db-hot\n" /* 3: manual host fault with variants */
    "    target: db-1\n"
    "    manual: true\n"
    "    effect: {cpu: 95%, latency_factor: 4}\n"
    "    variants: {mild: {cpu: 60%, latency_factor: 2}, severe: {memory_leak: 100}}\n"
    "    default_variant: severe\n"
    "  - name: flaky\n" /* 4: manual error_rate variants */
    "    target: pay\n"
    "    manual: true\n"
    "    effect: {error_status: 503}\n"
    "    variants: {\"10%\": {error_rate: 0.1}, \"100%\": {error_rate: 1}}\n";

struct env_ctx {
    struct core_rng rng;
    uint64_t ops[8][8];
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

struct labels {
    int n, begins, ends;
    char last[512];
};

static void on_label(void *ctx, const struct world_label *l)
{
    struct labels *r = ctx;
    struct core_buf b;
    core_buf_init(&b, 1 << 16);
    world_label_json(l, &b);
    snprintf(r->last, sizeof r->last, "%.*s", (int)b.len, (char *)b.p);
    core_buf_free(&b);
    if (getenv("SHOW_LABELS"))
        fprintf(stderr, "%s", r->last);
    r->n++;
    r->begins += l->open;
    r->ends += !l->open;
}

struct fx {
    struct scenario *scn;
    struct world *w;
    struct env_ctx c;
    struct world_plan_env env;
    struct world_span spans[16];
    struct world_plan p;
    struct labels l;
    struct world_out out;
};

static void fx_open(struct fx *f, const char *text)
{
    memset(f, 0, sizeof *f);
    struct scn_error e;
    char msg[512];
    if (scenario_load_string("faults.yaml", text, strlen(text), &f->scn, &e)) {
        scenario_format_error(&e, msg, sizeof msg);
        fail_msg("%s", msg);
    }
    struct world_opts wo = {.seed = 7, .nshards = 1};
    assert_int_equal(world_build(&f->w, f->scn, &wo, msg, sizeof msg), 0);
    core_rng_init(&f->c.rng, 7, 1, 2);
    struct world_plan_env env = {c_op_rng, c_model_rng, c_op_count, c_model_count,
                                 NULL,     &f->c,       NULL};
    f->env = env;
    f->p.spans = f->spans;
    f->p.cap = 16;
    f->p.model = -1;
    f->out = (struct world_out){&f->l, 1000 * S, on_label, NULL};
}

static void fx_close(struct fx *f)
{
    core_free(f->p.more);
    world_free(f->w);
    scenario_free(f->scn);
}

static uint64_t plan(struct fx *f, uint64_t t)
{
    return world_plan_request(f->w, &f->env, &f->p, 0, 0, t) - t;
}

static void start(struct fx *f, const char *name, const char *variant, uint64_t for_ns, uint64_t t)
{
    struct world_cmd c = {.kind = WORLD_CMD_FAULT_START, .source = WORLD_SRC_COMMAND};
    c.fault = world_fault_find(f->w, name);
    c.variant = variant ? world_fault_variant_find(f->w, c.fault, variant) : -1;
    c.for_ns = for_ns;
    assert_int_equal(world_command(f->w, &c), 0);
    world_advance(f->w, t, &f->out);
}

static void stop(struct fx *f, const char *name, uint64_t t)
{
    struct world_cmd c = {.kind = WORLD_CMD_FAULT_STOP, .source = WORLD_SRC_COMMAND};
    c.fault = world_fault_find(f->w, name);
    assert_int_equal(world_command(f->w, &c), 0);
    world_advance(f->w, t, &f->out);
}

/* "10% errors for 2 minutes": about 10% of root spans fail inside the window, none outside;
 * the window is one incident label, begun and ended by world_advance at its edges. */
static void test_probability_window(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, yaml);
    int in = 0, out = 0;
    for (int k = 0; k < 4000; k++) {
        uint64_t t = (uint64_t)k * 60 * MS; /* 0 .. 4 minutes */
        world_advance(f.w, t, &f.out);
        plan(&f, t);
        int failed = f.spans[0].status == 500;
        if (t >= 60 * S && t < 180 * S)
            in += failed;
        else
            out += failed;
        assert_int_equal(failed, f.spans[0].fired == 1); /* blip is fault 0: fired = 1 */
    }
    assert_int_equal(out, 0);
    assert_true(in > 150 && in < 250); /* 2000 requests in the window, 10% */
    assert_int_equal(f.l.begins, 1);
    assert_int_equal(f.l.ends, 1);
    assert_non_null(strstr(f.l.last, "\"scope\":\"incident\",\"source\":\"schedule\""));
    assert_non_null(strstr(f.l.last, "\"phase\":\"end\""));
    assert_non_null(strstr(f.l.last, "\"probability\":0.1"));
    fx_close(&f);
}

/* dependency_down: the client span to pay fails fast (one network delay) and pay never runs;
 * the 503 reaches the root. Stopping it restores the call. */
static void test_dependency_down(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, yaml);
    plan(&f, 0);
    assert_int_equal(f.p.n, 5); /* root, client+pay, client+db */
    start(&f, "pay-down", NULL, 0, S);
    plan(&f, S);
    assert_int_equal(f.p.n, 4);
    assert_int_equal(f.spans[1].call, 2);
    assert_int_equal(f.spans[1].status, 503);
    assert_true(f.spans[1].end - f.spans[1].start < MS);
    assert_int_equal(f.spans[0].status, 503);
    assert_int_equal(f.spans[0].cause, WORLD_CAUSE_CALLEE);
    assert_int_equal(f.spans[0].fired, 2); /* fault 1 */
    stop(&f, "pay-down", 2 * S);
    plan(&f, 2 * S);
    assert_int_equal(f.p.n, 5);
    assert_int_equal(f.spans[0].status, 200);
    assert_int_equal(f.l.begins, 1);
    assert_int_equal(f.l.ends, 1);
    assert_non_null(strstr(f.l.last, "\"source\":\"command\""));
    fx_close(&f);
}

/* slow_dependency: the db call waits 100ms before db starts; the request is 100ms slower. */
static void test_slow_dependency(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, yaml);
    uint64_t base = plan(&f, 0);
    start(&f, "db-slow", NULL, 10 * S, S);
    uint64_t slow = plan(&f, S);
    assert_true(slow >= base + 99 * MS && slow <= base + 102 * MS);
    assert_true(f.spans[4].start - f.spans[3].start >= 100 * MS); /* db starts late */
    /* the activation ends by itself after 10 s: labelled at its planned end */
    world_advance(f.w, 20 * S, &f.out);
    assert_true(plan(&f, 20 * S) < base + 2 * MS);
    assert_int_equal(f.l.ends, 1);
    assert_non_null(strstr(f.l.last, "\"end_unix_nano\":1011000000000"));
    fx_close(&f);
}

/* A host fault: the host's CPU (published effects) and the latency of the work it serves;
 * variants pick other values; world_fault_active reports it with its end and variant. */
static void test_host_fault_variants(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, yaml);
    int h = world_entity_find(f.w, "db-1");
    plan(&f, 0);
    uint64_t base = f.spans[4].end - f.spans[4].start; /* db's own work: 2 ms */
    uint64_t until;
    int v;
    assert_false(world_fault_active(f.w, 3, &until, &v));
    start(&f, "db-hot", "mild", 60 * S, S);
    assert_true(world_fault_active(f.w, 3, &until, &v));
    assert_int_equal(until, 61 * S);
    assert_int_equal(v, world_fault_variant_find(f.w, 3, "mild"));
    assert_true(f.w->ents[h].cur.cpu > 0.59 && f.w->ents[h].cur.cpu < 0.61);
    plan(&f, S);
    assert_int_equal(f.spans[4].end - f.spans[4].start, 2 * base); /* latency_factor 2 */
    assert_non_null(strstr(f.l.last, "\"variant\":\"mild\""));
    start(&f, "db-hot", NULL, 0, 2 * S); /* restart: the default variant, severe */
    assert_true(world_fault_active(f.w, 3, &until, &v));
    assert_int_equal(v, 1);
    assert_int_equal(f.l.ends, 1);           /* the mild activation ended at the restart */
    assert_true(f.w->ents[h].cur.cpu > 0.9); /* severe: the base effect (95%) and a leak */
    world_advance(f.w, 62 * S, &f.out);
    assert_true(f.w->ents[h].leaked > 90 * 1048576.0); /* 100 MiB/min for a minute */
    stop(&f, "db-hot", 63 * S);
    assert_false(world_fault_active(f.w, 3, &until, &v));
    assert_true(f.w->ents[h].leaked < 1); /* given back when the leak stops */
    assert_int_equal(f.l.ends, 2);
    fx_close(&f);
}

/* error_rate variants: 10% and 100% of pay's requests fail with 503. */
static void test_error_rate_variants(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, yaml);
    start(&f, "flaky", "10%", 0, 0);
    int failed = 0;
    for (int k = 0; k < 2000; k++) {
        plan(&f, S);
        failed += f.spans[2].status == 503;
    }
    assert_true(failed > 140 && failed < 260);
    start(&f, "flaky", "100%", 0, S);
    plan(&f, 2 * S);
    assert_int_equal(f.spans[2].status, 503);
    assert_int_equal(f.spans[0].status, 503);
    fx_close(&f);
}

static void test_bad_commands(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, yaml);
    struct world_cmd c = {.kind = WORLD_CMD_FAULT_START, .fault = 99};
    assert_int_equal(world_command(f.w, &c), DIO_EINVAL);
    c.fault = -1;
    assert_int_equal(world_command(f.w, &c), DIO_EINVAL);
    c.fault = 4;
    c.variant = 2; /* flaky has two variants */
    assert_int_equal(world_command(f.w, &c), DIO_EINVAL);
    c.kind = WORLD_CMD_FAULT_STOP;
    c.fault = 5;
    assert_int_equal(world_command(f.w, &c), DIO_EINVAL);
    assert_int_equal(world_fault_find(f.w, "nope"), -1);
    assert_int_equal(world_fault_variant_find(f.w, 4, "nope"), -1);
    assert_int_equal(world_fault_variant_find(f.w, 0, "default"), 0);
    stop(&f, "flaky", S); /* stopping what is not running: no label, no harm */
    assert_int_equal(f.l.n, 0);
    fx_close(&f);
}

/* 1,000 faults on one operation, all firing on every request: every one is recorded on the
 * span (the first in the span, the rest in the plan's list), none lost past the 32nd. */
static void test_thousand_fired(void **state)
{
    (void)state;
    struct core_buf b;
    core_buf_init(&b, 1 << 20);
    core_buf_puts(&b, "name: many\nservices:\n  - name: api\n    operations: [{name: GET /, "
                      "latency: 1ms}]\nfaults:\n");
    for (int i = 0; i < 1000; i++)
        core_buf_printf(&b,
                        "  - {name: f%d, target: api, every: 1, effect: {latency_factor: "
                        "1.0001}}\n",
                        i);
    core_buf_putc(&b, '\0');
    struct fx f;
    fx_open(&f, (const char *)b.p);
    plan(&f, 0);
    assert_int_equal(f.spans[0].nfired, 1000);
    static char seen[1000];
    memset(seen, 0, sizeof seen);
    uint32_t it = 0;
    int n = 0;
    for (int fi; (fi = world_fired_next(&f.spans[0], 0, f.p.more, f.p.nmore, &it)) >= 0; n++)
        seen[fi]++;
    assert_int_equal(n, 1000);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(seen[i], 1);
    fx_close(&f);
    core_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_probability_window),  cmocka_unit_test(test_dependency_down),
        cmocka_unit_test(test_slow_dependency),     cmocka_unit_test(test_host_fault_variants),
        cmocka_unit_test(test_error_rate_variants), cmocka_unit_test(test_bad_commands),
        cmocka_unit_test(test_thousand_fired),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
