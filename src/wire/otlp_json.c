/* OTLP/JSON encoder: the same request as otlp_pb.c, on one line ending in '\n', as the
 * OpenTelemetry Collector's file exporter writes it (and its otlpjsonfile receiver reads it).
 *
 * OTLP's JSON mapping departs from proto3 JSON in two places: trace/span ids are lowercase hex
 * (not base64) and enums are integers. As in proto3 JSON, keys are lowerCamelCase, 64-bit
 * integers are decimal strings, non-finite doubles are the strings "NaN", "Infinity" and
 * "-Infinity", and default values are omitted (the same fields the protobuf encoder omits).
 * Strings are escaped per RFC 8259; bytes that are not valid UTF-8 become U+FFFD, one per
 * byte, so the output is always valid UTF-8 JSON whatever the world put in a string.
 *
 * Writes go through a sticky-error writer: after the first DIO_EFULL everything is skipped
 * and the error is returned at the end. */
#include <stdio.h>
#include <string.h>

#include "wire/wire.h"

struct jw {
    struct core_buf *b;
    const struct rec_batch *rb;
    int verify;
    int err;
    /* Histogram bounds as JSON text, formatted once per descriptor (float formatting is the
     * costliest part of this encoder). bounds_for is NULL when nothing is cached. */
    const struct rec_metric *bounds_for;
    size_t bounds_len;
    char bounds[1024];
};

static void put(struct jw *w, const void *s, size_t n)
{
    if (!w->err && core_buf_append(w->b, s, n))
        w->err = DIO_EFULL;
}

#define PUTS(w, lit) put(w, "" lit, sizeof(lit) - 1) /* literals only */

static void put_u64(struct jw *w, uint64_t v)
{
    if (!w->err && core_buf_put_u64(w->b, v))
        w->err = DIO_EFULL;
}

/* ---- scalars --------------------------------------------------------------------------- */

/* A quoted, escaped JSON string. Runs of bytes that need no escaping are copied at once. */
static void put_jstr(struct jw *w, const char *str, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const uint8_t *s = (const uint8_t *)str;
    size_t run = 0, i = 0;
    if (n == 0) { /* str may be NULL then */
        PUTS(w, "\"\"");
        return;
    }
    PUTS(w, "\"");
    while (i < n) {
        uint8_t c = s[i];
        size_t len = 1;
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            i++;
            continue;
        }
        if (c >= 0x80 && (len = wire__utf8_len(s + i, n - i)) != 0) {
            i += len;
            continue;
        }
        put(w, s + run, i - run);
        char esc[6] = {'\\', (char)c, 0, 0, 0, 0};
        if (c >= 0x80) {
            PUTS(w, "\xEF\xBF\xBD"); /* U+FFFD for one invalid byte */
        } else if (c == '"' || c == '\\') {
            put(w, esc, 2);
        } else {
            const char *named = strchr("\bb\ff\nn\rr\tt", c);
            if (named && c) {
                esc[1] = named[1];
                put(w, esc, 2);
            } else {
                memcpy(esc + 1, "u00", 3);
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 15];
                put(w, esc, 6);
            }
        }
        run = ++i;
    }
    put(w, s + run, n - run);
    PUTS(w, "\"");
}

static void put_cstr(struct jw *w, const char *s)
{
    put_jstr(w, s, strlen(s));
}

/* key (which carries its own punctuation) followed by a quoted decimal. */
static void put_key_u64(struct jw *w, const char *key, uint64_t v)
{
    put(w, key, strlen(key));
    PUTS(w, "\"");
    put_u64(w, v);
    PUTS(w, "\"");
}

static void put_i64str(struct jw *w, int64_t v)
{
    PUTS(w, "\"");
    if (v < 0) {
        PUTS(w, "-");
        put_u64(w, (uint64_t)0 - (uint64_t)v);
    } else {
        put_u64(w, (uint64_t)v);
    }
    PUTS(w, "\"");
}

