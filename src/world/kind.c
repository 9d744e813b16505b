/* Kinds of world: the table the scenario's `kind:` picks from, and the public functions that
 * call through a world's kind (world.h, "kinds of world"). Adding a kind is a new file with a
 * struct world_kind, one line in `kinds` below and one in scenario/decode.c's list of names
 * (test_world_kind checks the two agree). The indirect call costs one load per call: the
 * engine makes a few per event, next to the hundreds of instructions an event takes. */
#include <string.h>

#include "world/world.h"

static const struct world_kind *const kinds[] = {&world__kind_services, NULL};

const struct world_kind *world_kind_find(const char *name)
{
    if (!name)
        return kinds[0];
    for (int i = 0; kinds[i]; i++)
        if (!strcmp(kinds[i]->name, name))
            return kinds[i];
    return NULL;
}

void world_advance(struct world *w, uint64_t t, const struct world_out *out)
{
    w->kind->advance(w, t, out);
}

uint64_t world_next_due(const struct world *w)
{
    return w->kind->next_due(w);
}

void world_finish(struct world *w, uint64_t t, const struct world_out *out)
{
    w->kind->finish(w, t, out);
}

uint64_t world_plan_request(const struct world *w, const struct world_plan_env *env,
                            struct world_plan *p, int svc, int op, uint64_t t)
{
    return w->kind->plan_request(w, env, p, svc, op, t);
}

size_t world_max_spans(const struct world *w, int svc, int op)
{
    return w->kind->max_spans(w, svc, op);
}

void world_sample_metrics(struct world *w, uint64_t off, uint64_t unix_ns, double interval_s,
                          const struct world_msink *sink)
{
    if (w->kind->sample_metrics)
        w->kind->sample_metrics(w, off, unix_ns, interval_s, sink);
}
