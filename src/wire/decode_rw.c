/* Prometheus remote write 1.0 and 2.0: snappy block format, then a WriteRequest unpacked by
 * protobuf-c (generated from proto/remote.proto and proto/remote_v2.proto) into a budgeted arena.
 * One item per series.
 *
 * The uncompressed size is read from the snappy preamble and refused past the caller's limit
 * before anything is allocated; snappy_uncompress then checks the stream against it. */
#include <snappy-c.h>
#include <string.h>

#include "proto/remote.pb-c.h"
#include "proto/remote_v2.pb-c.h"
#include "wire/decode_int.h"

typedef Prometheus__TimeSeries Series;
typedef Prometheus__Label Label;

static int name_char(char c, int first, int colon)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':'))
        return 1;
    return !first && c >= '0' && c <= '9';
}

/* [a-zA-Z_:][a-zA-Z0-9_:]* for metric names (colon), [a-zA-Z_][a-zA-Z0-9_]* for labels. */
static int name_ok(const char *s, int colon)
{
    if (!s[0])
        return 0;
    for (size_t i = 0; s[i]; i++)
        if (!name_char(s[i], i == 0, colon))
            return 0;
    return 1;
}

static struct rec_str str_of(const char *s)
{
    return (struct rec_str){s, (uint32_t)strlen(s)};
}

/* Keeps the first problem found. */
static void problem(struct wire_item *it, const char *what)
{
    if (!it->problem)
        it->problem = what;
}

/* Labels: sorted, unique, non-empty, valid names; __name__ (and job) picked up on the way. */
static void check_labels(const Series *ts, struct wire_item *it)
{
    const char *prev = NULL;
    int have_name = 0;
    for (size_t i = 0; i < ts->n_labels; i++) {
        const Label *l = ts->labels[i];
        int cmp = prev ? strcmp(prev, l->name) : -1;
        if (!l->name[0])
            problem(it, "empty label name");
        else if (cmp == 0)
            problem(it, "duplicate label name");
        else if (cmp > 0)
            problem(it, "labels are not sorted by name");
        else if (!name_ok(l->name, 0))
            problem(it, "bad label name");
        if (strcmp(l->name, "__name__") == 0) {
            have_name = 1;
            it->name = str_of(l->value);
            if (!name_ok(l->value, 1))
                problem(it, "bad metric name");
        } else if (strcmp(l->name, "job") == 0) {
            it->service = str_of(l->value);
        }
        prev = l->name;
    }
    if (!have_name)
        problem(it, "no __name__ label");
}

static void check_samples(const Series *ts, struct wire_item *it)
{
    int64_t newest = 0;
    for (size_t i = 0; i < ts->n_samples; i++) {
        int64_t t = ts->samples[i]->timestamp;
        if (i && t < ts->samples[i - 1]->timestamp)
            problem(it, "samples are not in timestamp order");
        if (t > newest)
            newest = t;
    }
    /* ms -> ns; timestamps beyond year 2262 do not fit and saturate. */
    it->time_ns =
        (uint64_t)newest > UINT64_MAX / 1000000 ? UINT64_MAX : (uint64_t)newest * 1000000u;
    it->count = ts->n_samples > UINT32_MAX ? UINT32_MAX : (uint32_t)ts->n_samples;
}

static void walk(const Prometheus__WriteRequest *req, wire_item_fn fn, void *ctx,
                 struct wire_decode_stats *st)
{
    for (size_t i = 0; i < req->n_timeseries; i++) {
        struct wire_item it = {.signal = WIRE_SAMPLES, .seq = -1};
        it.service = it.run_id = it.name = (struct rec_str){"", 0};
        check_labels(req->timeseries[i], &it);
        check_samples(req->timeseries[i], &it);
        it.valid = it.problem == NULL;
        st->items += it.count;
        if (!it.valid)
            st->rejected += it.count;
        if (fn && fn(ctx, &it))
            return;
    }
}

