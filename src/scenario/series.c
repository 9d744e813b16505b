/* Metric series: how many a world built from a scenario can have, and the cap on them.
 *
 * Almost all of a run's memory that the scenario decides is per metric series: the engine
 * keeps one struct per series (with histogram buckets), every metric tick copies each series
 * into a batch, and /metrics renders each one as text. Nothing else grows with the input by
 * more than a few bytes per entity, so capping the series caps what a scenario can make a run
 * allocate. The count mirrors engine/metrics.c, which is the layout to keep in step with:
 *
 *   per host                  cpus x 3 modes (system.cpu.utilization) + 2 (memory used, free)
 *   per non-client operation  1 (http.server.active_requests)
 *                             + 2 per status code it returns (request duration histogram and
 *                             request counter); the engine creates the 200 pair at start and
 *                             one per other status code on first use, at most
 *                             SCENARIO_ROUTE_STATUSES per route
 *   per model                 duration, queue depth, batch size, GPU utilisation
 *                             + input and output token histograms when tokens_in is set
 *
 * A route can only return 200, an operation's error_status (when it has an error_rate), a
 * fault's error_status or a state's (the built-in degrading and critical states fail some
 * requests with 500 and 503), directly or passed on by a callee, so the distinct codes of the
 * whole scenario bound every route's count. tests/unit/test_engine_series.c runs the engine and
 * checks that it never creates more than counted here. */
#include <stdio.h>
#include <string.h>

#include "scenario/scn_internal.h"

/* Prometheus samples per histogram series: a bucket per bound, +Inf, _sum and _count. The
 * bound counts are engine/metrics.c's (http and gen_ai durations and tokens: 14; batch: 9). */
#define HIST14_SAMPLES (14 + 1 + 2)
#define HIST9_SAMPLES (9 + 1 + 2)

/* Sizes of exposition lines (name, labels, value) without the names the scenario chooses,
 * fitted to measured /metrics bodies: 124 bytes a line for 100 hosts named h1..h100 x 1024
 * CPUs, 154 and 163 for the built-in inference and shop services. */
#define PROM_HOST_LINE 120  /* + the host name */
#define PROM_ROUTE_LINE 100 /* + 2 x the service name, its namespace and the route */
#define PROM_MODEL_LINE 160

struct part {
    uint64_t series, samples, bytes;
};

/* Distinct status codes any route can return: 200 and every configured error status. */
static int scenario_statuses(const struct scenario *s)
{
    int seen[600] = {0}, n = 1;
    seen[200] = 1;
    for (int i = 0; i < s->nservices; i++)
        for (int j = 0; j < s->services[i].nops; j++) {
            const struct scn_operation *op = &s->services[i].ops[j];
            if (op->error_rate > 0 && op->error_status > 0 && op->error_status < 600 &&
                !seen[op->error_status]++)
                n++;
        }
    for (int i = 0; i < s->nfaults; i++) {
        int st = s->faults[i].error_status;
        if (st > 0 && st < 600 && !seen[st]++)
            n++;
    }
    for (int i = 0; i < s->nstates; i++) { /* any entity may be put in any state */
        const struct scn_effects *fx = &s->states[i].fx;
        int st = fx->error_status > 0 ? fx->error_status : 500;
        if (fx->error_rate > 0 && st < 600 && !seen[st]++)
            n++;
    }
    return n < SCENARIO_ROUTE_STATUSES ? n : SCENARIO_ROUTE_STATUSES;
}

static struct part host_part(const struct scn_host *h)
{
    uint64_t n = (uint64_t)h->cpus * 3 + 2;
    return (struct part){n, n, n * (PROM_HOST_LINE + strlen(h->name))};
}

static struct part service_part(const struct scn_service *sv, int statuses)
{
    struct part p = {0, 0, 0};
    size_t names = 2 * strlen(sv->name) + (sv->namespace_ ? strlen(sv->namespace_) : 0);
    for (int j = 0; j < sv->nops; j++) {
        const struct scn_operation *op = &sv->ops[j];
        if (op->kind == SCN_KIND_CLIENT)
            continue;
        uint64_t samples = 1 + (uint64_t)statuses * (HIST14_SAMPLES + 1);
        p.series += 1 + 2 * (uint64_t)statuses;
        p.samples += samples;
        p.bytes += samples * (PROM_ROUTE_LINE + names + strlen(op->route ? op->route : op->name));
    }
    return p;
}

