/* export: the Prometheus pull listener: routes, content type, published body + self-metrics,
 * and (when promtool is installed) that the whole scrape passes `promtool check metrics`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "export/export.h"
#include "../peers/fake_batch.h"

struct resp {
    long status;
    char ctype[128];
    char *body;
    size_t len;
};

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    struct resp *r = ud;
    r->body = realloc(r->body, r->len + size * n + 1);
    memcpy(r->body + r->len, p, size * n);
    r->len += size * n;
    r->body[r->len] = 0;
    return size * n;
}

static void get(int port, const char *path, const char *method, struct resp *r)
{
    memset(r, 0, sizeof *r);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    if (method)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    char *ct = NULL;
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
    snprintf(r->ctype, sizeof r->ctype, "%s", ct ? ct : "");
    curl_easy_cleanup(c);
}

static const char world[] = "# HELP app_requests_total Requests.\n"
                            "# TYPE app_requests_total counter\n"
                            "app_requests_total{job=\"shop/checkout\"} 42\n";

static void routes_and_self_metrics(void **state)
{
    char err[256];
    int why;
    struct export_prom_cfg bad1 = {.listen = "no-port-here:x"},
                           bad2 = {.listen = "127.0.0.1:99999"};
    assert_null(export_prom_start(&bad1, &why, err, sizeof err));
    assert_int_equal(why, DIO_EINVAL);
    assert_null(export_prom_start(&bad2, &why, err, sizeof err));
    assert_int_equal(why, DIO_EINVAL);
    struct export_prom_cfg cfg = {.listen = "127.0.0.1:0"};
    struct export_prom *p = export_prom_start(&cfg, &why, err, sizeof err);
    assert_non_null(p);
    int port = export_prom_port(p);
    assert_true(port > 0);

    struct resp r;
    get(port, "/metrics", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.ctype, "text/plain; version=0.0.4; charset=utf-8");
    assert_non_null(strstr(r.body, "diorama_build_info{version=\"" DIORAMA_VERSION "\"} 1\n"));
    free(r.body);

    /* With a hub: a null and a file output, some records through each. */
    struct export_output *outs[2] = {export_null_new(0),
                                     export_otlp_file_new("/dev/null", 0, err, sizeof err)};
    struct export_hub_cfg hc = {
        .batch_size = {10, 10, 10}, .queue_batches = 4, .block_when_full = 1};
    struct export_hub *h = export_hub_new(&hc, outs, 2);
    assert_int_equal(export_hub_start(h), 0);
    uint64_t seq = 0;
    for (int i = 0; i < 6; i++) {
        struct rec_batch *b = export_hub_batch(h, i % 3);
        fake_fill(b, 10, &seq);
        export_hub_submit(h, b);
    }
    export_hub_drop(h, REC_LOGS, 7, EXPORT_DROP_QUEUE_FULL);
    export_hub_shutdown(h, core_mono_ns() + 1000000000ULL);
    export_prom_set_hub(p, h);
    export_prom_publish(p, world, sizeof world - 1);
    export_prom_publish(p, world, sizeof world - 2); /* no final newline: one is added */

    get(port, "/metrics", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_true(strncmp(r.body, world, sizeof world - 1) == 0);
    static const char *const want[] = {
        "diorama_records_generated_total{signal=\"spans\",output=\"null\"} 20\n",
        "diorama_records_delivered_total{signal=\"metric_points\",output=\"otlp_file\"} 20\n",
        "diorama_records_dropped_total{signal=\"logs\",output=\"null\",reason=\"queue_full\"} 7\n",
        "diorama_records_in_flight{signal=\"logs\",output=\"otlp_file\"} 0\n",
        "# TYPE diorama_export_requests_total counter\n",
        "diorama_export_requests_total{signal=\"logs\",output=\"null\"} 2\n",
        "# HELP diorama_export_bytes_total ",
        "diorama_export_retries_total{signal=\"spans\",output=\"null\"} 0\n",
        "diorama_export_failed_requests_total{signal=\"spans\",output=\"otlp_file\"} 0\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        if (!strstr(r.body, want[i]))
            fail_msg("scrape lacks %s\n---\n%s", want[i], r.body);
    }

    /* promtool, when installed, must accept the whole body. */
    if (access("/usr/bin/promtool", X_OK) == 0) {
        char path[] = "/tmp/diorama_prom_XXXXXX";
        int fd = mkstemp(path);
        assert_true(write(fd, r.body, r.len) == (ssize_t)r.len);
        close(fd);
        char cmd[256];
        snprintf(cmd, sizeof cmd, "promtool check metrics < %s", path);
        int rc = system(cmd);
        unlink(path);
        if (rc != 0)
            fail_msg("promtool check metrics failed (%d):\n%s", rc, r.body);
    }
    free(r.body);

    get(port, "/", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "/metrics"));
    free(r.body);
    get(port, "/nope", NULL, &r);
    assert_int_equal(r.status, 404);
    free(r.body);
    get(port, "/metrics", "POST", &r);
    assert_int_equal(r.status, 405);
    free(r.body);

    export_prom_set_hub(p, NULL); /* before the hub goes */
    export_hub_free(h);
    get(port, "/metrics", NULL, &r);
    assert_null(strstr(r.body, "diorama_records_generated_total{"));
    free(r.body);
    export_prom_stop(p);
}

/* Over the size limit: 503 saying why and a counter, never a 200 without the world's series;
 * once the body fits again, 200 with the counter showing the refused scrape. */
static void too_large_is_503(void **state)
{
    char err[256];
    struct export_prom_cfg cfg = {.listen = "127.0.0.1:0", .max_bytes = 8192};
    struct export_prom *p = export_prom_start(&cfg, NULL, err, sizeof err);
    assert_non_null(p);
    int port = export_prom_port(p);
    static char big[16384];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 2] = '\n';
    export_prom_publish(p, big, sizeof big - 1);
    struct resp r;
    get(port, "/metrics", NULL, &r);
    assert_int_equal(r.status, 503);
    assert_non_null(strstr(r.body, "over the limit of 8192 bytes"));
    free(r.body);

    export_prom_publish(p, world, sizeof world - 1);
    get(port, "/metrics", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "app_requests_total{"));
    assert_non_null(strstr(r.body, "diorama_prom_scrapes_too_large_total 1\n"));
    assert_non_null(strstr(r.body, "diorama_prom_max_bytes 8192\n"));
    free(r.body);
    export_prom_stop(p);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    core_log_level = -1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(routes_and_self_metrics),
        cmocka_unit_test(too_large_is_503),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
