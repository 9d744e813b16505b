/* The live status line: a thread that samples the engine's and the hub's counters (atomics)
 * and prints one line, redrawn in place twice a second on a terminal, or appended every 10 s
 * when stderr is not a terminal (CI logs). It shows what the outputs in use produce: the push
 * outputs' signals (spans, points, logs: rate, delivered, retried, dropped) when there are
 * any, and /metrics (series, points published, scrapes) when it is served; a run with only
 * /metrics has no spans to deliver and does not pretend it has. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/run.h"
#include "report/report.h"

struct run_status {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    int tty;
    const struct engine *e;
    const struct export_hub *h;
    struct run_prom_stats *ps; /* NULL without --prom-listen */
    double speed;
    uint64_t t0;
};

struct sample {
    struct report_sample r;
    uint64_t series, points, scrapes; /* /metrics */
};

static void sample(struct run_status *s, struct sample *smp)
{
    struct report_sample *out = &smp->r;
    struct engine_progress p;
    struct export_stats st;
    double target[REC_NSIGNALS];
    engine_progress(s->e, &p);
    engine_target_rates(s->e, target);
    export_hub_stats(s->h, 0, &st);
    memset(smp, 0, sizeof *smp);
    out->wall_seconds = (double)(core_mono_ns() - s->t0) / 1e9;
    out->simulated_seconds = (double)p.sim_offset_ns / 1e9;
    for (int i = 0; i < REC_NSIGNALS; i++) {
        struct report_signal *r = &out->out.s[i];
        r->generated = st.s[i].generated;
        r->delivered = st.s[i].delivered;
        r->dropped = export_dropped_total(&st.s[i]);
        r->retried = st.s[i].retried;
        r->latency_p99_us = st.s[i].latency_p99_us;
        r->target_rate = s->speed > 0 ? target[i] * s->speed : 0;
    }
    if (s->ps) {
        smp->series = atomic_load_explicit(&s->ps->series, memory_order_relaxed);
        smp->points = atomic_load_explicit(&s->ps->points, memory_order_relaxed);
        smp->scrapes = export_prom_scrapes(s->ps->prom);
    }
}

/* " | /metrics 1.2k series, points 246/s, scrapes 3" (or the whole line after the clock when
 * /metrics is the only output). */
static void prom_part(const struct sample *prev, const struct sample *cur, struct core_buf *b)
{
    double dt = cur->r.wall_seconds - prev->r.wall_seconds;
    char series[16], rate[16];
    report_si((double)cur->series, series, sizeof series);
    report_si(dt > 0 ? (double)(cur->points - prev->points) / dt : 0, rate, sizeof rate);
    core_buf_printf(b, " | /metrics %s series, points %s/s, scrapes %llu", series, rate,
                    (unsigned long long)cur->scrapes);
}

static void print(struct run_status *s, const struct sample *prev, const struct sample *cur)
{
    struct core_buf b;
    core_buf_init(&b, 4096);
    core_buf_puts(&b, s->tty ? "\r\033[2K" : "");
    if (export_hub_noutputs(s->h))
        report_status_line(&prev->r, &cur->r, &b);
    else
        core_buf_printf(&b, "%6.1fs (sim %.0fs)", cur->r.wall_seconds, cur->r.simulated_seconds);
    if (s->ps)
        prom_part(prev, cur, &b);
    core_buf_puts(&b, s->tty ? "" : "\n");
    /* One write per frame (no flicker, no interleaving). */
    if (write(STDERR_FILENO, b.p, b.len) < 0)
        s->tty = 0;
    core_buf_free(&b);
}

/* Records reach the counters a batch at a time, so rates are taken over a window of the last
 * WINDOW samples (5 s on a terminal) rather than between two consecutive ones. */
#define WINDOW 10

static void *loop(void *arg)
{
    struct run_status *s = arg;
    struct sample ring[WINDOW], cur;
    int n = 0;
    sample(s, &ring[0]);
    n = 1;
    uint64_t period = s->tty ? 500000000ULL : 10000000000ULL;
    pthread_mutex_lock(&s->mu);
    while (!s->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t at = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec + period;
        ts.tv_sec = (time_t)(at / 1000000000ULL);
        ts.tv_nsec = (long)(at % 1000000000ULL);
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
        if (s->stop)
            break;
        sample(s, &cur);
        const struct sample *oldest = n < WINDOW ? &ring[0] : &ring[n % WINDOW];
        print(s, oldest, &cur);
        ring[n++ % WINDOW] = cur;
    }
    pthread_mutex_unlock(&s->mu);
    if (s->tty && write(STDERR_FILENO, "\n", 1) < 0)
        return NULL;
    return NULL;
}

struct run_status *run_status_start(const struct engine *e, const struct export_hub *h,
                                    struct run_prom_stats *ps, double speed)
{
    struct run_status *s = core_calloc(1, sizeof *s);
    s->e = e;
    s->h = h;
    s->ps = ps;
    s->speed = speed;
    s->tty = isatty(STDERR_FILENO);
    s->t0 = core_mono_ns();
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    if (pthread_create(&s->thread, NULL, loop, s)) {
        core_free(s);
        return NULL;
    }
    return s;
}

void run_status_stop(struct run_status *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stop = 1;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    core_free(s);
}
