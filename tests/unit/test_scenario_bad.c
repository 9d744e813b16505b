/* Table test over the files in tests/data/bad/: every bad scenario must fail with DIO_EPARSE at the
 * expected line:col with the expected message. Every file in the folder must be in the table,
 * so a new bad file cannot be added without stating what it should say. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "scenario/scenario.h"

struct bad_case {
    const char *file; /* under tests/data/ */
    int line;
    int col;
    const char *msg; /* substring of the message */
};

static const struct bad_case cases[] = {
    {"bad/alias.yaml", 6, 9, "YAML aliases (*d) are not supported"},
    {"bad/ambiguous_target.yaml", 7, 13,
     "faults[0].target: 'llama' names both a model and a service"},
    {"bad/arrival_without_rate.yaml", 5, 18,
     "services[0].operations[0].arrival: only entry operations have arrivals"},
    {"bad/attr_nested.yaml", 2, 9,
     "resource.team: expected a string, number or bool, got a mapping"},
    {"bad/bad_bool.yaml", 5, 19,
     "services[0].operations[0].parallel: expected true or false, got 'maybe'"},
    {"bad/bad_duration.yaml", 5, 25,
     "services[0].operations[0].latency.base: expected a duration like 250ms"},
    {"bad/bad_kind.yaml", 5, 15,
     "services[0].operations[0].kind: expected one of internal, server, client, producer, "
     "consumer, got 'serverr'"},
    {"bad/call_cycle.yaml", 14, 17,
     "services[2].operations[0].calls[0]: call cycle: a/x -> b/y -> c/z -> a/x"},
    {"bad/call_no_slash.yaml", 6, 13,
     "services[0].operations[0].calls[0]: expected 'service/operation' or {service, "
     "operation}, got 'payment'"},
    {"bad/complex_key.yaml", 3, 7, "mapping keys must be plain strings"},
    {"bad/duplicate_key.yaml", 4, 5, "duplicate key 'version' in services[0]"},
    {"bad/duplicate_operation.yaml", 6, 15,
     "services[0].operations[2].name: duplicate operation name 'GET /' (first defined at line "
     "4)"},
    {"bad/duplicate_service.yaml", 6, 11,
     "services[2].name: duplicate service name 'api' (first defined at line 2)"},
    {"bad/empty.yaml", 1, 1, "the file is empty"},
    {"bad/count_not_int.yaml", 2, 30, "hosts[0].count: expected a positive integer, got 'many'"},
    {"bad/count_zero.yaml", 2, 30, "hosts[0].count: expected a positive integer, got '0'"},
    {"bad/count_no_pattern.yaml", 2, 12,
     "hosts[0].name: must contain a %d (or %Nd, %0Nd) placeholder when count is given, got 'web'"},
    {"bad/count_two_patterns.yaml", 2, 12,
     "hosts[0].name: must contain only one %d (or %Nd, %0Nd) placeholder, got 'web%d-%d'"},
    {"bad/count_bad_pattern.yaml", 2, 12,
     "hosts[0].name: a '%' must start %d, %Nd or %0Nd (N one digit), or be written %%, got "
     "'web%x'"},
    {"bad/count_too_many.yaml", 3, 26,
     "hosts[1]: 11000 hosts in all with count, over the limit "
     "of 10000"},
    {"bad/count_duplicate.yaml", 3, 12,
     "hosts[1].name: duplicate host name 'web2' (first defined at line 2)"},
    {"bad/count_unknown_host.yaml", 7, 11,
     "services[0].host: unknown host 'web3' (did you mean 'web1'?)"},
    {"bad/count_call_unknown.yaml", 4, 40,
     "services[0].operations[0].calls[0]: unknown service 'svc3' (did you mean 'svc1'?)"},
    {"bad/profile_unknown.yaml", 2, 25,
     "hosts[0].profile: expected one of general, web, db, ml, gpu, cache, queue, edge, got "
     "'database'"},
    {"bad/instances_zero.yaml", 3, 16,
     "services[0].instances: expected a positive integer, got '0'"},
    {"bad/instances_not_int.yaml", 3, 16,
     "services[0].instances: expected a positive integer, got 'three'"},
    {"bad/instances_too_many.yaml", 4, 16,
     "services[0].instances: 54000 instances in all, over the limit of 50000"},
    {"bad/error_status_range.yaml", 5, 23,
     "services[0].operations[0].error_status: must be at most 599, got '700'"},
    {"bad/fault_empty_effect.yaml", 8, 13,
     "faults[0].effect: at least one of latency_factor, error_status, error_rate, gpu_util, "
     "queue_depth, tokens_factor, cpu, memory_leak, dependency_down, slow_dependency is required"},
    {"bad/fault_bad_operation.yaml", 5, 13,
     "faults[0].target: service 'api' has no operation 'GET /b' (did you mean 'GET /a'?)"},
    {"bad/fault_target_slash_only.yaml", 5, 13,
     "faults[0].target: expected a model, a service or 'service/operation', got '/a'"},
    {"bad/fault_no_trigger.yaml", 7, 5,
     "faults[0]: one of every, probability, window (or manual: true) is required"},
    {"bad/fault_two_triggers.yaml", 10, 18, "faults[0]: every and probability exclude each other"},
    {"bad/fault_cpu_not_host.yaml", 7, 5,
     "faults[0]: cpu and memory_leak act on a host: target a host, not 'api'"},
    {"bad/fault_dependency_unknown.yaml", 9, 31,
     "faults[0].effect.dependency_down: unknown service 'pai' (did you mean 'pay'?)"},
    {"bad/fault_slow_noop.yaml", 9, 31,
     "faults[0].effect.slow_dependency: set factor (> 1) or add (> 0)"},
    {"bad/fault_default_variant.yaml", 11, 22, "faults[0].default_variant: no variant named 'hi'"},
    {"bad/fault_variant_dup.yaml", 10, 27, "faults[0].variants: '10%' is defined twice"},
    {"bad/fault_variant_key.yaml", 10, 24,
     "unknown key 'error_ratio' in faults[0].variants.10% (did you mean 'error_rate'?)"},
    {"bad/fault_error_rate_range.yaml", 9, 26,
     "faults[0].effect.error_rate: must be at least 0 and at most 1"},
    {"bad/fault_unknown_target.yaml", 6, 13,
     "faults[0].target: unknown target 'apx' (not a model, service, service/operation or host) "
     "(did "
     "you mean 'api'?)"},
    {"bad/invalid_utf8.yaml", 2, 13, "YAML syntax error: invalid leading UTF-8 octet"},
    {"bad/jitter_string.yaml", 5, 38,
     "services[0].operations[0].latency.jitter: expected a fraction like 0.2 or a percentage "
     "like 20%, got 'lots'"},
    {"bad/max_batch_string.yaml", 10, 16,
     "models[1].max_batch: expected a positive integer, got 'x'"},
    {"bad/metric_interval_small.yaml", 1, 18, "metric_interval: must be at least 1ms, got '100us'"},
    {"bad/missing_name.yaml", 2, 5, "services[0]: 'name' is required"},
    {"bad/model_entry_no_inference.yaml", 13, 12,
     "models[0].entry: 'gateway/POST /v1/chat' does not reach an operation with inference: "
     "true"},
    {"bad/model_entry_unknown.yaml", 10, 12,
     "models[0].entry: unknown service 'gatway' (did you mean 'gateway'?)"},
    {"bad/model_missing_entry.yaml", 5, 5, "models[0]: 'entry' is required"},
    {"bad/negative_rate.yaml", 5, 15,
     "services[0].operations[0].rate: expected a positive rate like 50, 50/s or 3000/m, got "
     "'-5/s'"},
    {"bad/no_operations.yaml", 3, 17, "services[0].operations: at least one operation is required"},
    {"bad/nothing.yaml", 1, 1, "nothing to simulate: define at least one service or host"},
    {"bad/operations_not_list.yaml", 4, 7,
     "services[0].operations: expected a list, got a mapping"},
    {"bad/parallel_and_mode.yaml", 6, 21,
     "services[0].operations[0].calls_mode: give either parallel or calls_mode, not both"},
    {"bad/percent_out_of_range.yaml", 5, 21,
     "services[0].operations[0].error_rate: must be at least 0 and at most 1 (100%), got "
     "'120%'"},
    {"bad/seed_negative.yaml", 1, 7, "seed: expected a non-negative integer, got '-1'"},
    {"bad/self_call.yaml", 5, 17, "services[0].operations[0].calls[0]: call cycle: a/x -> a/x"},
    {"bad/service_slash_name.yaml", 2, 11, "services[0].name: must not contain '/'"},
    {"bad/services_mapping.yaml", 2, 3, "services: expected a list, got a mapping"},
    {"bad/syntax_tab.yaml", 3, 1, "YAML syntax error: found a tab character"},
    {"bad/syntax_unclosed.yaml", 4, 3,
     "YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence at "
     "line 3, column 17)"},
    {"bad/shape_bad_clock.yaml", 5, 56,
     "services[0].operations[0].shape.diurnal.peak: expected a time of day like 14:00 (UTC)"},
    {"bad/shape_bad_factor.yaml", 5, 58,
     "services[0].operations[0].shape.weekly.weekend: expected a factor like 0.4 or 40%, got "
     "'lots%'"},
    {"bad/shape_unknown_key.yaml", 5, 40,
     "unknown key 'diurnall' in services[0].operations[0].shape (did you mean 'diurnal'?)"},
    {"bad/state_bad_effect.yaml", 5, 22,
     "states.overheating.cpu: must be at least 0 and at most 1 (100%), got '120%'"},
    {"bad/state_duplicate.yaml", 6, 3, "states: 'slow' is defined twice (first at line 5)"},
    {"bad/state_unknown_key.yaml", 5, 10, "unknown key 'latency' in states.slow"},
    {"bad/tail_factor_small.yaml", 5, 52,
     "services[0].operations[0].latency.tail.factor: must be at least 1"},
    {"bad/timeline_ambiguous.yaml", 7, 22,
     "timeline[0].target: 'web' names more than one of a host, a service and a model"},
    {"bad/timeline_missing_at.yaml", 5, 5, "timeline[0]: 'at' is required"},
    {"bad/timeline_unknown_state.yaml", 7, 38,
     "timeline[0].state: unknown state 'degradng' (did you mean 'degrading'?)"},
    {"bad/timeline_unknown_target.yaml", 7, 22,
     "timeline[0].target: unknown target 'ppdb02' (not a host, service or model) (did you mean "
     "'ppdb002'?)"},
    {"bad/too_deep.yaml", 5, 38, "nesting deeper than 32 levels"},
    {"bad/too_many_series.yaml", 104, 11,
     "hosts[99].cpus: the world would have up to 1,003,140 metric series (hosts 1,003,140, "
     "services 0, models 0), over the limit of 1,000,000; the largest part is this host, with "
     "10,269."},
    {"bad/top_sequence.yaml", 1, 1, "top level: expected a mapping, got a list"},
    {"bad/two_documents.yaml", 4, 1, "only one YAML document per file is supported"},
    {"bad/unknown_host.yaml", 5, 11,
     "services[0].host: unknown host 'gpu-2' (did you mean 'gpu-1'?)"},
    {"bad/unknown_key_model.yaml", 9, 5, "unknown key 'ratee' in models[0] (did you mean 'rate'?)"},
    {"bad/unknown_operation_call.yaml", 9, 13,
     "services[1].operations[0].calls[0]: service 'payment' has no operation 'POST /charg' (did "
     "you mean 'POST /charge'?)"},
    {"bad/unknown_service_call.yaml", 11, 13,
     "services[1].operations[2].calls[0]: unknown service 'paymnt' (did you mean 'payment'?)"},
    {"bad/unknown_top_key.yaml", 2, 1,
     "unknown top-level key 'servics' (did you mean 'services'?)"},
    {"bad/window_no_duration.yaml", 6, 13, "faults[0].window: 'duration' is required"},
    {"bad/window_repeat_short.yaml", 6, 47,
     "faults[0].window.repeat: must be at least the window's duration"},
    {"bad/zero_latency.yaml", 5, 18,
     "services[0].operations[0].latency: must be greater than 0, got '0ms'"},
    /* issue 9: kind, pools, business metrics */
    {"bad/biz_buckets.yaml", 10, 23,
     "business[0].buckets[2]: bounds must increase, got '2m' after 300s"},
    {"bad/biz_by_dup.yaml", 6, 80, "business[0].by.city: duplicate value 'SF'"},
    {"bad/biz_by_two.yaml", 6, 68,
     "business[0].by: expected one attribute like {city: [SF, NYC]}, got 2"},
    {"bad/biz_dup.yaml", 7, 12,
     "business[1].name: duplicate metric 'rides.requested' (first at line 6)"},
    {"bad/biz_load_no_per.yaml", 6, 62,
     "business[0].load: load needs per: service/operation (whose rate it fol"},
    {"bad/biz_name.yaml", 6, 12,
     "business[0].name: expected a metric name like rides.requested (a lette"},
    {"bad/biz_no_per.yaml", 6, 5,
     "business[0]: a counter needs per: service/operation (whose requests it"},
    {"bad/biz_no_value.yaml", 6, 5, "business[0]: 'value' is required"},
    {"bad/biz_per_unknown.yaml", 6, 49,
     "business[0].per: service 'app' has no operation 'GET /rides' (did you "},
    {"bad/biz_type.yaml", 6, 35,
     "business[0].type: expected one of counter, histogram, gauge, got 'mete"},
    {"bad/biz_value_shape.yaml", 9, 62,
     "business[0].by.city.SF.shape.diurnal.amplitude: expected a fraction li"},
    {"bad/biz_walk.yaml", 6, 69,
     "business[0].value.step: must be at least 0 and at most 1 (100%), got '"},
    {"bad/biz_weight.yaml", 6, 80,
     "business[0].by.city.SF: must be greater than 0 and at most 1e+09, got "},
    {"bad/biz_wrong_key.yaml", 6, 73,
     "business[0].buckets: not a key of a counter (only of a histogram)"},
    {"bad/kind_unknown.yaml", 1, 7, "kind: expected one of services, got 'rideshare'"},
    {"bad/pool_bad_key.yaml", 5, 54, "unknown key 'connections' in services[0].operations[1].pool"},
    {"bad/pool_no_size.yaml", 5, 44, "services[0].operations[1].pool: 'size' is required"},
    {"bad/pool_timeout.yaml", 5, 63,
     "services[0].operations[1].pool.timeout: expected a duration like 250ms"},
    {"bad/pool_zero.yaml", 5, 44,
     "services[0].operations[1].pool: expected a positive integer, got '0'"},
};

