/* OTLP protobuf, walked in place: the sink's decoder for every Export*ServiceRequest it
 * receives as protobuf (OTLP/HTTP and OTLP/gRPC). Nothing is allocated or copied: the walker
 * steps over the wire format, reads the few fields an item needs (wire_item in wire.h) and
 * skips everything else as opaque bytes. protobuf-c (decode_otlp_pb.c) unpacked every
 * attribute into a KeyValue and an AnyValue first and was 47% of the sink's CPU on gRPC.
 *
 * What it reads, per message it walks (other fields are skipped, their wire type checked
 * where the field is known):
 *   request -> Resource{Spans,Metrics,Logs}: resource (service.name, diorama.run_id), scopes
 *   Span: ids, name, start / end, attributes (diorama.seq, diorama.gen_time_unix_nano)
 *   Metric: name, the last data member of the oneof, metadata; points: time, and for
 *           histograms count, bucket counts and bounds
 *   LogRecord: times, severity, ids, body (string), event name, attributes
 * The semantics follow protobuf-c's on the same bytes, so items equal those of the unpack path
 * (tests/unit/test_wire_decode.c and fuzz/fuzz_wire_otlp_walk.c compare the two): the last
 * occurrence of a scalar wins, a singular message given twice is merged (walked twice), a
 * oneof keeps only its last member, strings end at a NUL, a known field with the wrong wire
 * type fails the request. Not looked into, so not checked: the inside of skipped
 * sub-messages (attribute values other than ours, events, links, scope, exemplars). A request
 * protobuf-c accepts is always accepted here with the same items; some it refuses (a broken
 * skipped part, nesting deeper than 64 there, more memory than the arena's budget) are
 * accepted here, where they cost nothing.
 *
 * Two passes: the first checks the framing of everything walked, the second hands out items,
 * so a malformed request is refused before the callback saw any of it. */
#include <string.h>

#include "wire/decode_int.h"

/* The body of a message being read, and one field of it. */
struct pbr {
    const uint8_t *p, *end;
};
struct pbf {
    uint32_t num;
    int wt;
    uint64_t v;     /* varint, fixed64 or fixed32 value */
    struct pbr sub; /* length-delimited content */
};

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5, ANY = -1, PACKED_I64 = -2 };

/* Expected wire types by field number for the messages walked (ANY: unknown or not checked;
 * bools are ANY because protobuf-c takes a bool in any wire type). */
#define WT_TABLE(name, ...) static const signed char name[] = {ANY, __VA_ARGS__}
WT_TABLE(wt_list, WT_LEN);                   /* request, ResourceX, ScopeX */
WT_TABLE(wt_rblock, WT_LEN, WT_LEN, WT_LEN); /* Resource{Spans,...}: 1,2,3 */
WT_TABLE(wt_resource, WT_LEN, WT_VARINT);    /* Resource */
WT_TABLE(wt_kv, WT_LEN, WT_LEN);             /* KeyValue */
WT_TABLE(wt_any, WT_LEN, ANY, WT_VARINT, WT_I64, WT_LEN, WT_LEN, WT_LEN); /* AnyValue */
WT_TABLE(wt_span, WT_LEN, WT_LEN, WT_LEN, WT_LEN, WT_LEN, WT_VARINT, WT_I64, WT_I64, WT_LEN,
         WT_VARINT, WT_LEN, WT_VARINT, WT_LEN, WT_VARINT, WT_LEN, WT_I32);
WT_TABLE(wt_metric, WT_LEN, WT_LEN, WT_LEN, ANY, WT_LEN, ANY, WT_LEN, ANY, WT_LEN, WT_LEN, WT_LEN,
         WT_LEN);
WT_TABLE(wt_sum, WT_LEN, WT_VARINT, ANY); /* Sum */
WT_TABLE(wt_hdata, WT_LEN, WT_VARINT);    /* Histogram, ExponentialHistogram */
WT_TABLE(wt_number, ANY, WT_I64, WT_I64, WT_I64, WT_LEN, WT_I64, WT_LEN, WT_VARINT);
WT_TABLE(wt_hist, ANY, WT_I64, WT_I64, WT_I64, WT_I64, PACKED_I64, PACKED_I64, WT_LEN, WT_LEN,
         WT_VARINT, WT_I64, WT_I64);
