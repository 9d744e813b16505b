/* Prometheus remote write encoder: metric points -> a 1.0 WriteRequest or a 2.0 Request,
 * snappy block-compressed.
 *
 * A request is built in a version-neutral form first (struct wire_rw_req), so that the same
 * samples can be encoded as 2.0 and, when a receiver answers 415, again as 1.0 without the
 * batches they came from (those went back to the pool long ago). Layout:
 *
 *   ents  one per "point series" (descriptor + job + instance + attributes): its sorted labels
 *         (copied into strs, so the batch may be reused), and a chain of points in arrival
 *         order; several points of one series in one request share an entry, so the labels
 *         are written once per series and request, not once per sample
 *   pts   time, start time and where the point's values are in vals
 *   vals  gauge/sum: 1 value; histogram: nbounds+1 cumulative buckets, sum, count
 *   tab   open-addressing index of ents by label hash, cleared per request
 *   fams  per descriptor, kept for the whole run: Prometheus names with their suffixes, le
 *         strings, metadata (descriptors are world-owned and outlive the run's requests)
 *
 * Mapping (the same as /metrics, docs/remote-write.md): Prometheus name from wire_prom_name,
 * job and instance from the resource, attributes as labels (invalid name characters -> '_';
 * job, instance, le and __* attributes left out; empty values left out, as the spec wants);
 * histograms as classic _bucket{le} (cumulative, +Inf = count), _sum and _count series.
 * Points with delta temporality cannot be written (Prometheus series are cumulative): add
 * returns 0 samples for them and the caller counts them.
 *
 * Memory: every array is bounded by max_samples (each point adds at least one sample) and
 * reused across requests. */
#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/wire.h"

#define RW_MAX_LABELS 64 /* job, instance and up to 62 attributes per series */
#define RW_NAME_MAX 256

enum { K_PLAIN, K_BUCKET, K_SUM, K_COUNT, K_N };
static const char *const kind_suffix[K_N] = {"", "_bucket", "_sum", "_count"};
/* io.prometheus.write.v2.Metadata.MetricType */
enum { MT_COUNTER = 1, MT_GAUGE = 2, MT_HISTOGRAM = 3 };

struct rw_str {
    uint32_t off, len; /* into strs */
};

struct rw_lab {
    struct rw_str n, v;
};

/* An attribute key's label name, cached by the key's address (keys are world-owned and live
 * for the run, record.h), so sanitising and the reserved-name check happen once per key. */
struct rw_key {
    const char *key; /* NULL: empty slot */
    uint32_t klen, nlen;
    int reserved;
    char *name;
    uint64_t hash; /* of name */
};

struct rw_fam {
    const struct rec_metric *m;
    int ok;   /* 0: not writable (delta temporality, or no valid name) */
    int type; /* MT_* */
    char *name[K_N];
    uint32_t nlen[K_N];
    char **le;    /* nbounds + 1 strings, the last "+Inf" */
    uint32_t nle; /* their count: m may be gone when the request is freed (engine first) */
    char *help, *unit;
    uint32_t sym_gen;       /* v2: request generation the refs below belong to */
    uint32_t name_ref[K_N]; /* v2 symbol refs */
    uint32_t *le_ref;
    uint32_t help_ref, unit_ref;
};

struct rw_ent {
    uint32_t fam;
    uint32_t lab_off, nlab; /* sorted, into labs */
    uint32_t name_pos;      /* labels before "__name__" in sort order */
    uint32_t le_pos;        /* labels before "le" */
    uint32_t first, last;   /* chain of pts */
    uint64_t hash;          /* of the labels (without __name__ and le) */
    uint32_t ref_off;       /* v2: 2*nlab symbol refs in refs */
};

struct rw_pt {
    int64_t t_ms, start_ms;
    uint32_t val_off, next;
};

struct wire_rw_req {
    uint32_t max_samples;
    struct rw_fam *fams;
    uint32_t nfams, fams_cap;
    struct rw_ent *ents;
    uint32_t nents, ents_cap;
    struct rw_pt *pts;
    uint32_t npts, pts_cap;
    double *vals;
    uint32_t nvals, vals_cap;
    struct rw_lab *labs;
    uint32_t nlabs, labs_cap;
    char *strs;
    uint32_t nstrs, strs_cap;
    uint32_t *tab; /* ent index + 1; 0 = empty */
    uint32_t tab_mask;
    uint64_t samples, series;
    /* v2 symbol table (rebuilt per encode) */
    uint32_t *refs, refs_cap;
    uint32_t *sym_tab; /* symbol index + 1 */
    uint32_t sym_mask;
    const char **sym_p;
    uint32_t *sym_len, nsym, sym_cap;
    uint32_t sym_gen;
    struct rw_key *keys;
    uint32_t keys_mask, nkeys;
    /* scratch for one point's labels */
    struct {
        const char *n, *v;
        uint32_t nlen, vlen;
        uint64_t nhash;
    } tmp[RW_MAX_LABELS];
    char tmp_nums[RW_MAX_LABELS][32];
    struct core_buf base; /* 1.0: one entry's labels, encoded once for all its series */
    struct core_buf utf8; /* sanitized values of the point being added */
    struct core_buf pb;   /* protobuf before snappy */
};

