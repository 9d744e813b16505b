/* Run summaries. The JSON schema is documented in docs/summary-json.md and is stable: fields
 * may be added, never renamed or removed. */
#include <stdio.h>
#include <string.h>

#include "report/report.h"

static void json_signal(struct core_buf *b, const struct report_run *r,
                        const struct report_signal *s)
{
    core_buf_printf(b,
                    "{\"generated\":%llu,\"delivered\":%llu,\"dropped\":%llu,\"in_flight\":%llu,"
                    "\"timed_out\":%llu,\"dropped_by_reason\":{",
                    (unsigned long long)s->generated, (unsigned long long)s->delivered,
                    (unsigned long long)s->dropped, (unsigned long long)s->in_flight,
                    (unsigned long long)s->timed_out);
    for (int i = 0; i < r->ndrop_reasons; i++)
        core_buf_printf(b, "%s\"%s\":%llu", i ? "," : "", r->drop_reason_names[i],
                        (unsigned long long)s->dropped_by[i]);
    core_buf_printf(b,
                    "},\"retried\":%llu,\"requests\":%llu,\"failed_requests\":%llu,"
                    "\"bytes\":%llu,\"export_latency_us\":{\"p50\":%llu,\"p99\":%llu,"
                    "\"max\":%llu},\"target_rate\":%.3f}",
                    (unsigned long long)s->retried, (unsigned long long)s->requests,
                    (unsigned long long)s->failed_requests, (unsigned long long)s->bytes,
                    (unsigned long long)s->latency_p50_us, (unsigned long long)s->latency_p99_us,
                    (unsigned long long)s->latency_max_us, s->target_rate);
}

static void json_signals(struct core_buf *b, const struct report_run *r,
                         const struct report_output *o)
{
    core_buf_putc(b, '{');
    for (int s = 0; s < REC_NSIGNALS; s++) {
        core_buf_printf(b, "%s\"%s\":", s ? "," : "", rec_signal_names[s]);
        json_signal(b, r, &o->s[s]);
    }
    core_buf_putc(b, '}');
}

static void json_rw(struct core_buf *b, const struct report_rw *w)
{
    core_buf_printf(
        b,
        ",\"remote_write\":{\"version\":%d,\"requested_version\":%d,\"fell_back\":%s,"
        "\"samples_sent\":%llu,\"samples_delivered\":%llu,\"series\":%llu,"
        "\"series_capped\":%s,\"unwritable_points\":%llu,\"written\":{\"samples\":%llu,"
        "\"histograms\":%llu,\"exemplars\":%llu,\"mismatched_answers\":%llu,"
        "\"answers_without_headers\":%llu}}",
        w->version, w->requested_version, w->version != w->requested_version ? "true" : "false",
        (unsigned long long)w->samples_sent, (unsigned long long)w->samples_delivered,
        (unsigned long long)w->series, w->series_capped ? "true" : "false",
        (unsigned long long)w->unwritable_points, (unsigned long long)w->written_samples,
        (unsigned long long)w->written_histograms, (unsigned long long)w->written_exemplars,
        (unsigned long long)w->written_mismatch, (unsigned long long)w->written_missing);
}

int report_summary_json(const struct report_run *r, struct core_buf *b)
{
    core_buf_puts(b, "{\"schema\":\"diorama.run.summary/v1\",\"version\":\"" DIORAMA_VERSION
                     "\",\"scenario\":");
    core_buf_put_json_str(b, r->scenario);
    core_buf_puts(b, ",\"scenario_file\":");
    core_buf_put_json_str(b, r->scenario_file);
    core_buf_printf(b, ",\"run_id\":\"%s\",\"seed\":%llu,", r->run_id, (unsigned long long)r->seed);
    if (r->speed > 0)
        core_buf_printf(b, "\"speed\":%g,", r->speed);
    else
        core_buf_puts(b, "\"speed\":\"max\",");
    core_buf_printf(b,
                    "\"start_unix_nano\":%llu,\"wall_seconds\":%.3f,\"simulated_seconds\":%.3f,"
                    "\"requests\":%llu,\"labels\":%llu,\"stopped_by\":\"%s\",\"exit_code\":%d,"
                    "\"signals\":",
                    (unsigned long long)r->start_unix_ns, r->wall_seconds, r->simulated_seconds,
                    (unsigned long long)r->requests, (unsigned long long)r->labels, r->stopped_by,
                    r->exit_code);
    if (r->noutputs)
        json_signals(b, r, &r->outputs[0]);
    else
        core_buf_puts(b, "{}");
    core_buf_puts(b, ",\"outputs\":[");
    for (int i = 0; i < r->noutputs; i++) {
        core_buf_puts(b, i ? ",{\"name\":" : "{\"name\":");
        core_buf_put_json_str(b, r->outputs[i].name);
        core_buf_puts(b, ",\"signals\":");
        json_signals(b, r, &r->outputs[i]);
        core_buf_putc(b, '}');
    }
    core_buf_putc(b, ']');
    if (r->remote_write)
        json_rw(b, r->remote_write);
    return core_buf_puts(b, "}\n");
}