#define NCASES ((int)(sizeof(cases) / sizeof(cases[0])))

static int check_case(const struct bad_case *c)
{
    char path[512], full[1024];
    struct scenario *s = NULL;
    struct scn_error e;
    snprintf(path, sizeof(path), "tests/data/%s", c->file);
    int rc = scenario_load_file(path, &s, &e);
    scenario_format_error(&e, full, sizeof(full));
    if (rc != DIO_EPARSE || s) {
        print_error("%s: expected DIO_EPARSE, got %d (%s)\n", c->file, rc, full);
        scenario_free(s);
        return 1;
    }
    if (e.line != c->line || e.col != c->col || !strstr(e.msg, c->msg)) {
        print_error("%s: expected %d:%d '%s'\n    got %s\n", c->file, c->line, c->col, c->msg,
                    full);
        return 1;
    }
    if (strcmp(e.file, path) != 0) {
        print_error("%s: error names file '%s'\n", c->file, e.file);
        return 1;
    }
    return 0;
}

static void test_bad_table(void **state)
{
    (void)state;
    int failed = 0;
    for (int i = 0; i < NCASES; i++)
        failed += check_case(&cases[i]);
    assert_int_equal(failed, 0);
    assert_true(NCASES >= 25);
}

static int in_table(const char *name)
{
    for (int i = 0; i < NCASES; i++)
        if (!strcmp(cases[i].file + strlen("bad/"), name))
            return 1;
    return 0;
}

static void test_every_file_in_table(void **state)
{
    (void)state;
    DIR *d = opendir("tests/data/bad");
    assert_non_null(d);
    int missing = 0, files = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (n < 5 || strcmp(de->d_name + n - 5, ".yaml"))
            continue;
        files++;
        if (!in_table(de->d_name)) {
            print_error("tests/data/bad/%s has no entry in the table\n", de->d_name);
            missing++;
        }
    }
    closedir(d);
    assert_int_equal(missing, 0);
    assert_int_equal(files, NCASES);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_table),
        cmocka_unit_test(test_every_file_in_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
