/* OTLP protobuf through protobuf-c: the request unpacked (code generated from proto/) into a
 * budgeted arena, then a walker turns resources -> scopes -> spans / Metrics / log records
 * into wire_items. The OTLP/JSON decoder (decode_otlp_json.c) builds the same structs and uses
 * this walker. Protobuf bodies themselves go through the in-place walker of
 * decode_otlp_walk.c, which reads only the fields items need and allocates nothing; the
 * unpack path (wire__otlp_unpack) stays as its reference: the tests and the differential
 * fuzzer (fuzz/fuzz_wire_otlp_walk.c) check that both give the same items. The item rules
 * (wire__check_span, ...) are shared by both. */
#include <stdlib.h>
#include <string.h>

#include "proto/logs_service.pb-c.h"
#include "proto/metrics_service.pb-c.h"
#include "proto/trace_service.pb-c.h"
#include "wire/decode_int.h"

typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;
typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;
typedef Opentelemetry__Proto__Resource__V1__Resource Resource;
typedef Opentelemetry__Proto__Trace__V1__Span Span;
typedef Opentelemetry__Proto__Metrics__V1__Metric Metric;
typedef Opentelemetry__Proto__Metrics__V1__HistogramDataPoint HistPoint;
typedef Opentelemetry__Proto__Logs__V1__LogRecord LogRecord;
typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest TraceReq;
typedef Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest MetricsReq;
typedef Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest LogsReq;

#define ANY_CASE(x) OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_##x
#define DATA_CASE(x) OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_##x

const ProtobufCMessageDescriptor *const wire__request_desc[REC_NSIGNALS] = {
    [REC_SPANS] =
        &opentelemetry__proto__collector__trace__v1__export_trace_service_request__descriptor,
    [REC_METRICS] =
        &opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__descriptor,
    [REC_LOGS] =
        &opentelemetry__proto__collector__logs__v1__export_logs_service_request__descriptor,
};

/* Log names: the event name, else this much of a string body. */
#define BODY_PREFIX 64

/* ---- attributes ------------------------------------------------------------------------ */

static struct rec_str str_of(const char *s)
{
    return (struct rec_str){s ? s : "", s ? (uint32_t)strlen(s) : 0};
}

/* Most keys differ from ours in the first byte, so that is checked before strcmp. */
static int key_is(const KeyValue *kv, const char *key)
{
    return kv && kv->key && kv->key[0] == key[0] && strcmp(kv->key, key) == 0;
}

#define KEY_IS(kv, lit) key_is(kv, lit)

/* The value of an int attribute; a string holding a decimal number is accepted too, since
 * pipelines that re-type attributes (transform processors, some exporters) do that. */
static int int_value(const KeyValue *kv, int64_t *v)
{
    const AnyValue *a = kv->value;
    if (!a)
        return 0;
    if (a->value_case == ANY_CASE(INT_VALUE)) {
        *v = a->int_value;
        return 1;
    }
    if (a->value_case == ANY_CASE(STRING_VALUE) && a->string_value[0]) {
        char *end;
        long long x = strtoll(a->string_value, &end, 10);
        if (*end == '\0') {
            *v = x;
            return 1;
        }
    }
    return 0;
}

/* diorama.seq and diorama.gen_time_unix_nano among attrs: the last of each with an int value
 * wins (diorama appends them last, so the scan starts from the end). */
static void verify_attrs(KeyValue *const *kv, size_t n, struct wire_item *it)
{
    int64_t v;
    int seq = 0, gen = 0;
    for (size_t i = n; i-- > 0 && !(seq && gen);) {
        if (!seq && KEY_IS(kv[i], REC_ATTR_SEQ) && int_value(kv[i], &v)) {
            it->seq = v;
            seq = 1;
        } else if (!gen && KEY_IS(kv[i], REC_ATTR_GEN) && int_value(kv[i], &v)) {
            it->gen_ns = (uint64_t)v;
            gen = 1;
        }
    }
}

static void resource_attrs(const Resource *r, struct wire_item *it)
{
    it->service = str_of(NULL);
    it->run_id = str_of(NULL);
    for (size_t i = 0; r && i < r->n_attributes; i++) {
        const KeyValue *kv = r->attributes[i];
        if (!kv->value || kv->value->value_case != ANY_CASE(STRING_VALUE))
            continue;
        if (KEY_IS(kv, "service.name"))
            it->service = str_of(kv->value->string_value);
        else if (KEY_IS(kv, REC_ATTR_RUN))
            it->run_id = str_of(kv->value->string_value);
    }
}

/* ---- emitting -------------------------------------------------------------------------- */

void wire__item_reset(struct wire_item *it)
{
    it->name = str_of(NULL);
    it->seq = -1;
    it->count = 1;
    it->gen_ns = 0;
    it->time_ns = 0;
    it->valid = 1;
    it->problem = NULL;
}

void wire__invalid(struct wire_item *it, const char *problem)
{
    if (it->valid) { /* keep the first problem found */
        it->valid = 0;
        it->problem = problem;
    }
}

