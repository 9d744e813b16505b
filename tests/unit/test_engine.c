/* engine: runs built-in scenarios at --speed max into a capturing sink and checks the
 * structure of what comes out: ids, parent/child nesting and timing, per-signal sequence
 * numbers, metrics that agree with the spans, logs that point at spans, labels that match the
 * every-N fault rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine.h"
#include "scenario/scenario.h"

struct span_rec {
    uint8_t trace[16], id[8], parent[8];
    uint64_t start, end;
    uint8_t kind, status;
};

struct capture {
    struct span_rec *spans;
    size_t nspans, cap;
    uint64_t next_seq[REC_NSIGNALS];
    int seq_ok;
    uint64_t logs, logs_with_span;
    uint64_t last_requests_total; /* sum of http.server.requests at the last tick */
    uint64_t last_hist_count;     /* sum of http.server.request.duration counts */
    int hist_ok;
    uint64_t labels_by_fault[32];
    uint64_t open_labels; /* incidents' begin lines (their end lines count by fault) */
    uint64_t state_labels;
    uint64_t ticks;
    uint64_t last_tick_time;
    const struct world *world;
};

static struct rec_batch *cap_batch(void *ctx, int signal)
{
    (void)ctx;
    return rec_batch_new(signal, 512, 16, 16, 256);
}

static void take_span(struct capture *c, const struct rec_span *s)
{
    if (c->nspans == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 4096;
        c->spans = realloc(c->spans, c->cap * sizeof *c->spans);
    }
    struct span_rec *r = &c->spans[c->nspans++];
    memcpy(r->trace, s->trace_id, 16);
    memcpy(r->id, s->span_id, 8);
    memcpy(r->parent, s->parent_id, 8);
    r->start = s->start_ns;
    r->end = s->end_ns;
    r->kind = s->kind;
    r->status = s->status;
}

static void take_points(struct capture *c, const struct rec_batch *b)
{
    /* Points of one tick may span several batches; sums restart at each new tick time. */
    for (uint32_t i = 0; i < b->n; i++) {
        const struct rec_point *p = &b->r.points[i];
        if (p->time_ns != c->last_tick_time) {
            c->last_tick_time = p->time_ns;
            c->last_requests_total = c->last_hist_count = 0;
            c->ticks++;
        }
        if (!strcmp(p->metric->name, "http.server.requests"))
            c->last_requests_total += (uint64_t)p->value.i;
        if (!strcmp(p->metric->name, "http.server.request.duration"))
            c->last_hist_count += p->count;
        if (p->metric->type == REC_HISTOGRAM) {
            uint64_t sum = 0;
            for (uint32_t k = 0; k <= p->metric->nbounds; k++)
                sum += b->buckets[p->bucket_off + k];
            c->hist_ok &= sum == p->count;
        }
    }
}

static void cap_submit(void *ctx, struct rec_batch *b)
{
    struct capture *c = ctx;
    for (uint32_t i = 0; i < b->n; i++) {
        uint64_t seq = b->signal == REC_SPANS     ? b->r.spans[i].seq
                       : b->signal == REC_METRICS ? b->r.points[i].seq
                                                  : b->r.logs[i].seq;
        c->seq_ok &= seq == c->next_seq[b->signal]++;
        if (b->signal == REC_SPANS)
            take_span(c, &b->r.spans[i]);
        if (b->signal == REC_LOGS) {
            static const uint8_t zero[8];
            c->logs++;
            c->logs_with_span += memcmp(b->r.logs[i].span_id, zero, 8) != 0;
        }
    }
    if (b->signal == REC_METRICS)
        take_points(c, b);
    rec_batch_free(b);
}

static void cap_drop(void *ctx, int signal, uint64_t n)
{
    (void)ctx;
    fail_msg("engine dropped %llu records of signal %d with an unbounded sink",
             (unsigned long long)n, signal);
}

static void cap_label(void *ctx, const struct world_label *l)
{
    struct capture *c = ctx;
    if (!l->fault) { /* a state change */
        c->state_labels++;
        return;
    }
    long i = l->fault - c->world->faults;
    assert_true(i >= 0 && i < c->world->nfaults);
    assert_true(l->open || l->start_ns <= l->end_ns); /* an incident's begin has no end yet */
    if (l->open) {
        c->open_labels++; /* count an incident once by fault, by its end line */
        return;
    }
    c->labels_by_fault[i]++;
}

static int cmp_id(const void *a, const void *b)
{
    return memcmp(((const struct span_rec *)a)->id, ((const struct span_rec *)b)->id, 8);
}

static const struct span_rec *find(const struct capture *c, const uint8_t id[8])
{
    struct span_rec key;
    memcpy(key.id, id, 8);
    return bsearch(&key, c->spans, c->nspans, sizeof key, cmp_id);
}

