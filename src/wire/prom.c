/* Prometheus text exposition 0.0.4 from metric point batches (one scrape's worth).
 *
 * Order and uniqueness, which promtool and Prometheus insist on:
 *   - a family (one Prometheus name) is written once: # HELP, # TYPE, then all its samples,
 *     gathered from every batch and resource; families appear in order of first appearance;
 *   - within a family, series are grouped by resource (first-appearance order) and otherwise
 *     keep the input order;
 *   - a series (family + job + instance + attributes) appears once: when the input holds it
 *     several times (several collection intervals in one scrape), the last point wins.
 *
 * Mapping (OpenTelemetry's Prometheus compatibility rules): name dots and other invalid
 * characters -> '_', unit suffix from the UCUM unit ("s" -> _seconds, "By" -> _bytes,
 * "1" -> _ratio for gauges, "{...}" annotations dropped), monotonic sums are counters and end in
 * _total, non-monotonic sums are gauges. Points whose temporality is delta cannot be exposed
 * as Prometheus series and are left out. Labels: job and instance from the resource, then the
 * point attributes with invalid characters -> '_'; an attribute whose label name would clash
 * with job, instance, le or the reserved __ prefix is left out.
 *
 * Memory: a few arrays proportional to the number of input points (bounded by the batches'
 * capacities), freed before returning. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/wire.h"

#define NAME_MAX_LEN 256

/* ---- names ----------------------------------------------------------------------------- */

static const struct {
    const char *ucum, *prom;
} unit_names[] = {
    {"d", "days"},          {"h", "hours"},         {"min", "minutes"},    {"s", "seconds"},
    {"ms", "milliseconds"}, {"us", "microseconds"}, {"ns", "nanoseconds"}, {"By", "bytes"},
    {"KiBy", "kibibytes"},  {"MiBy", "mebibytes"},  {"GiBy", "gibibytes"}, {"TiBy", "tebibytes"},
    {"KBy", "kilobytes"},   {"MBy", "megabytes"},   {"GBy", "gigabytes"},  {"TBy", "terabytes"},
    {"m", "meters"},        {"V", "volts"},         {"A", "amperes"},      {"J", "joules"},
    {"W", "watts"},         {"g", "grams"},         {"Cel", "celsius"},    {"Hz", "hertz"},
    {"%", "percent"},       {"bit", "bits"},        {"B", "bytes"},
};

static const struct {
    const char *ucum, *prom;
} per_unit_names[] = {
    {"s", "second"}, {"m", "minute"}, {"h", "hour"}, {"d", "day"},
    {"w", "week"},   {"mo", "month"}, {"y", "year"},
};

/* Appends s[0..n) to out (at *len) with invalid name characters -> '_', no "__" runs. */
static int name_append(char *out, size_t cap, size_t *len, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
                 (c >= '0' && c <= '9');
        if (!ok)
            c = '_';
        if (c == '_' && *len > 0 && out[*len - 1] == '_')
            continue;
        if (*len == 0 && c >= '0' && c <= '9') {
            if (*len + 1 >= cap)
                return DIO_ERANGE;
            out[(*len)++] = '_';
        }
        if (*len + 1 >= cap)
            return DIO_ERANGE;
        out[(*len)++] = c;
    }
    out[*len] = 0;
    return 0;
}

static const char *unit_lookup(const char *u, size_t n, int per)
{
    size_t count = per ? sizeof per_unit_names / sizeof *per_unit_names
                       : sizeof unit_names / sizeof *unit_names;
    for (size_t i = 0; i < count; i++) {
        const char *k = per ? per_unit_names[i].ucum : unit_names[i].ucum;
        if (strlen(k) == n && memcmp(k, u, n) == 0)
            return per ? per_unit_names[i].prom : unit_names[i].prom;
    }
    return NULL;
}

