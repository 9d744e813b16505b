/* export: retry policy and Retry-After tables, the partial_success reader, environment
 * resolution, header lists, and the hub's accounting with the null and file outputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "export/export.h"
#include "wire/wire.h"
#include "../peers/fake_batch.h"

#define S 1000000000ULL
#define DATE_2015 1445412480ULL /* Wed, 21 Oct 2015 07:28:00 GMT */

/* ---- retry policy --------------------------------------------------------------------------- */

static void policy_status_table(void **state)
{
    static const struct {
        int status, verdict;
    } t[] = {
        {200, EXPORT_OK},    {201, EXPORT_OK},    {204, EXPORT_OK},    {299, EXPORT_OK},
        {400, EXPORT_FAIL},  {401, EXPORT_FAIL},  {403, EXPORT_FAIL},  {404, EXPORT_FAIL},
        {413, EXPORT_FAIL},  {500, EXPORT_FAIL},  {501, EXPORT_FAIL},  {301, EXPORT_FAIL},
        {100, EXPORT_FAIL},  {505, EXPORT_FAIL},  {429, EXPORT_RETRY}, {502, EXPORT_RETRY},
        {503, EXPORT_RETRY}, {504, EXPORT_RETRY}, {0, EXPORT_RETRY},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        uint64_t d = 12345;
        int v = export_retry_policy(t[i].status, NULL, 1, S, 5 * S, DATE_2015 * S, NULL, &d);
        if (v != t[i].verdict)
            fail_msg("status %d: verdict %d, want %d", t[i].status, v, t[i].verdict);
        if (v == EXPORT_RETRY)
            assert_int_equal(d, S); /* first backoff, no jitter without an rng */
    }
}

static void retry_after_table(void **state)
{
    static const struct {
        const char *v;
        int64_t now_s; /* seconds before DATE_2015 */
        int rc;
        uint64_t delay_s;
    } t[] = {
        {"5", 0, 0, 5},
        {" 7\t", 0, 0, 7},
        {"0", 0, 0, 0},
        {"120", 0, 0, 120},
        {"99999999999999999999999999", 0, 0, 86400}, /* capped, no overflow */
        {"Wed, 21 Oct 2015 07:28:00 GMT", 10, 0, 10},
        {"Wed, 21 Oct 2015 07:28:00 GMT", 0, 0, 0},
        {"Wed, 21 Oct 2015 07:28:00 GMT", -30, 0, 0}, /* in the past: now */
        {"Wednesday, 21-Oct-15 07:28:00 GMT", 3, 0, 3},
        {"Wed Oct 21 07:28:00 2015", 4, 0, 4},
        {"Thu, 01 Jan 1970 00:00:00 GMT", 0, 0, 0},
        {"Sun Nov  6 08:49:37 1994", 0, 0, 0},
        {"", 0, DIO_EPARSE, 0},
        {"soon", 0, DIO_EPARSE, 0},
        {"5s", 0, DIO_EPARSE, 0},
        {"-1", 0, DIO_EPARSE, 0},
        {"1.5", 0, DIO_EPARSE, 0},
        {"Wed, 32 Oct 2015 07:28:00 GMT", 0, DIO_EPARSE, 0},
        {"Wed, 29 Feb 2015 07:28:00 GMT", 0, DIO_EPARSE, 0},
        {"Wed, 21 Oct 2015 24:28:00 GMT", 0, DIO_EPARSE, 0},
        {"Wed, 21 Oct 2015 07:28:00 UTC", 0, DIO_EPARSE, 0},
        {"Wed, 21 Oct 2015 07:28:00 GMT junk", 0, DIO_EPARSE, 0},
        {"Wed, 21 Foo 2015 07:28:00 GMT", 0, DIO_EPARSE, 0},
        {"Wed, 21 Oct 15 07:28:00 GMT", 0, DIO_EPARSE, 0},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        uint64_t d = 777;
        uint64_t now = (uint64_t)((int64_t)DATE_2015 - t[i].now_s) * S;
        int rc = export_retry_after_parse(t[i].v, now, &d);
        if (rc != t[i].rc)
            fail_msg("\"%s\": rc %d, want %d", t[i].v, rc, t[i].rc);
        if (rc == 0 && d != t[i].delay_s * S)
            fail_msg("\"%s\": delay %llu ns, want %llu s", t[i].v, (unsigned long long)d,
                     (unsigned long long)t[i].delay_s);
    }
    /* A Retry-After the policy honours, and garbage that falls back to backoff. */
    uint64_t d = 0;
    assert_int_equal(export_retry_policy(503, "5", 1, S, 5 * S, DATE_2015 * S, NULL, &d),
                     EXPORT_RETRY);
    assert_int_equal(d, 5 * S);
    assert_int_equal(export_retry_policy(429, "Wed, 21 Oct 2015 07:28:00 GMT", 3, S, 5 * S,
                                         (DATE_2015 - 2) * S, NULL, &d),
                     EXPORT_RETRY);
    assert_int_equal(d, 2 * S);
    assert_int_equal(export_retry_policy(503, "garbage", 3, S, 5 * S, 0, NULL, &d), EXPORT_RETRY);
    assert_int_equal(d, 4 * S);
}

