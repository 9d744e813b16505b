/* wire: HdrHistogram V2 compressed interchange (hdr_codec.c).
 *
 * Interop evidence, not just round trips:
 *   - HDRC_STD was written by HdrHistogram_c (its "standard test histogram": hdr_init(1,
 *     3600000000, 3), 10000 x 1000 and 1 x 100000000), as quoted by HdrHistogram_py's interop
 *     test (test_hdr_interop, ENCODE_SAMPLES_HDRHISTOGRAM_C[0]).
 *   - FOREIGN_2048: Java and C (1, 2048, 3) after recordValue(2048), byte-identical streams in
 *     both libraries (fixture of a Go port's interop tests, written by HdrHistogram Java de84b0a
 *     and HdrHistogram_c 8885476); we must decode it and also write exactly these bytes.
 *   - JS_SAMPLE: written by hdr-histogram-js 3.0.1 (npm; tests/node), see the comment there. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "wire/wire.h"

#define HDRC_STD "HISTFAAAACl4nJNpmSzMwMBgyAABzFCaEURcm7yEwf4DROA8/4I5jNM7mJgAlWkH9g=="
#define FOREIGN_2048 "HISTFAAAACB4nJNpmSzMwMDAzAABMJoRQnEw2H+AsP7LMwEARZgDpQ=="
/* hdr.build({lowestDiscernibleValue: 1, highestTrackableValue: 60000000,
 * numberOfSignificantValueDigits: 3}); recordValue 1, 2, 3, 100, 1000, 1500, 123456, 60000000;
 * recordValueWithCount(777, 5); encodeIntoCompressedBase64(h). */
#define JS_SAMPLE                                                                                  \
    "HISTFAAAADp4nJNpmSzMwMAgzsDAwMjAwMDMAAEgNgPz5HYGOJ+JiWk/I9NxLq7dzExP2ZmupzHt7GNkAgC2RAhb"

static int decode_str(const char *s, struct core_hdr *h)
{
    return wire_hdr_decode(s, strlen(s), h);
}

static void assert_counts_equal(const struct core_hdr *a, const struct core_hdr *b)
{
    assert_int_equal(a->counts_len, b->counts_len);
    assert_int_equal(a->unit_magnitude, b->unit_magnitude);
    assert_int_equal(a->sub_bucket_count, b->sub_bucket_count);
    assert_int_equal(a->lowest, b->lowest);
    assert_int_equal(a->highest, b->highest);
    assert_int_equal(a->total, b->total);
    assert_memory_equal(a->counts, b->counts, (size_t)a->counts_len * sizeof *a->counts);
}

static void roundtrip(int64_t lowest, int64_t highest, int sigfigs, const int64_t *vals, size_t n)
{
    struct core_hdr h, d;
    struct core_buf b;
    assert_int_equal(core_hdr_init(&h, lowest, highest, sigfigs), 0);
    for (size_t i = 0; i < n; i++)
        core_hdr_record_n(&h, vals[i], (int64_t)(i % 7) + 1);
    core_buf_init(&b, 1 << 24);
    assert_int_equal(wire_hdr_encode(&h, &b), 0);
    assert_memory_equal(b.p, "HISTF", 5);
    assert_int_equal(b.p[b.len], '\0');
    assert_int_equal(wire_hdr_decode((const char *)b.p, b.len, &d), 0);
    assert_counts_equal(&h, &d);
    if (h.total) {
        assert_int_equal(core_hdr_value_at(&d, 50), core_hdr_value_at(&h, 50));
        /* The format carries counts, not the exact max: it comes back as the top of its
         * counter's range, as in every HdrHistogram implementation. */
        assert_int_equal(d.max, core_hdr_highest_equiv(&h, h.max));
        assert_int_equal(d.min, core_hdr_lowest_equiv(&h, h.min));
    }
    core_hdr_free(&d);
    core_hdr_free(&h);
    core_buf_free(&b);
}

static void test_roundtrip(void **state)
{
    (void)state;
    static const int64_t v[] = {1,    2,    3,      999,    1000,    1023,     1024,     2047,
                                2048, 4097, 123456, 999999, 1000000, 59999999, 60000000, 70000000};
    roundtrip(1, 60000000, 3, v, sizeof v / sizeof v[0]);
    roundtrip(1, 60000000, 3, v, 0); /* empty */
    for (int s = 1; s <= 5; s++)
        roundtrip(1, 3600000000LL, s, v, sizeof v / sizeof v[0]);
    roundtrip(1000, 3600000000000LL, 3, v + 4, 10); /* unit magnitude 9 */
}

