/* What arrived: counters per signal, service and name, sequence windows per stream
 * (run id x signal), and the end-to-end latency histogram.
 *
 * Cost per item: one uncontended mutex, two name-table lookups (a hash of the string and,
 * usually, one compare), one bit set per sequence number and one histogram increment. Memory:
 * fixed at init except the sequence windows, allocated when a run id is first seen (at most
 * max_runs of them, 3 x 2^wlog2 bits each). */
#include <stdio.h>
#include <string.h>

#include "sink/internal.h"

#define E2E_MAX_US SINK__E2E_MAX_US /* later arrivals are clamped (and counted) */

/* ---- sequence windows ---------------------------------------------------------------------- */

void sink__seqwin_init(struct sink__seqwin *w, unsigned log2)
{
    memset(w, 0, sizeof *w);
    w->nwords = (uint64_t)1 << (log2 > 6 ? log2 - 6 : 0);
    w->words = core_calloc(w->nwords, sizeof *w->words);
}

void sink__seqwin_free(struct sink__seqwin *w)
{
    core_free(w->words);
    w->words = NULL;
}

static uint64_t span_of(const struct sink__seqwin *w)
{
    return w->nwords * 64;
}

/* Moves base forward to nb (a multiple of 64), counting what is left behind. */
static void slide(struct sink__seqwin *w, uint64_t nb)
{
    uint64_t gap = nb - w->base;
    uint64_t nw = gap / 64 < w->nwords ? gap / 64 : w->nwords;
    for (uint64_t i = 0; i < nw; i++) {
        uint64_t *word = &w->words[((w->base / 64) + i) & (w->nwords - 1)];
        w->evicted_missing += 64 - (uint64_t)__builtin_popcountll(*word);
        *word = 0;
    }
    if (gap / 64 > nw) /* jumped past the whole window: everything between is missing */
        w->evicted_missing += gap - nw * 64;
    w->base = nb;
}

static int mark_one(struct sink__seqwin *w, uint64_t seq)
{
    if (seq < w->base) {
        w->too_old++;
        return 0;
    }
    if (seq - w->base >= span_of(w))
        slide(w, ((seq - span_of(w)) / 64 + 1) * 64);
    uint64_t *word = &w->words[(seq / 64) & (w->nwords - 1)];
    uint64_t bit = 1ULL << (seq % 64);
    if (*word & bit) {
        w->dups++;
        return 1;
    }
    *word |= bit;
    w->distinct++;
    if (seq >= w->hi)
        w->hi = seq + 1;
    return 0;
}

uint64_t sink__seqwin_mark(struct sink__seqwin *w, uint64_t seq, uint64_t n, uint64_t floor)
{
    if (seq < floor)
        w->reordered++;
    uint64_t dups = 0;
    for (uint64_t i = 0; i < n && seq + i >= seq; i++)
        dups += (uint64_t)mark_one(w, seq + i);
    return dups;
}

static uint64_t bits_in(const struct sink__seqwin *w, uint64_t from, uint64_t to)
{
    uint64_t n = 0;
    while (from < to) {
        uint64_t word = w->words[(from / 64) & (w->nwords - 1)] >> (from % 64);
        uint64_t take = 64 - from % 64;
        if (take > to - from) {
            take = to - from;
            word &= (1ULL << take) - 1;
        }
        n += (uint64_t)__builtin_popcountll(word);
        from += take;
    }
    return n;
}

uint64_t sink__seqwin_seen_from(const struct sink__seqwin *w, uint64_t from)
{
    if (from >= w->hi)
        return 0;
    if (from >= w->base)
        return bits_in(w, from, w->hi);
    return (w->base - from) + bits_in(w, w->base, w->hi);
}

uint64_t sink__seqwin_missing(const struct sink__seqwin *w, uint64_t end)
{
    if (!end)
        end = w->hi;
    uint64_t seen = w->distinct - sink__seqwin_seen_from(w, end);
    return seen >= end ? 0 : end - seen;
}

/* ---- name tables --------------------------------------------------------------------------- */

void sink__names_init(struct sink__names *t, uint32_t max)
{
    uint32_t n = 16;
    while (n < 2 * max)
        n *= 2;
    memset(t, 0, sizeof *t);
    t->slots = core_calloc(n, sizeof *t->slots);
    t->mask = n - 1;
    t->max = max;
}

void sink__names_free(struct sink__names *t)
{
    core_free(t->slots);
    t->slots = NULL;
}

