/* wire: InfluxDB line protocol and OpenMetrics renderings of metric points, byte for byte:
 * escaping of tag keys and values (comma, equals, space, control characters, a trailing
 * backslash, invalid UTF-8), tags sorted with point attributes winning, histograms as
 * cumulative _bucket/_sum/_count lines, integer vs float fields, NaN points skipped; and the
 * OpenMetrics family (counter without _total, UNIT only when the name ends with it), its
 * metadata and samples with timestamps in seconds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "wire/wire.h"

static const double bounds[] = {0.1, 1};
static const struct rec_metric m_dur = {"http.server.request.duration",
                                        "Duration \"x\"\nof requests.",
                                        "s",
                                        REC_HISTOGRAM,
                                        0,
                                        2,
                                        0,
                                        bounds,
                                        2};
static const struct rec_metric m_req = {
    "http.server.requests", "Requests.", "{request}", REC_SUM, 1, 2, 1, NULL, 0};
static const struct rec_metric m_cpu = {
    "system.cpu.utilization", "CPU.", "1", REC_GAUGE, 0, 2, 0, NULL, 0};
static const struct rec_metric m_delta = {"x.delta", NULL, "", REC_SUM, 1, 1, 1, NULL, 0};

static struct rec_attr rattrs[3];
static struct rec_resource res[1];

struct fixture {
    struct rec_batch b;
    struct rec_point pts[8];
    struct rec_attr attrs[16];
    uint64_t buckets[16];
};

static void setup(struct fixture *f)
{
    memset(f, 0, sizeof *f);
    rec_attr_str(&rattrs[0], REC_KEY("service.name"), "check out", 9);
    rec_attr_str(&rattrs[1], REC_KEY("diorama.run_id"), "r1", 2);
    rec_attr_str(&rattrs[2], REC_KEY("host.name"), "a,b=c\\", 6);
    res[0] = (struct rec_resource){rattrs, 3, "diorama", NULL, "shop/checkout", "co-0"};
    f->b.signal = REC_METRICS;
    f->b.r.points = f->pts;
    f->b.attrs = f->attrs;
    f->b.attrs_cap = 16;
    f->b.buckets = f->buckets;
    f->b.buckets_cap = 16;
    f->b.resources = res;
    f->b.nresources = 1;
}

static struct rec_point *add(struct fixture *f, const struct rec_metric *m, uint64_t t_ns)
{
    struct rec_point *p = &f->pts[f->b.n++];
    p->metric = m;
    p->time_ns = t_ns;
    p->attr_off = f->b.nattrs;
    return p;
}

static void str_attr(struct fixture *f, struct rec_point *p, const char *k, const char *v)
{
    rec_attr_str(&f->attrs[f->b.nattrs++], k, (uint32_t)strlen(k), v, (uint32_t)strlen(v));
    p->nattrs++;
}

static void influx_lines(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f);
    struct rec_point *p = add(&f, &m_req, 1500000000123456789ULL);
    p->value.i = 42;
    str_attr(&f, p, "service.name", "override"); /* the point's attribute wins */
    str_attr(&f, p, "le", "dropped");
    str_attr(&f, p, "empty", "");
    str_attr(&f, p, "ctl", "a\nb");
    p = add(&f, &m_cpu, 2000000000);
    p->value.d = 0.25;
    p = add(&f, &m_cpu, 3000000000);
    p->value.d = NAN;
    p = add(&f, &m_dur, 4000000000);
    p->count = 5;
    p->sum = 2.5;
    p->bucket_off = 0;
    f.buckets[0] = 1, f.buckets[1] = 3, f.buckets[2] = 1;
    f.b.nbuckets = 3;
    struct core_buf out;
    core_buf_init(&out, 1 << 20);
    uint32_t skipped = 9;
    assert_int_equal(wire_influx_encode(&out, &f.b, &skipped), 0);
    assert_int_equal(skipped, 1);
    const char *tags = "diorama.run_id=r1,host.name=a\\,b\\=c_";
    char want[4096];
    snprintf(want, sizeof want,
             "http_server_requests_total,ctl=a\\ b,%s,service.name=override value=42i "
             "1500000000123456789\n"
             "system_cpu_utilization_ratio,%s,service.name=check\\ out value=0.25 2000000000\n"
             "http_server_request_duration_seconds_bucket,%s,le=0.1,service.name=check\\ out "
             "value=1i 4000000000\n"
             "http_server_request_duration_seconds_bucket,%s,le=1,service.name=check\\ out "
             "value=4i 4000000000\n"
             "http_server_request_duration_seconds_bucket,%s,le=+Inf,service.name=check\\ out "
             "value=5i 4000000000\n"
             "http_server_request_duration_seconds_sum,%s,service.name=check\\ out value=2.5 "
             "4000000000\n"
             "http_server_request_duration_seconds_count,%s,service.name=check\\ out value=5i "
             "4000000000\n",
             tags, tags, tags, tags, tags, tags, tags);
    assert_int_equal(out.len, strlen(want));
    assert_memory_equal(out.p, want, out.len);
    /* a buffer too small leaves out as it was */
    struct core_buf small;
    core_buf_init(&small, 64);
    core_buf_append(&small, "x", 1);
    assert_int_equal(wire_influx_encode(&small, &f.b, &skipped), DIO_EFULL);
    assert_int_equal(small.len, 1);
    core_buf_free(&small);
    /* a point outside its batch */
    f.pts[0].nattrs = 99;
    assert_int_equal(wire_influx_encode(&out, &f.b, &skipped), DIO_EINVAL);
    core_buf_free(&out);
}