static void backoff_doubles_capped_with_jitter(void **state)
{
    static const struct {
        int attempt;
        uint64_t d;
    } t[] = {{0, S},     {1, S},     {2, 2 * S},  {3, 4 * S},
             {4, 5 * S}, {5, 5 * S}, {64, 5 * S}, {1000, 5 * S}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        uint64_t d = 0;
        export_retry_policy(0, NULL, t[i].attempt, S, 5 * S, 0, NULL, &d);
        if (d != t[i].d)
            fail_msg("attempt %d: %llu, want %llu", t[i].attempt, (unsigned long long)d,
                     (unsigned long long)t[i].d);
    }
    /* Jitter: uniform over [d/2, d], both ends reached. */
    struct core_rng rng;
    core_rng_init(&rng, 1, 2, 3);
    uint64_t lo = UINT64_MAX, hi = 0;
    for (int i = 0; i < 10000; i++) {
        uint64_t d = 0;
        export_retry_policy(503, NULL, 2, S, 5 * S, 0, &rng, &d);
        assert_true(d >= S && d <= 2 * S);
        lo = d < lo ? d : lo;
        hi = d > hi ? d : hi;
    }
    assert_true(lo < S + S / 100);
    assert_true(hi > 2 * S - S / 100);
    /* Huge initial values do not overflow. */
    uint64_t d = 0;
    export_retry_policy(0, NULL, 70, UINT64_MAX / 2, UINT64_MAX, 0, NULL, &d);
    assert_int_equal(d, UINT64_MAX);
}

/* ---- partial_success ------------------------------------------------------------------------ */