void sink__names_add(struct sink__names *t, const char *s, size_t n, uint64_t count)
{
    if (n >= sizeof t->slots[0].name)
        n = sizeof t->slots[0].name - 1; /* long names are kept by their prefix */
    uint64_t h = core_hash64(s, n) | 1;
    for (uint32_t i = (uint32_t)h & t->mask;; i = (i + 1) & t->mask) {
        struct sink__name *e = &t->slots[i];
        if (e->hash == h && !strncmp(e->name, s, n) && e->name[n] == 0) {
            e->count += count;
            return;
        }
        if (e->hash == 0) {
            if (t->used >= t->max) {
                t->other += count;
                return;
            }
            e->hash = h;
            memcpy(e->name, s, n);
            e->name[n] = 0;
            e->count = count;
            t->used++;
            return;
        }
    }
}

/* ---- the verifier ------------------------------------------------------------------------- */

void sink__verify_init(struct sink__verify *v, uint32_t max_names, uint32_t max_runs,
                       unsigned wlog2)
{
    memset(v, 0, sizeof *v);
    pthread_mutex_init(&v->mu, NULL);
    for (int i = 0; i < SINK_NSIGNALS; i++) {
        sink__names_init(&v->services[i], max_names);
        sink__names_init(&v->names[i], max_names);
    }
    v->max_runs = max_runs;
    v->runs = core_calloc(max_runs, sizeof *v->runs);
    v->wlog2 = wlog2;
    core_hdr_init(&v->e2e, 1, E2E_MAX_US, 3);
}

void sink__verify_free(struct sink__verify *v)
{
    for (int i = 0; i < SINK_NSIGNALS; i++) {
        sink__names_free(&v->services[i]);
        sink__names_free(&v->names[i]);
    }
    for (uint32_t r = 0; r < v->nruns; r++)
        for (int i = 0; i < REC_NSIGNALS; i++)
            sink__seqwin_free(&v->runs[r].w[i]);
    core_free(v->runs);
    core_hdr_free(&v->e2e);
    pthread_mutex_destroy(&v->mu);
}

static struct sink__run *find_run(struct sink__verify *v, const char *id, size_t n, int create)
{
    if (n == 0 || n >= SINK__RUNID)
        return NULL;
    for (uint32_t r = 0; r < v->nruns; r++)
        if (!strncmp(v->runs[r].id, id, n) && v->runs[r].id[n] == 0)
            return &v->runs[r];
    if (!create || v->nruns >= v->max_runs)
        return NULL;
    struct sink__run *run = &v->runs[v->nruns++];
    memcpy(run->id, id, n);
    run->id[n] = 0;
    for (int i = 0; i < REC_NSIGNALS; i++)
        sink__seqwin_init(&run->w[i], v->wlog2);
    return run;
}

struct sink__run *sink__verify_run(struct sink__verify *v, const char *id)
{
    return find_run(v, id, strlen(id), 0);
}

static void note_problem(struct sink__verify *v, const struct wire_item *it)
{
    if (v->nproblems >= SINK__NPROBLEMS)
        return;
    const char *p = it->problem ? it->problem : "invalid";
    snprintf(v->problems[v->nproblems++], sizeof v->problems[0], "%s: %s",
             sink_signal_names[it->signal], p);
}

static void track(struct sink__verify *v, const struct wire_item *it, uint64_t arrival_ns,
                  struct sink__reqsnap *snap)
{
    int sig = it->signal;
    struct sink__run *run = NULL;
    if (sig < REC_NSIGNALS && it->seq >= 0)
        run = find_run(v, it->run_id.p, it->run_id.len, 1);
    if (!run) {
        v->untracked[sig] += it->count;
        return;
    }
    run->received[sig] += it->count;
    if (snap->run != run) {
        snap->run = run;
        snap->hi = run->w[sig].hi;
    }
    sink__seqwin_mark(&run->w[sig], (uint64_t)it->seq, it->count, snap->hi);
    if (it->gen_ns == 0)
        return;
    if (arrival_ns < it->gen_ns) {
        v->e2e_future++;
        return;
    }
    int64_t us = (int64_t)((arrival_ns - it->gen_ns) / 1000);
    core_hdr_record(&v->e2e, us < 1 ? 1 : us);
}

void sink__verify_item(struct sink__verify *v, const struct wire_item *it, uint64_t arrival_ns,
                       struct sink__reqsnap *snap)
{
    int sig = it->signal;
    if (sig < 0 || sig >= SINK_NSIGNALS)
        return;
    pthread_mutex_lock(&v->mu);
    if (!it->valid) {
        v->invalid[sig] += it->count;
        note_problem(v, it);
    } else {
        v->received[sig] += it->count;
        sink__names_add(&v->services[sig], it->service.p ? it->service.p : "", it->service.len,
                        it->count);
        sink__names_add(&v->names[sig], it->name.p ? it->name.p : "", it->name.len, it->count);
        track(v, it, arrival_ns, snap);
    }
    pthread_mutex_unlock(&v->mu);
}
