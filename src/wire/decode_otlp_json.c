/* OTLP/JSON decoding: jansson parses the body into a DOM, which is turned into the same
 * protobuf-c structs the protobuf path unpacks (allocated from a budgeted arena, strings
 * pointing into the DOM), and the shared walker reports the items. So the rules for ids,
 * timestamps and histograms are written once, and JSON == protobuf by construction.
 *
 * Only the fields the walker reads are converted (resource attributes, span ids, times, names
 * and attributes, metric data points and metadata, log times, severity, body, event name);
 * unknown and unused fields are ignored, as OTLP requires of receivers. Mapping rules: keys
 * lowerCamelCase; ids hex; 64-bit integers as strings or numbers; enums as integers; doubles as
 * numbers or "NaN" / "Infinity" / "-Infinity".
 *
 * Before jansson sees the body, one pass over the bytes bounds nesting depth (jansson's own
 * limit is 2048, deeper than any OTLP request) and the number of values, which is what decides
 * the size of jansson's DOM: its memory is not ours to budget otherwise. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "proto/logs_service.pb-c.h"
#include "proto/metrics_service.pb-c.h"
#include "proto/trace_service.pb-c.h"
#include "wire/decode_int.h"

#define JSON_MAX_VALUES (4u << 20)         /* ~100 bytes of DOM each: a few hundred MiB at worst */
#define JSON_MAX_BYTES ((size_t)256 << 20) /* the caller's limit is normally far lower */

typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;
typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;
typedef Opentelemetry__Proto__Resource__V1__Resource Resource;
typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint NumPoint;
typedef Opentelemetry__Proto__Metrics__V1__HistogramDataPoint HistPoint;
typedef Opentelemetry__Proto__Metrics__V1__Metric Metric;

struct jd {
    struct wire__arena a;
    int oom; /* the arena refused: the request is refused as a whole */
};

/* ---- pre-scan ---------------------------------------------------------------------------- */

/* 0 when the body nests deeper than WIRE__MAX_DEPTH or holds more than JSON_MAX_VALUES values
 * (counted as the '[', '{', ',' and ':' outside strings). */
static int shape_ok(const uint8_t *p, size_t n)
{
    size_t depth = 0, values = 0;
    int in_str = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
            continue;
        }
        if (c == '"') {
            in_str = 1;
        } else if (c == '[' || c == '{') {
            if (++depth > WIRE__MAX_DEPTH)
                return 0;
            values++;
        } else if (c == ']' || c == '}') {
            depth -= depth > 0;
        } else if (c == ',' || c == ':') {
            values++;
        }
        if (values > JSON_MAX_VALUES)
            return 0;
    }
    return 1;
}

/* ---- scalars --------------------------------------------------------------------------- */

static void *alloc(struct jd *d, size_t n)
{
    void *p = wire__arena_alloc(&d->a, n);
    if (!p)
        d->oom = 1;
    return p;
}

static char *jstr(const json_t *v)
{
    const char *s = json_string_value(v); /* NULL unless a string */
    return (char *)(uintptr_t)(s ? s : "");
}

/* An integer: a JSON number or a decimal string (how proto3 JSON writes 64-bit values). */
static int jint(const json_t *v, int64_t *out, uint64_t *uout)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        *uout = (uint64_t)*out;
        return 1;
    }
    const char *s = json_string_value(v);
    if (!s || !*s)
        return 0;
    char *end;
    if (*s == '-') {
        *out = strtoll(s, &end, 10);
        *uout = (uint64_t)*out;
    } else {
        *uout = strtoull(s, &end, 10);
        *out = (int64_t)*uout;
    }
    return *end == '\0';
}

static uint64_t ju64(const json_t *v)
{
    int64_t i;
    uint64_t u = 0;
    return jint(v, &i, &u) ? u : 0;
}

static int64_t ji64(const json_t *v)
{
    int64_t i = 0;
    uint64_t u;
    return jint(v, &i, &u) ? i : 0;
}