/* ---- small helpers ------------------------------------------------------------------------ */

static void *grow(void *p, uint32_t *cap, uint32_t need, size_t size)
{
    if (need <= *cap)
        return p;
    uint32_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    *cap = c;
    return core_realloc(p, (size_t)c * size);
}

static struct rw_str put_str(struct wire_rw_req *r, const char *s, uint32_t n)
{
    r->strs = grow(r->strs, &r->strs_cap, r->nstrs + n + 1, 1);
    struct rw_str out = {r->nstrs, n};
    memcpy(r->strs + r->nstrs, s, n);
    r->strs[r->nstrs + n] = 0;
    r->nstrs += n + 1;
    return out;
}

static const char *str_at(const struct wire_rw_req *r, struct rw_str s)
{
    return r->strs + s.off;
}

static char *concat(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    char *s = core_malloc(na + nb + 1);
    memcpy(s, a, na);
    memcpy(s + na, b, nb + 1);
    return s;
}

/* [a-zA-Z_][a-zA-Z0-9_]*, invalid characters -> '_' (as /metrics does). */
static uint32_t label_name(const char *k, size_t n, char *out)
{
    uint32_t len = 0;
    if (n && k[0] >= '0' && k[0] <= '9')
        out[len++] = '_';
    for (size_t i = 0; i < n && len + 1 < RW_NAME_MAX; i++) {
        char c = k[i];
        int ok =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (c >= '0' && c <= '9');
        out[len++] = ok ? c : '_';
    }
    out[len] = 0;
    return len;
}

static int label_reserved(const char *name, uint32_t len)
{
    return len == 0 || !strcmp(name, "job") || !strcmp(name, "instance") || !strcmp(name, "le") ||
           (len >= 2 && name[0] == '_' && name[1] == '_');
}

/* The metadata unit: the Prometheus word for common UCUM units, else the unit without its
 * {annotations}. */
static char *unit_of(const struct rec_metric *m)
{
    static const char *const map[][2] = {{"s", "seconds"}, {"ms", "milliseconds"},
                                         {"By", "bytes"},  {"1", "ratio"},
                                         {"%", "percent"}, {"Cel", "celsius"}};
    const char *u = m->unit ? m->unit : "";
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (!strcmp(u, map[i][0]))
            return core_strdup(map[i][1]);
    char out[64];
    size_t k = 0;
    for (; *u && k + 1 < sizeof out; u++) {
        if (*u == '{') {
            const char *close = strchr(u, '}');
            if (!close)
                break;
            u = close;
            continue;
        }
        out[k++] = *u;
    }
    out[k] = 0;
    return core_strdup(out);
}

/* ---- descriptors -------------------------------------------------------------------------- */

static void fam_fill(struct rw_fam *f, const struct rec_metric *m)
{
    char name[RW_NAME_MAX];
    memset(f, 0, sizeof *f);
    f->m = m;
    f->type = m->type == REC_HISTOGRAM             ? MT_HISTOGRAM
              : m->type == REC_SUM && m->monotonic ? MT_COUNTER
                                                   : MT_GAUGE;
    if ((m->type != REC_GAUGE && m->temporality == 1) || wire_prom_name(m, name, sizeof name))
        return;
    f->ok = 1;
    for (int k = 0; k < K_N; k++) {
        f->name[k] = concat(name, kind_suffix[k]);
        f->nlen[k] = (uint32_t)strlen(f->name[k]);
    }
    if (m->type == REC_HISTOGRAM) {
        f->nle = m->nbounds + 1;
        f->le = core_calloc(f->nle, sizeof *f->le);
        f->le_ref = core_calloc(m->nbounds + 1, sizeof *f->le_ref);
        char tmp[32];
        for (uint32_t i = 0; i < m->nbounds; i++) {
            wire__fmt_double(tmp, m->bounds[i]);
            f->le[i] = core_strdup(tmp);
        }
        f->le[m->nbounds] = core_strdup("+Inf");
    }
    f->help = core_strdup(m->description && *m->description ? m->description : m->name);
    f->unit = unit_of(m);
}

static void fam_free(struct rw_fam *f)
{
    for (int k = 0; k < K_N; k++)
        core_free(f->name[k]);
    for (uint32_t i = 0; f->le && i < f->nle; i++)
        core_free(f->le[i]);
    core_free(f->le);
    core_free(f->le_ref);
    core_free(f->help);
    core_free(f->unit);
}