static void put_double(struct jw *w, double d)
{
    char tmp[32];
    size_t n = wire__fmt_double(tmp, d);
    if (tmp[0] == 'N')
        PUTS(w, "\"NaN\"");
    else if (tmp[1] == 'I')
        put(w, tmp[0] == '+' ? "\"Infinity\"" : "\"-Infinity\"", tmp[0] == '+' ? 10 : 11);
    else
        put(w, tmp, n);
}

static void put_hex(struct jw *w, const uint8_t *id, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    char tmp[34];
    tmp[0] = '"';
    for (size_t i = 0; i < n; i++) {
        tmp[1 + 2 * i] = hex[id[i] >> 4];
        tmp[2 + 2 * i] = hex[id[i] & 15];
    }
    tmp[1 + 2 * n] = '"';
    put(w, tmp, 2 * n + 2);
}

static int is_zero(const uint8_t *id, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (id[i])
            return 0;
    return 1;
}

/* ---- attributes ------------------------------------------------------------------------ */

static void put_attr(struct jw *w, const struct rec_attr *a)
{
    PUTS(w, "{\"key\":");
    put_jstr(w, a->key, a->key_len);
    switch (a->type) {
    case REC_STR:
        PUTS(w, ",\"value\":{\"stringValue\":");
        put_jstr(w, a->v.s.p, a->v.s.len);
        break;
    case REC_INT:
        PUTS(w, ",\"value\":{\"intValue\":");
        put_i64str(w, a->v.i);
        break;
    case REC_DBL:
        PUTS(w, ",\"value\":{\"doubleValue\":");
        put_double(w, a->v.d);
        break;
    default:
        PUTS(w, ",\"value\":{\"boolValue\":");
        if (a->v.b)
            PUTS(w, "true");
        else
            PUTS(w, "false");
        break;
    }
    PUTS(w, "}}");
}

static void put_int_kv(struct jw *w, const char *key, uint64_t v)
{
    PUTS(w, "{\"key\":");
    put_cstr(w, key);
    PUTS(w, ",\"value\":{\"intValue\":");
    put_i64str(w, (int64_t)v);
    PUTS(w, "}}");
}

/* ,"<name>":[...] of the attributes plus, when verifying, seq and generation time. Nothing
 * when the list would be empty. */
static void put_attrs(struct jw *w, const char *name, const struct rec_attr *a, uint32_t n,
                      int verify, uint64_t seq, uint64_t gen)
{
    if (n == 0 && !verify)
        return;
    put(w, name, strlen(name));
    PUTS(w, "[");
    for (uint32_t i = 0; i < n; i++) {
        if (i)
            PUTS(w, ",");
        put_attr(w, &a[i]);
    }
    if (verify) {
        if (n)
            PUTS(w, ",");
        put_int_kv(w, REC_ATTR_SEQ, seq);
        PUTS(w, ",");
        put_int_kv(w, REC_ATTR_GEN, gen);
    }
    PUTS(w, "]");
}

/* ---- records --------------------------------------------------------------------------- */

static void put_span(struct jw *w, const struct rec_span *s)
{
    PUTS(w, "{\"traceId\":");
    put_hex(w, s->trace_id, 16);
    PUTS(w, ",\"spanId\":");
    put_hex(w, s->span_id, 8);
    if (!is_zero(s->parent_id, 8)) {
        PUTS(w, ",\"parentSpanId\":");
        put_hex(w, s->parent_id, 8);
    }
    if (s->name.len) {
        PUTS(w, ",\"name\":");
        put_jstr(w, s->name.p, s->name.len);
    }
    if (s->kind) {
        PUTS(w, ",\"kind\":");
        put_u64(w, s->kind);
    }
    if (s->start_ns)
        put_key_u64(w, ",\"startTimeUnixNano\":", s->start_ns);
    if (s->end_ns)
        put_key_u64(w, ",\"endTimeUnixNano\":", s->end_ns);
    put_attrs(w, ",\"attributes\":", wire__attrs(w->rb, s->attr_off), s->nattrs, w->verify, s->seq,
              s->gen_ns);
    if (s->status || s->status_msg.len) {
        PUTS(w, ",\"status\":{");
        if (s->status_msg.len) {
            PUTS(w, "\"message\":");
            put_jstr(w, s->status_msg.p, s->status_msg.len);
        }
        if (s->status) {
            if (s->status_msg.len)
                PUTS(w, ",");
            PUTS(w, "\"code\":");
            put_u64(w, s->status);
        }
        PUTS(w, "}");
    }
    PUTS(w, "}");
}