static double jdbl(const json_t *v)
{
    if (json_is_number(v))
        return json_number_value(v);
    const char *s = json_string_value(v);
    if (!s)
        return 0;
    if (strcmp(s, "NaN") == 0)
        return NAN;
    if (strcmp(s, "Infinity") == 0)
        return INFINITY;
    if (strcmp(s, "-Infinity") == 0)
        return -INFINITY;
    return strtod(s, NULL);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* A hex id. Text that is not hex yields a 1-byte id, which the walker reports as the wrong
 * length (the id is unusable either way). */
static void jhex(struct jd *d, const json_t *v, ProtobufCBinaryData *out)
{
    const char *s = jstr(v);
    size_t n = strlen(s);
    out->len = 0;
    out->data = NULL;
    if (n == 0 || !(out->data = alloc(d, n / 2 + 1)))
        return;
    out->len = 1;
    out->data[0] = 0;
    if (n % 2)
        return;
    for (size_t i = 0; i < n; i += 2) {
        int hi = hexval(s[i]), lo = hexval(s[i + 1]);
        if (hi < 0 || lo < 0) {
            out->len = 1;
            return;
        }
        out->data[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    out->len = n / 2;
}

#define GET(obj, key) json_object_get(obj, key)

/* ---- messages -------------------------------------------------------------------------- */

/* A pointer array for the elements of a JSON array (NULL and 0 when it is not one). */
static void **jarray(struct jd *d, const json_t *arr, size_t *n)
{
    *n = 0;
    size_t len = json_array_size(arr);
    if (len == 0 || len > SIZE_MAX / sizeof(void *))
        return NULL;
    void **p = alloc(d, len * sizeof *p);
    if (p)
        *n = len;
    return p;
}

/* AnyValue: scalars only (the walker never looks inside arrays or kvlists). */
static AnyValue *anyvalue(struct jd *d, const json_t *v)
{
    AnyValue *a = alloc(d, sizeof *a);
    if (!a)
        return NULL;
    opentelemetry__proto__common__v1__any_value__init(a);
    const json_t *x;
    if ((x = GET(v, "stringValue"))) {
        a->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
        a->string_value = jstr(x);
    } else if ((x = GET(v, "intValue"))) {
        a->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
        a->int_value = ji64(x);
    } else if ((x = GET(v, "boolValue"))) {
        a->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
        a->bool_value = json_is_true(x);
    } else if ((x = GET(v, "doubleValue"))) {
        a->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
        a->double_value = jdbl(x);
    }
    return a;
}

static KeyValue **kvs(struct jd *d, const json_t *arr, size_t *n)
{
    KeyValue **kv = (KeyValue **)jarray(d, arr, n);
    for (size_t i = 0; kv && i < *n; i++) {
        const json_t *e = json_array_get(arr, i);
        if (!(kv[i] = alloc(d, sizeof **kv)))
            return *n = 0, NULL;
        opentelemetry__proto__common__v1__key_value__init(kv[i]);
        kv[i]->key = jstr(GET(e, "key"));
        if (GET(e, "value") && !(kv[i]->value = anyvalue(d, GET(e, "value"))))
            return *n = 0, NULL;
    }
    return kv;
}

static Resource *resource(struct jd *d, const json_t *v)
{
    if (!json_is_object(v))
        return NULL;
    Resource *r = alloc(d, sizeof *r);
    if (r) {
        opentelemetry__proto__resource__v1__resource__init(r);
        r->attributes = kvs(d, GET(v, "attributes"), &r->n_attributes);
    }
    return r;
}

/* Converts the array at key of obj into *out (n elements of type T, each initialised by init
 * and filled by fill(d, element json, element)). Stops (d->oom) when the arena refuses. */
#define CONVERT_ARRAY(d, obj, key, T, init, fill, out, nout)                                       \
    do {                                                                                           \
        const json_t *arr_ = GET(obj, key);                                                        \
        T **v_ = (T **)jarray(d, arr_, &(nout));                                                   \
        (out) = v_;                                                                                \
        for (size_t i_ = 0; v_ && i_ < (nout) && !(d)->oom; i_++) {                                \
            if (!(v_[i_] = alloc(d, sizeof(T))))                                                   \
                break;                                                                             \
            init(v_[i_]);                                                                          \
            fill(d, json_array_get(arr_, i_), v_[i_]);                                             \
        }                                                                                          \
        if ((d)->oom)                                                                              \
            (nout) = 0;                                                                            \
    } while (0)

/* ---- traces ---------------------------------------------------------------------------- */

static void fill_span(struct jd *d, const json_t *j, Opentelemetry__Proto__Trace__V1__Span *s)
{
    jhex(d, GET(j, "traceId"), &s->trace_id);
    jhex(d, GET(j, "spanId"), &s->span_id);
    jhex(d, GET(j, "parentSpanId"), &s->parent_span_id);
    s->name = jstr(GET(j, "name"));
    s->kind = (int)ji64(GET(j, "kind"));
    s->start_time_unix_nano = ju64(GET(j, "startTimeUnixNano"));
    s->end_time_unix_nano = ju64(GET(j, "endTimeUnixNano"));
    s->attributes = kvs(d, GET(j, "attributes"), &s->n_attributes);
}

static void fill_scope_spans(struct jd *d, const json_t *j,
                             Opentelemetry__Proto__Trace__V1__ScopeSpans *ss)
{
    CONVERT_ARRAY(d, j, "spans", Opentelemetry__Proto__Trace__V1__Span,
                  opentelemetry__proto__trace__v1__span__init, fill_span, ss->spans, ss->n_spans);
}

static void fill_resource_spans(struct jd *d, const json_t *j,
                                Opentelemetry__Proto__Trace__V1__ResourceSpans *rs)
{
    rs->resource = resource(d, GET(j, "resource"));
    CONVERT_ARRAY(d, j, "scopeSpans", Opentelemetry__Proto__Trace__V1__ScopeSpans,
                  opentelemetry__proto__trace__v1__scope_spans__init, fill_scope_spans,
                  rs->scope_spans, rs->n_scope_spans);
}

static ProtobufCMessage *trace_req(struct jd *d, const json_t *root)
{
    Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest *r = alloc(d, sizeof *r);
    if (!r)
        return NULL;
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__init(r);
    CONVERT_ARRAY(d, root, "resourceSpans", Opentelemetry__Proto__Trace__V1__ResourceSpans,
                  opentelemetry__proto__trace__v1__resource_spans__init, fill_resource_spans,
                  r->resource_spans, r->n_resource_spans);
    return &r->base;
}

/* ---- metrics --------------------------------------------------------------------------- */

static void fill_num_point(struct jd *d, const json_t *j, NumPoint *p)
{
    (void)d;
    p->start_time_unix_nano = ju64(GET(j, "startTimeUnixNano"));
    p->time_unix_nano = ju64(GET(j, "timeUnixNano"));
    if (GET(j, "asInt")) {
        p->value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT;
        p->as_int = ji64(GET(j, "asInt"));
    } else if (GET(j, "asDouble")) {
        p->value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE;
        p->as_double = jdbl(GET(j, "asDouble"));
    }
}

static void fill_hist_point(struct jd *d, const json_t *j, HistPoint *p)
{
    const json_t *bc = GET(j, "bucketCounts"), *eb = GET(j, "explicitBounds");
    p->start_time_unix_nano = ju64(GET(j, "startTimeUnixNano"));
    p->time_unix_nano = ju64(GET(j, "timeUnixNano"));
    p->count = ju64(GET(j, "count"));
    p->sum = jdbl(GET(j, "sum"));
    size_t nb = json_array_size(bc), ne = json_array_size(eb);
    if (nb && (p->bucket_counts = alloc(d, nb * sizeof *p->bucket_counts))) {
        p->n_bucket_counts = nb;
        for (size_t i = 0; i < nb; i++)
            p->bucket_counts[i] = ju64(json_array_get(bc, i));
    }
    if (ne && (p->explicit_bounds = alloc(d, ne * sizeof *p->explicit_bounds))) {
        p->n_explicit_bounds = ne;
        for (size_t i = 0; i < ne; i++)
            p->explicit_bounds[i] = jdbl(json_array_get(eb, i));
    }
}

/* Exponential histograms and summaries: only what the walker reads (time). */
static void fill_exp_point(struct jd *d, const json_t *j,
                           Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint *p)
{
    (void)d;
    p->time_unix_nano = ju64(GET(j, "timeUnixNano"));
    p->count = ju64(GET(j, "count"));
}

static void fill_summary_point(struct jd *d, const json_t *j,
                               Opentelemetry__Proto__Metrics__V1__SummaryDataPoint *p)
{
    (void)d;
    p->time_unix_nano = ju64(GET(j, "timeUnixNano"));
    p->count = ju64(GET(j, "count"));
}

/* The one data container present (gauge, sum, histogram, exponentialHistogram, summary). */
#define METRIC_DATA(d, c, m, field, init, CASE, PT, pinit, pfill)                                  \
    do {                                                                                           \
        if (!((m)->field = alloc(d, sizeof *(m)->field)))                                          \
            return;                                                                                \
        init((m)->field);                                                                          \
        (m)->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_##CASE;                   \
        CONVERT_ARRAY(d, c, "dataPoints", PT, pinit, pfill, (m)->field->data_points,               \
                      (m)->field->n_data_points);                                                  \
    } while (0)

static void metric_data(struct jd *d, const json_t *j, Metric *m)
{
    const json_t *c;
    if (json_is_object(c = GET(j, "gauge")))
        METRIC_DATA(d, c, m, gauge, opentelemetry__proto__metrics__v1__gauge__init, GAUGE, NumPoint,
                    opentelemetry__proto__metrics__v1__number_data_point__init, fill_num_point);
    else if (json_is_object(c = GET(j, "sum")))
        METRIC_DATA(d, c, m, sum, opentelemetry__proto__metrics__v1__sum__init, SUM, NumPoint,
                    opentelemetry__proto__metrics__v1__number_data_point__init, fill_num_point);
    else if (json_is_object(c = GET(j, "histogram")))
        METRIC_DATA(d, c, m, histogram, opentelemetry__proto__metrics__v1__histogram__init,
                    HISTOGRAM, HistPoint,
                    opentelemetry__proto__metrics__v1__histogram_data_point__init, fill_hist_point);
    else if (json_is_object(c = GET(j, "exponentialHistogram")))
        METRIC_DATA(d, c, m, exponential_histogram,
                    opentelemetry__proto__metrics__v1__exponential_histogram__init,
                    EXPONENTIAL_HISTOGRAM,
                    Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint,
                    opentelemetry__proto__metrics__v1__exponential_histogram_data_point__init,
                    fill_exp_point);
    else if (json_is_object(c = GET(j, "summary")))
        METRIC_DATA(d, c, m, summary, opentelemetry__proto__metrics__v1__summary__init, SUMMARY,
                    Opentelemetry__Proto__Metrics__V1__SummaryDataPoint,
                    opentelemetry__proto__metrics__v1__summary_data_point__init,
                    fill_summary_point);
}

static void fill_metric(struct jd *d, const json_t *j, Metric *m)
{
    m->name = jstr(GET(j, "name"));
    m->metadata = kvs(d, GET(j, "metadata"), &m->n_metadata);
    metric_data(d, j, m);
}

static void fill_scope_metrics(struct jd *d, const json_t *j,
                               Opentelemetry__Proto__Metrics__V1__ScopeMetrics *sm)
{
    CONVERT_ARRAY(d, j, "metrics", Metric, opentelemetry__proto__metrics__v1__metric__init,
                  fill_metric, sm->metrics, sm->n_metrics);
}

static void fill_resource_metrics(struct jd *d, const json_t *j,
                                  Opentelemetry__Proto__Metrics__V1__ResourceMetrics *rm)
{
    rm->resource = resource(d, GET(j, "resource"));
    CONVERT_ARRAY(d, j, "scopeMetrics", Opentelemetry__Proto__Metrics__V1__ScopeMetrics,
                  opentelemetry__proto__metrics__v1__scope_metrics__init, fill_scope_metrics,
                  rm->scope_metrics, rm->n_scope_metrics);
}

static ProtobufCMessage *metrics_req(struct jd *d, const json_t *root)
{
    Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest *r =
        alloc(d, sizeof *r);
    if (!r)
        return NULL;
    opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__init(r);
    CONVERT_ARRAY(d, root, "resourceMetrics", Opentelemetry__Proto__Metrics__V1__ResourceMetrics,
                  opentelemetry__proto__metrics__v1__resource_metrics__init, fill_resource_metrics,
                  r->resource_metrics, r->n_resource_metrics);
    return &r->base;
}

/* ---- logs ------------------------------------------------------------------------------ */

static void fill_log(struct jd *d, const json_t *j, Opentelemetry__Proto__Logs__V1__LogRecord *l)
{
    l->time_unix_nano = ju64(GET(j, "timeUnixNano"));
    l->observed_time_unix_nano = ju64(GET(j, "observedTimeUnixNano"));
    l->severity_number = (int)ji64(GET(j, "severityNumber"));
    l->severity_text = jstr(GET(j, "severityText"));
    if (json_is_object(GET(j, "body")))
        l->body = anyvalue(d, GET(j, "body"));
    l->attributes = kvs(d, GET(j, "attributes"), &l->n_attributes);
    jhex(d, GET(j, "traceId"), &l->trace_id);
    jhex(d, GET(j, "spanId"), &l->span_id);
    l->event_name = jstr(GET(j, "eventName"));
}

static void fill_scope_logs(struct jd *d, const json_t *j,
                            Opentelemetry__Proto__Logs__V1__ScopeLogs *sl)
{
    CONVERT_ARRAY(d, j, "logRecords", Opentelemetry__Proto__Logs__V1__LogRecord,
                  opentelemetry__proto__logs__v1__log_record__init, fill_log, sl->log_records,
                  sl->n_log_records);
}

static void fill_resource_logs(struct jd *d, const json_t *j,
                               Opentelemetry__Proto__Logs__V1__ResourceLogs *rl)
{
    rl->resource = resource(d, GET(j, "resource"));
    CONVERT_ARRAY(d, j, "scopeLogs", Opentelemetry__Proto__Logs__V1__ScopeLogs,
                  opentelemetry__proto__logs__v1__scope_logs__init, fill_scope_logs, rl->scope_logs,
                  rl->n_scope_logs);
}

static ProtobufCMessage *logs_req(struct jd *d, const json_t *root)
{
    Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest *r = alloc(d, sizeof *r);
    if (!r)
        return NULL;
    opentelemetry__proto__collector__logs__v1__export_logs_service_request__init(r);
    CONVERT_ARRAY(d, root, "resourceLogs", Opentelemetry__Proto__Logs__V1__ResourceLogs,
                  opentelemetry__proto__logs__v1__resource_logs__init, fill_resource_logs,
                  r->resource_logs, r->n_resource_logs);
    return &r->base;
}

/* ---- entry ----------------------------------------------------------------------------- */

static ProtobufCMessage *(*const build[REC_NSIGNALS])(struct jd *, const json_t *) = {
    [REC_SPANS] = trace_req, [REC_METRICS] = metrics_req, [REC_LOGS] = logs_req};

int wire__otlp_json_decode(int signal, const void *body, size_t n, struct wire__sink *s, char *err,
                           size_t errlen)
{
    if (n > JSON_MAX_BYTES)
        return wire__fail(err, errlen, DIO_EPARSE, "JSON request over %zu bytes", JSON_MAX_BYTES);
    if (!shape_ok(body, n))
        return wire__fail(err, errlen, DIO_EPARSE, "JSON nests deeper than %d or is too large",
                          WIRE__MAX_DEPTH);
    json_error_t je;
    json_t *root = json_loadb(body, n, 0, &je);
    if (!root)
        return wire__fail(err, errlen, DIO_EPARSE, "JSON %d:%d: %s", je.line, je.column, je.text);
    int rc = 0;
    struct jd d = {.oom = 0};
    wire__arena_init(&d.a, wire__budget_for(n));
    if (!json_is_object(root)) {
        rc = wire__fail(err, errlen, DIO_EPARSE, "JSON request is not an object");
    } else {
        ProtobufCMessage *req = build[signal](&d, root);
        if (!req || d.oom)
            rc = wire__fail(err, errlen, DIO_EPARSE,
                            "request needs more memory than its size allows");
        else
            wire__walk_request(s, signal, req);
    }
    wire__arena_free(&d.a);
    json_decref(root);
    return rc;
}
