/* Metric series: how many a world built from a scenario can have, and the cap on them.
 *
 * Almost all of a run's memory that the scenario decides is per metric series: the engine
 * keeps one struct per series (with histogram buckets), every metric tick copies each series
 * into a batch, and /metrics renders each one as text. Nothing else grows with the input by
 * more than a few bytes per entity, so capping the series caps what a scenario can make a run
 * allocate. The count mirrors engine/metrics.c, which is the layout to keep in step with:
 *
 *   per host                  scenario_host_series: world/host.c's layout (docs/metrics.md)
 *   per non-client operation  1 (http.server.active_requests)
 *                             + 2 per status code it returns (request duration histogram and
 *                             request counter); the engine creates the 200 pair at start and
 *                             one per other status code on first use, at most
 *                             SCENARIO_ROUTE_STATUSES per route; all of it per instance
 *   per model                 duration, queue depth, batch size, GPU utilisation
 *                             + input and output token histograms when tokens_in is set
 *   per host, service, model  1 per state (diorama.state: 1 for the state it is in)
 *   per fault                 1 (diorama.fault.active)
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
    for (int i = 0; i < s->nfaults; i++)
        for (int v = 0; v < s->faults[i].nvariants; v++) {
            const struct scn_fault_fx *fx = &s->faults[i].variants[v];
            int st = fx->error_status > 0 ? fx->error_status : fx->error_rate > 0 ? 500 : 0;
            if (st > 0 && st < 600 && !seen[st]++)
                n++;
            if (fx->down && !seen[503]++) /* a call to a service that is down */
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

/* world/host.c's layout: per CPU 5 modes x (system.cpu.time, system.cpu.utilization); 3 load
 * averages; memory usage and utilisation x 4 states; per disk io, operations (read, write)
 * and filesystem usage (used, free); network io, errors, packets x 2 directions; processes x 3
 * statuses; per GPU utilisation, memory used, temperature, power. */
uint64_t scenario_host_series(const struct scn_host *h)
{
    const struct scn_profile *p = scenario_profile(h->profile_id);
    uint64_t disks = p ? (uint64_t)p->disks : 1;
    return (uint64_t)h->cpus * 10 + 3 + 8 + disks * 6 + 6 + 3 + (uint64_t)h->gpus * 4;
}

static struct part host_part(const struct scn_host *h, int nstates)
{
    uint64_t n = scenario_host_series(h) + (uint64_t)nstates;
    return (struct part){n, n, n * (PROM_HOST_LINE + strlen(h->name))};
}

/* One instance's series (every instance has its own). */
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

static struct part model_part(const struct scn_model *m, int nstates)
{
    struct part p = {4 + (uint64_t)nstates, HIST14_SAMPLES + 1 + HIST9_SAMPLES + 1 + nstates, 0};
    if (m->tokens_in > 0) {
        p.series += 2;
        p.samples += 2 * HIST14_SAMPLES;
    }
    p.bytes = p.samples * PROM_MODEL_LINE;
    return p;
}

/* Contributors are YAML list items (a counted item is all its entities, which are adjacent):
 * *run sums the item's series so far. */
static void consider(struct scenario_series *c, int part, int item, int prev_item, uint64_t n,
                     uint64_t *run)
{
    *run = item == prev_item ? *run + n : n;
    if (*run > c->worst_series) {
        c->worst_part = part;
        c->worst = item;
        c->worst_series = *run;
    }
}

static void add_services(const struct scenario *s, int statuses, struct scenario_series *c)
{
    uint64_t run = 0;
    for (int i = 0; i < s->nservices; i++) {
        const struct scn_service *sv = &s->services[i];
        uint64_t ni = (uint64_t)(sv->instances > 0 ? sv->instances : 1);
        struct part p = service_part(sv, statuses);
        struct part p200 = service_part(sv, 1);
        p.series = p.series * ni + (uint64_t)s->nstates;
        c->services += p.series;
        c->samples += p.samples * ni + (uint64_t)s->nstates;
        c->prom_bytes += p.bytes * ni;
        c->initial += p200.series * ni + (uint64_t)s->nstates;
        consider(c, SCN_PART_SERVICE, sv->item, i ? s->services[i - 1].item : -1, p.series, &run);
    }
}

void scenario_series_count(const struct scenario *s, struct scenario_series *c)
{
    int statuses = scenario_statuses(s);
    uint64_t run = 0;
    memset(c, 0, sizeof *c);
    c->worst = -1;
    for (int i = 0; i < s->nhosts; i++) {
        struct part p = host_part(&s->hosts[i], s->nstates);
        c->hosts += p.series;
        c->samples += p.samples;
        c->prom_bytes += p.bytes;
        consider(c, SCN_PART_HOST, s->hosts[i].item, i ? s->hosts[i - 1].item : -1, p.series, &run);
    }
    add_services(s, statuses, c);
    for (int i = 0; i < s->nmodels; i++) {
        struct part p = model_part(&s->models[i], s->nstates);
        c->models += p.series;
        c->samples += p.samples;
        c->prom_bytes += p.bytes;
        consider(c, SCN_PART_MODEL, i, -1, p.series, &run);
    }
    uint64_t biz = 0; /* business metrics: a series per value of `by` (one without) */
    for (int i = 0; i < s->nbusiness; i++) {
        const struct scn_biz *b = &s->business[i];
        uint64_t n = b->nvalues ? (uint64_t)b->nvalues : 1;
        biz += n;
        c->samples += n * (b->type == SCN_BIZ_HISTOGRAM ? (uint64_t)b->nbounds + 3 : 1);
    }
    c->total = c->hosts + c->services + c->models + (uint64_t)s->nfaults + biz; /* fault.active */
    c->initial += c->hosts + c->models + (uint64_t)s->nfaults + biz;
    c->samples += (uint64_t)s->nfaults;
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
    int item = scn__item_node(t, lists[c.worst_part], c.worst, NULL);
    const char *thing = scn__map_get(t, item, "count") >= 0 ? "counted item" : things[c.worst_part];
    return scn__fail(err, node >= 0 ? t->v[node].line : 0, node >= 0 ? t->v[node].col : 0,
                     "%s[%d]%s%s: the world would have up to %s metric series (hosts %s, "
                     "services %s, models %s), over the limit of %s; the largest part is this "
                     "%s, with %s. Use fewer hosts, cpus or operations, or raise the limit with "
                     "--max-series",
                     lists[c.worst_part], c.worst, *key ? "." : "", key,
                     grouped(c.total, total, sizeof total), grouped(c.hosts, h, sizeof h),
                     grouped(c.services, sv, sizeof sv), grouped(c.models, m, sizeof m),
                     grouped(max, cap, sizeof cap), thing,
                     grouped(c.worst_series, worst, sizeof worst));
}