WT_TABLE(wt_exp, WT_LEN, WT_I64, WT_I64, WT_I64, WT_I64, WT_VARINT, WT_I64, WT_LEN, WT_LEN,
         WT_VARINT, WT_LEN, WT_I64, WT_I64, WT_I64);
WT_TABLE(wt_summary, ANY, WT_I64, WT_I64, WT_I64, WT_I64, WT_LEN, WT_LEN);
WT_TABLE(wt_log, WT_I64, WT_VARINT, WT_LEN, ANY, WT_LEN, WT_LEN, WT_VARINT, WT_I32, WT_LEN, WT_LEN,
         WT_I64, WT_LEN);
#define WT(t) t, sizeof t

/* ---- wire format (bounds as protobuf-c reads them) ------------------------------------------ */

static uint64_t le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n; i-- > 0;)
        v = v << 8 | p[i];
    return v;
}

/* A tag: at most 5 bytes; a first byte without a field number is an error. */
static int read_tag(struct pbr *r, struct pbf *f)
{
    const uint8_t *p = r->p;
    size_t max = (size_t)(r->end - p) > 5 ? 5 : (size_t)(r->end - p);
    if ((p[0] & 0xf8) == 0)
        return -1;
    f->wt = p[0] & 7;
    uint32_t num = (p[0] & 0x7f) >> 3;
    unsigned shift = 4;
    if (!(p[0] & 0x80)) {
        f->num = num;
        r->p++;
        return 0;
    }
    for (size_t i = 1; i < max; i++, shift += 7) {
        num |= (uint32_t)(p[i] & 0x7f) << shift;
        if (!(p[i] & 0x80)) {
            f->num = num;
            r->p += i + 1;
            return 0;
        }
    }
    return -1;
}

/* A varint of at most `max` bytes (10 for values, 5 for lengths). */
static int read_varint(struct pbr *r, size_t max, uint64_t *v)
{
    size_t left = (size_t)(r->end - r->p);
    uint64_t x = 0;
    if (max > left)
        max = left;
    for (size_t i = 0; i < max; i++) {
        x |= (uint64_t)(r->p[i] & 0x7f) << (7 * i);
        if (!(r->p[i] & 0x80)) {
            *v = x;
            r->p += i + 1;
            return 0;
        }
    }
    return -1;
}

/* The next field: 1, 0 at the end, -1 malformed (or a known field of the wrong wire type
 * in table wt). */
static inline __attribute__((always_inline)) int next(struct pbr *r, struct pbf *f,
                                                      const signed char *wt, size_t nwt)
{
    if (r->p >= r->end)
        return 0;
    if (read_tag(r, f))
        return -1;
    f->v = 0;
    f->sub = (struct pbr){r->p, r->p};
    size_t left = (size_t)(r->end - r->p);
    switch (f->wt) {
    case WT_VARINT:
        if (read_varint(r, 10, &f->v))
            return -1;
        break;
    case WT_I64:
    case WT_I32: {
        size_t n = f->wt == WT_I64 ? 8 : 4;
        if (left < n)
            return -1;
        f->v = le(r->p, (int)n);
        r->p += n;
        break;
    }
    case WT_LEN: {
        uint64_t n;
        if (read_varint(r, 5, &n) || n > (uint64_t)(r->end - r->p))
            return -1;
        f->sub = (struct pbr){r->p, r->p + n};
        r->p += n;
        break;
    }
    default:
        return -1;
    }
    if (f->num >= nwt || wt[f->num] == ANY)
        return 1;
    if (wt[f->num] == PACKED_I64)
        return f->wt == WT_I64 || f->wt == WT_LEN ? 1 : -1;
    return f->wt == wt[f->num] ? 1 : -1;
}

