/* Prometheus job and instance of each resource, the OpenTelemetry Collector's way (the
 * OTel-to-Prometheus compatibility spec): job = service.namespace/service.name (service.name
 * alone without a namespace), instance = service.instance.id, both read from the finished
 * resource, so OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES and scenario attributes that change
 * those attributes change the labels the same way. Host resources are host-metrics instances
 * named after the host. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "world/world.h"

static const char yaml[] = "name: shopx\n"
                           "hosts: [{name: node-1}]\n"
                           "services:\n"
                           "  - name: api\n"
                           "    host: node-1\n"
                           "    operations: [{name: GET /, rate: 1}]\n"
                           "  - name: db\n"
                           "    attributes: {service.instance.id: db-primary}\n"
                           "    operations: [{name: query}]\n";

/* The string value of attribute key in resource r, or NULL. */
static const char *attr(const struct rec_resource *r, const char *key)
{
    static char buf[256];
    for (uint32_t i = 0; i < r->nattrs; i++)
        if (!strcmp(r->attrs[i].key, key) && r->attrs[i].type == REC_STR) {
            snprintf(buf, sizeof buf, "%.*s", (int)r->attrs[i].v.s.len, r->attrs[i].v.s.p);
            return buf;
        }
    return NULL;
}

static struct world *build(struct scenario **s, const struct world_opts *o)
{
    struct scn_error e;
    struct world *w = NULL;
    char err[256];
    assert_int_equal(scenario_load_string("t.yaml", yaml, strlen(yaml), s, &e), 0);
    assert_int_equal(world_build(&w, *s, o, err, sizeof err), 0);
    return w;
}

static void test_labels_from_resource(void **state)
{
    (void)state;
    struct scenario *s;
    struct world_opts o = {.seed = 1, .nshards = 1};
    struct world *w = build(&s, &o);
    assert_int_equal(w->nres, 3); /* api, db, node-1 */
    assert_string_equal(w->res[0].job, "shopx/api");
    assert_string_equal(w->res[0].instance, "api-0");
    assert_string_equal(attr(&w->res[0], "service.instance.id"), "api-0");
    /* a scenario attribute overriding service.instance.id is the instance label too */
    assert_string_equal(w->res[1].job, "shopx/db");
    assert_string_equal(attr(&w->res[1], "service.instance.id"), "db-primary");
    assert_string_equal(w->res[1].instance, "db-primary");
    /* hosts: an instance of host-metrics named after the host, in OTLP and in Prometheus */
    assert_string_equal(w->res[2].job, "host-metrics");
    assert_string_equal(attr(&w->res[2], "service.name"), "host-metrics");
    assert_string_equal(attr(&w->res[2], "service.instance.id"), "node-1");
    assert_string_equal(w->res[2].instance, "node-1");
    world_free(w);
    scenario_free(s);
}

static void test_labels_follow_environment(void **state)
{
    (void)state;
    struct scenario *s;
    struct world_opts o = {.seed = 1,
                           .nshards = 1,
                           .ns_override = "prod",
                           .extra_attrs = "service.instance.id=pod-7,deployment.environment=x"};
    struct world *w = build(&s, &o);
    assert_string_equal(w->res[0].job, "prod/api");
    assert_string_equal(attr(&w->res[0], "service.instance.id"), "pod-7");
    assert_string_equal(w->res[0].instance, "pod-7");
    assert_string_equal(w->res[2].instance, "pod-7"); /* the environment wins everywhere */
    world_free(w);
    scenario_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_labels_from_resource),
        cmocka_unit_test(test_labels_follow_environment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
