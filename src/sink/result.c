/* The verdict and the result (JSON schema diorama.sink.result/v1 in docs/sink.md; text). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sink/internal.h"

#define MAX_REASONS 16

struct eval_signal {
    uint64_t generated, delivered, dropped; /* from the summary */
    uint64_t received, lost, duplicates, beyond, too_old;
};

struct eval {
    int verdict;
    struct eval_signal s[REC_NSIGNALS];
    char reasons[MAX_REASONS][200];
    int nreasons;
};

static void reason(struct eval *ev, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reason(struct eval *ev, const char *fmt, ...)
{
    if (ev->nreasons >= MAX_REASONS)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ev->reasons[ev->nreasons++], sizeof ev->reasons[0], fmt, ap);
    va_end(ap);
}

static void eval_signal(struct eval *ev, const struct sink__run *run, int i)
{
    struct eval_signal *x = &ev->s[i];
    const char *name = rec_signal_names[i];
    const struct sink__seqwin *w = run ? &run->w[i] : NULL;
    x->received = run ? run->received[i] : 0;
    x->duplicates = w ? w->dups : 0;
    x->too_old = w ? w->too_old : 0;
    x->beyond = w ? sink__seqwin_seen_from(w, x->delivered) : 0;
    x->lost = w ? sink__seqwin_missing(w, x->delivered) : x->delivered;
    unsigned long long del = x->delivered;
    if (x->generated != x->delivered)
        reason(ev, "%s: diorama generated %llu but delivered %llu (dropped %llu)", name,
               (unsigned long long)x->generated, del, (unsigned long long)x->dropped);
    if (x->received != x->delivered)
        reason(ev, "%s: received %llu, diorama delivered %llu", name,
               (unsigned long long)x->received, del);
    if (x->lost)
        reason(ev, "%s: %llu sequence numbers in 0..%llu never arrived", name,
               (unsigned long long)x->lost, del ? del - 1 : 0);
    if (x->duplicates)
        reason(ev, "%s: %llu duplicates", name, (unsigned long long)x->duplicates);
    if (x->beyond)
        reason(ev, "%s: %llu sequence numbers at or past %llu (more than delivered)", name,
               (unsigned long long)x->beyond, del);
    if (x->too_old)
        reason(ev, "%s: %llu arrivals older than the sequence window (not verifiable)", name,
               (unsigned long long)x->too_old);
}

/* Under v->mu. */
static void evaluate(struct sink__verify *v, const struct sink_expect *e, struct eval *ev)
{
    memset(ev, 0, sizeof *ev);
    if (!e) {
        ev->verdict = SINK_VERDICT_NONE;
        return;
    }
    const struct sink__run *run = sink__verify_run(v, e->run_id);
    uint64_t want = 0;
    for (int i = 0; i < REC_NSIGNALS; i++) {
        ev->s[i].generated = e->generated[i];
        ev->s[i].delivered = e->delivered[i];
        ev->s[i].dropped = e->dropped[i];
        want += e->delivered[i];
    }
    if (!run && want)
        reason(ev, "nothing of run %s arrived", e->run_id);
    for (int i = 0; i < REC_NSIGNALS; i++)
        eval_signal(ev, run, i);
    ev->verdict = ev->nreasons ? SINK_VERDICT_FAIL : SINK_VERDICT_PASS;
}

static const char *verdict_name(int v)
{
    return v == SINK_VERDICT_PASS ? "pass" : v == SINK_VERDICT_FAIL ? "fail" : "none";
}

/* Stream loss: against the expected range for the expected run, else up to the highest. */
static uint64_t stream_lost(const struct sink__run *run, int i, const struct sink_expect *e)
{
    if (e && !strcmp(run->id, e->run_id))
        return sink__seqwin_missing(&run->w[i], e->delivered[i]);
    return sink__seqwin_missing(&run->w[i], 0);
}