/* A string as protobuf-c hands it out (NUL-terminated, so it ends at the first NUL). */
static struct rec_str str_of(const struct pbr *b)
{
    size_t n = (size_t)(b->end - b->p);
    const void *z = n ? memchr(b->p, 0, n) : NULL;
    if (z)
        n = (size_t)((const uint8_t *)z - b->p);
    return n ? (struct rec_str){(const char *)b->p, (uint32_t)n} : (struct rec_str){"", 0};
}

/* str_of(b) equals lit (n bytes, no NUL in it), without looking for the NUL first. */
static int str_is(const struct pbr *b, const char *lit, size_t n)
{
    size_t len = (size_t)(b->end - b->p);
    return (len == n || (len > n && b->p[n] == 0)) && memcmp(b->p, lit, n) == 0;
}

static ProtobufCBinaryData bytes_of(const struct pbr *b)
{
    return (ProtobufCBinaryData){(size_t)(b->end - b->p), (uint8_t *)(uintptr_t)b->p};
}

/* ---- attributes ------------------------------------------------------------------------ */

/* An AnyValue's oneof: the last member given wins. Walking every occurrence of a KeyValue's
 * value in turn gives protobuf-c's merge of them. */
struct anyv {
    uint32_t kase; /* field number of the member set, 0 none */
    uint64_t v;
    struct pbr s;
};

static int any_value(struct pbr r, struct anyv *a)
{
    struct pbf f;
    int rc;
    while ((rc = next(&r, &f, WT(wt_any))) > 0)
        if (f.num >= 1 && f.num <= 7)
            *a = (struct anyv){f.num, f.v, f.sub};
    return rc;
}

/* strtoll(s, &end, 10) with *end == '\0' required, on a string that ends at n. */
static int parse_decimal(struct rec_str s, int64_t *out)
{
    size_t i = 0;
    while (i < s.len && (s.p[i] == ' ' || (s.p[i] >= '\t' && s.p[i] <= '\r')))
        i++;
    int neg = i < s.len && s.p[i] == '-';
    if (i < s.len && (s.p[i] == '-' || s.p[i] == '+'))
        i++;
    if (i == s.len)
        return 0;
    uint64_t lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, x = 0;
    for (; i < s.len; i++) {
        if (s.p[i] < '0' || s.p[i] > '9')
            return 0;
        unsigned d = (unsigned)(s.p[i] - '0');
        x = x > (lim - d) / 10 ? lim : x * 10 + d; /* strtoll saturates */
    }
    *out = neg ? (int64_t)(0 - x) : (int64_t)x;
    return 1;
}

static int any_int(const struct anyv *a, int64_t *v)
{
    if (a->kase == 3) {
        *v = (int64_t)a->v;
        return 1;
    }
    struct rec_str s = str_of(&a->s);
    return a->kase == 1 && s.len && parse_decimal(s, v);
}

/* The usual KeyValue: key (field 1) then value (field 2), each with a one-byte length and
 * nothing else; read without the general loop (most of the walker's time is attributes). */
static int short_kv(struct pbr r, struct pbr *key, struct pbr *val)
{
    size_t n = (size_t)(r.end - r.p), k;
    if (n < 4 || r.p[0] != 0x0a || (k = r.p[1]) >= 0x80 || k + 4 > n)
        return 0;
    const uint8_t *v = r.p + 2 + k;
    if (v[0] != 0x12 || v[1] >= 0x80 || (size_t)v[1] != n - k - 4)
        return 0;
    *key = (struct pbr){r.p + 2, v};
    *val = (struct pbr){v + 2, r.end};
    return 1;
}

/* A KeyValue: its key (the last one given) and, when want(key) says so, its value (every
 * occurrence walked in turn: protobuf-c merges them; one is the rule). */