/* "key": preceded by a comma unless it is the object's first member. */
static void put_member(struct jw *w, int *first, const char *key)
{
    if (!*first)
        PUTS(w, ",");
    *first = 0;
    put(w, key, strlen(key));
}

static void put_log(struct jw *w, const struct rec_log *l)
{
    int first = 1;
    PUTS(w, "{");
    if (l->time_ns) {
        put_member(w, &first, "\"timeUnixNano\":");
        put_key_u64(w, "", l->time_ns);
    }
    if (l->observed_ns) {
        put_member(w, &first, "\"observedTimeUnixNano\":");
        put_key_u64(w, "", l->observed_ns);
    }
    if (l->severity) {
        put_member(w, &first, "\"severityNumber\":");
        put_u64(w, l->severity);
    }
    const char *text = wire__severity_text(l->severity);
    if (text) {
        put_member(w, &first, "\"severityText\":");
        put_cstr(w, text);
    }
    if (l->body.len) {
        put_member(w, &first, "\"body\":{\"stringValue\":");
        put_jstr(w, l->body.p, l->body.len);
        PUTS(w, "}");
    }
    if (l->nattrs || w->verify) {
        put_member(w, &first, "");
        put_attrs(w, "\"attributes\":", wire__attrs(w->rb, l->attr_off), l->nattrs, w->verify,
                  l->seq, l->gen_ns);
    }
    if (!is_zero(l->trace_id, 16)) {
        put_member(w, &first, "\"traceId\":");
        put_hex(w, l->trace_id, 16);
    }
    if (!is_zero(l->span_id, 8)) {
        put_member(w, &first, "\"spanId\":");
        put_hex(w, l->span_id, 8);
    }
    PUTS(w, "}");
}

/* ,"explicitBounds":[...] for m, from the cache when it holds m's bounds. */
static void put_bounds(struct jw *w, const struct rec_metric *m)
{
    PUTS(w, ",\"explicitBounds\":[");
    if (w->bounds_for != m) {
        size_t len = 0, i = 0;
        for (; i < m->nbounds && len + 34 < sizeof w->bounds; i++) {
            if (i)
                w->bounds[len++] = ',';
            char tmp[32];
            size_t n = wire__fmt_double(tmp, m->bounds[i]);
            if (tmp[0] == 'N' || tmp[1] == 'I') /* non-finite bounds are invalid anyway */
                n = (size_t)snprintf(tmp, sizeof tmp, "\"%s\"",
                                     tmp[0] == 'N'   ? "NaN"
                                     : tmp[0] == '+' ? "Infinity"
                                                     : "-Infinity");
            memcpy(w->bounds + len, tmp, n);
            len += n;
        }
        w->bounds_for = i == m->nbounds ? m : NULL;
        w->bounds_len = len;
    }
    if (w->bounds_for == m) {
        put(w, w->bounds, w->bounds_len);
    } else {
        for (uint32_t i = 0; i < m->nbounds; i++) {
            if (i)
                PUTS(w, ",");
            put_double(w, m->bounds[i]);
        }
    }
    PUTS(w, "]");
}

