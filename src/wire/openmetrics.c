/* OpenMetrics 1.0 text, one family and one point at a time (docs/openmetrics.md).
 *
 * The writer of a whole run (export/openmetrics_file.c) keeps each family's lines together, as
 * OpenMetrics requires (families must not interleave), and ends the file with "# EOF"; this
 * file only renders. Names and labels are the ones /metrics serves (wire_prom_name, job,
 * instance, the point's attributes; reserved names left out), so a backfilled series and a
 * scraped one are the same series. Counters: the family is the name without _total and the
 * sample is <family>_total. Histograms: cumulative <family>_bucket lines up to le="+Inf",
 * then _count and _sum. Timestamps are seconds with millisecond precision (Prometheus keeps
 * milliseconds); values are the shortest decimal that reads back exactly. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "wire/wire.h"

struct ow {
    struct core_buf *b;
    int err;
};

static void put(struct ow *w, const void *s, size_t n)
{
    if (!w->err && core_buf_append(w->b, s, n))
        w->err = DIO_EFULL;
}

static void puts_(struct ow *w, const char *s)
{
    put(w, s, strlen(s));
}

/* Label values and HELP: \\, \" and \n escaped; invalid UTF-8 as U+FFFD. */
static void put_escaped(struct ow *w, const char *str, size_t n)
{
    const uint8_t *s = (const uint8_t *)str;
    for (size_t i = 0; i < n;) {
        uint8_t c = s[i];
        size_t len = c < 0x80 ? 1 : wire__utf8_len(s + i, n - i);
        if (!len)
            puts_(w, "\xEF\xBF\xBD"), len = 1;
        else if (c == '\n')
            puts_(w, "\\n");
        else if (c == '\\' || c == '"')
            put(w, c == '\\' ? "\\\\" : "\\\"", 2);
        else
            put(w, s + i, len);
        i += len;
    }
}

static int ends_with_unit(const char *name, const char *unit)
{
    size_t n = strlen(name), u = strlen(unit);
    return u && n > u + 1 && name[n - u - 1] == '_' && strcmp(name + n - u, unit) == 0;
}

int wire_om_family(const struct rec_metric *m, struct wire_om_family *f)
{
    memset(f, 0, sizeof *f);
    if (!m || m->type > REC_HISTOGRAM || (m->type != REC_GAUGE && m->temporality == 1) ||
        wire_prom_name(m, f->name, sizeof f->name) != 0)
        return DIO_EINVAL;
    f->type = m->type == REC_HISTOGRAM ? 2 : m->type == REC_SUM && m->monotonic ? 0 : 1;
    size_t n = strlen(f->name);
    if (f->type == 0 && n > 6 && strcmp(f->name + n - 6, "_total") == 0)
        f->name[n - 6] = 0;
    wire__prom_unit(m, f->unit, sizeof f->unit);
    if (!ends_with_unit(f->name, f->unit))
        f->unit[0] = 0;
    return 0;
}

int wire_om_meta(struct core_buf *out, const struct wire_om_family *f, const struct rec_metric *m)
{
    static const char *const types[] = {"counter", "gauge", "histogram"};
    struct ow w = {out, 0};
    puts_(&w, "# TYPE ");
    puts_(&w, f->name);
    puts_(&w, " ");
    puts_(&w, types[f->type]);
    if (f->unit[0]) {
        puts_(&w, "\n# UNIT ");
        puts_(&w, f->name);
        puts_(&w, " ");
        puts_(&w, f->unit);
    }
    const char *help = m->description && *m->description ? m->description : m->name;
    puts_(&w, "\n# HELP ");
    puts_(&w, f->name);
    puts_(&w, " ");
    put_escaped(&w, help, strlen(help));
    puts_(&w, "\n");
    return w.err;
}

static void put_label(struct ow *w, const char **sep, const char *name, size_t nlen, const char *v,
                      size_t vlen)
{
    puts_(w, *sep);
    put(w, name, nlen);
    puts_(w, "=\"");
    put_escaped(w, v, vlen);
    puts_(w, "\"");
    *sep = ",";
}

static void put_attr_label(struct ow *w, const char **sep, const struct rec_attr *a)
{
    char lname[256], num[32];
    size_t len = wire__prom_label(a->key, a->key_len, lname, sizeof lname);
    if (!len)
        return;
    if (a->type == REC_STR)
        put_label(w, sep, lname, len, a->v.s.p, a->v.s.len);
    else if (a->type == REC_INT)
        put_label(w, sep, lname, len, num,
                  (size_t)snprintf(num, sizeof num, "%lld", (long long)a->v.i));
    else if (a->type == REC_DBL)
        put_label(w, sep, lname, len, num, wire__fmt_double(num, a->v.d));
    else
        put_label(w, sep, lname, len, a->v.b ? "true" : "false", a->v.b ? 4 : 5);
}