static int unpack_walk(const uint8_t *raw, size_t len, wire_item_fn fn, void *ctx,
                       struct wire_decode_stats *st, char *err, size_t errlen)
{
    struct wire__arena a;
    wire__arena_init(&a, wire__budget_for(len));
    Prometheus__WriteRequest *req = prometheus__write_request__unpack(&a.pa, len, raw);
    int rc = 0;
    if (!req)
        rc = wire__fail(err, errlen, DIO_EPARSE, "%s",
                        a.refused ? "request needs more memory than its size allows"
                                  : "malformed protobuf");
    else
        walk(req, fn, ctx, st);
    wire__arena_free(&a);
    return rc;
}

int wire_rw_decode(const void *body, size_t n, size_t max_uncompressed, wire_item_fn fn, void *ctx,
                   struct wire_decode_stats *st, char *err, size_t errlen)
{
    struct wire_decode_stats local;
    if (err && errlen)
        err[0] = '\0';
    if (n && !body)
        return wire__fail(err, errlen, DIO_EINVAL, "bad arguments");
    st = st ? st : &local;
    *st = (struct wire_decode_stats){0};
    size_t len;
    if (snappy_uncompressed_length(body, n, &len) != SNAPPY_OK)
        return wire__fail(err, errlen, DIO_EPARSE, "not snappy block format");
    if (len > max_uncompressed)
        return wire__fail(err, errlen, DIO_EFULL, "uncompressed size %zu is over the limit %zu",
                          len, max_uncompressed);
    uint8_t *raw = core_malloc(len);
    int rc;
    if (snappy_uncompress(body, n, (char *)raw, &len) != SNAPPY_OK)
        rc = wire__fail(err, errlen, DIO_EPARSE, "corrupt snappy data");
    else
        rc = unpack_walk(raw, len, fn, ctx, st, err, errlen);
    core_free(raw);
    return rc;
}

/* ---- 2.0 ---------------------------------------------------------------------------------
 * io.prometheus.write.v2.Request: every string is a reference into symbols (symbols[0] must be
 * ""). A series is valid when its label refs are in range and paired, its labels follow the
 * 1.0 rules above, and it has samples or histograms but not both; only valid series count as
 * written. */
typedef Io__Prometheus__Write__V2__Request Req2;
typedef Io__Prometheus__Write__V2__TimeSeries Series2;

static void check_labels2(const Req2 *req, const Series2 *ts, struct wire_item *it)
{
    const char *prev = NULL;
    int have_name = 0;
    if (ts->n_labels_refs % 2) {
        problem(it, "odd number of label refs");
        return;
    }
    for (size_t i = 0; i < ts->n_labels_refs; i += 2) {
        uint32_t nr = ts->labels_refs[i], vr = ts->labels_refs[i + 1];
        if (nr >= req->n_symbols || vr >= req->n_symbols) {
            problem(it, "label ref outside the symbols table");
            return;
        }
        const char *n = req->symbols[nr], *v = req->symbols[vr];
        int cmp = prev ? strcmp(prev, n) : -1;
        if (!n[0])
            problem(it, "empty label name");
        else if (cmp == 0)
            problem(it, "duplicate label name");
        else if (cmp > 0)
            problem(it, "labels are not sorted by name");
        else if (!name_ok(n, 0))
            problem(it, "bad label name");
        if (!strcmp(n, "__name__")) {
            have_name = 1;
            it->name = str_of(v);
            if (!name_ok(v, 1))
                problem(it, "bad metric name");
        } else if (!strcmp(n, "job")) {
            it->service = str_of(v);
        }
        prev = n;
    }
    if (!have_name)
        problem(it, "no __name__ label");
}

