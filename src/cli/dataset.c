/* --dataset glue: entity table, per-tick states and fault labels (see dataset.h). */
#include <string.h>

#include "cli/dataset.h"

struct fault_span { /* the latest label of one fault: when it covered its target */
    uint64_t start, end;
    int seen;
};

struct cli_dataset {
    const struct world *w;
    struct export_output *out;
    uint64_t start_ns, prev_t; /* run start; the previous tick (unix ns) */
    struct fault_span *faults; /* per world fault */
    int *fault_ent;            /* per world fault: the entity it targets, -1 none */
    struct export_dataset_state *st;
    struct core_buf names; /* the ';'-joined fault names of this tick */
    size_t *name_off;      /* per entity: offset into names, or SIZE_MAX for none */
};

static const char *const kind_names[] = {"host", "service", "model"};

/* The profile column. A host's profile as the scenario names it; entities without one
 * (services, models) get their kind. Kept alone so that a profile the scenario format gives
 * other entities later is a line here. */
static const char *entity_profile(const struct world *w, const struct world_entity *en)
{
    if (en->kind == SCN_ENT_HOST && w->hosts[en->idx].scn->profile)
        return w->hosts[en->idx].scn->profile;
    return kind_names[en->kind];
}

static int fault_entity(const struct world *w, const struct scn_fault *f)
{
    int kind = f->target_kind == SCN_TARGET_MODEL ? SCN_ENT_MODEL
               : f->target_kind == SCN_TARGET_OPERATION || f->target_kind == SCN_TARGET_SERVICE
                   ? SCN_ENT_SERVICE
                   : SCN_ENT_HOST;
    return f->target_idx >= 0 ? world__entity_of(w, kind, f->target_idx) : -1;
}

int cli_dataset_formats(const char *s)
{
    return !strcmp(s, "csv")       ? EXPORT_DATASET_CSV
           : !strcmp(s, "parquet") ? EXPORT_DATASET_PARQUET
           : !strcmp(s, "both")    ? EXPORT_DATASET_CSV | EXPORT_DATASET_PARQUET
                                   : -1;
}

struct cli_dataset *cli_dataset_new(const struct world *w, const char *dir, int formats,
                                    uint64_t start_ns, struct export_output **out, char *err,
                                    size_t errlen)
{
    size_t n = (size_t)w->nents;
    struct export_dataset_entity *ents = core_calloc(n ? n : 1, sizeof *ents);
    for (size_t i = 0; i < n; i++) {
        const struct world_entity *en = &w->ents[i];
        ents[i].name = en->name;
        ents[i].kind = kind_names[en->kind];
        ents[i].profile = entity_profile(w, en);
        ents[i].model = en->kind == SCN_ENT_MODEL;
        ents[i].res = en->kind == SCN_ENT_HOST      ? w->hosts[en->idx].res
                      : en->kind == SCN_ENT_SERVICE ? w->svcs[en->idx].res
                                                    : -1;
    }
    int nbiz;
    const struct world_bmetric *bm = world_metrics(w, &nbiz);
    struct export_dataset_biz *biz = core_calloc(nbiz ? (size_t)nbiz : 1, sizeof *biz);
    for (int i = 0; i < nbiz; i++)
        biz[i] = (struct export_dataset_biz){bm[i].def.name,
                                             bm[i].def.unit,
                                             bm[i].key,
                                             bm[i].def.type,
                                             (const char *const *)bm[i].values,
                                             bm[i].nvalues};
    struct export_dataset_cfg cfg = {dir, formats, ents, n, start_ns, 0, biz, (size_t)nbiz};
    *out = export_dataset_new(&cfg, err, errlen);
    core_free(ents);
    core_free(biz);
    if (!*out)
        return NULL;
    struct cli_dataset *d = core_calloc(1, sizeof *d);
    d->w = w;
    d->out = *out;
    d->start_ns = d->prev_t = start_ns;
    d->faults = core_calloc((size_t)(w->nfaults ? w->nfaults : 1), sizeof *d->faults);
    d->fault_ent = core_calloc((size_t)(w->nfaults ? w->nfaults : 1), sizeof *d->fault_ent);
    for (int f = 0; f < w->nfaults; f++)
        d->fault_ent[f] = fault_entity(w, w->faults[f].scn);
    d->st = core_calloc(n ? n : 1, sizeof *d->st);
    d->name_off = core_calloc(n ? n : 1, sizeof *d->name_off);
    core_buf_init(&d->names, (size_t)64 << 20);
    return d;
}

void cli_dataset_label(struct cli_dataset *d, const struct world_label *l)
{
    if (!d || !l->fault)
        return; /* state changes are the state column */
    struct fault_span *s = &d->faults[l->fault - d->w->faults];
    if (!s->seen || l->start_ns >= s->start || l->open) {
        s->start = l->start_ns;
        s->end = l->open ? UINT64_MAX : l->end_ns;
        s->seen = 1;
    } else if (l->end_ns > s->end) {
        s->end = l->end_ns;
    }
}

/* 0..1 through the transition into the entity's state at offset t; 1 when settled. */
static double progress(const struct world_entity *en, uint64_t t)
{
    if (en->t1 <= en->t0 || t >= en->t1)
        return 1;
    return t <= en->t0 ? 0 : (double)(t - en->t0) / (double)(en->t1 - en->t0);
}

/* Appends the names of the faults that covered part of (prev, t] to each target's list. */
static void collect_faults(struct cli_dataset *d, uint64_t t)
{
    core_buf_reset(&d->names);
    for (int i = 0; i < d->w->nents; i++)
        d->name_off[i] = SIZE_MAX;
    for (int e = 0; e < d->w->nents; e++) {
        size_t at = d->names.len;
        for (int f = 0; f < d->w->nfaults; f++) {
            const struct fault_span *s = &d->faults[f];
            if (d->fault_ent[f] != e || !s->seen || s->start > t || s->end <= d->prev_t)
                continue;
            if (d->names.len > at)
                core_buf_putc(&d->names, ';');
            core_buf_puts(&d->names, d->w->faults[f].scn->name);
        }
        if (d->names.len > at && !core_buf_putc(&d->names, '\0'))
            d->name_off[e] = at;
    }
}

void cli_dataset_tick(struct cli_dataset *d, const struct rec_batch *points)
{
    if (!d || !points->n)
        return;
    uint64_t t = points->r.points[0].time_ns, off = t - d->start_ns;
    const struct world *w = d->w;
    collect_faults(d, t);
    for (int i = 0; i < w->nents; i++) {
        const struct world_entity *en = &w->ents[i];
        d->st[i].state = w->scn->states[en->state].name;
        d->st[i].progress = progress(en, off);
        d->st[i].faults =
            d->name_off[i] == SIZE_MAX ? "" : (const char *)d->names.p + d->name_off[i];
    }
    export_dataset_annotate(d->out, t, d->st);
    d->prev_t = t;
}

void cli_dataset_free(struct cli_dataset *d)
{
    if (!d)
        return;
    core_free(d->faults);
    core_free(d->fault_ent);
    core_free(d->st);
    core_free(d->name_off);
    core_buf_free(&d->names);
    core_free(d);
}
