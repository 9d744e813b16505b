/* export: the pieces of --influx and http/json that read or show untrusted text. How an
 * InfluxDB /write answer counts (2xx, 400 partial write with dropped=N, other statuses),
 * URLs with credentials masked, --influx URL checks, and the OTLP/JSON partial-success reader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "export/export.h"

static void influx_answers(void **state)
{
    (void)state;
    static const struct {
        long status;
        const char *body;
        uint64_t records;
        int taken;
        uint64_t rejected;
    } t[] = {
        {204, "", 100, 1, 0},
        {200, "{}", 100, 1, 0},
        {400,
         "{\"error\":\"partial write: field type conflict: input field \\\"value\\\" on "
         "measurement \\\"x\\\" is type integer, already exists as type float dropped=3\"}",
         100, 1, 3},
        {400, "{\"error\":\"partial write: points beyond retention policy dropped=250\"}", 100, 1,
         100},
        {400, "{\"error\":\"partial write: dropped=\"}", 100, 0, 0},
        {400, "{\"error\":\"unable to parse 'x y': invalid field format\"}", 100, 0, 0},
        {404, "{\"error\":\"database not found: \\\"nope\\\"\"}", 100, 0, 0},
        {500, "{\"error\":\"timeout\"}", 100, 0, 0},
        {503, "", 100, 0, 0},
        {400, "partial write dropped=99999999999999999999999", 100, 1, 100},
    };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        uint64_t rej = 77;
        int taken =
            export_influx_answer(t[i].status, t[i].body, strlen(t[i].body), t[i].records, &rej);
        if (taken != t[i].taken || (taken && rej != t[i].rejected))
            fail_msg("case %zu: taken %d rejected %llu, want %d %llu", i, taken,
                     (unsigned long long)rej, t[i].taken, (unsigned long long)t[i].rejected);
    }
    uint64_t rej;
    assert_int_equal(export_influx_answer(204, NULL, 0, 5, &rej), 1);
}

static void url_masking(void **state)
{
    (void)state;
    static const char *const t[][2] = {
        {"http://h:8086/write?db=x", "http://h:8086/write?db=x"},
        {"http://u:secret@h:8086/write?db=x", "http://u:****@h:8086/write?db=x"},
        {"http://h/write?db=x&u=me&p=secret", "http://h/write?db=x&u=me&p=****"},
        {"http://h/write?p=s1&db=x&password=s2#f", "http://h/write?p=****&db=x&password=****#f"},
        {"https://h/write?token=abc&access_token=def",
         "https://h/write?token=****&access_token=****"},
        {"http://user@h/write", "http://user@h/write"},
        {"http://h/write?pp=1", "http://h/write?pp=1"},
    };
    char out[256];
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        export_url_mask(t[i][0], out, sizeof out);
        if (strcmp(out, t[i][1]) != 0)
            fail_msg("case %zu: %s -> %s, want %s", i, t[i][0], out, t[i][1]);
    }
    export_url_mask("http://u:secret@h/write?p=secret", out, 12); /* cut short, still masked */
    assert_null(strstr(out, "secret"));
}

static void influx_url_checks(void **state)
{
    (void)state;
    static const struct {
        const char *url;
        int rc;
        const char *err_has;
    } t[] = {
        {"http://127.0.0.1:8086/write?db=d", 0, NULL},
        {"https://u:pw@influx:8086/write?db=d&precision=ns", 0, NULL},
        {"http://127.0.0.1:8428", 0, NULL},
        {"ftp://h/write", DIO_EINVAL, "http:// or https://"},
        {"grpc://h:4317", DIO_EINVAL, "http:// or https://"},
        {"http://h:99999/write", DIO_EINVAL, "1..65535"},
        {"http://u:S3cret@h:99999/write", DIO_EINVAL, "u:****@h"},
        {"http://h/write?db=d&precision=ms", DIO_EINVAL, "nanosecond"},
        {"http://h/write?db=d&p=S3cret&precision=s", DIO_EINVAL, "p=****"},
    };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        char err[512] = "";
        int rc = export_influx_url_check(t[i].url, err, sizeof err);
        if (rc != t[i].rc || (t[i].err_has && !strstr(err, t[i].err_has)) || strstr(err, "S3cret"))
            fail_msg("case %zu (%s): rc %d err \"%s\"", i, t[i].url, rc, err);
    }
}

static void partial_success_json(void **state)
{
    (void)state;
    static const struct {
        const char *body;
        int rc;
        int64_t rejected;
        const char *msg;
    } t[] = {
        {"{}", 0, 0, ""},
        {"{\"partialSuccess\":{}}", 0, 0, ""},
        {"{\"partialSuccess\":{\"rejectedSpans\":\"3\",\"errorMessage\":\"bad\"}}", 0, 3, "bad"},
        {"{\"partialSuccess\":{\"rejectedDataPoints\":7}}", 0, 7, ""},
        {"{\"partial_success\":{\"rejected_log_records\":\"2\",\"error_message\":\"m\"}}", 0, 2,
         "m"},
        {"{\"partialSuccess\":{\"rejectedSpans\":\"x\"}}", DIO_EPARSE, 0, ""},
        {"{\"partialSuccess\":5}", DIO_EPARSE, 0, ""},
        {"[1]", DIO_EPARSE, 0, ""},
        {"{\"partialSuccess\":{\"rejectedSpans\":\"3\"", DIO_EPARSE, 0, ""},
        {"", DIO_EPARSE, 0, ""},
    };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        int64_t rej = -1;
        char msg[64];
        int rc =
            export_otlp_partial_success_json(t[i].body, strlen(t[i].body), &rej, msg, sizeof msg);
        if (rc != t[i].rc || (rc == 0 && (rej != t[i].rejected || strcmp(msg, t[i].msg))))
            fail_msg("case %zu: rc %d rejected %lld msg \"%s\"", i, rc, (long long)rej, msg);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(influx_answers),
        cmocka_unit_test(url_masking),
        cmocka_unit_test(influx_url_checks),
        cmocka_unit_test(partial_success_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