static void check_series2(const Req2 *req, const Series2 *ts, struct wire_item *it)
{
    int64_t newest = 0;
    check_labels2(req, ts, it);
    if (ts->n_samples && ts->n_histograms)
        problem(it, "samples and histograms in one series");
    if (!ts->n_samples && !ts->n_histograms)
        problem(it, "no samples or histograms");
    for (size_t i = 0; i < ts->n_samples; i++) {
        int64_t t = ts->samples[i]->timestamp;
        if (i && t < ts->samples[i - 1]->timestamp)
            problem(it, "samples are not in timestamp order");
        newest = t > newest ? t : newest;
    }
    for (size_t i = 0; i < ts->n_histograms; i++)
        newest = ts->histograms[i]->timestamp > newest ? ts->histograms[i]->timestamp : newest;
    const Io__Prometheus__Write__V2__Metadata *md = ts->metadata;
    if (md && (md->help_ref >= req->n_symbols || md->unit_ref >= req->n_symbols))
        problem(it, "metadata ref outside the symbols table");
    it->time_ns =
        (uint64_t)newest > UINT64_MAX / 1000000 ? UINT64_MAX : (uint64_t)newest * 1000000u;
    size_t n = ts->n_samples + ts->n_histograms;
    it->count = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

static void walk2(const Req2 *req, wire_item_fn fn, void *ctx, struct wire_decode_stats *st,
                  struct wire_rw2_written *w)
{
    int bad_table = req->n_symbols == 0 || req->symbols[0][0] != '\0';
    for (size_t i = 0; i < req->n_timeseries; i++) {
        const Series2 *ts = req->timeseries[i];
        struct wire_item it = {.signal = WIRE_SAMPLES, .seq = -1};
        it.service = it.run_id = it.name = (struct rec_str){"", 0};
        if (bad_table)
            problem(&it, "symbols[0] is not the empty string");
        check_series2(req, ts, &it);
        it.valid = it.problem == NULL;
        st->items += it.count;
        if (!it.valid) {
            st->rejected += it.count;
        } else {
            w->samples += ts->n_samples;
            w->histograms += ts->n_histograms;
            w->exemplars += ts->n_exemplars;
        }
        if (fn && fn(ctx, &it))
            return;
    }
}

static int unpack_walk2(const uint8_t *raw, size_t len, wire_item_fn fn, void *ctx,
                        struct wire_decode_stats *st, struct wire_rw2_written *w, char *err,
                        size_t errlen)
{
    const ProtobufCMessageDescriptor *d = &io__prometheus__write__v2__request__descriptor;
    if (!wire__pb_depth_ok(d, raw, len))
        return wire__fail(err, errlen, DIO_EPARSE, "malformed protobuf");
    struct wire__arena a;
    wire__arena_init(&a, wire__budget_for(len));
    Req2 *req = io__prometheus__write__v2__request__unpack(&a.pa, len, raw);
    int rc = 0;
    if (!req)
        rc = wire__fail(err, errlen, DIO_EPARSE, "%s",
                        a.refused ? "request needs more memory than its size allows"
                                  : "malformed protobuf");
    else
        walk2(req, fn, ctx, st, w);
    wire__arena_free(&a);
    return rc;
}

int wire_rw2_decode(const void *body, size_t n, size_t max_uncompressed, wire_item_fn fn, void *ctx,
                    struct wire_decode_stats *st, struct wire_rw2_written *w, char *err,
                    size_t errlen)
{
    struct wire_decode_stats local;
    struct wire_rw2_written wl;
    if (err && errlen)
        err[0] = '\0';
    if (n && !body)
        return wire__fail(err, errlen, DIO_EINVAL, "bad arguments");
    st = st ? st : &local;
    w = w ? w : &wl;
    *st = (struct wire_decode_stats){0};
    *w = (struct wire_rw2_written){0};
    size_t len;
    if (snappy_uncompressed_length(body, n, &len) != SNAPPY_OK)
        return wire__fail(err, errlen, DIO_EPARSE, "not snappy block format");
    if (len > max_uncompressed)
        return wire__fail(err, errlen, DIO_EFULL, "uncompressed size %zu is over the limit %zu",
                          len, max_uncompressed);
    uint8_t *raw = core_malloc(len ? len : 1);
    int rc;
    if (snappy_uncompress(body, n, (char *)raw, &len) != SNAPPY_OK)
        rc = wire__fail(err, errlen, DIO_EPARSE, "corrupt snappy data");
    else
        rc = unpack_walk2(raw, len, fn, ctx, st, w, err, errlen);
    core_free(raw);
    return rc;
}