static void partial_success_reader(void **state)
{
    static const struct {
        const char *hex;
        int rc;
        int64_t rejected;
        const char *msg;
    } t[] = {
        {"", 0, 0, ""},
        {"0a00", 0, 0, ""},
        {"0a0508071201 78", 0, 7, "x"},
        {"0a0412020a0b", 0, 0, "??"},                    /* control chars are masked */
        {"0a0b08ffffffffffffffffff01", 0, -1, ""},       /* int64 -1 */
        {"0a02 0803 0a02 0804", 0, 4, ""},               /* repeated message fields merge */
        {"1003 0a02 0805 1a0161 25 01020304", 0, 5, ""}, /* unknown fields skipped */
        {"0a0308", DIO_EPARSE, 0, ""},                   /* length past the end */
        {"0a02 08", DIO_EPARSE, 0, ""},
        {"08 05", DIO_EPARSE, 0, ""},                      /* field 1 must be a message */
        {"0a02 1001", DIO_EPARSE, 0, ""},                  /* error_message must be LEN */
        {"0a0b08ffffffffffffffffff7f", DIO_EPARSE, 0, ""}, /* varint over 64 bits */
        {"0b", DIO_EPARSE, 0, ""},                         /* group */
        {"00", DIO_EPARSE, 0, ""},                         /* field 0 */
        {"0a", DIO_EPARSE, 0, ""},
        {"09 0102", DIO_EPARSE, 0, ""},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        uint8_t buf[64];
        size_t n = 0;
        for (const char *p = t[i].hex; *p;) {
            if (*p == ' ') {
                p++;
                continue;
            }
            unsigned v;
            sscanf(p, "%2x", &v);
            buf[n++] = (uint8_t)v;
            p += 2;
        }
        int64_t rej = 99;
        char msg[8];
        int rc = export_otlp_partial_success(buf, n, &rej, msg, sizeof msg);
        if (rc != t[i].rc)
            fail_msg("%s: rc %d want %d", t[i].hex, rc, t[i].rc);
        if (rc == 0 && (rej != t[i].rejected || strcmp(msg, t[i].msg) != 0))
            fail_msg("%s: rejected %lld msg \"%s\"", t[i].hex, (long long)rej, msg);
    }
    /* A long message is truncated, NUL-terminated. */
    uint8_t body[] = {0x0a, 0x0c, 0x08, 0x02, 0x12, 0x08, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'};
    char msg[4];
    int64_t rej;
    assert_int_equal(export_otlp_partial_success(body, sizeof body, &rej, msg, sizeof msg), 0);
    assert_int_equal(rej, 2);
    assert_string_equal(msg, "abc");
    assert_int_equal(export_otlp_partial_success(body, sizeof body, &rej, NULL, 0), 0);
}

/* ---- environment ---------------------------------------------------------------------------- */

static const char *const otel_vars[] = {
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
    "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
    "OTEL_EXPORTER_OTLP_COMPRESSION",
    "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
    "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION",
    "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION",
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
    "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL",
};

/* env: "NAME=value;NAME2=value2" (';' separates, since values contain ','). */
static void set_env(const char *env)
{
    for (size_t i = 0; i < sizeof otel_vars / sizeof otel_vars[0]; i++)
        unsetenv(otel_vars[i]);
    char *copy = strdup(env), *save = NULL;
    for (char *kv = strtok_r(copy, ";", &save); kv; kv = strtok_r(NULL, ";", &save)) {
        char *eq = strchr(kv, '=');
        *eq = 0;
        setenv(kv, eq + 1, 1);
    }
    free(copy);
}

static const char *str_or(const char *s)
{
    return s ? s : "(null)";
}

static void env_resolution_table(void **state)
{
    static const struct {
        const char *flag, *env;
        int rc;
        const char *traces, *metrics, *logs;
        const char *err_has;
    } t[] = {
        {NULL, "", DIO_ENOENT, NULL, NULL, NULL, "no OTLP endpoint"},
        {"http://h:4318", "", 0, "http://h:4318/v1/traces", "http://h:4318/v1/metrics",
         "http://h:4318/v1/logs", NULL},
        {"http://h:4318/", "", 0, "http://h:4318/v1/traces", "http://h:4318/v1/metrics",
         "http://h:4318/v1/logs", NULL},
        {"https://h/otlp", "", 0, "https://h/otlp/v1/traces", "https://h/otlp/v1/metrics",
         "https://h/otlp/v1/logs", NULL},
        {NULL, "OTEL_EXPORTER_OTLP_ENDPOINT=http://c:4318", 0, "http://c:4318/v1/traces",
         "http://c:4318/v1/metrics", "http://c:4318/v1/logs", NULL},
        {NULL,
         "OTEL_EXPORTER_OTLP_ENDPOINT=http://c:4318/;"
         "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://t:9/custom/path",
         0, "http://t:9/custom/path", "http://c:4318/v1/metrics", "http://c:4318/v1/logs", NULL},
        {NULL, "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT=http://l:1/x", 0, NULL, NULL, "http://l:1/x",
         NULL},
        {"http://flag:1", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://t:9/x", 0,
         "http://flag:1/v1/traces", "http://flag:1/v1/metrics", "http://flag:1/v1/logs", NULL},
        {"http://h:1", "OTEL_EXPORTER_OTLP_ENDPOINT=", 0, "http://h:1/v1/traces",
         "http://h:1/v1/metrics", "http://h:1/v1/logs", NULL},
        {"ftp://h:1", "", DIO_EINVAL, NULL, NULL, NULL, "must start with http://"},
        {"localhost:4318", "", DIO_EINVAL, NULL, NULL, NULL, "must start with http://"},
        {"http://", "", DIO_EINVAL, NULL, NULL, NULL, "no host"},
        {"http://a b", "", DIO_EINVAL, NULL, NULL, NULL, "space"},
        {"http://127.0.0.1:99999", "", DIO_EINVAL, NULL, NULL, NULL, "127.0.0.1:99999\": the port"},
        {"http://h:0", "", DIO_EINVAL, NULL, NULL, NULL, "1..65535"},
        {"http://h:", "", DIO_EINVAL, NULL, NULL, NULL, "1..65535"},
        {"http://h:12ab/x", "", DIO_EINVAL, NULL, NULL, NULL, "1..65535"},
        {"http://:4318", "", DIO_EINVAL, NULL, NULL, NULL, "no host"},
        {"http:///v1", "", DIO_EINVAL, NULL, NULL, NULL, "no host"},
        {"http://[::1", "", DIO_EINVAL, NULL, NULL, NULL, "IPv6"},
        {"http://[::1]x", "", DIO_EINVAL, NULL, NULL, NULL, "IPv6"},
        {NULL, "OTEL_EXPORTER_OTLP_ENDPOINT=http://c:70000", DIO_EINVAL, NULL, NULL, NULL,
         "OTEL_EXPORTER_OTLP_ENDPOINT"},
        {"http://[::1]:4318", "", 0, "http://[::1]:4318/v1/traces", "http://[::1]:4318/v1/metrics",
         "http://[::1]:4318/v1/logs", NULL},
        {"http://u:p@h:65535/p", "", 0, "http://u:p@h:65535/p/v1/traces",
         "http://u:p@h:65535/p/v1/metrics", "http://u:p@h:65535/p/v1/logs", NULL},
        /* OTLP/gRPC: grpc:// or _PROTOCOL=grpc; the endpoint names the server only */
        {NULL, "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=grpc://x", 0, NULL, "http://x", NULL, NULL},
        {"grpc://g:4317/ignored", "", 0, "http://g:4317", "http://g:4317", "http://g:4317", NULL},
        {"http://h:1", "OTEL_EXPORTER_OTLP_PROTOCOL=grpc", 0, "http://h:1", "http://h:1",
         "http://h:1", NULL},
        /* gRPC over TLS: https:// with the protocol grpc, or grpcs:// */
        {"https://h:1", "OTEL_EXPORTER_OTLP_PROTOCOL=grpc", 0, "https://h:1", "https://h:1",
         "https://h:1", NULL},
        {"grpcs://h:1/x", "", 0, "https://h:1", "https://h:1", "https://h:1", NULL},
        {"grpcs://h:99999", "", DIO_EINVAL, NULL, NULL, NULL, "1..65535"},
        {"grpc://h:99999", "", DIO_EINVAL, NULL, NULL, NULL, "1..65535"},
        {"http://h:1", "OTEL_EXPORTER_OTLP_PROTOCOL=http/json", 0, "http://h:1/v1/traces",
         "http://h:1/v1/metrics", "http://h:1/v1/logs", NULL},
        {"http://h:1", "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL=grpc", 0, "http://h:1/v1/traces",
         "http://h:1/v1/metrics", "http://h:1", NULL},
        {"http://h:1", "OTEL_EXPORTER_OTLP_PROTOCOL=thrift", DIO_EINVAL, NULL, NULL, NULL,
         "unknown protocol"},
        {"http://h:1", "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf", 0, "http://h:1/v1/traces",
         "http://h:1/v1/metrics", "http://h:1/v1/logs", NULL},
        {"http://h:1", "OTEL_EXPORTER_OTLP_COMPRESSION=zstd", DIO_EINVAL, NULL, NULL, NULL,
         "gzip or none"},
        {"http://h:1", "OTEL_EXPORTER_OTLP_TIMEOUT=soon", DIO_EINVAL, NULL, NULL, NULL,
         "milliseconds"},
        {"http://h:1", "OTEL_EXPORTER_OTLP_TIMEOUT=0", DIO_EINVAL, NULL, NULL, NULL,
         "milliseconds"},
        {"http://h:1", "OTEL_EXPORTER_OTLP_HEADERS=a=1,b", DIO_EPARSE, NULL, NULL, NULL,
         "OTEL_EXPORTER_OTLP_HEADERS"},
        {"http://h:1", "OTEL_EXPORTER_OTLP_HEADERS=x=a%0D%0AEvil: 1", DIO_EINVAL, NULL, NULL, NULL,
         "control character"},
        {"http://h:1", "OTEL_EXPORTER_OTLP_HEADERS=bad name=1", DIO_EINVAL, NULL, NULL, NULL,
         "not allowed"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        set_env(t[i].env);
        struct export_otlp_http_cfg cfg = {0};
        char err[256] = "";
        int rc = export_otlp_http_cfg_resolve(&cfg, t[i].flag, err, sizeof err);
        if (rc != t[i].rc)
            fail_msg("case %zu: rc %d want %d (%s)", i, rc, t[i].rc, err);
        if (t[i].err_has && !strstr(err, t[i].err_has))
            fail_msg("case %zu: error \"%s\" lacks \"%s\"", i, err, t[i].err_has);
        const char *want[3] = {t[i].traces, t[i].metrics, t[i].logs};
        for (int s = 0; rc == 0 && s < REC_NSIGNALS; s++) {
            if (strcmp(str_or(cfg.url[s]), str_or(want[s])) != 0)
                fail_msg("case %zu signal %d: %s want %s", i, s, str_or(cfg.url[s]),
                         str_or(want[s]));
        }
        if (rc != 0) {
            for (int s = 0; s < REC_NSIGNALS; s++)
                assert_null(cfg.url[s]);
            assert_null(cfg.headers);
        }
        export_otlp_http_cfg_free(&cfg);
    }
    set_env("");
}

/* OTEL_EXPORTER_OTLP_PROTOCOL=http/json selects OTLP/JSON for every signal; a signal's own
 * _PROTOCOL wins for that signal. */
static void env_protocol_json(void **state)
{
    (void)state;
    set_env("OTEL_EXPORTER_OTLP_PROTOCOL=http/json;OTEL_EXPORTER_OTLP_LOGS_PROTOCOL=http/protobuf");
    struct export_otlp_http_cfg cfg;
    char err[256];
    assert_int_equal(export_otlp_http_cfg_resolve(&cfg, "http://h:4318", err, sizeof err), 0);
    assert_int_equal(cfg.protocol[REC_SPANS], EXPORT_OTLP_HTTP_JSON);
    assert_int_equal(cfg.protocol[REC_METRICS], EXPORT_OTLP_HTTP_JSON);
    assert_int_equal(cfg.protocol[REC_LOGS], EXPORT_OTLP_HTTP_PROTOBUF);
    export_otlp_http_cfg_free(&cfg);
    set_env("");
    int p = -1;
    assert_int_equal(export_otlp_protocol_parse("http/json", &p), 0);
    assert_int_equal(p, EXPORT_OTLP_HTTP_JSON);
    assert_int_equal(export_otlp_protocol_parse("http/protobuf", &p), 0);
    assert_int_equal(p, EXPORT_OTLP_HTTP_PROTOBUF);
    assert_int_equal(export_otlp_protocol_parse("json", &p), DIO_EINVAL);
}

static void env_headers_compression_timeout(void **state)
{
    set_env("OTEL_EXPORTER_OTLP_HEADERS=api-key=abc%20def, x-b = 2 ;"
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS=x-t=t%2Cv;"
            "OTEL_EXPORTER_OTLP_COMPRESSION=gzip;"
            "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION=none;"
            "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION=gzip;"
            "OTEL_EXPORTER_OTLP_TIMEOUT=2500");
    struct export_otlp_http_cfg cfg = {0};
    char err[256];
    assert_int_equal(export_otlp_http_cfg_resolve(&cfg, "http://h:4318", err, sizeof err), 0);
    assert_non_null(cfg.headers);
    assert_string_equal(cfg.headers[0], "api-key: abc def");
    assert_string_equal(cfg.headers[1], "x-b: 2");
    assert_null(cfg.headers[2]);
    assert_string_equal(cfg.signal_headers[REC_SPANS][0], "x-t: t,v");
    assert_null(cfg.signal_headers[REC_METRICS]);
    assert_int_equal(cfg.gzip, 1);
    assert_int_equal(cfg.signal_gzip[REC_SPANS], 0);
    assert_int_equal(cfg.signal_gzip[REC_METRICS], -1);
    assert_int_equal(cfg.signal_gzip[REC_LOGS], 1);
    assert_int_equal(cfg.timeout_ns, 2500ULL * 1000000);
    assert_int_equal(cfg.retry_initial_ns, S);
    assert_int_equal(cfg.retry_max_ns, 5 * S);
    assert_int_equal(cfg.retry_budget_ns, 30 * S);
    assert_int_equal(cfg.max_concurrent, 4);
    export_otlp_http_cfg_free(&cfg);
    export_otlp_http_cfg_free(&cfg); /* idempotent */

    /* Every field is initialised, whatever the caller left in cfg (the CLI passes it
     * uninitialised and applies its flags afterwards). */
    set_env("OTEL_EXPORTER_OTLP_TIMEOUT=2500");
    struct export_otlp_http_cfg c2;
    memset(&c2, 0xa5, sizeof c2);
    assert_int_equal(export_otlp_http_cfg_resolve(&c2, "http://h:4318", err, sizeof err), 0);
    assert_int_equal(c2.max_concurrent, 4);
    assert_int_equal(c2.timeout_ns, 2500ULL * 1000000);
    assert_int_equal(c2.gzip, 0);
    assert_int_equal(c2.seed, 0);
    assert_null(c2.headers);
    for (int s = 0; s < REC_NSIGNALS; s++) {
        assert_null(c2.signal_headers[s]);
        assert_int_equal(c2.signal_gzip[s], 0);
    }
    export_otlp_http_cfg_free(&c2);
    memset(&c2, 0xa5, sizeof c2);
    set_env("OTEL_EXPORTER_OTLP_HEADERS=a=1");
    assert_int_equal(export_otlp_http_cfg_resolve(&c2, NULL, err, sizeof err), DIO_ENOENT);
    export_otlp_http_cfg_free(&c2); /* harmless after a failure */
    assert_int_equal(export_otlp_http_cfg_resolve(&c2, "http://h:1", err, sizeof err), 0);
    assert_string_equal(c2.headers[0], "a: 1");
    export_otlp_http_cfg_free(&c2);
    set_env("");
}

static void header_list_parse(void **state)
{
    char **h = NULL;
    char err[128];
    assert_int_equal(export_headers_parse("a=1", &h, err, sizeof err), 0);
    assert_int_equal(export_headers_parse("b=x%3Dy,,c=", &h, err, sizeof err), 0);
    assert_string_equal(h[0], "a: 1");
    assert_string_equal(h[1], "b: x=y");
    assert_string_equal(h[2], "c: ");
    assert_null(h[3]);
    /* A failure leaves the list as it was. */
    assert_int_equal(export_headers_parse("d=1,e=%0A", &h, err, sizeof err), DIO_EINVAL);
    assert_string_equal(h[2], "c: ");
    assert_null(h[3]);
    assert_int_equal(export_headers_parse("=1", &h, err, sizeof err), DIO_EPARSE);
    assert_int_equal(export_headers_parse("a:b=1", &h, err, sizeof err), DIO_EINVAL);
    export_headers_free(h);
    /* Bounded: at most 128 headers. */
    char big[2048] = "";
    for (int i = 0; i < 130; i++)
        strcat(big, "k=v,");
    h = NULL;
    assert_int_equal(export_headers_parse(big, &h, err, sizeof err), DIO_EINVAL);
    assert_null(h);
}

/* ---- hub ------------------------------------------------------------------------------------ */

static void assert_balanced(const struct export_signal_stats *s)
{
    if (s->generated != s->delivered + export_dropped_total(s) + s->in_flight)
        fail_msg("unbalanced: generated %llu delivered %llu dropped %llu in_flight %llu",
                 (unsigned long long)s->generated, (unsigned long long)s->delivered,
                 (unsigned long long)export_dropped_total(s), (unsigned long long)s->in_flight);
}

static void hub_null_output_counts_everything(void **state)
{
    struct export_output *o = export_null_new(1);
    assert_string_equal(export_output_name(o), "null");
    struct export_hub_cfg hc = {.batch_size = {10, 10, 10}, .queue_batches = 2};
    struct export_hub *h = export_hub_new(&hc, &o, 1);
    assert_int_equal(export_hub_start(h), 0);
    uint64_t seq = 0;
    for (int i = 0; i < 30; i++) {
        int s = i % REC_NSIGNALS;
        struct rec_batch *b = export_hub_batch(h, s);
        assert_non_null(b);
        assert_int_equal(b->n, 0);
        fake_fill(b, 10, &seq);
        export_hub_submit(h, b);
    }
    struct rec_batch *e = export_hub_batch(h, REC_LOGS);
    export_hub_submit(h, e); /* empty: recycled, not counted */
    export_hub_drop(h, REC_SPANS, 5, EXPORT_DROP_QUEUE_FULL);
    export_hub_shutdown(h, core_mono_ns() + S);
    struct export_stats st;
    export_hub_stats(h, 0, &st);
    for (int s = 0; s < REC_NSIGNALS; s++) {
        assert_balanced(&st.s[s]);
        assert_int_equal(st.s[s].in_flight, 0);
        assert_int_equal(st.s[s].delivered, 100);
        assert_int_equal(st.s[s].requests, 10);
        assert_true(st.s[s].bytes > 100 * 20);
    }
    assert_int_equal(st.s[REC_SPANS].generated, 105);
    assert_int_equal(st.s[REC_SPANS].dropped[EXPORT_DROP_QUEUE_FULL], 5);
    /* After shutdown nothing is accepted, but everything is still counted. */
    assert_null(export_hub_batch(h, REC_SPANS));
    export_hub_free(h);
}

static size_t count_lines(const char *path, char *first_signals, size_t n)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t lines = 0;
    static char line[1 << 20];
    while (fgets(line, sizeof line, f)) {
        if (lines < n)
            first_signals[lines] = strstr(line, "\"resourceSpans\"")     ? 's'
                                   : strstr(line, "\"resourceMetrics\"") ? 'm'
                                   : strstr(line, "\"resourceLogs\"")    ? 'l'
                                                                         : '?';
        lines++;
    }
    fclose(f);
    return lines;
}

static void hub_file_output_in_submit_order(void **state)
{
    char path[] = "/tmp/diorama_test_export_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    char err[256];
    struct export_output *outs[2] = {export_otlp_file_new(path, 1, err, sizeof err),
                                     export_null_new(0)};
    assert_non_null(outs[0]);
    struct export_hub_cfg hc = {.batch_size = {4, 4, 4}, .queue_batches = 8, .block_when_full = 1};
    struct export_hub *h = export_hub_new(&hc, outs, 2);
    assert_int_equal(export_hub_start(h), 0);
    uint64_t seq = 0;
    static const int order[] = {REC_SPANS, REC_LOGS, REC_METRICS, REC_SPANS, REC_METRICS};
    for (int r = 0; r < 40; r++) {
        for (size_t i = 0; i < 5; i++) {
            struct rec_batch *b = export_hub_batch(h, order[i]);
            assert_non_null(b);
            fake_fill(b, 3, &seq);
            export_hub_submit(h, b);
        }
    }
    export_hub_shutdown(h, core_mono_ns() + 5 * S);
    struct export_stats st;
    export_hub_stats(h, 0, &st);
    assert_int_equal(st.s[REC_SPANS].delivered, 240);
    assert_int_equal(st.s[REC_METRICS].delivered, 240);
    assert_int_equal(st.s[REC_LOGS].delivered, 120);
    for (int s = 0; s < REC_NSIGNALS; s++) {
        assert_balanced(&st.s[s]);
        assert_int_equal(st.s[s].in_flight, 0);
    }
    export_hub_free(h);
    char sig[10];
    assert_int_equal(count_lines(path, sig, sizeof sig), 200);
    assert_memory_equal(sig, "slmsmslmsm", 10);
    unlink(path);
}

static void file_output_write_errors_are_counted(void **state)
{
    char err[256];
    assert_null(export_otlp_file_new("/nonexistent/dir/x.jsonl", 0, err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/dir/x.jsonl"));
    if (access("/dev/full", W_OK) != 0)
        skip();
    struct export_output *o = export_otlp_file_new("/dev/full", 0, err, sizeof err);
    assert_non_null(o);
    struct export_hub_cfg hc = {.batch_size = {8, 8, 8}, .queue_batches = 4, .block_when_full = 1};
    struct export_hub *h = export_hub_new(&hc, &o, 1);
    assert_int_equal(export_hub_start(h), 0);
    uint64_t seq = 0;
    for (int i = 0; i < 20; i++) {
        struct rec_batch *b = export_hub_batch(h, REC_LOGS);
        fake_fill(b, 8, &seq);
        export_hub_submit(h, b);
    }
    export_hub_shutdown(h, core_mono_ns() + 5 * S);
    struct export_stats st;
    export_hub_stats(h, 0, &st);
    assert_int_equal(st.s[REC_LOGS].generated, 160);
    assert_int_equal(st.s[REC_LOGS].dropped[EXPORT_DROP_IO], 160);
    assert_int_equal(st.s[REC_LOGS].delivered, 0);
    assert_balanced(&st.s[REC_LOGS]);
    export_hub_free(h);
}

/* Waits until the output has an outcome for everything it was given. */
static void wait_settled(struct export_hub *h, int s)
{
    struct export_stats st;
    for (int i = 0; i < 5000; i++) {
        export_hub_stats(h, 0, &st);
        if (st.s[s].in_flight == 0)
            return;
        usleep(1000);
    }
    fail_msg("the file output did not settle");
}

static int count_item(void *ctx, const struct wire_item *it)
{
    *(uint64_t *)ctx += it->count;
    return 0;
}

/* Counts the lines that decode as an OTLP/JSON logs request (*lines) and those that do not
 * (*bad). Returns the records in the good ones. */
static uint64_t decode_lines(const char *path, size_t *lines, size_t *bad)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char line[1 << 20];
    uint64_t records = 0;
    *lines = *bad = 0;
    while (fgets(line, sizeof line, f)) {
        char err[256];
        struct wire_decode_stats ds = {0};
        uint64_t n = 0;
        if (wire_otlp_decode(REC_LOGS, 1, line, strlen(line), count_item, &n, &ds, err,
                             sizeof err) == 0) {
            records += n;
            (*lines)++;
        } else {
            (*bad)++;
        }
    }
    fclose(f);
    return records;
}

/* A file that fills up and frees again (a size limit lowered, then raised, as a full disk
 * would): a failed write never leaves a line start that the next batch continues, so the
 * batches counted delivered are exactly the whole lines on disk. A file diorama opened is cut
 * back (no torn line at all); stdout cannot be, so there a torn line is ended, and it is only
 * ever a batch counted dropped(io). */
static void short_write_case(int via_stdout)
{
    char path[] = "/tmp/diorama_test_export_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    int saved_stdout = -1;
    if (via_stdout) {
        fflush(stdout);
        saved_stdout = dup(STDOUT_FILENO);
        assert_true(dup2(fd, STDOUT_FILENO) >= 0);
    }
    close(fd);
    struct rlimit old;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN); /* EFBIG instead of a signal */
    char err[256];
    struct export_output *o = export_otlp_file_new(via_stdout ? "-" : path, 1, err, sizeof err);
    assert_non_null(o);
    struct export_hub_cfg hc = {.batch_size = {8, 8, 8}, .queue_batches = 4, .block_when_full = 1};
    struct export_hub *h = export_hub_new(&hc, &o, 1);
    assert_int_equal(export_hub_start(h), 0);
    uint64_t seq = 0;
    for (int phase = 0; phase < 3; phase++) {
        /* 0: room for a few lines and a part of one; 1: full; 2: room again. */
        struct rlimit lim = old;
        lim.rlim_cur = phase == 2 ? old.rlim_cur : 10000;
        assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
        for (int i = 0; i < 12; i++) {
            struct rec_batch *b = export_hub_batch(h, REC_LOGS);
            fake_fill(b, 8, &seq);
            export_hub_submit(h, b);
        }
        wait_settled(h, REC_LOGS);
    }
    export_hub_shutdown(h, core_mono_ns() + 5 * S);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, prev);
    struct export_stats st;
    export_hub_stats(h, 0, &st);
    export_hub_free(h);
    if (via_stdout) {
        assert_true(dup2(saved_stdout, STDOUT_FILENO) >= 0);
        close(saved_stdout);
    }
    const struct export_signal_stats *l = &st.s[REC_LOGS];
    assert_balanced(l);
    assert_true(l->dropped[EXPORT_DROP_IO] > 0);
    assert_true(l->delivered >= 12 * 8); /* phase 2 had room for everything */
    size_t lines, bad;
    uint64_t records = decode_lines(path, &lines, &bad);
    assert_int_equal(lines, l->delivered / 8);
    assert_int_equal(records, l->delivered);
    if (via_stdout)
        assert_true(bad <= l->dropped[EXPORT_DROP_IO] / 8);
    else
        assert_int_equal(bad, 0);
    unlink(path);
}