static int key_value(struct pbr r, struct pbr *key, struct anyv *val,
                     int (*want)(const struct pbr *key))
{
    struct pbr start = r, v1 = {r.p, r.p};
    struct pbf f;
    int rc, nval = 0;
    *key = v1;
    *val = (struct anyv){0, 0, v1};
    if (short_kv(r, key, &v1))
        return want(key) ? any_value(v1, val) : 0;
    while ((rc = next(&r, &f, WT(wt_kv))) > 0) {
        if (f.num == 1)
            *key = f.sub;
        else if (f.num == 2 && nval++ == 0)
            v1 = f.sub;
    }
    if (rc < 0 || !nval || !want(key))
        return rc;
    if (nval == 1)
        return any_value(v1, val);
    while ((rc = next(&start, &f, WT(wt_kv))) > 0)
        if (f.num == 2 && any_value(f.sub, val) < 0)
            return -1;
    return rc;
}

#define LIT(s) s, sizeof s - 1

static int verify_key(const struct pbr *k)
{
    return str_is(k, LIT(REC_ATTR_SEQ)) || str_is(k, LIT(REC_ATTR_GEN));
}

/* diorama.seq / diorama.gen_time_unix_nano: the last one with an int value wins. */
static int verify_attr(struct pbr r, struct wire_item *it)
{
    struct pbr key;
    struct anyv val;
    int64_t v;
    if (key_value(r, &key, &val, verify_key) < 0)
        return -1;
    if (!verify_key(&key) || !any_int(&val, &v))
        return 0;
    if (str_is(&key, LIT(REC_ATTR_SEQ)))
        it->seq = v;
    else
        it->gen_ns = (uint64_t)v;
    return 0;
}

static int resource_key(const struct pbr *k)
{
    return str_is(k, LIT("service.name")) || str_is(k, LIT(REC_ATTR_RUN));
}

static int resource(struct pbr r, struct wire_item *it)
{
    struct pbf f;
    int rc;
    while ((rc = next(&r, &f, WT(wt_resource))) > 0) {
        struct pbr key;
        struct anyv val;
        if (f.num != 1)
            continue;
        if (key_value(f.sub, &key, &val, resource_key) < 0)
            return -1;
        if (val.kase != 1)
            continue;
        if (str_is(&key, LIT("service.name")))
            it->service = str_of(&val.s);
        else if (str_is(&key, LIT(REC_ATTR_RUN)))
            it->run_id = str_of(&val.s);
    }
    return rc;
}

/* ---- items ----------------------------------------------------------------------------- */

struct walk {
    struct wire__sink *s; /* NULL in the checking pass */
    struct wire_item it;
};

static void give(struct walk *w)
{
    if (w->s)
        wire__emit(w->s, &w->it);
}

static int span(struct walk *w, struct pbr r)
{
    struct pbr tid = {r.p, r.p}, sid = tid, pid = tid;
    uint64_t start = 0, end = 0;
    struct pbf f;
    int rc;
    wire__item_reset(&w->it);
    while ((rc = next(&r, &f, WT(wt_span))) > 0) {
        switch (f.num) {
        case 1:
            tid = f.sub;
            break;
        case 2:
            sid = f.sub;
            break;
        case 4:
            pid = f.sub;
            break;
        case 5:
            w->it.name = str_of(&f.sub);
            break;
        case 7:
            start = f.v;
            break;
        case 8:
            end = f.v;
            break;
        case 9:
            if (verify_attr(f.sub, &w->it))
                return -1;
            break;
        default:
            break;
        }
    }
    if (rc < 0)
        return rc;
    w->it.time_ns = end;
    ProtobufCBinaryData t = bytes_of(&tid), s = bytes_of(&sid), p = bytes_of(&pid);
    wire__check_span(&t, &s, &p, start, end, &w->it);
    give(w);
    return 0;
}

/* One histogram point: counts and order of bounds, checked as check_hist_point does. */
struct hist {
    size_t nb, ne;
    uint64_t count, sum;
    double last;
    int increasing;
};