/* Every counter non-zero, with counts needing all 9 LEB128 bytes. */
static void test_roundtrip_dense_huge_counts(void **state)
{
    (void)state;
    struct core_hdr h, d;
    struct core_buf b;
    assert_int_equal(core_hdr_init(&h, 1, 100000, 2), 0);
    for (int i = 0; i < h.counts_len; i++)
        h.counts[i] = i == 5 ? INT64_MAX / 4 : (int64_t)i * 977 + 1;
    for (int i = 0; i < h.counts_len; i++)
        h.total += h.counts[i];
    core_buf_init(&b, 1 << 24);
    assert_int_equal(wire_hdr_encode(&h, &b), 0);
    assert_int_equal(wire_hdr_decode((const char *)b.p, b.len, &d), 0);
    assert_counts_equal(&h, &d);
    core_hdr_free(&d);
    core_hdr_free(&h);
    core_buf_free(&b);
}

static void test_decode_hdrhistogram_c(void **state)
{
    (void)state;
    struct core_hdr h;
    assert_int_equal(decode_str(HDRC_STD, &h), 0);
    assert_int_equal(h.lowest, 1);
    assert_int_equal(h.highest, 3600000000LL);
    assert_int_equal(h.sub_bucket_count, 2048);
    assert_int_equal(h.total, 10001);
    assert_int_equal(h.min, 1000);
    assert_int_equal(h.max, core_hdr_highest_equiv(&h, 100000000));
    assert_int_equal(core_hdr_value_at(&h, 50), 1000);
    assert_int_equal(core_hdr_value_at(&h, 99.99), 1000);
    assert_int_equal(core_hdr_value_at(&h, 100), core_hdr_highest_equiv(&h, 100000000));
    core_hdr_free(&h);
}

static void test_foreign_2048_both_ways(void **state)
{
    (void)state;
    struct core_hdr h;
    struct core_buf b;
    assert_int_equal(decode_str(FOREIGN_2048, &h), 0);
    assert_int_equal(h.lowest, 1);
    assert_int_equal(h.highest, 2048);
    assert_int_equal(h.total, 1);
    assert_int_equal(h.min, 2048);
    assert_int_equal(h.max, 2049); /* 2048 and 2049 share a counter */
    core_hdr_free(&h);

    assert_int_equal(core_hdr_init(&h, 1, 2048, 3), 0);
    core_hdr_record(&h, 2048);
    core_buf_init(&b, 4096);
    assert_int_equal(wire_hdr_encode(&h, &b), 0);
    assert_string_equal((const char *)b.p, FOREIGN_2048);
    core_hdr_free(&h);
    core_buf_free(&b);
}

static void test_decode_hdr_histogram_js(void **state)
{
    (void)state;
    struct core_hdr h;
    assert_int_equal(decode_str(JS_SAMPLE, &h), 0);
    assert_int_equal(h.lowest, 1);
    assert_int_equal(h.highest, 60000000);
    assert_int_equal(h.total, 13);
    assert_int_equal(h.min, 1);
    assert_int_equal(h.counts[777], 5); /* below 2048 every value has its own counter */
    assert_int_equal(h.counts[1500], 1);
    assert_int_equal(core_hdr_value_at(&h, 50), 777);
    assert_int_equal(h.max, core_hdr_highest_equiv(&h, 60000000));
    core_hdr_free(&h);
}

static void expect_parse_error(const char *s)
{
    struct core_hdr h;
    assert_int_equal(wire_hdr_decode(s, strlen(s), &h), DIO_EPARSE);
}