static void file_output_short_write_leaves_no_torn_line(void **state)
{
    short_write_case(0);
}

static void stdout_output_short_write_ends_the_torn_line(void **state)
{
    short_write_case(1);
}

/* Outputs that never run (hub not started) hold their batches: the pool runs dry. */
static void hub_drop_mode_reclaims_oldest(void **state)
{
    char err[256];
    struct export_output *outs[2] = {export_otlp_file_new("/dev/null", 0, err, sizeof err),
                                     export_otlp_file_new("/dev/null", 0, err, sizeof err)};
    struct export_hub_cfg hc = {.batch_size = {5, 5, 5}, .queue_batches = 3};
    struct export_hub *h = export_hub_new(&hc, outs, 2);
    assert_string_equal(export_output_name(export_hub_output(h, 1)), "otlp_file_2");
    uint64_t seq = 0;
    for (int i = 0; i < 10; i++) {
        struct rec_batch *b = export_hub_batch(h, REC_SPANS);
        assert_non_null(b); /* never NULL: the oldest queued batch is dropped instead */
        fake_fill(b, 5, &seq);
        export_hub_submit(h, b);
    }
    for (size_t i = 0; i < 2; i++) {
        struct export_stats st;
        export_hub_stats(h, i, &st);
        assert_int_equal(st.s[REC_SPANS].generated, 50);
        assert_int_equal(st.s[REC_SPANS].dropped[EXPORT_DROP_QUEUE_FULL], 35);
        assert_int_equal(st.s[REC_SPANS].in_flight, 15);
        assert_balanced(&st.s[REC_SPANS]);
    }
    export_hub_shutdown(h, core_mono_ns());
    for (size_t i = 0; i < 2; i++) {
        struct export_stats st;
        export_hub_stats(h, i, &st);
        assert_int_equal(st.s[REC_SPANS].dropped[EXPORT_DROP_SHUTDOWN], 15);
        assert_int_equal(st.s[REC_SPANS].in_flight, 0);
        assert_balanced(&st.s[REC_SPANS]);
    }
    export_hub_free(h);
}