static void hist_value(struct hist *h, int field, uint64_t v)
{
    if (field == 6) {
        h->nb++;
        h->sum += v;
        return;
    }
    double d;
    memcpy(&d, &v, sizeof d);
    if (h->ne++ > 0 && !(h->last < d))
        h->increasing = 0;
    h->last = d;
}

static int hist_repeated(struct hist *h, const struct pbf *f)
{
    if (f->wt == WT_I64) {
        hist_value(h, (int)f->num, f->v);
        return 0;
    }
    size_t n = (size_t)(f->sub.end - f->sub.p);
    if (n % 8)
        return -1; /* packed fixed64 / double */
    for (size_t i = 0; i < n; i += 8)
        hist_value(h, (int)f->num, le(f->sub.p + i, 8));
    return 0;
}

static void hist_check(const struct hist *h, struct wire_item *it)
{
    if (h->nb == 0 && h->ne == 0)
        return;
    if (h->nb != h->ne + 1)
        wire__invalid(it, "histogram does not have len(bounds)+1 buckets");
    else if (!h->increasing)
        wire__invalid(it, "histogram bounds are not increasing");
    else if (h->sum != h->count)
        wire__invalid(it, "histogram bucket counts do not add up to count");
}

/* A data point of Metric data member `kind` (5 gauge ... 11 summary): its time. */
static int point(struct pbr r, uint32_t kind, uint64_t *t, struct wire_item *it)
{
    static const struct {
        const signed char *wt;
        size_t n;
    } tables[12] = {[5] = {WT(wt_number)},
                    [7] = {WT(wt_number)},
                    [9] = {WT(wt_hist)},
                    [10] = {WT(wt_exp)},
                    [11] = {WT(wt_summary)}};
    struct hist h = {0, 0, 0, 0, 0, 1};
    struct pbf f;
    int rc;
    while ((rc = next(&r, &f, tables[kind].wt, tables[kind].n)) > 0) {
        if (f.num == 3)
            *t = f.v; /* the last one given */
        else if (kind == 9 && f.num == 4)
            h.count = f.v;
        else if (kind == 9 && (f.num == 6 || f.num == 7) && hist_repeated(&h, &f))
            return -1;
    }
    if (kind == 9 && rc == 0)
        hist_check(&h, it);
    return rc;
}

static int metric_points(struct pbr r, uint32_t kind, struct wire_item *it)
{
    size_t n = 0;
    uint64_t t = 0;
    struct pbf f;
    int rc = 0;
    /* Gauge and Summary have only field 1 (wt_list) */
    const signed char *wt = kind == 7 ? wt_sum : kind == 9 || kind == 10 ? wt_hdata : wt_list;
    size_t nwt = kind == 7                 ? sizeof wt_sum
                 : kind == 9 || kind == 10 ? sizeof wt_hdata
                                           : sizeof wt_list;
    while (kind && (rc = next(&r, &f, wt, nwt)) > 0)
        if (f.num == 1) {
            uint64_t pt = 0;
            if (point(f.sub, kind, &pt, it) < 0)
                return -1;
            t = pt > t ? pt : t;
            n++;
        }
    it->count = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
    it->time_ns = t;
    if (n == 0)
        wire__invalid(it, "metric has no data points");
    return rc;
}

static int metric(struct walk *w, struct pbr r)
{
    struct pbr data = {r.p, r.p};
    uint32_t kind = 0;
    struct pbf f;
    int rc;
    wire__item_reset(&w->it);
    while ((rc = next(&r, &f, WT(wt_metric))) > 0) {
        if (f.num == 1)
            w->it.name = str_of(&f.sub);
        else if (f.num == 5 || f.num == 7 || f.num == 9 || f.num == 10 || f.num == 11)
            kind = f.num, data = f.sub; /* a oneof: the last member given replaces the rest */
        else if (f.num == 12 && verify_attr(f.sub, &w->it))
            return -1;
    }
    if (rc < 0 || metric_points(data, kind, &w->it) < 0)
        return -1;
    give(w);
    return 0;
}

#define BODY_PREFIX 64 /* as decode_otlp_pb.c: a log's name is at most this much of its body */