static void om_family_and_points(void **state)
{
    (void)state;
    struct wire_om_family fam;
    assert_int_equal(wire_om_family(&m_req, &fam), 0);
    assert_string_equal(fam.name, "http_server_requests");
    assert_int_equal(fam.type, 0);
    assert_string_equal(fam.unit, "");
    assert_int_equal(wire_om_family(&m_delta, &fam), DIO_EINVAL);
    assert_int_equal(wire_om_family(&m_cpu, &fam), 0);
    assert_string_equal(fam.unit, "ratio");

    struct fixture f;
    setup(&f);
    struct rec_point *p = add(&f, &m_dur, 1767225610500000000ULL);
    str_attr(&f, p, "http.route", "/a\"b");
    p->count = 5;
    p->sum = 2.5;
    f.buckets[0] = 1, f.buckets[1] = 3, f.buckets[2] = 1;
    f.b.nbuckets = 3;
    struct core_buf out;
    core_buf_init(&out, 1 << 16);
    assert_int_equal(wire_om_family(&m_dur, &fam), 0);
    assert_int_equal(wire_om_meta(&out, &fam, &m_dur), 0);
    assert_int_equal(wire_om_point(&out, &fam, &f.b, p), 0);
    const char *lab = "job=\"shop/checkout\",instance=\"co-0\",http_route=\"/a\\\"b\"";
    char want[4096];
    snprintf(want, sizeof want,
             "# TYPE http_server_request_duration_seconds histogram\n"
             "# UNIT http_server_request_duration_seconds seconds\n"
             "# HELP http_server_request_duration_seconds Duration \\\"x\\\"\\nof requests.\n"
             "http_server_request_duration_seconds_bucket{%s,le=\"0.1\"} 1 1767225610.500\n"
             "http_server_request_duration_seconds_bucket{%s,le=\"1\"} 4 1767225610.500\n"
             "http_server_request_duration_seconds_bucket{%s,le=\"+Inf\"} 5 1767225610.500\n"
             "http_server_request_duration_seconds_count{%s} 5 1767225610.500\n"
             "http_server_request_duration_seconds_sum{%s} 2.5 1767225610.500\n",
             lab, lab, lab, lab, lab);
    assert_string_equal((const char *)(core_buf_putc(&out, 0), out.p), want);
    core_buf_reset(&out);
    p = add(&f, &m_req, 1767225620000000000ULL);
    p->value.i = 7;
    assert_int_equal(wire_om_family(&m_req, &fam), 0);
    assert_int_equal(wire_om_point(&out, &fam, &f.b, p), 0);
    core_buf_putc(&out, 0);
    assert_string_equal((const char *)out.p,
                        "http_server_requests_total{job=\"shop/checkout\",instance=\"co-0\"} 7 "
                        "1767225620\n");
    core_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(influx_lines),
        cmocka_unit_test(om_family_and_points),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
