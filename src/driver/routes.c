/* driver: request templates from a scenario — its HTTP entry points, weighted by the traffic
 * the scenario sends them, so `load --scenario shop` hits the shop the way its simulated users
 * do (and `serve shop` answers on the same routes). */
#include "driver/internal.h"
#include "world/world.h"

/* The slot for entry (svc, op), created when it is an HTTP route and there is room. */
static struct driver_route *slot(const struct scenario *s, int svc, int op,
                                 struct driver_route *out, int *n, int max)
{
    const struct scn_operation *o = &s->services[svc].ops[op];
    if (!o->method || !o->route)
        return NULL;
    for (int i = 0; i < *n; i++)
        if (out[i].method == o->method && out[i].path == o->route)
            return &out[i];
    if (*n == max)
        return NULL;
    out[*n] = (struct driver_route){o->method, o->route, 0};
    return &out[(*n)++];
}

int driver_routes_from_scenario(const struct scenario *s, struct driver_route *out, int max,
                                double *total)
{
    int n = 0;
    *total = 0;
    for (int i = 0; i < s->nservices; i++)
        for (int j = 0; j < s->services[i].nops; j++) {
            struct driver_route *r;
            if (s->services[i].ops[j].rate > 0 && (r = slot(s, i, j, out, &n, max)))
                r->weight += s->services[i].ops[j].rate;
        }
    for (int i = 0; i < s->nmodels; i++) {
        const struct scn_model *m = &s->models[i];
        struct driver_route *r;
        if (m->rate > 0 && (r = slot(s, m->entry_svc, m->entry_op, out, &n, max)))
            r->weight += m->rate;
    }
    for (int i = 0; i < n; i++)
        *total += out[i].weight;
    return n;
}