static void keys_grow(struct wire_rw_req *r)
{
    uint32_t cap = r->keys ? 2 * (r->keys_mask + 1) : 64;
    struct rw_key *t = core_calloc(cap, sizeof *t);
    for (uint32_t i = 0; r->keys && i <= r->keys_mask; i++) {
        if (!r->keys[i].key)
            continue;
        size_t j = core_mix64((uint64_t)(uintptr_t)r->keys[i].key) & (cap - 1);
        while (t[j].key)
            j = (j + 1) & (cap - 1);
        t[j] = r->keys[i];
    }
    core_free(r->keys);
    r->keys = t;
    r->keys_mask = cap - 1;
}

static const struct rw_key *key_of(struct wire_rw_req *r, const char *key, uint32_t klen)
{
    if (!r->keys || 2 * (r->nkeys + 1) > r->keys_mask + 1)
        keys_grow(r);
    size_t i = core_mix64((uint64_t)(uintptr_t)key) & r->keys_mask;
    for (; r->keys[i].key; i = (i + 1) & r->keys_mask)
        if (r->keys[i].key == key && r->keys[i].klen == klen)
            return &r->keys[i];
    char name[RW_NAME_MAX];
    struct rw_key *k = &r->keys[i];
    k->key = key, k->klen = klen;
    k->nlen = label_name(key, klen, name);
    k->reserved = label_reserved(name, k->nlen);
    k->name = core_strdup(name);
    k->hash = core_hash64(name, k->nlen);
    r->nkeys++;
    return k;
}

/* Descriptors are few (tens): a linear scan from the most recent one is enough. */
static uint32_t fam_of(struct wire_rw_req *r, const struct rec_metric *m)
{
    for (uint32_t i = r->nfams; i-- > 0;)
        if (r->fams[i].m == m)
            return i;
    r->fams = grow(r->fams, &r->fams_cap, r->nfams + 1, sizeof *r->fams);
    fam_fill(&r->fams[r->nfams], m);
    return r->nfams++;
}

/* ---- building ----------------------------------------------------------------------------- */

struct wire_rw_req *wire_rw_req_new(uint32_t max_samples)
{
    struct wire_rw_req *r = core_calloc(1, sizeof *r);
    r->max_samples = max_samples ? max_samples : WIRE_RW_DEFAULT_SAMPLES;
    uint32_t cap = 16;
    while (cap < 2 * (r->max_samples + 1))
        cap *= 2;
    r->tab = core_calloc(cap, sizeof *r->tab);
    r->tab_mask = cap - 1;
    core_buf_init(&r->utf8, 1 << 20);
    core_buf_init(&r->pb, (size_t)256 << 20);
    core_buf_init(&r->base, (size_t)64 << 20);
    return r;
}

void wire_rw_req_reset(struct wire_rw_req *r)
{
    memset(r->tab, 0, ((size_t)r->tab_mask + 1) * sizeof *r->tab);
    r->nents = r->npts = r->nvals = r->nlabs = r->nstrs = 0;
    r->samples = r->series = 0;
}

void wire_rw_req_free(struct wire_rw_req *r)
{
    if (!r)
        return;
    for (uint32_t i = 0; i < r->nfams; i++)
        fam_free(&r->fams[i]);
    core_free(r->fams);
    for (uint32_t i = 0; r->keys && i <= r->keys_mask; i++)
        core_free(r->keys[i].name);
    core_free(r->keys);
    core_buf_free(&r->base);
    core_free(r->ents);
    core_free(r->pts);
    core_free(r->vals);
    core_free(r->labs);
    core_free(r->strs);
    core_free(r->tab);
    core_free(r->refs);
    core_free(r->sym_tab);
    core_free(r->sym_p);
    core_free(r->sym_len);
    core_buf_free(&r->utf8);
    core_buf_free(&r->pb);
    core_free(r);
}

uint64_t wire_rw_req_samples(const struct wire_rw_req *r)
{
    return r->samples;
}

uint64_t wire_rw_req_series(const struct wire_rw_req *r)
{
    return r->series;
}

int wire_rw_req_full(const struct wire_rw_req *r)
{
    return r->samples >= r->max_samples;
}

static int point_ok(const struct rec_batch *b, const struct rec_point *pt)
{
    const struct rec_metric *m = pt->metric;
    if (!m || m->type > REC_HISTOGRAM || pt->res >= b->nresources ||
        pt->nattrs > RW_MAX_LABELS - 2 || (uint64_t)pt->attr_off + pt->nattrs > b->nattrs)
        return 0;
    return m->type != REC_HISTOGRAM || (uint64_t)pt->bucket_off + m->nbounds + 1 <= b->nbuckets;
}