void wire__emit(struct wire__sink *s, const struct wire_item *it)
{
    s->st->items += it->count;
    if (!it->valid)
        s->st->rejected += it->count;
    if (s->fn && s->fn(s->ctx, it))
        s->stopped = 1;
}

static int all_zero(const ProtobufCBinaryData *b)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < b->len; i++)
        acc |= b->data[i];
    return acc == 0;
}

/* ---- spans ----------------------------------------------------------------------------- */

/* The span rules, on the fields both decoders read (Span here, the raw bytes in the walker). */
void wire__check_span(const ProtobufCBinaryData *tid, const ProtobufCBinaryData *sid,
                      const ProtobufCBinaryData *pid, uint64_t start, uint64_t end,
                      struct wire_item *it)
{
    if (tid->len != 16)
        wire__invalid(it, "trace id is not 16 bytes");
    else if (all_zero(tid))
        wire__invalid(it, "trace id is all zero");
    if (sid->len != 8)
        wire__invalid(it, "span id is not 8 bytes");
    else if (all_zero(sid))
        wire__invalid(it, "span id is all zero");
    if (pid->len != 0 && pid->len != 8)
        wire__invalid(it, "parent span id is not 8 bytes");
    if (start == 0)
        wire__invalid(it, "start time is 0");
    else if (end < start)
        wire__invalid(it, "end time is before start time");
}

static void walk_spans(struct wire__sink *s, const TraceReq *req, struct wire_item *it)
{
    for (size_t r = 0; r < req->n_resource_spans && !s->stopped; r++) {
        const Opentelemetry__Proto__Trace__V1__ResourceSpans *rs = req->resource_spans[r];
        resource_attrs(rs->resource, it);
        for (size_t k = 0; k < rs->n_scope_spans && !s->stopped; k++) {
            const Opentelemetry__Proto__Trace__V1__ScopeSpans *ss = rs->scope_spans[k];
            for (size_t i = 0; i < ss->n_spans && !s->stopped; i++) {
                const Span *sp = ss->spans[i];
                wire__item_reset(it);
                it->name = str_of(sp->name);
                it->time_ns = sp->end_time_unix_nano;
                verify_attrs(sp->attributes, sp->n_attributes, it);
                wire__check_span(&sp->trace_id, &sp->span_id, &sp->parent_span_id,
                                 sp->start_time_unix_nano, sp->end_time_unix_nano, it);
                wire__emit(s, it);
            }
        }
    }
}

/* ---- metrics --------------------------------------------------------------------------- */

static void check_hist_point(const HistPoint *p, struct wire_item *it)
{
    if (p->n_bucket_counts == 0 && p->n_explicit_bounds == 0)
        return; /* allowed: only count and sum recorded */
    if (p->n_bucket_counts != p->n_explicit_bounds + 1) {
        wire__invalid(it, "histogram does not have len(bounds)+1 buckets");
        return;
    }
    for (size_t i = 1; i < p->n_explicit_bounds; i++)
        if (!(p->explicit_bounds[i - 1] < p->explicit_bounds[i])) {
            wire__invalid(it, "histogram bounds are not increasing");
            return;
        }
    uint64_t sum = 0;
    for (size_t i = 0; i < p->n_bucket_counts; i++)
        sum += p->bucket_counts[i];
    if (sum != p->count)
        wire__invalid(it, "histogram bucket counts do not add up to count");
}

