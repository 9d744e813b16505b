/* InfluxDB line protocol for metric points (docs/influx.md).
 *
 * Every line carries one field, `value`, so that the series are the Prometheus ones: a gauge or
 * sum is `<prom name>,<tags> value=<v> <ns>`; a histogram point becomes its cumulative buckets
 * `<prom name>_bucket,<tags>,le=<bound> value=<n>i` (le=+Inf last), `<prom name>_sum value=<s>`
 * and `<prom name>_count value=<n>i`. InfluxDB stores them as measurements of those names;
 * VictoriaMetrics' /write names a series <measurement>_<field>, or exactly the Prometheus name
 * with -influxSkipSingleField. Integer metrics and counts carry the `i` suffix, doubles never
 * do, so a measurement's field keeps one type (InfluxDB refuses a type change).
 *
 * Tags: the resource's attributes, then the point's, sorted by key (what InfluxDB asks for; it
 * parses sorted tags fastest), a point attribute replacing a resource one of the same key; an
 * attribute named `le` is left out (the bucket tag) and so is an empty value (line protocol
 * has no empty tag values). Escaping per the line protocol reference: measurement , and space;
 * tag keys and values , = and space, with a backslash. Newlines cannot be escaped in tags, so
 * control characters become escaped spaces; a key or value ending in a backslash would escape
 * the separator after it, so a trailing backslash becomes '_'. Bytes that are not UTF-8 become
 * U+FFFD.
 *
 * Points whose value (or histogram sum) is NaN or infinite cannot be written (line protocol has
 * no such floats): they are left out and counted in *skipped. Cost: one sort of <= 64 tag
 * pointers per point; the metric's name is computed once per run of points of one metric. */
#include <math.h>
#include <string.h>

#include "wire/wire.h"

#define MAX_TAGS 64
#define NAME_CAP 256

struct lw {
    struct core_buf *b;
    int err;
};

static void put(struct lw *w, const void *s, size_t n)
{
    if (!w->err && core_buf_append(w->b, s, n))
        w->err = DIO_EFULL;
}

#define PUTS(w, lit) put((w), (lit), sizeof(lit) - 1)

/* A tag key or value: , = and space escaped, control characters as an escaped space, invalid
 * UTF-8 as U+FFFD, a trailing backslash as '_'. */
static void put_tag_text(struct lw *w, const char *str, size_t n)
{
    const uint8_t *s = (const uint8_t *)str;
    for (size_t i = 0; i < n;) {
        uint8_t c = s[i];
        size_t len = c < 0x80 ? 1 : wire__utf8_len(s + i, n - i);
        if (!len) {
            PUTS(w, "\xEF\xBF\xBD");
            i++;
            continue;
        }
        if (c == ',' || c == '=' || c == ' ' || c < 0x20 || c == 0x7f)
            put(w, c == ',' ? "\\," : c == '=' ? "\\=" : "\\ ", 2);
        else if (c == '\\' && i + 1 == n)
            PUTS(w, "_");
        else
            put(w, s + i, len);
        i += len;
    }
}

static void put_num(struct lw *w, double v)
{
    char tmp[32];
    put(w, tmp, wire__fmt_double(tmp, v));
}

static void put_int(struct lw *w, int64_t v)
{
    if (!w->err && core_buf_put_i64(w->b, v))
        w->err = DIO_EFULL;
}

static void put_u64(struct lw *w, uint64_t v)
{
    if (!w->err && core_buf_put_u64(w->b, v))
        w->err = DIO_EFULL;
}

static void put_tag_value(struct lw *w, const struct rec_attr *a)
{
    switch (a->type) {
    case REC_STR:
        put_tag_text(w, a->v.s.p, a->v.s.len);
        break;
    case REC_INT:
        put_int(w, a->v.i);
        break;
    case REC_DBL:
        put_num(w, a->v.d);
        break;
    default:
        if (a->v.b)
            PUTS(w, "true");
        else
            PUTS(w, "false");
    }
}