static void *shutdown_later(void *arg)
{
    usleep(100000);
    export_hub_shutdown(arg, core_mono_ns());
    return NULL;
}

static void hub_block_mode_waits_until_shutdown(void **state)
{
    char err[256];
    struct export_output *o = export_otlp_file_new("/dev/null", 0, err, sizeof err);
    struct export_hub_cfg hc = {.batch_size = {5, 5, 5}, .queue_batches = 2, .block_when_full = 1};
    struct export_hub *h = export_hub_new(&hc, &o, 1);
    uint64_t seq = 0;
    for (int i = 0; i < 2; i++) {
        struct rec_batch *b = export_hub_batch(h, REC_METRICS);
        fake_fill(b, 5, &seq);
        export_hub_submit(h, b);
    }
    pthread_t t;
    /* t0 before the thread starts: its 100 ms sleep then surely ends after t0 + 100 ms, however
     * late this thread runs again (a loaded machine must not fail the bound). */
    uint64_t t0 = core_mono_ns();
    pthread_create(&t, NULL, shutdown_later, h);
    assert_null(export_hub_batch(h, REC_METRICS)); /* blocks until shutdown */
    assert_true(core_mono_ns() - t0 >= 100000000ULL);
    pthread_join(t, NULL);
    struct export_stats st;
    export_hub_stats(h, 0, &st);
    assert_int_equal(st.s[REC_METRICS].dropped[EXPORT_DROP_SHUTDOWN], 10);
    assert_balanced(&st.s[REC_METRICS]);
    export_hub_free(h);
}

int main(void)
{
    core_log_level = CORE_LOG_ERROR - 1; /* the failure paths log by design */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(policy_status_table),
        cmocka_unit_test(retry_after_table),
        cmocka_unit_test(backoff_doubles_capped_with_jitter),
        cmocka_unit_test(partial_success_reader),
        cmocka_unit_test(env_resolution_table),
        cmocka_unit_test(env_protocol_json),
        cmocka_unit_test(env_headers_compression_timeout),
        cmocka_unit_test(header_list_parse),
        cmocka_unit_test(hub_null_output_counts_everything),
        cmocka_unit_test(hub_file_output_in_submit_order),
        cmocka_unit_test(file_output_write_errors_are_counted),
        cmocka_unit_test(file_output_short_write_leaves_no_torn_line),
        cmocka_unit_test(stdout_output_short_write_ends_the_torn_line),
        cmocka_unit_test(hub_drop_mode_reclaims_oldest),
        cmocka_unit_test(hub_block_mode_waits_until_shutdown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