static uint64_t later(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

/* Data points of m: count and newest time, checking histogram invariants. */
static void metric_points(const Metric *m, struct wire_item *it)
{
    size_t n = 0;
    uint64_t t = 0;
    switch (m->data_case) {
    case DATA_CASE(GAUGE):
    case DATA_CASE(SUM): {
        size_t np =
            m->data_case == DATA_CASE(GAUGE) ? m->gauge->n_data_points : m->sum->n_data_points;
        Opentelemetry__Proto__Metrics__V1__NumberDataPoint **dp =
            m->data_case == DATA_CASE(GAUGE) ? m->gauge->data_points : m->sum->data_points;
        for (n = 0; n < np; n++)
            t = later(t, dp[n]->time_unix_nano);
        break;
    }
    case DATA_CASE(HISTOGRAM):
        for (n = 0; n < m->histogram->n_data_points; n++) {
            t = later(t, m->histogram->data_points[n]->time_unix_nano);
            check_hist_point(m->histogram->data_points[n], it);
        }
        break;
    case DATA_CASE(EXPONENTIAL_HISTOGRAM):
        for (n = 0; n < m->exponential_histogram->n_data_points; n++)
            t = later(t, m->exponential_histogram->data_points[n]->time_unix_nano);
        break;
    case DATA_CASE(SUMMARY):
        for (n = 0; n < m->summary->n_data_points; n++)
            t = later(t, m->summary->data_points[n]->time_unix_nano);
        break;
    default:
        break;
    }
    it->count = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
    it->time_ns = t;
    if (n == 0)
        wire__invalid(it, "metric has no data points");
}

static void walk_metrics(struct wire__sink *s, const MetricsReq *req, struct wire_item *it)
{
    for (size_t r = 0; r < req->n_resource_metrics && !s->stopped; r++) {
        const Opentelemetry__Proto__Metrics__V1__ResourceMetrics *rm = req->resource_metrics[r];
        resource_attrs(rm->resource, it);
        for (size_t k = 0; k < rm->n_scope_metrics && !s->stopped; k++) {
            const Opentelemetry__Proto__Metrics__V1__ScopeMetrics *sm = rm->scope_metrics[k];
            for (size_t i = 0; i < sm->n_metrics && !s->stopped; i++) {
                const Metric *m = sm->metrics[i];
                wire__item_reset(it);
                it->name = str_of(m->name);
                verify_attrs(m->metadata, m->n_metadata, it);
                metric_points(m, it);
                wire__emit(s, it);
            }
        }
    }
}

/* ---- logs ------------------------------------------------------------------------------ */

static void check_log(const LogRecord *l, struct wire_item *it)
{
    if ((unsigned)l->severity_number > 24)
        wire__invalid(it, "severity number is above 24");
    if (l->trace_id.len != 0 && l->trace_id.len != 16)
        wire__invalid(it, "trace id is not 16 bytes");
    if (l->span_id.len != 0 && l->span_id.len != 8)
        wire__invalid(it, "span id is not 8 bytes");
}

static struct rec_str log_name(const LogRecord *l)
{
    if (l->event_name && l->event_name[0])
        return str_of(l->event_name);
    if (!l->body || l->body->value_case != ANY_CASE(STRING_VALUE))
        return str_of(NULL);
    struct rec_str s = str_of(l->body->string_value);
    if (s.len > BODY_PREFIX)
        s.len = BODY_PREFIX;
    return s;
}

static void walk_logs(struct wire__sink *s, const LogsReq *req, struct wire_item *it)
{
    for (size_t r = 0; r < req->n_resource_logs && !s->stopped; r++) {
        const Opentelemetry__Proto__Logs__V1__ResourceLogs *rl = req->resource_logs[r];
        resource_attrs(rl->resource, it);
        for (size_t k = 0; k < rl->n_scope_logs && !s->stopped; k++) {
            const Opentelemetry__Proto__Logs__V1__ScopeLogs *sl = rl->scope_logs[k];
            for (size_t i = 0; i < sl->n_log_records && !s->stopped; i++) {
                const LogRecord *l = sl->log_records[i];
                wire__item_reset(it);
                it->name = log_name(l);
                it->time_ns = l->time_unix_nano ? l->time_unix_nano : l->observed_time_unix_nano;
                verify_attrs(l->attributes, l->n_attributes, it);
                check_log(l, it);
                wire__emit(s, it);
            }
        }
    }
}

void wire__walk_request(struct wire__sink *s, int signal, const ProtobufCMessage *req)
{
    struct wire_item it = {.signal = signal};
    if (signal == REC_SPANS)
        walk_spans(s, (const TraceReq *)req, &it);
    else if (signal == REC_METRICS)
        walk_metrics(s, (const MetricsReq *)req, &it);
    else
        walk_logs(s, (const LogsReq *)req, &it);
}

/* ---- entry ----------------------------------------------------------------------------- */

int wire__otlp_unpack(int signal, const void *body, size_t n, struct wire__sink *s, char *err,
                      size_t errlen)
{
    const ProtobufCMessageDescriptor *d = wire__request_desc[signal];
    if (!wire__pb_depth_ok(d, body, n))
        return wire__fail(err, errlen, DIO_EPARSE, "malformed protobuf or nesting deeper than %d",
                          WIRE__MAX_DEPTH);
    struct wire__arena a;
    wire__arena_init(&a, wire__budget_for(n));
    ProtobufCMessage *req = protobuf_c_message_unpack(d, &a.pa, n, body);
    int rc = 0;
    if (!req)
        rc = wire__fail(err, errlen, DIO_EPARSE, "%s",
                        a.refused ? "request needs more memory than its size allows"
                                  : "malformed protobuf");
    else
        wire__walk_request(s, signal, req);
    wire__arena_free(&a);
    return rc;
}

int wire_otlp_decode(int signal, int json, const void *body, size_t n, wire_item_fn fn, void *ctx,
                     struct wire_decode_stats *st, char *err, size_t errlen)
{
    struct wire_decode_stats local;
    if (err && errlen)
        err[0] = '\0';
    if (signal < 0 || signal >= REC_NSIGNALS || (n && !body))
        return wire__fail(err, errlen, DIO_EINVAL, "bad arguments");
    struct wire__sink s = {fn, ctx, st ? st : &local, 0};
    *s.st = (struct wire_decode_stats){0};
    if (n == 0)
        return 0; /* an empty request is a success */
    if (json)
        return wire__otlp_json_decode(signal, body, n, &s, err, errlen);
    return wire__otlp_walk(signal, body, n, &s, err, errlen);
}