static int key_cmp(const struct rec_attr *x, const struct rec_attr *y)
{
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);
    return c ? c : (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

static int tag_ok(const struct rec_attr *a)
{
    if (a->key_len == 0 || (a->key_len == 2 && memcmp(a->key, "le", 2) == 0))
        return 0;
    return a->type != REC_STR || a->v.s.len > 0;
}

/* The tags of a point, sorted by key, later duplicates (point attributes) winning. Stable
 * insertion sort: the lists are short. Returns how many. */
static uint32_t sort_tags(const struct rec_attr **t, const struct rec_attr *ra, uint32_t rn,
                          const struct rec_attr *pa, uint32_t pn)
{
    uint32_t n = 0;
    for (uint32_t k = 0; k < rn + pn; k++) {
        const struct rec_attr *a = k < rn ? &ra[k] : &pa[k - rn];
        if (!tag_ok(a) || n == MAX_TAGS)
            continue;
        uint32_t j = n;
        while (j > 0 && key_cmp(t[j - 1], a) > 0)
            j--;
        if (j > 0 && key_cmp(t[j - 1], a) == 0) {
            t[j - 1] = a; /* the later one wins */
            continue;
        }
        memmove(t + j + 1, t + j, (n - j) * sizeof *t);
        t[j] = a;
        n++;
    }
    return n;
}

/* ",k=v..." of tags [lo, hi). */
static void put_tags(struct lw *w, const struct rec_attr *const *t, uint32_t lo, uint32_t hi)
{
    for (uint32_t i = lo; i < hi; i++) {
        PUTS(w, ",");
        put_tag_text(w, t[i]->key, t[i]->key_len);
        PUTS(w, "=");
        put_tag_value(w, t[i]);
    }
}

struct line_ctx {
    const char *name;
    size_t name_len;
    const struct rec_attr *tags[MAX_TAGS];
    uint32_t ntags, le_at; /* tags[le_at..] sort after "le" */
    uint64_t ts;
};

/* "<name><suffix>,<tags> value=" */
static void line_head(struct lw *w, const struct line_ctx *c, const char *suffix, const char *le,
                      size_t le_len)
{
    put(w, c->name, c->name_len);
    put(w, suffix, strlen(suffix));
    put_tags(w, c->tags, 0, le ? c->le_at : c->ntags);
    if (le) {
        PUTS(w, ",le=");
        put(w, le, le_len);
        put_tags(w, c->tags, c->le_at, c->ntags);
    }
    PUTS(w, " value=");
}

static void line_end(struct lw *w, const struct line_ctx *c)
{
    PUTS(w, " ");
    put_u64(w, c->ts);
    PUTS(w, "\n");
}

static void put_histogram(struct lw *w, const struct line_ctx *c, const struct rec_batch *b,
                          const struct rec_point *pt)
{
    const struct rec_metric *m = pt->metric;
    const uint64_t *bk = b->buckets + pt->bucket_off;
    uint64_t cum = 0;
    for (uint32_t i = 0; i <= m->nbounds; i++) {
        char le[32];
        size_t n = i < m->nbounds ? wire__fmt_double(le, m->bounds[i]) : 0;
        if (i == m->nbounds)
            memcpy(le, "+Inf", n = 4);
        cum += bk[i];
        line_head(w, c, "_bucket", le, n);
        put_u64(w, cum);
        PUTS(w, "i");
        line_end(w, c);
    }
    line_head(w, c, "_sum", NULL, 0);
    put_num(w, pt->sum);
    line_end(w, c);
    line_head(w, c, "_count", NULL, 0);
    put_u64(w, pt->count);
    PUTS(w, "i");
    line_end(w, c);
}

static int point_ok(const struct rec_batch *b, const struct rec_point *pt)
{
    const struct rec_metric *m = pt->metric;
    if (!m || m->type > REC_HISTOGRAM || pt->res >= b->nresources ||
        (uint64_t)pt->attr_off + pt->nattrs > b->nattrs)
        return 0;
    return m->type != REC_HISTOGRAM || (uint64_t)pt->bucket_off + m->nbounds + 1 <= b->nbuckets;
}

static int finite_point(const struct rec_point *pt)
{
    if (pt->metric->type == REC_HISTOGRAM)
        return isfinite(pt->sum);
    return pt->metric->is_int || isfinite(pt->value.d);
}

static void put_point(struct lw *w, struct line_ctx *c, const struct rec_batch *b,
                      const struct rec_point *pt)
{
    const struct rec_resource *r = &b->resources[pt->res];
    c->ntags = sort_tags(c->tags, r->attrs, r->nattrs, wire__attrs(b, pt->attr_off), pt->nattrs);
    static const struct rec_attr le_key = {.key = "le", .key_len = 2};
    for (c->le_at = 0; c->le_at < c->ntags && key_cmp(c->tags[c->le_at], &le_key) < 0; c->le_at++)
        ;
    c->ts = pt->time_ns;
    if (pt->metric->type == REC_HISTOGRAM) {
        put_histogram(w, c, b, pt);
        return;
    }
    line_head(w, c, "", NULL, 0);
    if (pt->metric->is_int) {
        put_int(w, pt->value.i);
        PUTS(w, "i");
    } else {
        put_num(w, pt->value.d);
    }
    line_end(w, c);
}

int wire_influx_encode(struct core_buf *out, const struct rec_batch *b, uint32_t *skipped)
{
    struct lw w = {out, 0};
    struct line_ctx c;
    char name[NAME_CAP];
    const struct rec_metric *named = NULL;
    *skipped = 0;
    if (b->signal != REC_METRICS)
        return DIO_EINVAL;
    for (uint32_t i = 0; i < b->n; i++)
        if (!point_ok(b, &b->r.points[i]))
            return DIO_EINVAL;
    size_t start = out->len;
    for (uint32_t i = 0; i < b->n && !w.err; i++) {
        const struct rec_point *pt = &b->r.points[i];
        if (pt->metric != named) {
            named = NULL;
            if (wire_prom_name(pt->metric, name, sizeof name) == 0)
                named = pt->metric;
            c.name = name;
            c.name_len = strlen(name);
        }
        if (!named || !finite_point(pt)) {
            (*skipped)++;
            continue;
        }
        put_point(&w, &c, b, pt);
    }
    if (w.err)
        out->len = start;
    return w.err;
}