static void json_counts(struct core_buf *b, const char *key, const uint64_t *v)
{
    core_buf_printf(b, "\"%s\":{", key);
    for (int i = 0; i < SINK_NSIGNALS; i++)
        core_buf_printf(b, "%s\"%s\":%llu", i ? "," : "", sink_signal_names[i],
                        (unsigned long long)v[i]);
    core_buf_puts(b, "},");
}

static void json_names(struct core_buf *b, const char *key, const struct sink__names *t)
{
    core_buf_printf(b, "\"%s\":{", key);
    for (int i = 0; i < SINK_NSIGNALS; i++) {
        core_buf_printf(b, "%s\"%s\":{", i ? "," : "", sink_signal_names[i]);
        int first = 1;
        for (uint32_t k = 0; k <= t[i].mask; k++) {
            const struct sink__name *n = &t[i].slots[k];
            if (!n->hash)
                continue;
            core_buf_puts(b, first ? "" : ",");
            core_buf_put_json_str(b, n->name);
            core_buf_printf(b, ":%llu", (unsigned long long)n->count);
            first = 0;
        }
        if (t[i].other)
            core_buf_printf(b, "%s\"(other)\":%llu", first ? "" : ",",
                            (unsigned long long)t[i].other);
        core_buf_putc(b, '}');
    }
    core_buf_puts(b, "},");
}

static void json_streams(struct core_buf *b, const struct sink__verify *v,
                         const struct sink_expect *e, uint64_t *lost, uint64_t *dups,
                         uint64_t *reord)
{
    core_buf_puts(b, "\"streams\":[");
    int first = 1;
    for (uint32_t r = 0; r < v->nruns; r++)
        for (int i = 0; i < REC_NSIGNALS; i++) {
            const struct sink__run *run = &v->runs[r];
            const struct sink__seqwin *w = &run->w[i];
            if (!run->received[i])
                continue;
            uint64_t l = stream_lost(run, i, e);
            *lost += l;
            *dups += w->dups;
            *reord += w->reordered;
            core_buf_printf(b,
                            "%s{\"run_id\":\"%s\",\"signal\":\"%s\",\"received\":%llu,"
                            "\"distinct\":%llu,\"highest_seq\":%lld,\"lost\":%llu,"
                            "\"duplicates\":%llu,\"reordered\":%llu,\"beyond_window\":%llu}",
                            first ? "" : ",", run->id, rec_signal_names[i],
                            (unsigned long long)run->received[i], (unsigned long long)w->distinct,
                            (long long)w->hi - 1, (unsigned long long)l,
                            (unsigned long long)w->dups, (unsigned long long)w->reordered,
                            (unsigned long long)w->too_old);
            first = 0;
        }
    core_buf_puts(b, "],");
}

static void json_expect(struct core_buf *b, const struct sink_expect *e, const struct eval *ev)
{
    if (!e) {
        core_buf_puts(b, "\"expect\":null,");
        return;
    }
    core_buf_printf(b, "\"expect\":{\"run_id\":\"%s\",\"signals\":{", e->run_id);
    for (int i = 0; i < REC_NSIGNALS; i++) {
        const struct eval_signal *x = &ev->s[i];
        core_buf_printf(b,
                        "%s\"%s\":{\"generated\":%llu,\"delivered\":%llu,\"received\":%llu,"
                        "\"lost\":%llu,\"duplicates\":%llu,\"beyond_range\":%llu}",
                        i ? "," : "", rec_signal_names[i], (unsigned long long)x->generated,
                        (unsigned long long)x->delivered, (unsigned long long)x->received,
                        (unsigned long long)x->lost, (unsigned long long)x->duplicates,
                        (unsigned long long)x->beyond);
    }
    core_buf_puts(b, "}},");
}

static void json_tail(struct core_buf *b, const struct sink__verify *v, const struct eval *ev)
{
    core_buf_puts(b, "\"problems\":[");
    for (uint32_t i = 0; i < v->nproblems; i++) {
        core_buf_puts(b, i ? "," : "");
        core_buf_put_json_str(b, v->problems[i]);
    }
    core_buf_printf(b, "],\"verdict\":\"%s\",\"reasons\":[", verdict_name(ev->verdict));
    for (int i = 0; i < ev->nreasons; i++) {
        core_buf_puts(b, i ? "," : "");
        core_buf_put_json_str(b, ev->reasons[i]);
    }
    core_buf_puts(b, "]}\n");
}

