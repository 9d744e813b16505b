/* Prometheus remote write encoder: metric points -> a 1.0 WriteRequest or a 2.0 Request,
 * snappy block-compressed.
 *
 * A request is built in a version-neutral form first (struct wire_rw_req), so that the same
 * samples can be encoded as 2.0 and, when a receiver answers 415, again as 1.0 without the
 * batches they came from (those went back to the pool long ago). Layout:
 *
 *   sers  the series cache, kept across requests: one per "point series" (descriptor + job +
 *         instance + attributes) with its sorted labels (copied into strs, so the batch may be
 *         reused), their hashes, and (built on the first 1.0 encode) its labels encoded as
 *         1.0 protobuf; found by the point's raw identity (ids: descriptor, job, instance,
 *         attribute keys and values as bytes, hashed a word at a time), so sanitising,
 *         sorting and hashing label strings happen once per series, not once per point.
 *         Raw identities that map to the same labels (two keys sanitised to one name, int 1
 *         and string "1") share one series. Dropped whole at a reset past RW_CACHE_* (a
 *         request only references it between resets).
 *   ents  per request, one per series in it (first appearance order): a chain of points in
 *         arrival order; several points of one series in one request share an entry, so the
 *         labels are written once per series and request, not once per sample
 *   pts   time (and its encoded varint), start time, where the point's values are in vals
 *   vals  gauge/sum: 1 value; histogram: nbounds+1 cumulative buckets, sum, count
 *   fams  per descriptor, kept for the whole run: Prometheus names with their suffixes, le
 *         strings, their 1.0 label encodings, metadata (descriptors are world-owned and
 *         outlive the run's requests)
 *
 * Mapping (the same as /metrics, docs/remote-write.md): Prometheus name from wire_prom_name,
 * job and instance from the resource, attributes as labels (invalid name characters -> '_';
 * job, instance, le and __* attributes left out; empty values left out, as the spec wants);
 * histograms as classic _bucket{le} (cumulative, +Inf = count), _sum and _count series.
 * Points with delta temporality cannot be written (Prometheus series are cumulative): add
 * returns 0 samples for them and the caller counts them.
 *
 * Memory: the per-request arrays are bounded by max_samples (each point adds at least one
 * sample) and reused across requests; the series cache by RW_CACHE_SERIES and RW_CACHE_BYTES
 * (checked at each reset; one request adds at most max_samples series to it). */
#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/wire.h"

#define RW_MAX_LABELS 64 /* job, instance and up to 62 attributes per series */
#define RW_NAME_MAX 256
#define RW_CACHE_SERIES (1u << 16)
#define RW_CACHE_BYTES (32u << 20)
#define RW_UNWRITABLE UINT32_MAX /* an id whose descriptor cannot be written */

enum { K_PLAIN, K_BUCKET, K_SUM, K_COUNT, K_N };
static const char *const kind_suffix[K_N] = {"", "_bucket", "_sum", "_count"};
/* io.prometheus.write.v2.Metadata.MetricType */
enum { MT_COUNTER = 1, MT_GAUGE = 2, MT_HISTOGRAM = 3 };

struct rw_str {
    uint32_t off, len; /* into strs */
};

struct rw_lab {
    struct rw_str n, v;
    uint64_t nh, vh; /* core_hash64 of each (2.0 symbols) */
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
    uint32_t nbounds, nsub; /* copies of m's: m may be gone when the request is freed */
    uint8_t *enc_name[K_N]; /* 1.0: the __name__ label per kind, encoded */
    uint32_t enc_name_len[K_N];
    uint8_t **enc_le; /* 1.0: the le label per bucket, encoded */
    uint32_t *enc_le_len;
    char *help, *unit;
    uint32_t sym_gen;       /* v2: request generation the refs below belong to */
    uint32_t name_ref[K_N]; /* v2 symbol refs */
    uint32_t *le_ref;
    uint32_t help_ref, unit_ref;
};