/* base64 of raw bytes, for building hostile inputs. */
static void b64_of(const uint8_t *p, size_t n, char *out)
{
    static const char c[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        out[o++] = c[v >> 18];
        out[o++] = c[(v >> 12) & 63];
        out[o++] = i + 1 < n ? c[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? c[v & 63] : '=';
    }
    out[o] = '\0';
}

static void be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void be64(uint8_t *p, uint64_t v)
{
    be32(p, (uint32_t)(v >> 32));
    be32(p + 4, (uint32_t)v);
}

/* A hand-built compressed histogram: header fields as given, then payload bytes. */
static int decode_built(uint32_t cookie, int32_t sig, int64_t lo, int64_t hi, const uint8_t *pl,
                        size_t pln, uint32_t claimed_len)
{
    uint8_t raw[256] = {0}, z[512];
    be32(raw, cookie);
    be32(raw + 4, claimed_len);
    be32(raw + 12, (uint32_t)sig);
    be64(raw + 16, (uint64_t)lo);
    be64(raw + 24, (uint64_t)hi);
    be64(raw + 32, 0x3ff0000000000000ULL); /* 1.0 */
    memcpy(raw + 40, pl, pln);
    uLongf zl = sizeof z - 8;
    assert_int_equal(compress(z + 8, &zl, raw, 40 + pln), Z_OK);
    be32(z, 0x1c849314);
    be32(z + 4, (uint32_t)zl);
    char s[1024];
    b64_of(z, 8 + zl, s);
    struct core_hdr h;
    int rc = wire_hdr_decode(s, strlen(s), &h);
    if (rc == 0)
        core_hdr_free(&h);
    return rc;
}

static void test_hand_built(void **state)
{
    (void)state;
    /* The spec by hand: 1000 zeros (-1000 -> zigzag 1999 -> cf 0f), then count 3 (06). */
    static const uint8_t ok[] = {0xcf, 0x0f, 0x06};
    assert_int_equal(decode_built(0x1c849313, 3, 1, 60000000, ok, 3, 3), 0);
    /* Index past the counts array; truncated word; length lies (short and long). */
    static const uint8_t skip[] = {0xff, 0xff, 0xff, 0x0f, 0x06};
    assert_int_equal(decode_built(0x1c849313, 3, 1, 60000000, skip, 5, 5), DIO_EPARSE);
    static const uint8_t trunc[] = {0xff, 0xff};
    assert_int_equal(decode_built(0x1c849313, 3, 1, 60000000, trunc, 2, 2), DIO_EPARSE);
    assert_int_equal(decode_built(0x1c849313, 3, 1, 60000000, ok, 3, 2), DIO_EPARSE);
    /* A payload length larger than the payload is read as Java reads it (early HdrHistogram_c
     * counted the header in it), but never past what the configuration can hold. */
    assert_int_equal(decode_built(0x1c849313, 3, 1, 60000000, ok, 3, 43), 0);
    assert_int_equal(decode_built(0x1c849313, 3, 1, 60000000, ok, 3, 0x7fffffff), DIO_EPARSE);
    /* Wrong cookie (V1), bad sigfigs, inverted range, too many counters, huge lowest. */
    assert_int_equal(decode_built(0x1c849311, 3, 1, 60000000, ok, 3, 3), DIO_EPARSE);
    assert_int_equal(decode_built(0x1c849313, 0, 1, 60000000, ok, 3, 3), DIO_EPARSE);
    assert_int_equal(decode_built(0x1c849313, 6, 1, 60000000, ok, 3, 3), DIO_EPARSE);
    assert_int_equal(decode_built(0x1c849313, 3, 100, 150, ok, 3, 3), DIO_EPARSE);
    assert_int_equal(decode_built(0x1c849313, 5, 1, INT64_MAX, ok, 3, 3), DIO_EPARSE);
    assert_int_equal(decode_built(0x1c849313, 3, INT64_MAX / 4, INT64_MAX, ok, 3, 3), DIO_EPARSE);
    assert_int_equal(decode_built(0x1c849313, 3, -5, 100, ok, 3, 3), DIO_EPARSE);
    /* Counts whose sum overflows int64. */
    static const uint8_t big[] = {0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                  0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(decode_built(0x1c849313, 3, 1, 60000000, big, 18, 18), DIO_EPARSE);
}

static void test_garbage(void **state)
{
    (void)state;
    expect_parse_error("");
    expect_parse_error("HISTF");
    expect_parse_error("not base64 at all!!");
    expect_parse_error("AAAA");
    expect_parse_error("HISTFAAAACl4nJNpmSzMwMBgyAABzFCaEURcm7yEwf4DROA8/4I5jNM7mJgAlWkH9g=A");
    expect_parse_error("HISTFAAAACl4nJNpmSzMwMBgyAABzFCaEURcm7yEwf4DROA8/4I5jNM7mJgAlWkI9g==");
    expect_parse_error("HISTFAAAACl4nJNpmSzMwMBgyAABzFCaEURcm7yEwf4DROA8/4I5jNM7mJgAlWkH9g==AAAA");
    expect_parse_error("HISTFAAAACl4nJNpmSzMwMBgyAABzFCaEURcm7yEwf4DROA8/4I5jNM7mJgA");
    /* Longer than any histogram can encode to: refused before anything is decoded. */
    assert_int_equal(wire_hdr_decode("HISTF", (size_t)65 << 20, &(struct core_hdr){0}), DIO_EPARSE);
    /* A trailing newline (a log line) is fine. */
    struct core_hdr h;
    assert_int_equal(decode_str(HDRC_STD "\n", &h), 0);
    core_hdr_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_roundtrip_dense_huge_counts),
        cmocka_unit_test(test_decode_hdrhistogram_c),
        cmocka_unit_test(test_foreign_2048_both_ways),
        cmocka_unit_test(test_decode_hdr_histogram_js),
        cmocka_unit_test(test_hand_built),
        cmocka_unit_test(test_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
