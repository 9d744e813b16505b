/* export/postgres.c: COPY text escaping, JSON strings for jsonb, URL checks and masking.
 * Table-driven; the integration test (test_run_postgres.sh) feeds the same encoders to a
 * real PostgreSQL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "export/export.h"

#define FFFD "\xef\xbf\xbd"

struct kase {
    const char *in;
    size_t n; /* 0: strlen(in) */
    const char *want;
};

static void check_table(const struct kase *t, size_t nt,
                        int (*enc)(struct core_buf *, const char *, size_t))
{
    for (size_t i = 0; i < nt; i++) {
        struct core_buf b;
        core_buf_init(&b, 1 << 16);
        size_t n = t[i].n ? t[i].n : strlen(t[i].in);
        assert_int_equal(enc(&b, t[i].in, n), 0);
        if (b.len != strlen(t[i].want) || (b.len && memcmp(b.p, t[i].want, b.len)))
            fail_msg("case %zu: got '%.*s', want '%s'", i, (int)b.len, (const char *)b.p,
                     t[i].want);
        core_buf_free(&b);
    }
}

static void copy_text_table(void **state)
{
    static const struct kase t[] = {
        {"plain", 0, "plain"},
        {"", 0, ""},
        {"a\tb", 0, "a\\tb"},
        {"line1\nline2", 0, "line1\\nline2"},
        {"cr\r", 0, "cr\\r"},
        {"back\\slash", 0, "back\\\\slash"},
        {"\\N", 0, "\\\\N"}, /* data that looks like NULL stays data */
        {"\\.", 0, "\\\\."}, /* nor can it end the COPY stream */
        {"{\"q\":\"a\\\"b\"}", 0, "{\"q\":\"a\\\\\"b\"}"},
        {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 0,
         "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"},
        {"nul\0x", 5, "nul" FFFD "x"},
        {"bad\xff", 0, "bad" FFFD},
        {"trunc\xe2\x82", 0, "trunc" FFFD FFFD},
        {"overlong\xc0\xaf", 0, "overlong" FFFD FFFD},
        {"surrogate\xed\xa0\x80", 0, "surrogate" FFFD FFFD FFFD},
        {"bell\a vt\v", 0, "bell\a vt\v"}, /* other control bytes are data in text format */
        {"\t\n\r\\", 0, "\\t\\n\\r\\\\"},
    };
    check_table(t, sizeof t / sizeof t[0], export_pg_copy_text);
}

static void json_str_table(void **state)
{
    static const struct kase t[] = {
        {"plain", 0, "\"plain\""},
        {"", 0, "\"\""},
        {"say \"hi\"", 0, "\"say \\\"hi\\\"\""},
        {"back\\slash", 0, "\"back\\\\slash\""},
        {"tab\tnl\n", 0, "\"tab\\u0009nl\\u000a\""},
        {"nul\0x", 5, "\"nul" FFFD "x\""}, /* jsonb refuses \u0000 */
        {"bad\xfe", 0, "\"bad" FFFD "\""},
        {"\xc3\xa9t\xc3\xa9", 0, "\"\xc3\xa9t\xc3\xa9\""},
    };
    check_table(t, sizeof t / sizeof t[0], export_pg_json_str);
}

/* A JSON string inside a COPY field: the JSON escapes' backslashes are doubled for COPY,
 * which PostgreSQL undoes before jsonb parses the text. */
static void json_then_copy(void **state)
{
    struct core_buf j, c;
    core_buf_init(&j, 1 << 16);
    core_buf_init(&c, 1 << 16);
    assert_int_equal(export_pg_json_str(&j, "a\"b\\c\nd", 7), 0);
    assert_int_equal(export_pg_copy_text(&c, (const char *)j.p, j.len), 0);
    const char *want = "\"a\\\\\"b\\\\\\\\c\\\\u000ad\"";
    assert_int_equal(c.len, strlen(want));
    assert_memory_equal(c.p, want, c.len);
    core_buf_free(&j);
    core_buf_free(&c);
}

static void url_mask_table(void **state)
{
    static const struct {
        const char *url, *want;
    } t[] = {
        {"postgresql://u:s3cret@h:5432/db", "postgresql://u:****@h:5432/db"},
        {"postgresql://u@h/db", "postgresql://u@h/db"},
        {"postgresql://h/db?password=s3cret&sslmode=disable",
         "postgresql://h/db?password=****&sslmode=disable"},
        {"postgres://u:p%40ss@h/db?x=1", "postgres://u:****@h/db?x=1"},
        {"postgresql://u:a:b@h/db", "postgresql://u:****@h/db"},
        {"postgresql:///db", "postgresql:///db"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char out[256];
        export_pg_url_mask(t[i].url, out, sizeof out);
        assert_string_equal(out, t[i].want);
    }
}

static void url_check_table(void **state)
{
    static const struct {
        const char *url;
        int ok;
    } t[] = {
        {"postgresql://u:p@127.0.0.1:5432/db", 1},
        {"postgres://localhost/db?sslmode=disable", 1},
        {"postgresql://", 1}, /* everything from PG* variables */
        {"http://localhost/db", 0},
        {"host=localhost dbname=x", 0}, /* key=value strings: use the URL form */
        {"postgresql://u:s3cret@h:notaport/db", 0},
        {"postgresql://u:s3cret@h/db?nosuchparam=1", 0},
        {"", 0},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char err[512] = "";
        int rc = export_pg_url_check(t[i].url, err, sizeof err);
        if ((rc == 0) != t[i].ok)
            fail_msg("'%s': rc %d (%s), want %s", t[i].url, rc, err, t[i].ok ? "ok" : "error");
        if (!t[i].ok && (!err[0] || strstr(err, "s3cret")))
            fail_msg("'%s': message '%s' is empty or shows the password", t[i].url, err);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(copy_text_table), cmocka_unit_test(json_str_table),
        cmocka_unit_test(json_then_copy),  cmocka_unit_test(url_mask_table),
        cmocka_unit_test(url_check_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