struct rw_ser {
    uint32_t fam;
    uint32_t lab_off, nlab;      /* sorted, into labs */
    uint32_t name_pos;           /* labels before "__name__" in sort order */
    uint32_t le_pos;             /* labels before "le" */
    uint64_t hash;               /* of the labels (without __name__ and le) */
    uint32_t base_off, base_len; /* 1.0 labels encoded, in strs (base_len UINT32_MAX: not yet) */
    uint32_t base_a, base_b;     /* where __name__ and le go into them */
    uint32_t ent_gen, ent;       /* this request's entry, when ent_gen == the request's gen */
    int reported;                /* given to wire_rw_req_each_new_series already */
};

struct rw_id { /* a raw point identity (in strs) and the series it maps to */
    uint64_t h;
    uint32_t off, len, ser;
};

struct rw_ent {
    uint32_t ser;
    uint32_t first, last; /* chain of pts */
    uint32_t ref_off;     /* v2: 2*nlab symbol refs in refs */
};

struct rw_pt {
    int64_t t_ms, start_ms;
    uint32_t val_off, next;
    uint8_t slen, tlen; /* the sample's encoded length; the timestamp's (key + varint) */
    uint8_t tv[11];     /* the timestamp field, encoded (empty for t 0) */
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
    struct rw_ser *sers;
    uint32_t nsers, sers_cap;
    uint32_t *ser_tab; /* series index + 1 by (descriptor, labels) hash; 0 = empty */
    uint32_t ser_mask;
    struct rw_id *ids;
    uint32_t nids, ids_cap;
    uint32_t *id_tab; /* id index + 1 by raw hash */
    uint32_t id_mask;
    uint8_t *raw; /* the point being added, its raw identity */
    uint32_t raw_cap;
    uint32_t gen;      /* request generation (ents of sers) */
    uint32_t req_labs; /* labels of this request's entries */
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

/* ---- protobuf pieces ---------------------------------------------------------------------- */

static size_t vlen(uint64_t v)
{
    return wire__varint_len(v);
}

static size_t field_len(size_t n) /* a length-delimited field with a 1-byte key */
{
    return 1 + vlen(n) + n;
}

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

/* A 1.0 Label, encoded into a new allocation. */
static uint8_t *enc_label(const char *n, const char *v, uint32_t *len)
{
    size_t nl = strlen(n), vl = strlen(v);
    *len = (uint32_t)label_len(nl, vl);
    uint8_t *p = core_malloc(*len);
    put_label(p, n, nl, v, vl);
    return p;
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
    f->nbounds = m->type == REC_HISTOGRAM ? m->nbounds : 0;
    f->nsub = m->type == REC_HISTOGRAM ? m->nbounds + 3 : 1;
    for (int k = 0; k < K_N; k++) {
        f->name[k] = concat(name, kind_suffix[k]);
        f->nlen[k] = (uint32_t)strlen(f->name[k]);
        f->enc_name[k] = enc_label("__name__", f->name[k], &f->enc_name_len[k]);
    }
    if (m->type == REC_HISTOGRAM) {
        f->nle = m->nbounds + 1;
        f->le = core_calloc(f->nle, sizeof *f->le);
        f->le_ref = core_calloc(m->nbounds + 1, sizeof *f->le_ref);
        f->enc_le = core_calloc(f->nle, sizeof *f->enc_le);
        f->enc_le_len = core_calloc(f->nle, sizeof *f->enc_le_len);
        char tmp[32];
        for (uint32_t i = 0; i < m->nbounds; i++) {
            wire__fmt_double(tmp, m->bounds[i]);
            f->le[i] = core_strdup(tmp);
        }
        f->le[m->nbounds] = core_strdup("+Inf");
        for (uint32_t i = 0; i < f->nle; i++)
            f->enc_le[i] = enc_label("le", f->le[i], &f->enc_le_len[i]);
    }
    f->help = core_strdup(m->description && *m->description ? m->description : m->name);
    f->unit = unit_of(m);
}

static void fam_free(struct rw_fam *f)
{
    for (int k = 0; k < K_N; k++) {
        core_free(f->name[k]);
        core_free(f->enc_name[k]);
    }
    for (uint32_t i = 0; f->le && i < f->nle; i++) {
        core_free(f->le[i]);
        core_free(f->enc_le[i]);
    }
    core_free(f->le);
    core_free(f->enc_le);
    core_free(f->enc_le_len);
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
    r->gen = 1; /* a new series has ent_gen 0: no entry yet */
    core_buf_init(&r->utf8, 1 << 20);
    core_buf_init(&r->pb, (size_t)256 << 20);
    return r;
}

/* The series cache goes when it is over its caps (or the next request could push it far
 * past them); the descriptors and key names stay. */
static void cache_clear(struct wire_rw_req *r)
{
    r->nsers = r->nids = r->nlabs = r->nstrs = 0;
    if (r->ser_tab)
        memset(r->ser_tab, 0, ((size_t)r->ser_mask + 1) * sizeof *r->ser_tab);
    if (r->id_tab)
        memset(r->id_tab, 0, ((size_t)r->id_mask + 1) * sizeof *r->id_tab);
}

void wire_rw_req_reset(struct wire_rw_req *r)
{
    r->nents = r->npts = r->nvals = r->req_labs = 0;
    r->samples = r->series = 0;
    if (++r->gen == 0) { /* wrapped: no series may think it has an entry */
        for (uint32_t i = 0; i < r->nsers; i++)
            r->sers[i].ent_gen = 0;
        r->gen = 1;
    }
    if (r->nsers + r->nids > RW_CACHE_SERIES || r->nstrs > RW_CACHE_BYTES)
        cache_clear(r);
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
    core_free(r->sers);
    core_free(r->ser_tab);
    core_free(r->ids);
    core_free(r->id_tab);
    core_free(r->raw);
    core_free(r->ents);
    core_free(r->pts);
    core_free(r->vals);
    core_free(r->labs);
    core_free(r->strs);
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

/* ---- a point's labels (on a series cache miss only) ---------------------------------------- */

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

/* ---- the series cache ------------------------------------------------------------------------ */

/* Doubles an open-addressing table of index + 1 whose entries rehash by key_of_slot. */
static void tab_grow(uint32_t **tab, uint32_t *mask, uint32_t used,
                     uint64_t (*key)(const struct wire_rw_req *, uint32_t),
                     const struct wire_rw_req *r)
{
    uint32_t cap = *tab ? 2 * (*mask + 1) : 256;
    while (cap < 4 * (used + 1))
        cap *= 2;
    uint32_t *t = core_calloc(cap, sizeof *t);
    for (uint32_t i = 0; *tab && i <= *mask; i++) {
        if (!(*tab)[i])
            continue;
        size_t j = key(r, (*tab)[i] - 1) & (cap - 1);
        while (t[j])
            j = (j + 1) & (cap - 1);
        t[j] = (*tab)[i];
    }
    core_free(*tab);
    *tab = t;
    *mask = cap - 1;
}

static uint64_t ser_key(const struct wire_rw_req *r, uint32_t i)
{
    return core_mix64(r->sers[i].hash ^ r->sers[i].fam);
}

static uint64_t id_key(const struct wire_rw_req *r, uint32_t i)
{
    return r->ids[i].h;
}

static int ser_eq(const struct wire_rw_req *r, const struct rw_ser *s, uint32_t fam, uint32_t n,
                  uint64_t h)
{
    if (s->hash != h || s->fam != fam || s->nlab != n)
        return 0;
    for (uint32_t i = 0; i < n; i++) {
        const struct rw_lab *l = &r->labs[s->lab_off + i];
        if (l->n.len != r->tmp[i].nlen || l->v.len != r->tmp[i].vlen ||
            memcmp(str_at(r, l->n), r->tmp[i].n, l->n.len) ||
            memcmp(str_at(r, l->v), r->tmp[i].v, l->v.len))
            return 0;
    }
    return 1;
}

static uint32_t ser_new(struct wire_rw_req *r, uint32_t fam, uint32_t n, uint64_t h)
{
    r->sers = grow(r->sers, &r->sers_cap, r->nsers + 1, sizeof *r->sers);
    r->labs = grow(r->labs, &r->labs_cap, r->nlabs + n, sizeof *r->labs);
    struct rw_ser *s = &r->sers[r->nsers];
    memset(s, 0, sizeof *s);
    s->fam = fam, s->hash = h, s->lab_off = r->nlabs, s->nlab = n;
    s->base_len = UINT32_MAX;
    for (uint32_t i = 0; i < n; i++) {
        struct rw_lab *l = &r->labs[r->nlabs + i];
        l->n = put_str(r, r->tmp[i].n, r->tmp[i].nlen);
        l->v = put_str(r, r->tmp[i].v, r->tmp[i].vlen);
        l->nh = core_hash64(r->tmp[i].n, r->tmp[i].nlen);
        l->vh = core_hash64(r->tmp[i].v, r->tmp[i].vlen);
        if (strcmp(r->tmp[i].n, "__name__") < 0)
            s->name_pos++;
        if (strcmp(r->tmp[i].n, "le") < 0)
            s->le_pos++;
    }
    r->nlabs += n;
    return r->nsers++;
}

/* The series of a point whose raw identity is not cached yet: RW_UNWRITABLE, or an existing
 * series with the same descriptor and labels, or a new one. */
static uint32_t ser_find(struct wire_rw_req *r, const struct rec_batch *b,
                         const struct rec_point *pt)
{
    uint32_t fam = fam_of(r, pt->metric);
    if (!r->fams[fam].ok)
        return RW_UNWRITABLE;
    uint32_t n = point_labels(r, b, pt);
    uint64_t h = labels_hash(r, n); /* the labels alone: the same in every builder */
    if (!r->ser_tab || 2 * (r->nsers + 1) > r->ser_mask + 1)
        tab_grow(&r->ser_tab, &r->ser_mask, r->nsers, ser_key, r);
    size_t i = core_mix64(h ^ fam) & r->ser_mask;
    for (; r->ser_tab[i]; i = (i + 1) & r->ser_mask)
        if (ser_eq(r, &r->sers[r->ser_tab[i] - 1], fam, n, h))
            return r->ser_tab[i] - 1;
    uint32_t s = ser_new(r, fam, n, h);
    r->ser_tab[i] = s + 1;
    return s;
}

static uint8_t *raw_put(uint8_t *p, const void *s, size_t n)
{
    if (n) /* an empty string value may have a NULL pointer */
        memcpy(p, s, n);
    return p + n;
}

/* The point's raw identity into r->raw: what decides its labels, as bytes. Returns its
 * length. */
static uint32_t raw_id(struct wire_rw_req *r, const struct rec_batch *b, const struct rec_point *pt)
{
    const struct rec_resource *res = &b->resources[pt->res];
    const struct rec_attr *a = wire__attrs(b, pt->attr_off);
    size_t jl = res->job ? strlen(res->job) + 1 : 0,
           il = res->instance ? strlen(res->instance) + 1 : 0;
    size_t need = 8 + 8 + jl + il + (size_t)pt->nattrs * 24;
    for (uint32_t i = 0; i < pt->nattrs; i++)
        need += a[i].type == REC_STR ? a[i].v.s.len : 0;
    r->raw = grow(r->raw, &r->raw_cap, (uint32_t)need, 1);
    uint8_t *p = r->raw;
    const struct rec_metric *m = pt->metric;
    uint32_t lens[2] = {(uint32_t)jl, (uint32_t)il};
    p = raw_put(p, &m, sizeof m);
    p = raw_put(p, lens, sizeof lens);
    p = raw_put(p, res->job ? res->job : "", jl); /* with the NUL: NULL and "" differ */
    p = raw_put(p, res->instance ? res->instance : "", il);
    for (uint32_t i = 0; i < pt->nattrs; i++) {
        uint32_t kv[2] = {a[i].key_len, a[i].type};
        p = raw_put(p, &a[i].key, sizeof a[i].key); /* world-owned: the address is the key */
        p = raw_put(p, kv, sizeof kv);
        if (a[i].type == REC_STR) {
            p = raw_put(p, &a[i].v.s.len, 4);
            p = raw_put(p, a[i].v.s.p, a[i].v.s.len);
        } else if (a[i].type == REC_BOOL) {
            int t = a[i].v.b != 0;
            p = raw_put(p, &t, sizeof t);
        } else {
            p = raw_put(p, &a[i].v.i, 8); /* the double's bits for REC_DBL */
        }
    }
    return (uint32_t)(p - r->raw);
}

/* A word at a time (FNV-1a is a multiply per byte): only for finding ids in this process. */
static uint64_t raw_hash(const uint8_t *p, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ n, w;
    for (; n >= 8; p += 8, n -= 8) {
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
    }
    w = 0;
    memcpy(&w, p, n);
    return core_mix64(h ^ w);
}

/* The series of a point (RW_UNWRITABLE: its descriptor cannot be written). */
static uint32_t ser_of(struct wire_rw_req *r, const struct rec_batch *b, const struct rec_point *pt)
{
    uint32_t len = raw_id(r, b, pt);
    uint64_t h = raw_hash(r->raw, len);
    if (!r->id_tab || 2 * (r->nids + 1) > r->id_mask + 1)
        tab_grow(&r->id_tab, &r->id_mask, r->nids, id_key, r);
    size_t i = h & r->id_mask;
    for (; r->id_tab[i]; i = (i + 1) & r->id_mask) {
        const struct rw_id *d = &r->ids[r->id_tab[i] - 1];
        if (d->h == h && d->len == len && !memcmp(r->strs + d->off, r->raw, len))
            return d->ser;
    }
    uint32_t s = ser_find(r, b, pt);
    r->ids = grow(r->ids, &r->ids_cap, r->nids + 1, sizeof *r->ids);
    struct rw_id *d = &r->ids[r->nids];
    d->h = h, d->len = len, d->ser = s;
    d->off = put_str(r, (const char *)r->raw, len).off;
    r->id_tab[i] = ++r->nids;
    return s;
}

/* This request's entry for series s. */
static uint32_t ent_of(struct wire_rw_req *r, uint32_t s, int *added)
{
    struct rw_ser *se = &r->sers[s];
    *added = 0;
    if (se->ent_gen == r->gen)
        return se->ent;
    *added = 1;
    r->ents = grow(r->ents, &r->ents_cap, r->nents + 1, sizeof *r->ents);
    struct rw_ent *e = &r->ents[r->nents];
    e->ser = s;
    e->first = e->last = UINT32_MAX;
    e->ref_off = 0;
    r->req_labs += se->nlab;
    se->ent_gen = r->gen;
    se->ent = r->nents;
    return r->nents++;
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

/* A point's time: its Sample timestamp field encoded once for all its sub-series. */
static void pt_time(struct rw_pt *p, uint64_t time_ns, uint64_t start_ns)
{
    p->t_ms = (int64_t)(time_ns / 1000000u);
    p->start_ms = (int64_t)(start_ns / 1000000u);
    p->tlen = 0;
    if (p->t_ms) {
        p->tv[0] = 0x10; /* timestamp = 2 */
        p->tlen = (uint8_t)(wire__put_varint(p->tv + 1, (uint64_t)p->t_ms) - p->tv);
    }
    p->slen = (uint8_t)(9 + p->tlen);
}

int wire_rw_req_add(struct wire_rw_req *r, const struct rec_batch *b, const struct rec_point *pt)
{
    if (b->signal != REC_METRICS || !point_ok(b, pt))
        return DIO_EINVAL;
    uint32_t s = ser_of(r, b, pt);
    if (s == RW_UNWRITABLE)
        return 0;
    uint32_t k = r->fams[r->sers[s].fam].nsub;
    int is_new;
    uint32_t e = ent_of(r, s, &is_new);
    r->pts = grow(r->pts, &r->pts_cap, r->npts + 1, sizeof *r->pts);
    r->vals = grow(r->vals, &r->vals_cap, r->nvals + k, sizeof *r->vals);
    struct rw_pt *p = &r->pts[r->npts];
    pt_time(p, pt->time_ns, pt->start_ns);
    p->val_off = r->nvals;
    p->next = UINT32_MAX;
    put_values(r, b, pt);
    struct rw_ent *en = &r->ents[e];
    if (en->last == UINT32_MAX)
        en->first = r->npts;
    else
        r->pts[en->last].next = r->npts;
    en->last = r->npts++;
    r->samples += k;
    if (is_new)
        r->series += k;
    return (int)k;
}

/* ---- encoding: shared ------------------------------------------------------------------- */

/* A Sample field: value, and the timestamp as encoded when the point was added. */
static uint8_t *put_sample(uint8_t *p, double v, const struct rw_pt *pt)
{
    uint64_t bits;
    *p++ = 0x12;     /* samples = 2, in both versions */
    *p++ = pt->slen; /* at most 9 + 11: one byte */
    *p++ = 0x09;     /* value = 1, double */
    memcpy(&bits, &v, 8);
    p = wire__put_le64(p, bits);
    memcpy(p, pt->tv, sizeof pt->tv); /* whole array: a fixed-size copy, tlen of it counts */
    return p + pt->tlen;
}

static size_t samples_len(const struct wire_rw_req *r, const struct rw_ent *e)
{
    size_t n = 0;
    for (uint32_t i = e->first; i != UINT32_MAX; i = r->pts[i].next)
        n += 2 + (size_t)r->pts[i].slen;
    return n;
}

/* The samples of sub-series `sub` of e. Callers reserve samples_len + sizeof tv of slack:
 * put_sample copies the whole timestamp array. */
static uint8_t *put_samples(uint8_t *p, const struct wire_rw_req *r, const struct rw_ent *e,
                            uint32_t sub)
{
    for (uint32_t i = e->first; i != UINT32_MAX; i = r->pts[i].next)
        p = put_sample(p, r->vals[r->pts[i].val_off + sub], &r->pts[i]);
    return p;
}

#define RW_SLACK 16 /* >= sizeof rw_pt.tv */

/* Which kind (plain, bucket, sum, count) sub-series `sub` of a point series is; *le_i: its
 * bucket (K_BUCKET only). */
static int sub_kind(const struct rw_fam *f, uint32_t sub, uint32_t *le_i)
{
    if (f->type != MT_HISTOGRAM)
        return K_PLAIN;
    if (sub <= f->nbounds) {
        *le_i = sub;
        return K_BUCKET;
    }
    return sub == f->nbounds + 1 ? K_SUM : K_COUNT;
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

/* The series' own labels as 1.0 Label fields, encoded once per series into strs (kept with
 * the series cache); base_a and base_b: where __name__ and le go. */
static void v1_base(struct wire_rw_req *r, struct rw_ser *s)
{
    if (s->base_len != UINT32_MAX)
        return;
    const struct rw_lab *l = &r->labs[s->lab_off];
    size_t n = 0;
    for (uint32_t i = 0; i < s->nlab; i++)
        n += label_len(l[i].n.len, l[i].v.len);
    r->strs = grow(r->strs, &r->strs_cap, r->nstrs + (uint32_t)n, 1);
    uint8_t *p0 = (uint8_t *)r->strs + r->nstrs, *p = p0;
    s->base_a = s->base_b = (uint32_t)n;
    for (uint32_t i = 0; i < s->nlab; i++) {
        if (i == s->name_pos)
            s->base_a = (uint32_t)(p - p0);
        if (i == s->le_pos)
            s->base_b = (uint32_t)(p - p0);
        p = put_label(p, str_at(r, l[i].n), l[i].n.len, str_at(r, l[i].v), l[i].v.len);
    }
    s->base_off = r->nstrs;
    s->base_len = (uint32_t)n;
    r->nstrs += (uint32_t)n;
}

static uint8_t *put_bytes(uint8_t *p, const void *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

/* TimeSeries for sub-series `sub` of e: the base labels with __name__ and le merged in (both
 * sort where name_pos and le_pos say; "__name__" < "le"), then the samples. */
static int v1_series(struct wire_rw_req *r, const struct rw_ent *e, uint32_t sub, size_t slen)
{
    const struct rw_ser *s = &r->sers[e->ser];
    const struct rw_fam *f = &r->fams[s->fam];
    uint32_t le_i = 0;
    int kind = sub_kind(f, sub, &le_i);
    uint32_t nl = f->enc_name_len[kind], ll = kind == K_BUCKET ? f->enc_le_len[le_i] : 0;
    size_t body = nl + ll + s->base_len + slen;
    if (core_buf_reserve(&r->pb, field_len(body) + RW_SLACK))
        return DIO_EFULL;
    const uint8_t *base = (const uint8_t *)r->strs + s->base_off;
    uint8_t *p = r->pb.p + r->pb.len;
    *p++ = 0x0a; /* WriteRequest.timeseries = 1 */
    p = wire__put_varint(p, body);
    p = put_bytes(p, base, s->base_a);
    p = put_bytes(p, f->enc_name[kind], nl);
    p = put_bytes(p, base + s->base_a, s->base_b - s->base_a);
    if (ll)
        p = put_bytes(p, f->enc_le[le_i], ll);
    p = put_bytes(p, base + s->base_b, s->base_len - s->base_b);
    p = put_samples(p, r, e, sub);
    r->pb.len = (size_t)(p - r->pb.p);
    return 0;
}

static int encode_v1(struct wire_rw_req *r)
{
    for (uint32_t k = 0; k < r->nents; k++) {
        const struct rw_ent *e = &r->ents[k];
        struct rw_ser *s = &r->sers[e->ser];
        v1_base(r, s);
        uint32_t n = r->fams[s->fam].nsub;
        size_t slen = samples_len(r, e);
        for (uint32_t sub = 0; sub < n; sub++)
            if (v1_series(r, e, sub, slen))
                return DIO_EFULL;
    }
    return 0;
}

/* ---- 2.0 ---------------------------------------------------------------------------------- */

/* Interns s (hash h: core_hash64 of it); returns its index in the symbol table (0 is
 * always ""). s must live until the request is encoded. */
static uint32_t sym(struct wire_rw_req *r, const char *s, uint32_t n, uint64_t h)
{
    if (!n)
        return 0;
    size_t i = h & r->sym_mask;
    for (; r->sym_tab[i]; i = (i + 1) & r->sym_mask) {
        uint32_t k = r->sym_tab[i] - 1;
        if (r->sym_len[k] == n && !memcmp(r->sym_p[k], s, n))
            return k;
    }
    if (r->nsym + 1 > r->sym_cap) {
        r->sym_p = grow(r->sym_p, &r->sym_cap, r->nsym + 1, sizeof *r->sym_p);
        r->sym_len = core_realloc(r->sym_len, (size_t)r->sym_cap * sizeof *r->sym_len);
    }
    r->sym_p[r->nsym] = s;
    r->sym_len[r->nsym] = n;
    r->sym_tab[i] = r->nsym + 1;
    return r->nsym++;
}

static uint32_t sym_z(struct wire_rw_req *r, const char *s)
{
    uint32_t n = (uint32_t)strlen(s);
    return sym(r, s, n, core_hash64(s, n));
}

static void sym_reset(struct wire_rw_req *r)
{
    /* At most: 2 per label of every entry, + per family its names, le, help and unit. */
    size_t want = 2 * (size_t)r->req_labs + 8;
    for (uint32_t i = 0; i < r->nfams; i++)
        want += K_N + 3 + r->fams[i].nle;
    size_t cap = 16;
    while (cap < 2 * want)
        cap *= 2;
    if (cap - 1 > r->sym_mask) {
        core_free(r->sym_tab);
        r->sym_tab = core_malloc(cap * sizeof *r->sym_tab);
        r->sym_mask = (uint32_t)(cap - 1);
    }
    memset(r->sym_tab, 0, ((size_t)r->sym_mask + 1) * sizeof *r->sym_tab);
    r->sym_gen++;
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
    for (uint32_t i = 0; i < f->nle; i++)
        f->le_ref[i] = sym_z(r, f->le[i]);
    f->help_ref = sym_z(r, f->help);
    f->unit_ref = sym_z(r, f->unit);
}

/* First pass: every string gets its symbol, every entry its label refs (the strings' hashes
 * were taken once, when their series was cached). */
static void intern_all(struct wire_rw_req *r)
{
    sym_reset(r);
    sym_z(r, "__name__");
    sym_z(r, "le");
    r->refs = grow(r->refs, &r->refs_cap, 2 * r->req_labs + 1, sizeof *r->refs);
    uint32_t at = 0;
    for (uint32_t k = 0; k < r->nents; k++) {
        struct rw_ent *e = &r->ents[k];
        const struct rw_ser *s = &r->sers[e->ser];
        fam_syms(r, &r->fams[s->fam]);
        e->ref_off = at;
        for (uint32_t i = 0; i < s->nlab; i++) {
            const struct rw_lab *l = &r->labs[s->lab_off + i];
            r->refs[at++] = sym(r, str_at(r, l->n), l->n.len, l->nh);
            r->refs[at++] = sym(r, str_at(r, l->v), l->v.len, l->vh);
        }
    }
}

static size_t v2_meta_len(const struct rw_fam *f)
{
    return 2 + (f->help_ref ? 1 + vlen(f->help_ref) : 0) +
           (f->unit_ref ? 1 + vlen(f->unit_ref) : 0);
}

static uint8_t *put_pair(uint8_t *p, uint32_t a, uint32_t b)
{
    return wire__put_varint(wire__put_varint(p, a), b);
}

static uint8_t *v2_meta(uint8_t *p, const struct rw_fam *f, int64_t created)
{
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
    return p;
}

static int v2_series(struct wire_rw_req *r, const struct rw_ent *e, uint32_t sub, size_t slen)
{
    const struct rw_ser *s = &r->sers[e->ser];
    const struct rw_fam *f = &r->fams[s->fam];
    uint32_t le_i = 0, name_ref = 1, le_name = 2; /* "__name__" and "le" were interned first */
    int kind = sub_kind(f, sub, &le_i), le = kind == K_BUCKET;
    const uint32_t *refs = r->refs + e->ref_off;
    size_t lr = vlen(name_ref) + vlen(f->name_ref[kind]);
    for (uint32_t i = 0; i < 2 * s->nlab; i++)
        lr += vlen(refs[i]);
    if (le)
        lr += vlen(le_name) + vlen(f->le_ref[le_i]);
    int64_t created = f->type != MT_GAUGE ? r->pts[e->first].start_ms : 0;
    size_t body = field_len(lr) + slen + field_len(v2_meta_len(f)) +
                  (created ? 1 + vlen((uint64_t)created) : 0);
    if (core_buf_reserve(&r->pb, field_len(body) + RW_SLACK))
        return DIO_EFULL;
    uint8_t *p = r->pb.p + r->pb.len;
    *p++ = 0x2a; /* Request.timeseries = 5 */
    p = wire__put_varint(p, body);
    *p++ = 0x0a; /* labels_refs = 1, packed */
    p = wire__put_varint(p, lr);
    for (uint32_t i = 0; i <= s->nlab; i++) {
        if (i == s->name_pos)
            p = put_pair(p, name_ref, f->name_ref[kind]);
        if (le && i == s->le_pos)
            p = put_pair(p, le_name, f->le_ref[le_i]);
        if (i < s->nlab)
            p = put_pair(p, refs[2 * i], refs[2 * i + 1]);
    }
    p = put_samples(p, r, e, sub);
    p = v2_meta(p, f, created);
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
        uint32_t ns = r->fams[r->sers[e->ser].fam].nsub;
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

void wire_rw_req_each_new_series(struct wire_rw_req *r, void (*fn)(void *ctx, uint64_t hash),
                                 void *ctx)
{
    for (uint32_t k = 0; k < r->nents; k++) {
        struct rw_ser *s = &r->sers[r->ents[k].ser];
        if (s->reported)
            continue; /* its hashes went to fn before: a set of series needs them once */
        s->reported = 1;
        const struct rw_fam *f = &r->fams[s->fam];
        uint64_t h = core_mix64(s->hash ^ core_hash64(f->name[K_PLAIN], f->nlen[K_PLAIN]));
        for (uint32_t sub = 0; sub < f->nsub; sub++)
            fn(ctx, core_mix64(h + sub));
    }
}