/* The unit suffix ("seconds", "bytes_per_second", "ratio", "") for a metric into out. */
static void unit_suffix(const struct rec_metric *m, char *out, size_t cap)
{
    char u[64];
    size_t n = 0, len = 0;
    out[0] = 0;
    /* Drop {annotations}: "{request}" -> "", "{token}/s" -> "/s". */
    for (const char *c = m->unit ? m->unit : ""; *c && n + 1 < sizeof u; c++) {
        if (*c == '{') {
            const char *close = strchr(c, '}');
            if (!close)
                break;
            c = close;
            continue;
        }
        u[n++] = *c;
    }
    u[n] = 0;
    if (n == 1 && u[0] == '1') {
        if (m->type == REC_GAUGE)
            snprintf(out, cap, "ratio");
        return;
    }
    const char *slash = strchr(u, '/');
    size_t main_len = slash ? (size_t)(slash - u) : n;
    if (main_len) {
        const char *p = unit_lookup(u, main_len, 0);
        if (name_append(out, cap, &len, p ? p : u, p ? strlen(p) : main_len))
            len = 0, out[0] = 0;
    }
    if (slash && slash[1]) {
        const char *p = unit_lookup(slash + 1, strlen(slash + 1), 1);
        const char *per = p ? p : slash + 1;
        if (name_append(out, cap, &len, len ? "_per_" : "per_", len ? 5 : 4) ||
            name_append(out, cap, &len, per, strlen(per)))
            out[0] = 0;
    }
}

static int ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

int wire_prom_name(const struct rec_metric *m, char *out, size_t cap)
{
    size_t len = 0;
    char suffix[64];
    if (!m || !m->name || cap == 0)
        return DIO_EINVAL;
    out[0] = 0;
    if (name_append(out, cap, &len, m->name, strlen(m->name)))
        return DIO_ERANGE;
    int counter = m->type == REC_SUM && m->monotonic;
    if (counter && ends_with(out, len, "_total") && len > 6)
        out[len -= 6] = 0; /* re-added after the unit: "x_total" [s] -> "x_seconds_total" */
    unit_suffix(m, suffix, sizeof suffix);
    size_t slen = strlen(suffix);
    /* Don't repeat a unit the name already ends with ("queue.latency_seconds" [s]). */
    if (slen && !(ends_with(out, len, suffix) && (len == slen || out[len - slen - 1] == '_'))) {
        if (name_append(out, cap, &len, "_", 1) || name_append(out, cap, &len, suffix, slen))
            return DIO_ERANGE;
    }
    if (counter && name_append(out, cap, &len, "_total", 6))
        return DIO_ERANGE;
    return len ? 0 : DIO_EINVAL;
}

/* ---- sticky-error writer --------------------------------------------------------------- */

struct pw {
    struct core_buf *b;
    int err;
};

static void put(struct pw *w, const void *s, size_t n)
{
    if (!w->err && core_buf_append(w->b, s, n))
        w->err = DIO_EFULL;
}

static void puts_(struct pw *w, const char *s)
{
    put(w, s, strlen(s));
}

/* Text with \\ and \n escaped (and \" when quoted, for label values); bytes that are not
 * UTF-8 become U+FFFD, since Prometheus rejects invalid UTF-8. */
static void put_escaped(struct pw *w, const char *str, size_t n, int quoted)
{
    const uint8_t *s = (const uint8_t *)str;
    size_t run = 0, i = 0;
    if (n == 0) /* str may be NULL then */
        return;
    while (i < n) {
        uint8_t c = s[i];
        size_t len = c < 0x80 ? 1 : wire__utf8_len(s + i, n - i);
        if (len && c != '\\' && c != '\n' && !(quoted && c == '"')) {
            i += len;
            continue;
        }
        put(w, s + run, i - run);
        if (!len)
            puts_(w, "\xEF\xBF\xBD");
        else if (c == '\n')
            puts_(w, "\\n");
        else if (c == '\\')
            puts_(w, "\\\\");
        else
            puts_(w, "\\\"");
        run = ++i;
    }
    put(w, s + run, n - run);
}