static void tmp_add(struct wire_rw_req *r, uint32_t *n, const char *name, uint32_t nlen,
                    uint64_t nhash, const char *v, uint32_t vlen)
{
    if (!vlen)
        return; /* the spec: no empty label values */
    for (uint32_t i = 0; i < *n; i++)
        if (r->tmp[i].nlen == nlen && !memcmp(r->tmp[i].n, name, nlen))
            return; /* two attributes that map to one label name: the first wins */
    if (wire__utf8_sanitized_len(v, vlen) != vlen) { /* Prometheus wants valid UTF-8 */
        size_t at = r->utf8.len, need = wire__utf8_sanitized_len(v, vlen);
        if (at + need > r->utf8.cap)
            return; /* over 64 KiB of repaired values in one point: growing would move the
                     * ones already pointed to, so this label is left out */
        wire__utf8_copy_sanitized(r->utf8.p + at, v, vlen);
        r->utf8.len += need;
        v = (const char *)r->utf8.p + at; /* reserved up front: no move until the next point */
        vlen = (uint32_t)need;
    }
    r->tmp[*n].n = name, r->tmp[*n].nlen = nlen, r->tmp[*n].nhash = nhash;
    r->tmp[*n].v = v, r->tmp[*n].vlen = vlen;
    (*n)++;
}

static const char *attr_value(const struct rec_attr *a, char *num, uint32_t *len)
{
    switch (a->type) {
    case REC_STR:
        *len = a->v.s.len;
        return a->v.s.p;
    case REC_INT:
        *len = (uint32_t)snprintf(num, 32, "%lld", (long long)a->v.i);
        return num;
    case REC_DBL:
        *len = (uint32_t)wire__fmt_double(num, a->v.d);
        return num;
    default:
        *len = a->v.b ? 4 : 5;
        return a->v.b ? "true" : "false";
    }
}

/* The point's labels (without __name__ and le) into tmp, sorted by name. Returns the count. */
static uint32_t point_labels(struct wire_rw_req *r, const struct rec_batch *b,
                             const struct rec_point *pt)
{
    const struct rec_resource *res = &b->resources[pt->res];
    uint32_t n = 0;
    core_buf_reset(&r->utf8);
    core_buf_reserve(&r->utf8, 1 << 16);
    if (res->job)
        tmp_add(r, &n, "job", 3, 0x6a6f62, res->job, (uint32_t)strlen(res->job));
    if (res->instance)
        tmp_add(r, &n, "instance", 8, 0x696e7374616e6365, res->instance,
                (uint32_t)strlen(res->instance));
    const struct rec_attr *a = wire__attrs(b, pt->attr_off);
    for (uint32_t i = 0; i < pt->nattrs; i++) {
        const struct rw_key *k = key_of(r, a[i].key, a[i].key_len);
        if (k->reserved)
            continue;
        uint32_t vl;
        const char *v = attr_value(&a[i], r->tmp_nums[i], &vl);
        tmp_add(r, &n, k->name, k->nlen, k->hash, v, vl);
    }
    for (uint32_t i = 1; i < n; i++) { /* insertion sort: a handful of labels */
        __typeof__(r->tmp[0]) t = r->tmp[i];
        uint32_t j = i;
        while (j > 0 && strcmp(r->tmp[j - 1].n, t.n) > 0) {
            r->tmp[j] = r->tmp[j - 1];
            j--;
        }
        r->tmp[j] = t;
    }
    return n;
}

static uint64_t labels_hash(const struct wire_rw_req *r, uint32_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ULL;
    for (uint32_t i = 0; i < n; i++) /* names' hashes are cached with the keys */
        h = core_mix64(h ^ r->tmp[i].nhash ^ core_hash64(r->tmp[i].v, r->tmp[i].vlen));
    return h;
}

static int ent_eq(const struct wire_rw_req *r, const struct rw_ent *e, uint32_t fam, uint32_t n,
                  uint64_t h)
{
    if (e->hash != h || e->fam != fam || e->nlab != n)
        return 0;
    for (uint32_t i = 0; i < n; i++) {
        const struct rw_lab *l = &r->labs[e->lab_off + i];
        if (l->n.len != r->tmp[i].nlen || l->v.len != r->tmp[i].vlen ||
            memcmp(str_at(r, l->n), r->tmp[i].n, l->n.len) ||
            memcmp(str_at(r, l->v), r->tmp[i].v, l->v.len))
            return 0;
    }
    return 1;
}