static void put_point(struct jw *w, const struct rec_point *pt)
{
    const struct rec_metric *m = pt->metric;
    int first = 1;
    PUTS(w, "{");
    if (pt->start_ns) {
        put_member(w, &first, "\"startTimeUnixNano\":");
        put_key_u64(w, "", pt->start_ns);
    }
    if (pt->time_ns) {
        put_member(w, &first, "\"timeUnixNano\":");
        put_key_u64(w, "", pt->time_ns);
    }
    if (pt->nattrs) {
        put_member(w, &first, "");
        put_attrs(w, "\"attributes\":", wire__attrs(w->rb, pt->attr_off), pt->nattrs, 0, 0, 0);
    }
    if (m->type != REC_HISTOGRAM) {
        put_member(w, &first, m->is_int ? "\"asInt\":" : "\"asDouble\":");
        if (m->is_int)
            put_i64str(w, pt->value.i);
        else
            put_double(w, pt->value.d);
        PUTS(w, "}");
        return;
    }
    if (pt->count) {
        put_member(w, &first, "\"count\":");
        put_key_u64(w, "", pt->count);
    }
    put_member(w, &first, "\"sum\":");
    put_double(w, pt->sum);
    PUTS(w, ",\"bucketCounts\":[");
    const uint64_t *bk = w->rb->buckets + pt->bucket_off;
    for (uint32_t i = 0; i <= m->nbounds; i++)
        put_key_u64(w, i ? "," : "", bk[i]);
    PUTS(w, "]");
    if (m->nbounds)
        put_bounds(w, m);
    if (pt->count) {
        PUTS(w, ",\"min\":");
        put_double(w, pt->min);
        PUTS(w, ",\"max\":");
        put_double(w, pt->max);
    }
    PUTS(w, "}");
}

/* ,"<key>":"<s>" when s is set. */
static void put_opt_str(struct jw *w, const char *key, const char *s)
{
    if (!s || !*s)
        return;
    put(w, key, strlen(key));
    put_cstr(w, s);
}

/* One Metric for grouped positions [k, end) of idx. */
static void put_metric(struct jw *w, const uint32_t *idx, uint32_t k, uint32_t end)
{
    static const char *const containers[] = {",\"gauge\":{", ",\"sum\":{", ",\"histogram\":{"};
    const struct rec_point *first = &w->rb->r.points[idx[k]];
    const struct rec_metric *m = first->metric;
    PUTS(w, "{\"name\":");
    put_cstr(w, m->name ? m->name : "");
    put_opt_str(w, ",\"description\":", m->description);
    put_opt_str(w, ",\"unit\":", m->unit);
    put(w, containers[m->type], strlen(containers[m->type]));
    PUTS(w, "\"dataPoints\":[");
    for (uint32_t j = k; j < end; j++) {
        if (j > k)
            PUTS(w, ",");
        put_point(w, &w->rb->r.points[idx[j]]);
    }
    PUTS(w, "]");
    if (m->type != REC_GAUGE && m->temporality) {
        PUTS(w, ",\"aggregationTemporality\":");
        put_u64(w, m->temporality);
    }
    if (m->type == REC_SUM && m->monotonic)
        PUTS(w, ",\"isMonotonic\":true");
    PUTS(w, "}");
    if (w->verify) {
        PUTS(w, ",\"metadata\":[");
        put_int_kv(w, REC_ATTR_SEQ, first->seq);
        PUTS(w, ",");
        put_int_kv(w, REC_ATTR_POINTS, end - k);
        PUTS(w, ",");
        put_int_kv(w, REC_ATTR_GEN, first->gen_ns);
        PUTS(w, "]");
    }
    PUTS(w, "}");
}

/* ---- request --------------------------------------------------------------------------- */