/* A label name: [a-zA-Z_][a-zA-Z0-9_]*, invalid characters -> '_'. */
static size_t label_name(const char *k, size_t n, char *out, size_t cap)
{
    size_t len = 0;
    if (n && k[0] >= '0' && k[0] <= '9' && len + 1 < cap)
        out[len++] = '_';
    for (size_t i = 0; i < n && len + 1 < cap; i++) {
        char c = k[i];
        int ok =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (c >= '0' && c <= '9');
        out[len++] = ok ? c : '_';
    }
    out[len] = 0;
    return len;
}

static int label_reserved(const char *name, size_t len)
{
    return len == 0 || strcmp(name, "job") == 0 || strcmp(name, "instance") == 0 ||
           strcmp(name, "le") == 0 || (len >= 2 && name[0] == '_' && name[1] == '_');
}

/* ---- families, series ------------------------------------------------------------------ */

enum prom_type { PT_COUNTER, PT_GAUGE, PT_HISTOGRAM };
static const char *const prom_type_names[] = {"counter", "gauge", "histogram"};

struct fam {
    const struct rec_metric *m; /* the first descriptor seen (HELP comes from it) */
    int type;
    char name[NAME_MAX_LEN];
};

struct ent {
    const struct rec_batch *b;
    const struct rec_point *pt;
    const struct rec_resource *res;
    uint32_t fam, resord, ord;
    uint64_t hash;
};

/* Open-addressing map from a pointer to a small integer, sized once for the worst case. */
struct pmap {
    const void **keys;
    uint32_t *vals;
    size_t mask;
};

static void pmap_init(struct pmap *m, size_t max_entries)
{
    size_t cap = 16;
    while (cap < 2 * max_entries)
        cap *= 2;
    m->keys = core_calloc(cap, sizeof *m->keys);
    m->vals = core_malloc(cap * sizeof *m->vals);
    m->mask = cap - 1;
}

static void pmap_free(struct pmap *m)
{
    core_free(m->keys);
    core_free(m->vals);
}

/* The value slot for k; *added tells whether k was just inserted (its value then unset). */
static uint32_t *pmap_slot(struct pmap *m, const void *k, int *added)
{
    size_t i = core_mix64((uint64_t)(uintptr_t)k) & m->mask;
    for (; m->keys[i]; i = (i + 1) & m->mask)
        if (m->keys[i] == k)
            return *added = 0, &m->vals[i];
    m->keys[i] = k;
    *added = 1;
    return &m->vals[i];
}

static int prom_type(const struct rec_metric *m)
{
    if (m->type == REC_HISTOGRAM)
        return PT_HISTOGRAM;
    return m->type == REC_SUM && m->monotonic ? PT_COUNTER : PT_GAUGE;
}

static int point_valid(const struct rec_batch *b, const struct rec_point *pt)
{
    const struct rec_metric *m = pt->metric;
    if (!m || m->type > REC_HISTOGRAM || (uint64_t)pt->attr_off + pt->nattrs > b->nattrs)
        return 0;
    return m->type != REC_HISTOGRAM || (uint64_t)pt->bucket_off + m->nbounds + 1 <= b->nbuckets;
}

static uint64_t hash_str(uint64_t h, const char *s)
{
    return core_mix64(h ^ (s ? core_hash64(s, strlen(s)) : 0x5bd1e995));
}

static uint64_t series_hash(const struct ent *e)
{
    uint64_t h = hash_str(core_mix64(e->fam + 1), e->res->job);
    h = hash_str(h, e->res->instance);
    const struct rec_attr *a = wire__attrs(e->b, e->pt->attr_off);
    for (uint32_t i = 0; i < e->pt->nattrs; i++) {
        h = core_mix64(h ^ core_hash64(a[i].key, a[i].key_len));
        uint64_t v = 0;
        if (a[i].type == REC_STR)
            v = core_hash64(a[i].v.s.p, a[i].v.s.len);
        else if (a[i].type == REC_INT)
            v = (uint64_t)a[i].v.i;
        else if (a[i].type == REC_DBL)
            memcpy(&v, &a[i].v.d, sizeof v);
        else
            v = a[i].v.b != 0;
        h = core_mix64(h ^ v ^ ((uint64_t)a[i].type << 56));
    }
    return h;
}