void report_si(double v, char *out, size_t n)
{
    if (v >= 1e9)
        snprintf(out, n, "%.2fG", v / 1e9);
    else if (v >= 1e6)
        snprintf(out, n, "%.2fM", v / 1e6);
    else if (v >= 1e4)
        snprintf(out, n, "%.1fk", v / 1e3);
    else
        snprintf(out, n, "%.0f", v);
}

static void text_signal(struct core_buf *b, const struct report_run *r, const char *name,
                        const struct report_signal *s)
{
    core_buf_printf(b, "  %-14s generated %llu  delivered %llu  dropped %llu  in flight %llu", name,
                    (unsigned long long)s->generated, (unsigned long long)s->delivered,
                    (unsigned long long)s->dropped, (unsigned long long)s->in_flight);
    if (s->timed_out)
        core_buf_printf(b, "  timed out %llu (may have arrived)", (unsigned long long)s->timed_out);
    for (int i = 0; i < r->ndrop_reasons; i++)
        if (s->dropped_by[i])
            core_buf_printf(b, "  [%s %llu]", r->drop_reason_names[i],
                            (unsigned long long)s->dropped_by[i]);
    if (s->requests)
        core_buf_printf(b, "  | %llu requests, %llu retried records, export p50 %.1fms p99 %.1fms",
                        (unsigned long long)s->requests, (unsigned long long)s->retried,
                        s->latency_p50_us / 1e3, s->latency_p99_us / 1e3);
    core_buf_putc(b, '\n');
}

int report_summary_text(const struct report_run *r, struct core_buf *b)
{
    char sp[32];
    if (r->speed > 0)
        snprintf(sp, sizeof sp, "x%g", r->speed);
    else
        snprintf(sp, sizeof sp, "max");
    core_buf_printf(b,
                    "diorama run: scenario %s, seed %llu, speed %s, run %s\n"
                    "  simulated %.1fs in %.2fs wall (stopped by %s); %llu requests, %llu labels\n",
                    r->scenario, (unsigned long long)r->seed, sp, r->run_id, r->simulated_seconds,
                    r->wall_seconds, r->stopped_by, (unsigned long long)r->requests,
                    (unsigned long long)r->labels);
    for (int i = 0; i < r->noutputs; i++) {
        core_buf_printf(b, " output %s\n", r->outputs[i].name);
        for (int s = 0; s < REC_NSIGNALS; s++)
            text_signal(b, r, rec_signal_names[s], &r->outputs[i].s[s]);
    }
    return 0;
}

static void fmt_rate(double v, char *out, size_t n)
{
    if (v > 0 && v < 10)
        snprintf(out, n, "%.1f", v);
    else
        report_si(v, out, n);
}

int report_status_line(const struct report_sample *prev, const struct report_sample *cur,
                       struct core_buf *b)
{
    static const char *const short_names[REC_NSIGNALS] = {"spans", "points", "logs"};
    double dt = cur->wall_seconds - prev->wall_seconds;
    core_buf_printf(b, "%6.1fs (sim %.0fs)", cur->wall_seconds, cur->simulated_seconds);
    for (int s = 0; s < REC_NSIGNALS; s++) {
        const struct report_signal *c = &cur->out.s[s], *p = &prev->out.s[s];
        char rate[16], target[16], del[16];
        fmt_rate(dt > 0 ? (double)(c->generated - p->generated) / dt : 0, rate, sizeof rate);
        fmt_rate(c->target_rate, target, sizeof target);
        report_si((double)c->delivered, del, sizeof del);
        core_buf_printf(b, " | %s %s/s", short_names[s], rate);
        if (c->target_rate > 0)
            core_buf_printf(b, " of %s", target);
        core_buf_printf(b, " ok %s", del);
        if (c->retried)
            core_buf_printf(b, " retry %llu", (unsigned long long)c->retried);
        if (c->dropped)
            core_buf_printf(b, " DROP %llu", (unsigned long long)c->dropped);
    }
    if (cur->out.s[0].latency_p99_us)
        core_buf_printf(b, " | p99 %.1fms", cur->out.s[0].latency_p99_us / 1e3);
    return 0;
}