static struct part model_part(const struct scn_model *m)
{
    struct part p = {4, HIST14_SAMPLES + 1 + HIST9_SAMPLES + 1, 0};
    if (m->tokens_in > 0) {
        p.series += 2;
        p.samples += 2 * HIST14_SAMPLES;
    }
    p.bytes = p.samples * PROM_MODEL_LINE;
    return p;
}

static void consider(struct scenario_series *c, int part, int i, uint64_t n)
{
    if (n > c->worst_series) {
        c->worst_part = part;
        c->worst = i;
        c->worst_series = n;
    }
}

void scenario_series_count(const struct scenario *s, struct scenario_series *c)
{
    int statuses = scenario_statuses(s);
    memset(c, 0, sizeof *c);
    c->worst = -1;
    for (int i = 0; i < s->nhosts; i++) {
        struct part p = host_part(&s->hosts[i]);
        c->hosts += p.series;
        c->samples += p.samples;
        c->prom_bytes += p.bytes;
        consider(c, SCN_PART_HOST, i, p.series);
    }
    for (int i = 0; i < s->nservices; i++) {
        struct part p = service_part(&s->services[i], statuses);
        struct part p200 = service_part(&s->services[i], 1);
        c->services += p.series;
        c->samples += p.samples;
        c->prom_bytes += p.bytes;
        c->initial += p200.series;
        consider(c, SCN_PART_SERVICE, i, p.series);
    }
    for (int i = 0; i < s->nmodels; i++) {
        struct part p = model_part(&s->models[i]);
        c->models += p.series;
        c->samples += p.samples;
        c->prom_bytes += p.bytes;
        consider(c, SCN_PART_MODEL, i, p.series);
    }
    c->total = c->hosts + c->services + c->models;
    c->initial += c->hosts + c->models;
}

/* "30740000" -> "30,740,000". */
static const char *grouped(uint64_t v, char *out, size_t n)
{
    char digits[24];
    int len = snprintf(digits, sizeof digits, "%llu", (unsigned long long)v), k = 0;
    for (int i = 0; i < len && (size_t)k + 2 < n; i++) {
        if (i && (len - i) % 3 == 0)
            out[k++] = ',';
        out[k++] = digits[i];
    }
    out[k] = '\0';
    return out;
}

/* The node to blame: the largest contributor's cpus key (a host) or operations (a service)
 * when written, else the item itself. *key is the key's name, or "". */
static int worst_node(const struct scn_tree *t, const struct scenario_series *c, const char **key)
{
    static const char *const lists[] = {"hosts", "services", "models"};
    static const char *const keys[] = {"cpus", "operations", NULL};
    const char *k = keys[c->worst_part];
    int node = k ? scn__item_node(t, lists[c->worst_part], c->worst, k) : -1;
    *key = node >= 0 ? k : "";
    return node >= 0 ? node : scn__item_node(t, lists[c->worst_part], c->worst, NULL);
}

int scn__check_series(const struct scn_tree *t, const struct scenario *s, uint64_t max,
                      struct scn_error *err)
{
    static const char *const lists[] = {"hosts", "services", "models"};
    static const char *const things[] = {"host", "service", "model"};
    struct scenario_series c;
    char total[32], cap[32], worst[32], h[32], sv[32], m[32];
    const char *key;
    max = max ? max : SCENARIO_MAX_SERIES;
    scenario_series_count(s, &c);
    if (c.total <= max)
        return 0;
    int node = worst_node(t, &c, &key);
    return scn__fail(err, node >= 0 ? t->v[node].line : 0, node >= 0 ? t->v[node].col : 0,
                     "%s[%d]%s%s: the world would have up to %s metric series (hosts %s, "
                     "services %s, models %s), over the limit of %s; the largest part is this "
                     "%s, with %s. Use fewer hosts, cpus or operations, or raise the limit with "
                     "--max-series",
                     lists[c.worst_part], c.worst, *key ? "." : "", key,
                     grouped(c.total, total, sizeof total), grouped(c.hosts, h, sizeof h),
                     grouped(c.services, sv, sizeof sv), grouped(c.models, m, sizeof m),
                     grouped(max, cap, sizeof cap), things[c.worst_part],
                     grouped(c.worst_series, worst, sizeof worst));
}