static uint32_t ent_new(struct wire_rw_req *r, uint32_t fam, uint32_t n, uint64_t h)
{
    r->ents = grow(r->ents, &r->ents_cap, r->nents + 1, sizeof *r->ents);
    r->labs = grow(r->labs, &r->labs_cap, r->nlabs + n, sizeof *r->labs);
    struct rw_ent *e = &r->ents[r->nents];
    memset(e, 0, sizeof *e);
    e->fam = fam, e->hash = h, e->lab_off = r->nlabs, e->nlab = n;
    e->first = e->last = UINT32_MAX;
    for (uint32_t i = 0; i < n; i++) {
        r->labs[r->nlabs + i].n = put_str(r, r->tmp[i].n, r->tmp[i].nlen);
        r->labs[r->nlabs + i].v = put_str(r, r->tmp[i].v, r->tmp[i].vlen);
        if (strcmp(r->tmp[i].n, "__name__") < 0)
            e->name_pos++;
        if (strcmp(r->tmp[i].n, "le") < 0)
            e->le_pos++;
    }
    r->nlabs += n;
    return r->nents++;
}

static uint32_t ent_find(struct wire_rw_req *r, uint32_t fam, uint32_t n, int *added)
{
    uint64_t h = labels_hash(r, n); /* the labels alone: the same in every builder */
    size_t i = core_mix64(h ^ fam) & r->tab_mask;
    *added = 0;
    for (; r->tab[i]; i = (i + 1) & r->tab_mask)
        if (ent_eq(r, &r->ents[r->tab[i] - 1], fam, n, h))
            return r->tab[i] - 1;
    *added = 1;
    uint32_t e = ent_new(r, fam, n, h);
    r->tab[i] = e + 1;
    return e;
}

static uint32_t nsub(const struct rec_metric *m)
{
    return m->type == REC_HISTOGRAM ? m->nbounds + 3 : 1;
}

static void put_values(struct wire_rw_req *r, const struct rec_batch *b, const struct rec_point *pt)
{
    const struct rec_metric *m = pt->metric;
    double *v = r->vals + r->nvals;
    if (m->type != REC_HISTOGRAM) {
        v[0] = m->is_int ? (double)pt->value.i : pt->value.d;
        r->nvals++;
        return;
    }
    const uint64_t *bk = b->buckets + pt->bucket_off;
    uint64_t cum = 0;
    for (uint32_t i = 0; i < m->nbounds; i++) {
        cum += bk[i];
        v[i] = (double)cum;
    }
    v[m->nbounds] = (double)pt->count; /* +Inf */
    v[m->nbounds + 1] = pt->sum;
    v[m->nbounds + 2] = (double)pt->count;
    r->nvals += m->nbounds + 3;
}

int wire_rw_req_add(struct wire_rw_req *r, const struct rec_batch *b, const struct rec_point *pt)
{
    if (b->signal != REC_METRICS || !point_ok(b, pt))
        return DIO_EINVAL;
    uint32_t fam = fam_of(r, pt->metric);
    if (!r->fams[fam].ok)
        return 0;
    uint32_t n = point_labels(r, b, pt), added;
    uint32_t k = nsub(pt->metric);
    int is_new;
    uint32_t e = ent_find(r, fam, n, &is_new);
    added = k;
    r->pts = grow(r->pts, &r->pts_cap, r->npts + 1, sizeof *r->pts);
    r->vals = grow(r->vals, &r->vals_cap, r->nvals + k, sizeof *r->vals);
    struct rw_pt *p = &r->pts[r->npts];
    p->t_ms = (int64_t)(pt->time_ns / 1000000u);
    p->start_ms = (int64_t)(pt->start_ns / 1000000u);
    p->val_off = r->nvals;
    p->next = UINT32_MAX;
    put_values(r, b, pt);
    struct rw_ent *en = &r->ents[e];
    if (en->last == UINT32_MAX)
        en->first = r->npts;
    else
        r->pts[en->last].next = r->npts;
    en->last = r->npts++;
    r->samples += added;
    if (is_new)
        r->series += k;
    return (int)added;
}

/* ---- encoding: shared ------------------------------------------------------------------- */

static size_t vlen(uint64_t v)
{
    return wire__varint_len(v);
}

static size_t field_len(size_t n) /* a length-delimited field with a 1-byte key */
{
    return 1 + vlen(n) + n;
}

static size_t sample_len(int64_t t)
{
    return 9 + (t ? 1 + vlen((uint64_t)t) : 0);
}

static uint8_t *put_sample(uint8_t *p, double v, int64_t t)
{
    uint64_t bits;
    size_t n = sample_len(t);
    *p++ = 0x12; /* samples = 2, in both versions */
    p = wire__put_varint(p, n);
    *p++ = 0x09; /* value = 1, double */
    memcpy(&bits, &v, 8);
    p = wire__put_le64(p, bits);
    if (t) {
        *p++ = 0x10; /* timestamp = 2 */
        p = wire__put_varint(p, (uint64_t)t);
    }
    return p;
}

static size_t samples_len(const struct wire_rw_req *r, const struct rw_ent *e)
{
    size_t n = 0;
    for (uint32_t i = e->first; i != UINT32_MAX; i = r->pts[i].next)
        n += field_len(sample_len(r->pts[i].t_ms));
    return n;
}