/* Why end-to-end latency (arrival - generation time) means nothing for this run, or NULL.
 * Generation times are simulated time: wall-clock only at --speed 1 from now. Otherwise they
 * are hours or years off, and the histogram's 1 h ceiling would print as "1h0m". */
static const char *e2e_meaningless(const struct sink_totals *t, const struct sink_expect *e,
                                   uint64_t future, int64_t count)
{
    if (e && e->speed == 0)
        return "--speed max run: generation times are simulated";
    if (e && e->speed > 0 && e->speed != 1)
        return "--speed N run: generation times run ahead of the clock";
    if (count == 0 && future == 0)
        return "no generation times received";
    if (future > (uint64_t)count || t->e2e_p50_us >= SINK__E2E_MAX_US)
        return "generation times are not wall-clock time (--speed or --start run?)";
    return NULL;
}

int sink_result_json(struct sink *s, const struct sink_expect *e, double wall_s, struct core_buf *b)
{
    struct sink_totals t;
    sink_totals(s, &t);
    struct sink__verify *v = &s->v;
    pthread_mutex_lock(&v->mu);
    struct eval ev;
    evaluate(v, e, &ev);
    core_buf_printf(b,
                    "{\"schema\":\"diorama.sink.result/v1\",\"version\":\"%s\",\"port\":%d,"
                    "\"wall_seconds\":%.3f,",
                    DIORAMA_VERSION, sink_port(s), wall_s);
    json_counts(b, "received", v->received);
    json_counts(b, "invalid", v->invalid);
    json_counts(b, "untracked", v->untracked);
    uint64_t lost = 0, dups = 0, reord = 0;
    json_streams(b, v, e, &lost, &dups, &reord);
    core_buf_printf(b,
                    "\"lost\":%llu,\"duplicates\":%llu,\"reordered\":%llu,"
                    "\"e2e_latency_us\":{\"p50\":%lld,\"p99\":%lld,\"max\":%lld,\"count\":%lld,"
                    "\"negative\":%llu,\"not_meaningful\":",
                    (unsigned long long)lost, (unsigned long long)dups, (unsigned long long)reord,
                    (long long)t.e2e_p50_us, (long long)t.e2e_p99_us, (long long)t.e2e_max_us,
                    (long long)v->e2e.total, (unsigned long long)v->e2e_future);
    const char *why = e2e_meaningless(&t, e, v->e2e_future, v->e2e.total);
    if (why)
        core_buf_put_json_str(b, why);
    else
        core_buf_puts(b, "null");
    core_buf_puts(b, "},");
    core_buf_printf(b,
                    "\"requests\":%llu,\"bytes\":%llu,\"responses\":{\"2xx\":%llu,\"4xx\":%llu,"
                    "\"5xx\":%llu},\"faults_injected\":%llu,\"refused\":%llu,",
                    (unsigned long long)t.requests, (unsigned long long)t.bytes,
                    (unsigned long long)t.status[2], (unsigned long long)t.status[4],
                    (unsigned long long)t.status[5], (unsigned long long)t.faults,
                    (unsigned long long)atomic_load(&s->refused));
    json_names(b, "services", v->services);
    json_names(b, "names", v->names);
    json_expect(b, e, &ev);
    json_tail(b, v, &ev);
    pthread_mutex_unlock(&v->mu);
    return ev.verdict;
}

static void fmt_us(int64_t us, char *out, size_t n)
{
    core_format_duration((uint64_t)(us < 0 ? 0 : us) * 1000, out, n);
}