struct sample {
    const struct wire_om_family *f;
    const struct rec_batch *b;
    const struct rec_point *pt;
    char ts[32]; /* " <seconds>[.mmm]" */
};

/* "<family><suffix>{labels} " */
static void put_head(struct ow *w, const struct sample *s, const char *suffix, const char *le)
{
    const struct rec_resource *r = &s->b->resources[s->pt->res];
    const char *sep = "{";
    puts_(w, s->f->name);
    puts_(w, suffix);
    if (r->job && *r->job)
        put_label(w, &sep, "job", 3, r->job, strlen(r->job));
    if (r->instance && *r->instance)
        put_label(w, &sep, "instance", 8, r->instance, strlen(r->instance));
    const struct rec_attr *a = wire__attrs(s->b, s->pt->attr_off);
    for (uint32_t i = 0; i < s->pt->nattrs; i++)
        put_attr_label(w, &sep, &a[i]);
    if (le)
        put_label(w, &sep, "le", 2, le, strlen(le));
    puts_(w, sep[0] == ',' ? "} " : " ");
}

static void put_u64_ts(struct ow *w, const struct sample *s, uint64_t v)
{
    if (!w->err && core_buf_put_u64(w->b, v))
        w->err = DIO_EFULL;
    puts_(w, s->ts);
}

static void put_dbl_ts(struct ow *w, const struct sample *s, double v)
{
    char tmp[32];
    put(w, tmp, wire__fmt_double(tmp, v));
    puts_(w, s->ts);
}

static void put_histogram(struct ow *w, const struct sample *s)
{
    const struct rec_metric *m = s->pt->metric;
    const uint64_t *bk = s->b->buckets + s->pt->bucket_off;
    uint64_t cum = 0;
    char le[32];
    for (uint32_t i = 0; i < m->nbounds; i++) {
        cum += bk[i];
        wire__fmt_double(le, m->bounds[i]);
        put_head(w, s, "_bucket", le);
        put_u64_ts(w, s, cum);
    }
    put_head(w, s, "_bucket", "+Inf");
    put_u64_ts(w, s, cum + bk[m->nbounds]);
    put_head(w, s, "_count", NULL);
    put_u64_ts(w, s, s->pt->count);
    put_head(w, s, "_sum", NULL);
    put_dbl_ts(w, s, s->pt->sum);
}

static int point_ok(const struct rec_batch *b, const struct rec_point *pt)
{
    const struct rec_metric *m = pt->metric;
    if (!m || m->type > REC_HISTOGRAM || pt->res >= b->nresources ||
        (uint64_t)pt->attr_off + pt->nattrs > b->nattrs)
        return 0;
    if (m->type == REC_HISTOGRAM)
        return (uint64_t)pt->bucket_off + m->nbounds + 1 <= b->nbuckets;
    return m->is_int || isfinite(pt->value.d) || !(m->type == REC_SUM && m->monotonic);
}

int wire_om_point(struct core_buf *out, const struct wire_om_family *f, const struct rec_batch *b,
                  const struct rec_point *pt)
{
    if (!point_ok(b, pt))
        return DIO_EINVAL;
    struct ow w = {out, 0};
    struct sample s = {f, b, pt, ""};
    uint64_t ms = pt->time_ns / 1000000ULL;
    if (ms % 1000)
        snprintf(s.ts, sizeof s.ts, " %llu.%03u\n", (unsigned long long)(ms / 1000),
                 (unsigned)(ms % 1000));
    else
        snprintf(s.ts, sizeof s.ts, " %llu\n", (unsigned long long)(ms / 1000));
    size_t start = out->len;
    if (f->type == 2) {
        put_histogram(&w, &s);
    } else {
        put_head(&w, &s, f->type == 0 ? "_total" : "", NULL);
        if (pt->metric->is_int) {
            if (!w.err && core_buf_put_i64(w.b, pt->value.i))
                w.err = DIO_EFULL;
            puts_(&w, s.ts);
        } else {
            put_dbl_ts(&w, &s, pt->value.d);
        }
    }
    if (w.err)
        out->len = start;
    return w.err;
}