static uint8_t *put_samples(uint8_t *p, const struct wire_rw_req *r, const struct rw_ent *e,
                            uint32_t sub)
{
    for (uint32_t i = e->first; i != UINT32_MAX; i = r->pts[i].next)
        p = put_sample(p, r->vals[r->pts[i].val_off + sub], r->pts[i].t_ms);
    return p;
}

/* Which kind (plain, bucket, sum, count) sub-series `sub` of a point series is, and its le. */
static int sub_kind(const struct rw_fam *f, uint32_t sub, const char **le, uint32_t *le_i)
{
    *le = NULL;
    if (f->m->type != REC_HISTOGRAM)
        return K_PLAIN;
    if (sub <= f->m->nbounds) {
        *le = f->le[sub];
        *le_i = sub;
        return K_BUCKET;
    }
    return sub == f->m->nbounds + 1 ? K_SUM : K_COUNT;
}

static int compress(struct wire_rw_req *r, struct core_buf *out)
{
    size_t max = snappy_max_compressed_length(r->pb.len);
    if (core_buf_reserve(out, max))
        return DIO_EFULL;
    size_t n = max;
    if (snappy_compress((const char *)r->pb.p, r->pb.len, (char *)out->p + out->len, &n) !=
        SNAPPY_OK)
        return DIO_EFULL;
    out->len += n;
    return 0;
}

/* ---- 1.0 ---------------------------------------------------------------------------------- */

static size_t label_len(size_t nl, size_t vl)
{
    return field_len(field_len(nl) + field_len(vl));
}

static uint8_t *put_label(uint8_t *p, const char *n, size_t nl, const char *v, size_t vl)
{
    *p++ = 0x0a; /* labels = 1 */
    p = wire__put_varint(p, field_len(nl) + field_len(vl));
    *p++ = 0x0a;
    p = wire__put_varint(p, nl);
    memcpy(p, n, nl);
    p += nl;
    *p++ = 0x12;
    p = wire__put_varint(p, vl);
    memcpy(p, v, vl);
    return p + vl;
}

/* The entry's own labels, encoded once into r->base; *a and *b: where __name__ and le go. */
static int v1_base(struct wire_rw_req *r, const struct rw_ent *e, size_t *a, size_t *b)
{
    const struct rw_lab *l = &r->labs[e->lab_off];
    size_t n = 0;
    for (uint32_t i = 0; i < e->nlab; i++)
        n += label_len(l[i].n.len, l[i].v.len);
    core_buf_reset(&r->base);
    if (core_buf_reserve(&r->base, n))
        return DIO_EFULL;
    uint8_t *p = r->base.p;
    for (uint32_t i = 0; i < e->nlab; i++) {
        if (i == e->name_pos)
            *a = (size_t)(p - r->base.p);
        if (i == e->le_pos)
            *b = (size_t)(p - r->base.p);
        p = put_label(p, str_at(r, l[i].n), l[i].n.len, str_at(r, l[i].v), l[i].v.len);
    }
    r->base.len = (size_t)(p - r->base.p);
    if (e->name_pos == e->nlab)
        *a = r->base.len;
    if (e->le_pos == e->nlab)
        *b = r->base.len;
    return 0;
}