/* Every span: non-zero ids, a parent in the same trace that contains it in time. */
static void check_structure(struct capture *c, uint64_t *roots, uint64_t *servers)
{
    static const uint8_t zero[16];
    qsort(c->spans, c->nspans, sizeof *c->spans, cmp_id);
    *roots = *servers = 0;
    for (size_t i = 0; i < c->nspans; i++) {
        const struct span_rec *s = &c->spans[i];
        assert_memory_not_equal(s->trace, zero, 16);
        assert_memory_not_equal(s->id, zero, 8);
        assert_true(s->start <= s->end);
        if (i)
            assert_memory_not_equal(s->id, c->spans[i - 1].id, 8); /* unique ids */
        *servers += s->kind != 3;
        if (!memcmp(s->parent, zero, 8)) {
            (*roots)++;
            continue;
        }
        const struct span_rec *p = find(c, s->parent);
        assert_non_null(p);
        assert_memory_equal(p->trace, s->trace, 16);
        assert_true(p->start <= s->start && s->end <= p->end);
    }
}

static struct capture *run_scenario(const char *name, uint64_t seconds, struct engine **eng,
                                    struct world **w, struct scenario **s)
{
    struct scn_error err;
    assert_int_equal(scenario_load(name, s, &err), 0);
    struct world_opts wo = {.seed = 3, .verify_attrs = 1, .nshards = 1};
    char msg[256];
    assert_int_equal(world_build(w, *s, &wo, msg, sizeof msg), 0);
    struct capture *c = calloc(1, sizeof *c);
    c->seq_ok = c->hist_ok = 1;
    c->world = *w;
    struct engine_opts eo = {.speed = 0,
                             .start_unix_ns = 1767225600000000000ULL,
                             .duration_ns = seconds * 1000000000ULL};
    struct engine_out out = {c, cap_batch, cap_submit, cap_drop, NULL, cap_label};
    assert_int_equal(engine_new(eng, *w, &eo, &out, msg, sizeof msg), 0);
    engine_run(*eng);
    return c;
}

static void free_run(struct capture *c, struct engine *e, struct world *w, struct scenario *s)
{
    engine_free(e);
    world_free(w);
    scenario_free(s);
    free(c->spans);
    free(c);
}

/* An every-N fault fires on requests N, 2N, ... of its target; those still in flight at the end
 * are not labelled (nor emitted). */
static void check_labels(const struct capture *c, const struct world *w,
                         const struct engine_progress *p)
{
    uint64_t total = 0;
    for (int i = 0; i < w->nfaults && i < 32; i++) {
        const struct scn_fault *f = w->faults[i].scn;
        total += c->labels_by_fault[i];
        if (f->trigger != SCN_EVERY_N || f->target_kind != SCN_TARGET_MODEL)
            continue;
        uint64_t n = w->models[f->target_idx].count;
        assert_true(c->labels_by_fault[i] <= n / f->every_n);
        assert_true(c->labels_by_fault[i] + p->pending / f->every_n + 1 >= n / f->every_n);
        assert_true(c->labels_by_fault[i] > 0);
    }
    assert_int_equal(total + c->open_labels, p->labels);
}

static void traces_nest_and_metrics_agree(void **state)
{
    const char *names[] = {"inference", "shop", "classify"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        struct engine *e;
        struct world *w;
        struct scenario *s;
        struct capture *c = run_scenario(names[k], 300, &e, &w, &s);
        struct engine_progress p;
        engine_progress(e, &p);
        uint64_t roots, servers;
        check_structure(c, &roots, &servers);
        assert_true(c->nspans > 1000);
        assert_int_equal(roots, p.requests);
        assert_true(c->seq_ok);
        assert_true(c->hist_ok);
        /* The final tick counts exactly the server spans emitted. */
        assert_int_equal(c->last_requests_total, servers);
        assert_int_equal(c->last_hist_count, servers);
        uint64_t iv = s->metric_interval_ns ? s->metric_interval_ns : 10000000000ULL;
        assert_int_equal(c->ticks, 300000000000ULL / iv);
        /* One access log per server span (+ a warning per GPU fault), each with a span id. */
        assert_true(c->logs >= servers);
        assert_int_equal(c->logs_with_span, c->logs);
        assert_int_equal(p.generated[REC_SPANS], c->nspans);
        check_labels(c, w, &p);
        free_run(c, e, w, s);
    }
}

/* An operation of kind client that is called (a leaf calling out of the system) is a span of
 * its own, not a call around a callee: the engine used to read past the end of the trace for
 * it (and crash). */
static void client_kind_operation(void **state)
{
    (void)state;
    static const char yaml[] =
        "name: client-leaf\n"
        "services:\n"
        "  - name: web\n"
        "    operations:\n"
        "      - {name: GET /, latency: 10ms, rate: 50, calls: [db/SELECT]}\n"
        "  - name: db\n"
        "    operations:\n"
        "      - {name: SELECT, kind: client, latency: 5ms}\n";
    char path[] = "/tmp/diorama-test-engine-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, yaml, sizeof yaml - 1), (ssize_t)(sizeof yaml - 1));
    close(fd);
    struct engine *e;
    struct world *w;
    struct scenario *s;
    struct capture *c = run_scenario(path, 60, &e, &w, &s);
    unlink(path);
    uint64_t roots, servers;
    check_structure(c, &roots, &servers);
    assert_true(roots > 2000);
    assert_int_equal(c->nspans, 3 * roots); /* GET /, the call, SELECT */
    free_run(c, e, w, s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(traces_nest_and_metrics_agree),
        cmocka_unit_test(client_kind_operation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
