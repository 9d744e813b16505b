/* The dataset output's encoders: CSV fields (RFC 4180 quoting) and the Parquet writer's
 * framing, caps and refusals. The files themselves are read back by hyparquet in
 * tests/integration/test_run_dataset.sh and by the fuzzer's own reader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "export/export.h"

static void csv_fields(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } t[] = {{"", ""},
             {"plain", "plain"},
             {"a,b", "\"a,b\""},
             {"say \"hi\"", "\"say \"\"hi\"\"\""},
             {"two\nlines", "\"two\nlines\""},
             {"cr\r", "\"cr\r\""},
             {" pad", "\" pad\""},
             {"é;ü", "é;ü"}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct core_buf b;
        core_buf_init(&b, 1024);
        assert_int_equal(export_csv_field(&b, t[i].in, strlen(t[i].in)), 0);
        assert_int_equal(b.len, strlen(t[i].out));
        assert_memory_equal(b.p, t[i].out, b.len);
        core_buf_free(&b);
    }
}

static void parquet_framing(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    struct export_pq_col cols[] = {
        {"ts", EXPORT_PQ_TIMESTAMP_MS, 0}, {"s", EXPORT_PQ_STRING, 0}, {"v", EXPORT_PQ_DOUBLE, 1}};
    struct export_pq *p = export_pq_new(f, cols, 3, 2);
    assert_non_null(p);
    for (int r = 0; r < 5; r++) {
        assert_int_equal(export_pq_put_i64(p, 0, r * 1000), 0);
        assert_int_equal(export_pq_put_str(p, 1, "x,\"y\"\n", 6), 0);
        assert_int_equal(r % 2 ? export_pq_put_null(p, 2) : export_pq_put_double(p, 2, r), 0);
        assert_int_equal(export_pq_put_double(p, 2, 1), DIO_EINVAL); /* second value */
        assert_int_equal(export_pq_end_row(p), 0);
        if (export_pq_full(p))
            assert_int_equal(export_pq_flush(p), 0);
    }
    assert_int_equal(export_pq_put_null(p, 0), DIO_EINVAL);        /* required column */
    assert_int_equal(export_pq_put_double(p, 1, 1.0), DIO_EINVAL); /* wrong type */
    assert_int_equal(export_pq_put_i64(p, 0, 1), 0);
    assert_int_equal(export_pq_end_row(p), DIO_EINVAL); /* incomplete row */
    export_pq_free(p);
    fclose(f);
    free(buf);
    /* a complete file */
    f = open_memstream(&buf, &len);
    p = export_pq_new(f, cols, 3, 0);
    assert_int_equal(export_pq_put_i64(p, 0, 1), 0);
    assert_int_equal(export_pq_put_str(p, 1, "", 0), 0);
    assert_int_equal(export_pq_put_null(p, 2), 0);
    assert_int_equal(export_pq_end_row(p), 0);
    assert_int_equal(export_pq_close(p), 0);
    assert_int_equal(export_pq_rows_written(p), 1);
    export_pq_free(p);
    fclose(f);
    assert_true(len > 12);
    assert_memory_equal(buf, "PAR1", 4);
    assert_memory_equal(buf + len - 4, "PAR1", 4);
    uint32_t flen = (uint8_t)buf[len - 8] | (uint8_t)buf[len - 7] << 8;
    assert_true(flen > 0 && flen < len - 12);
    free(buf);
}

static void parquet_bad_schema(void **state)
{
    (void)state;
    struct export_pq_col none[] = {{"", EXPORT_PQ_DOUBLE, 0}};
    assert_null(export_pq_new(stdout, none, 1, 0));
    assert_null(export_pq_new(stdout, none, 0, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(csv_fields),
        cmocka_unit_test(parquet_framing),
        cmocka_unit_test(parquet_bad_schema),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