static uint8_t *put_bytes(uint8_t *p, const uint8_t *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

/* TimeSeries for sub-series `sub` of e: the base labels with __name__ and le merged in (both
 * sort where name_pos and le_pos say; "__name__" < "le"), then the samples. */
static int v1_series(struct wire_rw_req *r, const struct rw_ent *e, uint32_t sub, size_t slen,
                     size_t a, size_t b)
{
    const struct rw_fam *f = &r->fams[e->fam];
    const char *le;
    uint32_t le_i;
    int kind = sub_kind(f, sub, &le, &le_i);
    size_t nn = f->nlen[kind], ln = le ? strlen(le) : 0;
    size_t body = label_len(8, nn) + (le ? label_len(2, ln) : 0) + r->base.len + slen;
    if (core_buf_reserve(&r->pb, field_len(body)))
        return DIO_EFULL;
    uint8_t *p = r->pb.p + r->pb.len;
    *p++ = 0x0a; /* WriteRequest.timeseries = 1 */
    p = wire__put_varint(p, body);
    p = put_bytes(p, r->base.p, a);
    p = put_label(p, "__name__", 8, f->name[kind], nn);
    p = put_bytes(p, r->base.p + a, b - a);
    if (le)
        p = put_label(p, "le", 2, le, ln);
    p = put_bytes(p, r->base.p + b, r->base.len - b);
    p = put_samples(p, r, e, sub);
    r->pb.len = (size_t)(p - r->pb.p);
    return 0;
}

static int encode_v1(struct wire_rw_req *r)
{
    for (uint32_t k = 0; k < r->nents; k++) {
        const struct rw_ent *e = &r->ents[k];
        uint32_t n = nsub(r->fams[e->fam].m);
        size_t slen = samples_len(r, e), a = 0, b = 0;
        if (v1_base(r, e, &a, &b))
            return DIO_EFULL;
        for (uint32_t sub = 0; sub < n; sub++)
            if (v1_series(r, e, sub, slen, a, b))
                return DIO_EFULL;
    }
    return 0;
}

/* ---- 2.0 ---------------------------------------------------------------------------------- */

/* Interns s; returns its index in the symbol table (0 is always ""). */
static uint32_t sym(struct wire_rw_req *r, const char *s, uint32_t n)
{
    if (!n)
        return 0;
    uint64_t h = core_hash64(s, n);
    size_t i = h & r->sym_mask;
    for (; r->sym_tab[i]; i = (i + 1) & r->sym_mask) {
        uint32_t k = r->sym_tab[i] - 1;
        if (r->sym_len[k] == n && !memcmp(r->sym_p[k], s, n))
            return k;
    }
    r->sym_p = grow(r->sym_p, &r->sym_cap, r->nsym + 1, sizeof *r->sym_p);
    r->sym_len = core_realloc(r->sym_len, (size_t)r->sym_cap * sizeof *r->sym_len);
    r->sym_p[r->nsym] = s;
    r->sym_len[r->nsym] = n;
    r->sym_tab[i] = r->nsym + 1;
    return r->nsym++;
}

static uint32_t sym_z(struct wire_rw_req *r, const char *s)
{
    return sym(r, s, (uint32_t)strlen(s));
}

static void sym_reset(struct wire_rw_req *r)
{
    /* At most: 2 per label of every entry, + per family its names, le, help and unit. */
    size_t want = 2 * (size_t)r->nlabs + 8;
    for (uint32_t i = 0; i < r->nfams; i++)
        want += K_N + 3 + (r->fams[i].le ? r->fams[i].m->nbounds : 0);
    size_t cap = 16;
    while (cap < 2 * want)
        cap *= 2;
    if (cap - 1 > r->sym_mask) {
        core_free(r->sym_tab);
        r->sym_tab = core_malloc(cap * sizeof *r->sym_tab);
        r->sym_mask = (uint32_t)(cap - 1);
    }
    memset(r->sym_tab, 0, ((size_t)r->sym_mask + 1) * sizeof *r->sym_tab);
    r->nsym = 0;
    r->sym_gen++;
    sym(r, "", 0);
    r->sym_p = grow(r->sym_p, &r->sym_cap, 1, sizeof *r->sym_p);
    r->sym_len = core_realloc(r->sym_len, (size_t)r->sym_cap * sizeof *r->sym_len);
    r->sym_p[0] = "", r->sym_len[0] = 0, r->nsym = 1;
}

static void fam_syms(struct wire_rw_req *r, struct rw_fam *f)
{
    if (f->sym_gen == r->sym_gen)
        return;
    f->sym_gen = r->sym_gen;
    for (int k = 0; k < K_N; k++)
        f->name_ref[k] = sym_z(r, f->name[k]);
    for (uint32_t i = 0; f->le && i <= f->m->nbounds; i++)
        f->le_ref[i] = sym_z(r, f->le[i]);
    f->help_ref = sym_z(r, f->help);
    f->unit_ref = sym_z(r, f->unit);
}

/* First pass: every string gets its symbol, every entry its label refs. */
static void intern_all(struct wire_rw_req *r)
{
    sym_reset(r);
    sym_z(r, "__name__");
    sym_z(r, "le");
    r->refs = grow(r->refs, &r->refs_cap, 2 * r->nlabs + 1, sizeof *r->refs);
    uint32_t at = 0;
    for (uint32_t k = 0; k < r->nents; k++) {
        struct rw_ent *e = &r->ents[k];
        fam_syms(r, &r->fams[e->fam]);
        e->ref_off = at;
        for (uint32_t i = 0; i < e->nlab; i++) {
            const struct rw_lab *l = &r->labs[e->lab_off + i];
            r->refs[at++] = sym(r, str_at(r, l->n), l->n.len);
            r->refs[at++] = sym(r, str_at(r, l->v), l->v.len);
        }
    }
}

static size_t v2_meta_len(const struct rw_fam *f)
{
    return 2 + (f->help_ref ? 1 + vlen(f->help_ref) : 0) +
           (f->unit_ref ? 1 + vlen(f->unit_ref) : 0);
}

static int v2_series(struct wire_rw_req *r, const struct rw_ent *e, uint32_t sub, size_t slen)
{
    const struct rw_fam *f = &r->fams[e->fam];
    const char *le;
    uint32_t le_i = 0, name_ref = 1, le_name = 2; /* "__name__" and "le" were interned first */
    int kind = sub_kind(f, sub, &le, &le_i);
    const uint32_t *refs = r->refs + e->ref_off;
    size_t lr = vlen(name_ref) + vlen(f->name_ref[kind]);
    for (uint32_t i = 0; i < 2 * e->nlab; i++)
        lr += vlen(refs[i]);
    if (le)
        lr += vlen(le_name) + vlen(f->le_ref[le_i]);
    int64_t created = f->type != MT_GAUGE ? r->pts[e->first].start_ms : 0;
    size_t body = field_len(lr) + slen + field_len(v2_meta_len(f)) +
                  (created ? 1 + vlen((uint64_t)created) : 0);
    if (core_buf_reserve(&r->pb, field_len(body)))
        return DIO_EFULL;
    uint8_t *p = r->pb.p + r->pb.len;
    *p++ = 0x2a; /* Request.timeseries = 5 */
    p = wire__put_varint(p, body);
    *p++ = 0x0a; /* labels_refs = 1, packed */
    p = wire__put_varint(p, lr);
    for (uint32_t i = 0; i <= e->nlab; i++) {
        if (i == e->name_pos)
            p = wire__put_varint(wire__put_varint(p, name_ref), f->name_ref[kind]);
        if (le && i == e->le_pos)
            p = wire__put_varint(wire__put_varint(p, le_name), f->le_ref[le_i]);
        if (i < e->nlab)
            p = wire__put_varint(wire__put_varint(p, refs[2 * i]), refs[2 * i + 1]);
    }
    p = put_samples(p, r, e, sub);
    *p++ = 0x2a; /* metadata = 5 */
    p = wire__put_varint(p, v2_meta_len(f));
    *p++ = 0x08; /* type = 1 */
    *p++ = (uint8_t)f->type;
    if (f->help_ref) {
        *p++ = 0x18; /* help_ref = 3 */
        p = wire__put_varint(p, f->help_ref);
    }
    if (f->unit_ref) {
        *p++ = 0x20; /* unit_ref = 4 */
        p = wire__put_varint(p, f->unit_ref);
    }
    if (created) {
        *p++ = 0x30; /* created_timestamp = 6 */
        p = wire__put_varint(p, (uint64_t)created);
    }
    r->pb.len = (size_t)(p - r->pb.p);
    return 0;
}

static int encode_v2(struct wire_rw_req *r)
{
    intern_all(r);
    size_t n = 0;
    for (uint32_t i = 0; i < r->nsym; i++)
        n += field_len(r->sym_len[i]);
    if (core_buf_reserve(&r->pb, n))
        return DIO_EFULL;
    uint8_t *p = r->pb.p + r->pb.len;
    for (uint32_t i = 0; i < r->nsym; i++) { /* symbols = 4 */
        *p++ = 0x22;
        p = wire__put_varint(p, r->sym_len[i]);
        memcpy(p, r->sym_p[i], r->sym_len[i]);
        p += r->sym_len[i];
    }
    r->pb.len = (size_t)(p - r->pb.p);
    for (uint32_t k = 0; k < r->nents; k++) {
        const struct rw_ent *e = &r->ents[k];
        uint32_t ns = nsub(r->fams[e->fam].m);
        size_t slen = samples_len(r, e);
        for (uint32_t sub = 0; sub < ns; sub++)
            if (v2_series(r, e, sub, slen))
                return DIO_EFULL;
    }
    return 0;
}

int wire_rw_req_encode(struct wire_rw_req *r, int version, struct core_buf *out)
{
    core_buf_reset(&r->pb);
    int rc = version == 2 ? encode_v2(r) : encode_v1(r);
    if (rc == 0)
        rc = compress(r, out);
    if (r->pb.cap > (16u << 20) && r->pb.len < (1u << 20)) {
        core_buf_free(&r->pb); /* one huge request should not pin its buffer for the run */
        core_buf_init(&r->pb, (size_t)256 << 20);
    }
    return rc;
}

int wire_rw_req_encode_raw(struct wire_rw_req *r, int version, struct core_buf *out)
{
    core_buf_reset(&r->pb);
    int rc = version == 2 ? encode_v2(r) : encode_v1(r);
    if (rc == 0)
        rc = core_buf_append(out, r->pb.p, r->pb.len);
    return rc;
}

void wire_rw_req_each_series(const struct wire_rw_req *r, void (*fn)(void *ctx, uint64_t hash),
                             void *ctx)
{
    for (uint32_t k = 0; k < r->nents; k++) {
        const struct rw_ent *e = &r->ents[k];
        const struct rw_fam *f = &r->fams[e->fam];
        uint64_t h = core_mix64(e->hash ^ core_hash64(f->name[K_PLAIN], strlen(f->name[K_PLAIN])));
        for (uint32_t sub = 0; sub < nsub(f->m); sub++)
            fn(ctx, core_mix64(h + sub));
    }
}
