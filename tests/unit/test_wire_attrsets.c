/* wire: the OTLP protobuf encoder's attribute-set cache (otlp_pb.c, aset_find). A metric
 * point's attributes are encoded once per distinct set and copied for the points that repeat
 * it; this batch mixes sets that repeat, more distinct sets than the cache holds, values long
 * enough to fill its arena, sets with more attributes than it takes, every value type,
 * histograms and invalid UTF-8, and checks every point's attributes with protobuf-c (an
 * independent decoder) against what was put in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/metrics_service.pb-c.h"
#include "wire/wire.h"

enum { NPOINTS = 6000, NRES = 3, MAXA = 6 };

static const double bounds[] = {1.0, 10.0};
static const struct rec_metric m_gauge = {"g", "a gauge", "1", REC_GAUGE, 0, 0, 0, NULL, 0};
static const struct rec_metric m_sum = {"c", NULL, "{x}", REC_SUM, 1, 2, 1, NULL, 0};
static const struct rec_metric m_hist = {"h", NULL, "s", REC_HISTOGRAM, 0, 2, 0, bounds, 2};
static const char *const modes[5] = {"user", "system", "wait", "steal", "idle"};
static const char bad_utf8[] = "caf\xC3\xA9\xFF";          /* the last byte is not UTF-8 */
static const char bad_fixed[] = "caf\xC3\xA9\xEF\xBF\xBD"; /* ... written as U+FFFD */

struct fixture {
    struct rec_batch b;
    struct rec_point pts[NPOINTS];
    struct rec_attr attrs[NPOINTS * MAXA];
    uint64_t buckets[NPOINTS * 3];
    char uniq[NPOINTS][400]; /* a value of its own per point: distinct pointers */
    struct rec_attr res_attrs[NRES];
    struct rec_resource res[NRES];
};

/* Point i's attributes: which kinds of set it has depends on i. */
static uint32_t point_attrs(struct fixture *f, uint32_t i, struct rec_attr *a)
{
    uint32_t n = 0;
    rec_attr_int(&a[n++], REC_KEY("cpu.logical_number"), i % 8);
    rec_attr_str(&a[n++], REC_KEY("cpu.mode"), modes[i % 5], (uint32_t)strlen(modes[i % 5]));
    if (i % 2) { /* a set never seen again: more of them than the cache has slots */
        int len = snprintf(f->uniq[i], sizeof f->uniq[i], "v%u", i);
        if (i % 10 == 1) /* long: they fill the cache's arena */
            len += snprintf(f->uniq[i] + len, sizeof f->uniq[i] - (size_t)len, "%0300u", i);
        rec_attr_str(&a[n++], REC_KEY("unique"), f->uniq[i], (uint32_t)len);
    }
    if (i % 11 == 0)
        rec_attr_str(&a[n++], REC_KEY("text"), bad_utf8, sizeof bad_utf8 - 1);
    if (i % 3 == 0)
        rec_attr_dbl(&a[n++], REC_KEY("ratio"), (double)(i % 4) / 4);
    if (i % 13 == 0) /* more attributes than a cached set has */
        rec_attr_bool(&a[n++], REC_KEY("flag"), (int)(i % 26 == 0));
    return n;
}

static void fill(struct fixture *f)
{
    static const char *const svc[NRES] = {"a", "b", "c"};
    for (int r = 0; r < NRES; r++) {
        rec_attr_str(&f->res_attrs[r], REC_KEY("service.name"), svc[r], 1);
        f->res[r] = (struct rec_resource){&f->res_attrs[r], 1, "diorama", "0", svc[r], svc[r]};
    }
    f->b = (struct rec_batch){.signal = REC_METRICS,
                              .r.points = f->pts,
                              .attrs = f->attrs,
                              .attrs_cap = NPOINTS * MAXA,
                              .buckets = f->buckets,
                              .buckets_cap = NPOINTS * 3,
                              .resources = f->res,
                              .nresources = NRES};
    for (uint32_t i = 0; i < NPOINTS; i++) {
        const struct rec_metric *m = i % 7 == 0 ? &m_hist : i % 2 ? &m_sum : &m_gauge;
        struct rec_point *p = &f->pts[f->b.n++];
        *p = (struct rec_point){.metric = m, .time_ns = 1000 + i, .seq = i, .res = (i / 4) % NRES};
        p->attr_off = f->b.nattrs;
        p->nattrs = point_attrs(f, i, f->attrs + f->b.nattrs);
        f->b.nattrs += p->nattrs;
        if (m == &m_hist) {
            p->bucket_off = f->b.nbuckets;
            for (int k = 0; k < 3; k++)
                f->buckets[f->b.nbuckets++] = (uint64_t)k + i;
            p->count = 3 + 3 * (uint64_t)i;
            p->sum = 1.5;
        } else if (m->is_int) {
            p->value.i = i;
        } else {
            p->value.d = i / 2.0;
        }
    }
}

typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;

/* The decoded attributes of point i equal what fill put in (strings after U+FFFD). */
static void check_point(struct fixture *f, uint64_t time_ns, KeyValue **kv, size_t n)
{
    assert_true(time_ns >= 1000 && time_ns < 1000 + NPOINTS);
    const struct rec_point *p = &f->pts[time_ns - 1000];
    const struct rec_attr *a = f->attrs + p->attr_off;
    assert_int_equal(n, p->nattrs);
    for (size_t k = 0; k < n; k++) {
        const Opentelemetry__Proto__Common__V1__AnyValue *v = kv[k]->value;
        assert_string_equal(kv[k]->key, a[k].key);
        switch (a[k].type) {
        case REC_STR:
            assert_int_equal(v->value_case,
                             OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE);
            if (a[k].v.s.p == bad_utf8)
                assert_string_equal(v->string_value, bad_fixed);
            else
                assert_memory_equal(v->string_value, a[k].v.s.p, a[k].v.s.len + 1);
            break;
        case REC_INT:
            assert_int_equal(v->int_value, a[k].v.i);
            break;
        case REC_DBL:
            assert_true(v->double_value == a[k].v.d);
            break;
        default:
            assert_int_equal(v->bool_value, a[k].v.b != 0);
        }
    }
}

static size_t check_metric(struct fixture *f, const Opentelemetry__Proto__Metrics__V1__Metric *m)
{
    size_t n = 0;
    if (m->data_case == OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM) {
        for (size_t i = 0; i < m->histogram->n_data_points; i++, n++) {
            const Opentelemetry__Proto__Metrics__V1__HistogramDataPoint *p =
                m->histogram->data_points[i];
            check_point(f, p->time_unix_nano, p->attributes, p->n_attributes);
            assert_int_equal(p->n_bucket_counts, 3);
        }
        return n;
    }
    const Opentelemetry__Proto__Metrics__V1__Gauge *g = m->gauge;
    const Opentelemetry__Proto__Metrics__V1__Sum *s = m->sum;
    size_t np = m->data_case == OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE
                    ? g->n_data_points
                    : s->n_data_points;
    for (size_t i = 0; i < np; i++, n++) {
        const Opentelemetry__Proto__Metrics__V1__NumberDataPoint *p =
            m->data_case == OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE
                ? g->data_points[i]
                : s->data_points[i];
        check_point(f, p->time_unix_nano, p->attributes, p->n_attributes);
    }
    return n;
}

static void cached_sets_decode_to_their_points(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    fill(f);
    struct core_buf out, again;
    core_buf_init(&out, 64u << 20);
    core_buf_init(&again, 64u << 20);
    assert_int_equal(wire_otlp_pb_encode(&out, &f->b, NULL), 0);
    assert_int_equal(wire_otlp_pb_encode(&again, &f->b, NULL), 0);
    assert_int_equal(out.len, again.len); /* the cache lives for one request: same bytes */
    assert_memory_equal(out.p, again.p, out.len);
    Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest *req =
        opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__unpack(
            NULL, out.len, out.p);
    assert_non_null(req);
    size_t seen = 0;
    for (size_t r = 0; r < req->n_resource_metrics; r++)
        for (size_t s = 0; s < req->resource_metrics[r]->n_scope_metrics; s++) {
            const Opentelemetry__Proto__Metrics__V1__ScopeMetrics *sm =
                req->resource_metrics[r]->scope_metrics[s];
            for (size_t m = 0; m < sm->n_metrics; m++)
                seen += check_metric(f, sm->metrics[m]);
        }
    assert_int_equal(seen, NPOINTS);
    opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__free_unpacked(
        req, NULL);
    core_buf_free(&out);
    core_buf_free(&again);
    free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cached_sets_decode_to_their_points),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