static void text_e2e(struct sink *s, const struct sink_totals *t, const struct sink_expect *e,
                     struct core_buf *b)
{
    pthread_mutex_lock(&s->v.mu);
    uint64_t future = s->v.e2e_future;
    int64_t count = s->v.e2e.total;
    pthread_mutex_unlock(&s->v.mu);
    const char *why = e2e_meaningless(t, e, future, count);
    if (why) {
        core_buf_printf(b, "e2e latency n/a (%s)\n", why);
        return;
    }
    char p50[32], p99[32], mx[32];
    fmt_us(t->e2e_p50_us, p50, sizeof p50);
    fmt_us(t->e2e_p99_us, p99, sizeof p99);
    fmt_us(t->e2e_max_us, mx, sizeof mx);
    core_buf_printf(b, "e2e latency p50 %s p99 %s max %s\n", p50, p99, mx);
}

int sink_result_text(struct sink *s, const struct sink_expect *e, double wall_s, struct core_buf *b)
{
    struct sink_totals t;
    sink_totals(s, &t);
    core_buf_printf(b, "sink: %.1f s, %llu requests (%llu injected faults)\n", wall_s,
                    (unsigned long long)t.requests, (unsigned long long)t.faults);
    for (int i = 0; i < SINK_NSIGNALS; i++)
        core_buf_printf(b, "  %-14s received %llu, invalid %llu\n", sink_signal_names[i],
                        (unsigned long long)t.received[i], (unsigned long long)t.invalid[i]);
    /* Reordering is what concurrent exporters do (several batches in flight); loss and
     * duplicates are what the verdict is about. */
    core_buf_printf(b, "  lost %llu, duplicates %llu, reordered %llu%s; ",
                    (unsigned long long)t.lost, (unsigned long long)t.duplicates,
                    (unsigned long long)t.reordered,
                    t.reordered ? " (concurrent batches; not a failure)" : "");
    text_e2e(s, &t, e, b);
    pthread_mutex_lock(&s->v.mu);
    struct eval ev;
    evaluate(&s->v, e, &ev);
    pthread_mutex_unlock(&s->v.mu);
    if (ev.verdict == SINK_VERDICT_NONE)
        return ev.verdict;
    core_buf_printf(b, "  verdict: %s (run %s)\n",
                    ev.verdict == SINK_VERDICT_PASS ? "PASS" : "FAIL", e->run_id);
    for (int i = 0; i < ev.nreasons; i++)
        core_buf_printf(b, "    - %s\n", ev.reasons[i]);
    return ev.verdict;
}

/* "950", "12.3k", "1.2M" */
static void si(double v, char *out, size_t n)
{
    if (v >= 1e9)
        snprintf(out, n, "%.1fG", v / 1e9);
    else if (v >= 1e6)
        snprintf(out, n, "%.1fM", v / 1e6);
    else if (v >= 1e3)
        snprintf(out, n, "%.1fk", v / 1e3);
    else
        snprintf(out, n, "%.0f", v);
}

void sink_status_line(const struct sink_totals *prev, const struct sink_totals *cur, double dt_s,
                      struct core_buf *b)
{
    static const char *const shortname[SINK_NSIGNALS] = {"spans", "points", "logs", "samples"};
    core_buf_puts(b, "sink");
    for (int i = 0; i < SINK_NSIGNALS; i++) {
        char rate[16], total[16];
        double d = (double)(cur->received[i] - prev->received[i]);
        si(dt_s > 0 ? d / dt_s : 0, rate, sizeof rate);
        si((double)cur->received[i], total, sizeof total);
        core_buf_printf(b, "  %s %s/s (%s)", shortname[i], rate, total);
    }
    char p99[32];
    fmt_us(cur->e2e_p99_us, p99, sizeof p99);
    core_buf_printf(b, "  req %llu 4xx %llu 5xx %llu  lost %llu dup %llu  e2e p99 %s",
                    (unsigned long long)cur->requests, (unsigned long long)cur->status[4],
                    (unsigned long long)cur->status[5], (unsigned long long)cur->lost,
                    (unsigned long long)cur->duplicates, p99);
}
