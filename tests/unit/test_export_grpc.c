/* export: the OTLP/gRPC response policy (which gRPC codes are retried, RetryInfo) and the
 * gRPC framing it rides on. Table-driven; the transport itself is tested against real peers
 * in tests/integration/test_run_otlp_grpc.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "export/export.h"
#include "wire/wire.h"

#define S 1000000000ULL

/* Per the OTLP spec: retryable without RetryInfo, and with it. */
static void policy_table(void **state)
{
    static const struct {
        int code, has_ri, want;
    } t[] = {
        {0, 0, EXPORT_OK},    {1, 0, EXPORT_RETRY},  {2, 0, EXPORT_FAIL},   {3, 0, EXPORT_FAIL},
        {4, 0, EXPORT_RETRY}, {5, 0, EXPORT_FAIL},   {7, 0, EXPORT_FAIL},   {8, 0, EXPORT_FAIL},
        {8, 1, EXPORT_RETRY}, {9, 0, EXPORT_FAIL},   {10, 0, EXPORT_RETRY}, {11, 0, EXPORT_RETRY},
        {12, 0, EXPORT_FAIL}, {13, 0, EXPORT_FAIL},  {14, 0, EXPORT_RETRY}, {15, 0, EXPORT_RETRY},
        {16, 0, EXPORT_FAIL}, {-1, 0, EXPORT_RETRY}, {99, 0, EXPORT_FAIL},
    };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        uint64_t d = 0;
        int v = export_grpc_policy(t[i].code, t[i].has_ri, 3 * S, 1, S, 5 * S, NULL, &d);
        if (v != t[i].want)
            fail_msg("code %d (retry info %d): got %d, want %d", t[i].code, t[i].has_ri, v,
                     t[i].want);
        if (v == EXPORT_RETRY)
            assert_int_equal(d, t[i].has_ri ? 3 * S : S);
    }
}

static void backoff_is_retry_c(void **state)
{
    uint64_t d;
    assert_int_equal(export_grpc_policy(14, 0, 0, 3, S, 5 * S, NULL, &d), EXPORT_RETRY);
    assert_int_equal(d, export_retry_backoff(3, S, 5 * S, NULL));
    assert_int_equal(d, 4 * S);
    export_grpc_policy(14, 0, 0, 9, S, 5 * S, NULL, &d);
    assert_int_equal(d, 5 * S);
}

/* google.rpc.Status{code 8, "slow down", [Any RetryInfo{2.5s}]}, base64 without padding. */
static const char retry_b64[] = "CAgSCXNsb3cgZG93bho2Cih0eXBlLmdvb2dsZWFwaXMuY29tL2dvb2dsZS5ycGM"
                                "uUmV0cnlJbmZvEgoKCAgCEIDKte4B";

static void status_details(void **state)
{
    int has;
    uint64_t d;
    char msg[32];
    assert_int_equal(
        export_grpc_status_details(retry_b64, strlen(retry_b64), &has, &d, msg, sizeof msg), 0);
    assert_int_equal(has, 1);
    assert_int_equal(d, 2500000000ULL);
    assert_string_equal(msg, "slow down");
    /* Status without details: no RetryInfo. */
    assert_int_equal(export_grpc_status_details("CA4=", 4, &has, &d, NULL, 0), 0);
    assert_int_equal(has, 0);
    /* Not base64, truncated protobuf. */
    assert_int_equal(export_grpc_status_details("!!", 2, &has, &d, NULL, 0), DIO_EPARSE);
    assert_int_equal(export_grpc_status_details("Ega", 3, &has, &d, NULL, 0), DIO_EPARSE);
    assert_string_equal(export_grpc_code_name(14), "UNAVAILABLE");
    assert_string_equal(export_grpc_code_name(77), "UNKNOWN");
}

static void framing(void **state)
{
    struct core_buf b, scratch, gz;
    const void *m;
    size_t n;
    core_buf_init(&b, 1 << 20);
    core_buf_init(&scratch, 1 << 20);
    core_buf_init(&gz, 1 << 20);
    assert_int_equal(wire_grpc_frame(&b, "hello", 5, 0), 0);
    assert_int_equal(b.len, 10);
    assert_memory_equal(b.p, "\0\0\0\0\5hello", 10);
    assert_int_equal(wire_grpc_unframe(b.p, b.len, 0, &scratch, &m, &n), 0);
    assert_int_equal(n, 5);
    assert_memory_equal(m, "hello", 5);
    /* truncated, trailing bytes, two messages, bad flag */
    assert_int_equal(wire_grpc_unframe(b.p, b.len - 1, 0, &scratch, &m, &n), DIO_EPARSE);
    assert_int_equal(wire_grpc_unframe(b.p, 4, 0, &scratch, &m, &n), DIO_EPARSE);
    wire_grpc_frame(&b, "x", 1, 0);
    assert_int_equal(wire_grpc_unframe(b.p, b.len, 0, &scratch, &m, &n), DIO_EPARSE);
    assert_int_equal(wire_grpc_unframe("\2\0\0\0\0", 5, 1, &scratch, &m, &n), DIO_EPARSE);
    /* gzip: accepted only when the call said grpc-encoding: gzip */
    core_buf_reset(&b);
    wire_gzip(&gz, "hello", 5, 1);
    wire_grpc_frame(&b, gz.p, gz.len, 1);
    assert_int_equal(wire_grpc_unframe(b.p, b.len, 0, &scratch, &m, &n), DIO_EINVAL);
    assert_int_equal(wire_grpc_unframe(b.p, b.len, 1, &scratch, &m, &n), 0);
    assert_int_equal(n, 5);
    assert_memory_equal(m, "hello", 5);
    /* the decompressed-size cap */
    struct core_buf small;
    core_buf_init(&small, 3);
    assert_int_equal(wire_grpc_unframe(b.p, b.len, 1, &small, &m, &n), DIO_EFULL);
    core_buf_free(&small);
    core_buf_free(&b);
    core_buf_free(&scratch);
    core_buf_free(&gz);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(policy_table),
        cmocka_unit_test(backoff_is_retry_c),
        cmocka_unit_test(status_details),
        cmocka_unit_test(framing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