static const char *const names[REC_NSIGNALS][3] = {
    [REC_SPANS] = {"{\"resourceSpans\":[", "\"scopeSpans\":[", "\"spans\":["},
    [REC_METRICS] = {"{\"resourceMetrics\":[", "\"scopeMetrics\":[", "\"metrics\":["},
    [REC_LOGS] = {"{\"resourceLogs\":[", "\"scopeLogs\":[", "\"logRecords\":["},
};

static int check(const struct rec_batch *b, uint32_t i)
{
    uint32_t off, n;
    if (b->signal == REC_SPANS) {
        off = b->r.spans[i].attr_off, n = b->r.spans[i].nattrs;
    } else if (b->signal == REC_LOGS) {
        off = b->r.logs[i].attr_off, n = b->r.logs[i].nattrs;
    } else {
        const struct rec_point *pt = &b->r.points[i];
        const struct rec_metric *m = pt->metric;
        if (!m || m->type > REC_HISTOGRAM ||
            (m->type == REC_HISTOGRAM && (uint64_t)pt->bucket_off + m->nbounds + 1 > b->nbuckets))
            return DIO_EINVAL;
        off = pt->attr_off, n = pt->nattrs;
    }
    return (uint64_t)off + n <= b->nattrs ? 0 : DIO_EINVAL;
}

static void put_items(struct jw *w, const uint32_t *idx, uint32_t lo, uint32_t hi)
{
    const struct rec_batch *b = w->rb;
    for (uint32_t k = lo; k < hi && !w->err;) {
        if (k > lo)
            PUTS(w, ",");
        if (b->signal == REC_METRICS) {
            uint32_t end = wire__metric_run_end(b, idx, k, hi);
            put_metric(w, idx, k, end);
            k = end;
        } else if (b->signal == REC_SPANS) {
            put_span(w, &b->r.spans[idx[k++]]);
        } else {
            put_log(w, &b->r.logs[idx[k++]]);
        }
    }
}

static void put_resource(struct jw *w, const struct rec_resource *res, const uint32_t *idx,
                         uint32_t lo, uint32_t hi)
{
    const char *const *nm = names[w->rb->signal];
    PUTS(w, "{\"resource\":{");
    put_attrs(w, "\"attributes\":", res->attrs, res->nattrs, 0, 0, 0);
    PUTS(w, "},");
    put(w, nm[1], strlen(nm[1]));
    PUTS(w, "{\"scope\":{");
    if (res->scope_name && *res->scope_name) {
        PUTS(w, "\"name\":");
        put_cstr(w, res->scope_name);
        put_opt_str(w, ",\"version\":", res->scope_version);
    } else if (res->scope_version && *res->scope_version) {
        PUTS(w, "\"version\":");
        put_cstr(w, res->scope_version);
    }
    PUTS(w, "},");
    put(w, nm[2], strlen(nm[2]));
    put_items(w, idx, lo, hi);
    PUTS(w, "]}]}");
}

int wire_otlp_json_encode(struct core_buf *out, const struct rec_batch *b,
                          const struct wire_otlp_opts *o)
{
    if (!b || b->signal < 0 || b->signal >= REC_NSIGNALS)
        return DIO_EINVAL;
    struct wire__groups g;
    int rc = wire__groups_init(&g, b);
    for (uint32_t i = 0; rc == 0 && i < b->n; i++)
        rc = check(b, i);
    if (rc) {
        wire__groups_free(&g);
        return rc;
    }
    struct jw w = {.b = out, .rb = b, .verify = o && o->verify_attrs};
    put(&w, names[b->signal][0], strlen(names[b->signal][0]));
    int first = 1;
    for (uint32_t r = 0; r < g.nres; r++) {
        if (g.start[r] == g.start[r + 1])
            continue;
        if (!first)
            PUTS(&w, ",");
        first = 0;
        put_resource(&w, &b->resources[r], g.idx, g.start[r], g.start[r + 1]);
    }
    PUTS(&w, "]}\n");
    wire__groups_free(&g);
    return w.err;
}