static int str_eq(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static int attr_eq(const struct rec_attr *x, const struct rec_attr *y)
{
    if (x->type != y->type || x->key_len != y->key_len || memcmp(x->key, y->key, x->key_len))
        return 0;
    switch (x->type) {
    case REC_STR:
        return x->v.s.len == y->v.s.len && memcmp(x->v.s.p, y->v.s.p, x->v.s.len) == 0;
    case REC_INT:
        return x->v.i == y->v.i;
    case REC_DBL:
        return memcmp(&x->v.d, &y->v.d, sizeof x->v.d) == 0;
    default:
        return (x->v.b != 0) == (y->v.b != 0);
    }
}

static int series_eq(const struct ent *x, const struct ent *y)
{
    if (x->hash != y->hash || x->fam != y->fam || x->pt->nattrs != y->pt->nattrs ||
        !str_eq(x->res->job, y->res->job) || !str_eq(x->res->instance, y->res->instance))
        return 0;
    const struct rec_attr *a = wire__attrs(x->b, x->pt->attr_off);
    const struct rec_attr *c = wire__attrs(y->b, y->pt->attr_off);
    for (uint32_t i = 0; i < x->pt->nattrs; i++)
        if (!attr_eq(&a[i], &c[i]))
            return 0;
    return 1;
}

static int ent_cmp(const void *pa, const void *pb)
{
    const struct ent *a = pa, *b = pb;
    if (a->fam != b->fam)
        return a->fam < b->fam ? -1 : 1;
    if (a->resord != b->resord)
        return a->resord < b->resord ? -1 : 1;
    return a->ord < b->ord ? -1 : a->ord > b->ord;
}

/* ---- collection ------------------------------------------------------------------------ */

struct scrape {
    struct ent *ents;
    size_t nents;
    struct fam *fams; /* one per distinct Prometheus name */
    uint32_t nfams, fams_cap;
    uint8_t *keep; /* per sorted entry: 1 when it is the series' last point */
};

/* Family index for descriptor m (creating the family), or -1 when m cannot be exposed. */
static int64_t family_of(struct scrape *s, struct pmap *descs, const struct rec_metric *m)
{
    int added;
    uint32_t *v = pmap_slot(descs, m, &added);
    if (!added)
        return *v == UINT32_MAX ? -1 : (int64_t)*v;
    char name[NAME_MAX_LEN];
    uint32_t fam = UINT32_MAX;
    if (wire_prom_name(m, name, sizeof name) == 0) {
        for (fam = 0; fam < s->nfams && strcmp(s->fams[fam].name, name) != 0; fam++)
            ;
        if (fam == s->nfams) {
            if (s->nfams == s->fams_cap) {
                s->fams_cap = s->fams_cap ? 2 * s->fams_cap : 16;
                s->fams = core_realloc(s->fams, s->fams_cap * sizeof *s->fams);
            }
            s->fams[fam].m = m;
            s->fams[fam].type = prom_type(m);
            memcpy(s->fams[fam].name, name, sizeof name);
            s->nfams++;
        } else if (s->fams[fam].type != prom_type(m)) {
            fam = UINT32_MAX; /* same name, different type: cannot share the family */
        }
    }
    *v = fam;
    return fam == UINT32_MAX ? -1 : (int64_t)fam;
}

static int collect(struct scrape *s, const struct rec_batch *const *batches, size_t n)
{
    size_t total = 0;
    for (size_t k = 0; k < n; k++)
        total += batches[k] && batches[k]->signal == REC_METRICS ? batches[k]->n : 0;
    s->ents = core_malloc((total ? total : 1) * sizeof *s->ents);
    struct pmap descs, resources;
    pmap_init(&descs, total);
    pmap_init(&resources, total);
    uint32_t nres = 0;
    int rc = 0;
    for (size_t k = 0; k < n && rc == 0; k++) {
        const struct rec_batch *b = batches[k];
        for (uint32_t i = 0; b && b->signal == REC_METRICS && i < b->n; i++) {
            const struct rec_point *pt = &b->r.points[i];
            if (!point_valid(b, pt) || pt->res >= b->nresources) {
                rc = DIO_EINVAL;
                break;
            }
            if (pt->metric->type != REC_GAUGE && pt->metric->temporality == 1)
                continue; /* delta */
            int64_t fam = family_of(s, &descs, pt->metric);
            if (fam < 0)
                continue;
            struct ent *e = &s->ents[s->nents];
            int added;
            e->b = b, e->pt = pt, e->res = &b->resources[pt->res];
            e->fam = (uint32_t)fam, e->ord = (uint32_t)s->nents;
            uint32_t *ro = pmap_slot(&resources, e->res, &added);
            if (added)
                *ro = nres++;
            e->resord = *ro;
            e->hash = series_hash(e);
            s->nents++;
        }
    }
    pmap_free(&descs);
    pmap_free(&resources);
    return rc;
}

/* Marks, in sorted order, the entries that are the last (highest ord) point of their series. */
static void dedupe(struct scrape *s)
{
    size_t cap = 16;
    while (cap < 2 * s->nents)
        cap *= 2;
    uint32_t *slot = core_malloc(cap * sizeof *slot);
    memset(slot, 0xff, cap * sizeof *slot);
    s->keep = core_calloc(s->nents ? s->nents : 1, 1);
    for (uint32_t k = 0; k < s->nents; k++) {
        size_t i = s->ents[k].hash & (cap - 1);
        while (slot[i] != UINT32_MAX && !series_eq(&s->ents[slot[i]], &s->ents[k]))
            i = (i + 1) & (cap - 1);
        if (slot[i] == UINT32_MAX || s->ents[slot[i]].ord < s->ents[k].ord)
            slot[i] = k;
    }
    for (size_t i = 0; i < cap; i++)
        if (slot[i] != UINT32_MAX)
            s->keep[slot[i]] = 1;
    core_free(slot);
}

/* ---- output ---------------------------------------------------------------------------- */

static void put_value(struct pw *w, const struct rec_point *pt)
{
    char tmp[32];
    if (pt->metric->is_int) {
        if (!w->err && core_buf_put_i64(w->b, pt->value.i))
            w->err = DIO_EFULL;
        return;
    }
    put(w, tmp, wire__fmt_double(tmp, pt->value.d));
}

/* name+suffix{job,instance,attrs[,le]} */
static void put_series_head(struct pw *w, const struct fam *f, const char *suffix,
                            const struct ent *e, const char *le)
{
    char lname[NAME_MAX_LEN];
    const char *sep = "{";
    puts_(w, f->name);
    puts_(w, suffix);
    if (e->res->job && *e->res->job) {
        puts_(w, "{job=\"");
        put_escaped(w, e->res->job, strlen(e->res->job), 1);
        puts_(w, "\"");
        sep = ",";
    }
    if (e->res->instance && *e->res->instance) {
        puts_(w, sep);
        puts_(w, "instance=\"");
        put_escaped(w, e->res->instance, strlen(e->res->instance), 1);
        puts_(w, "\"");
        sep = ",";
    }
    const struct rec_attr *a = wire__attrs(e->b, e->pt->attr_off);
    for (uint32_t i = 0; i < e->pt->nattrs; i++) {
        size_t len = label_name(a[i].key, a[i].key_len, lname, sizeof lname);
        if (label_reserved(lname, len))
            continue;
        char num[32];
        const char *v = num;
        size_t vlen;
        if (a[i].type == REC_STR)
            v = a[i].v.s.p, vlen = a[i].v.s.len;
        else if (a[i].type == REC_INT)
            vlen = (size_t)snprintf(num, sizeof num, "%lld", (long long)a[i].v.i);
        else if (a[i].type == REC_DBL)
            vlen = wire__fmt_double(num, a[i].v.d);
        else
            v = a[i].v.b ? "true" : "false", vlen = strlen(v);
        puts_(w, sep);
        put(w, lname, len);
        puts_(w, "=\"");
        put_escaped(w, v, vlen, 1);
        puts_(w, "\"");
        sep = ",";
    }
    if (le) {
        puts_(w, sep);
        puts_(w, "le=\"");
        puts_(w, le);
        puts_(w, "\"");
        sep = ",";
    }
    if (sep[0] == ',')
        puts_(w, "}");
    puts_(w, " ");
}

static void put_histogram(struct pw *w, const struct fam *f, const struct ent *e)
{
    const struct rec_point *pt = e->pt;
    const struct rec_metric *m = pt->metric;
    const uint64_t *bk = e->b->buckets + pt->bucket_off;
    uint64_t cum = 0;
    char le[32];
    for (uint32_t i = 0; i < m->nbounds; i++) {
        cum += bk[i];
        wire__fmt_double(le, m->bounds[i]);
        put_series_head(w, f, "_bucket", e, le);
        if (!w->err && core_buf_put_u64(w->b, cum))
            w->err = DIO_EFULL;
        puts_(w, "\n");
    }
    put_series_head(w, f, "_bucket", e, "+Inf");
    if (!w->err && core_buf_put_u64(w->b, pt->count))
        w->err = DIO_EFULL;
    puts_(w, "\n");
    put_series_head(w, f, "_sum", e, NULL);
    put(w, le, wire__fmt_double(le, pt->sum));
    puts_(w, "\n");
    put_series_head(w, f, "_count", e, NULL);
    if (!w->err && core_buf_put_u64(w->b, pt->count))
        w->err = DIO_EFULL;
    puts_(w, "\n");
}

static void put_family_head(struct pw *w, const struct fam *f)
{
    const char *help = f->m->description && *f->m->description ? f->m->description : f->m->name;
    puts_(w, "# HELP ");
    puts_(w, f->name);
    puts_(w, " ");
    put_escaped(w, help, strlen(help), 0);
    puts_(w, "\n# TYPE ");
    puts_(w, f->name);
    puts_(w, " ");
    puts_(w, prom_type_names[f->type]);
    puts_(w, "\n");
}

int wire_prom_encode(struct core_buf *out, const struct rec_batch *const *batches, size_t n)
{
    struct scrape s = {0};
    struct pw w = {.b = out};
    int rc = collect(&s, batches, n);
    if (rc == 0) {
        qsort(s.ents, s.nents, sizeof *s.ents, ent_cmp);
        dedupe(&s);
        uint32_t fam = UINT32_MAX;
        for (size_t k = 0; k < s.nents && !w.err; k++) {
            const struct ent *e = &s.ents[k];
            const struct fam *f = &s.fams[e->fam];
            if (!s.keep[k])
                continue;
            if (e->fam != fam)
                put_family_head(&w, f);
            fam = e->fam;
            if (f->type == PT_HISTOGRAM) {
                put_histogram(&w, f, e);
                continue;
            }
            put_series_head(&w, f, "", e, NULL);
            put_value(&w, e->pt);
            puts_(&w, "\n");
        }
        rc = w.err;
    }
    core_free(s.ents);
    core_free(s.fams);
    core_free(s.keep);
    return rc;
}

/* ---- shared with the OpenMetrics writer (openmetrics.c) ---------------------------------- */

size_t wire__prom_label(const char *key, size_t n, char *out, size_t cap)
{
    size_t len = label_name(key, n, out, cap);
    return label_reserved(out, len) ? 0 : len;
}

void wire__prom_unit(const struct rec_metric *m, char *out, size_t cap)
{
    unit_suffix(m, out, cap);
}