static int log_record(struct walk *w, struct pbr r)
{
    struct pbr tid = {r.p, r.p}, sid = tid, event = tid;
    struct anyv body = {0, 0, {r.p, r.p}};
    uint64_t time = 0, observed = 0;
    uint32_t severity = 0;
    struct pbf f;
    int rc;
    wire__item_reset(&w->it);
    while ((rc = next(&r, &f, WT(wt_log))) > 0) {
        switch (f.num) {
        case 1:
            time = f.v;
            break;
        case 11:
            observed = f.v;
            break;
        case 2:
            severity = (uint32_t)f.v;
            break;
        case 5:
            if (any_value(f.sub, &body) < 0)
                return -1;
            break;
        case 6:
            if (verify_attr(f.sub, &w->it))
                return -1;
            break;
        case 9:
            tid = f.sub;
            break;
        case 10:
            sid = f.sub;
            break;
        case 12:
            event = f.sub;
            break;
        default:
            break;
        }
    }
    if (rc < 0)
        return rc;
    struct rec_str name = str_of(&event);
    if (!name.len && body.kase == 1) {
        name = str_of(&body.s);
        name.len = name.len > BODY_PREFIX ? BODY_PREFIX : name.len;
    }
    w->it.name = name;
    w->it.time_ns = time ? time : observed;
    if (severity > 24)
        wire__invalid(&w->it, "severity number is above 24");
    if (tid.end - tid.p != 0 && tid.end - tid.p != 16)
        wire__invalid(&w->it, "trace id is not 16 bytes");
    if (sid.end - sid.p != 0 && sid.end - sid.p != 8)
        wire__invalid(&w->it, "span id is not 8 bytes");
    give(w);
    return 0;
}

/* ---- the request ------------------------------------------------------------------------- */

typedef int (*item_fn)(struct walk *w, struct pbr r);
static const item_fn items[REC_NSIGNALS] = {span, metric, log_record};

static int stopped(const struct walk *w)
{
    return w->s && w->s->stopped;
}

/* Scope{Spans,Metrics,Logs}: field 2 holds the items. */
static int scope(struct walk *w, struct pbr r)
{
    struct pbf f;
    int rc;
    while (!stopped(w) && (rc = next(&r, &f, WT(wt_rblock))) > 0)
        if (f.num == 2 && items[w->it.signal](w, f.sub) < 0)
            return -1;
    return stopped(w) ? 0 : rc;
}

/* Resource{Spans,Metrics,Logs}: the resource first, wherever it sits (1), then scopes (2). */
static int resource_block(struct walk *w, struct pbr r)
{
    struct pbr again = r;
    struct pbf f;
    int rc;
    w->it.service = w->it.run_id = (struct rec_str){"", 0};
    while ((rc = next(&r, &f, WT(wt_rblock))) > 0)
        if (f.num == 1 && resource(f.sub, &w->it) < 0)
            return -1;
    if (rc < 0)
        return rc;
    while (!stopped(w) && (rc = next(&again, &f, WT(wt_rblock))) > 0)
        if (f.num == 2 && scope(w, f.sub) < 0)
            return -1;
    return stopped(w) ? 0 : rc;
}

static int walk(struct walk *w, const uint8_t *body, size_t n)
{
    struct pbr r = {body, body + n};
    struct pbf f;
    int rc;
    while (!stopped(w) && (rc = next(&r, &f, WT(wt_list))) > 0)
        if (f.num == 1 && resource_block(w, f.sub) < 0)
            return -1;
    return stopped(w) ? 0 : rc;
}

int wire__otlp_walk(int signal, const void *body, size_t n, struct wire__sink *s, char *err,
                    size_t errlen)
{
    struct walk w = {NULL, {.signal = signal}};
    if (walk(&w, body, n) < 0)
        return wire__fail(err, errlen, DIO_EPARSE, "malformed protobuf");
    w.s = s;
    walk(&w, body, n);
    return 0;
}
