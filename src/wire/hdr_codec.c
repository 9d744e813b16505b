/* HdrHistogram V2 compressed interchange, byte for byte as HdrHistogram_c (hdr_histogram_log.c)
 * and the Java library (AbstractHistogram.encodeIntoCompressedByteBuffer) write it.
 *
 * Layout, all integers big-endian:
 *
 *   compressed:  i32 cookie 0x1c849314 | i32 n | n bytes of zlib (deflate with zlib header) of
 *   encoded:     i32 cookie 0x1c849313 | i32 payload length | i32 normalizing index offset |
 *                i32 significant digits | i64 lowest trackable | i64 highest trackable |
 *                f64 integer-to-double ratio (1.0) | payload
 *   payload:     the counts array from index 0 up to the last non-zero count, each count as a
 *                ZigZag LEB128 (at most 9 bytes, the 9th holding 8 bits); a run of k zero
 *                counts (k > 1) is written as the single value -k.
 *
 * The cookies are the V2 bases (0x1c849303 / 0x1c849304) with 0x10 or'ed in, as both reference
 * implementations write them; readers compare cookie & ~0xf0 with the base. The whole thing is
 * then base64 (RFC 4648, padded), which is why every such string starts "HISTF". The encoder
 * appends the text to out and keeps a NUL after it (not counted in len), so out->p can be used
 * as a C string.
 *
 * Decoding trusts no length: the inflated size is capped by what the header's configuration can
 * hold (9 bytes per counter), configurations needing more than 2^22 counters are refused before
 * anything is allocated, and every count must land inside the counts array. */
#include <string.h>
#include <zlib.h>

#include "wire/wire.h"

#define V2_ENCODING_COOKIE_BASE 0x1c849303u
#define V2_COMPRESSION_COOKIE_BASE 0x1c849304u
#define V2_ENCODING_COOKIE (V2_ENCODING_COOKIE_BASE | 0x10u)
#define V2_COMPRESSION_COOKIE (V2_COMPRESSION_COOKIE_BASE | 0x10u)
#define HEADER_SIZE 40
#define MAX_WORD 9
#define MAX_COUNTERS (1 << 22)
/* Longest text accepted: base64 of the largest possible encoding (every one of 2^22 counters
 * in 9 bytes, stored uncompressed by deflate) with room to spare. */
#define MAX_TEXT ((size_t)64 << 20)

/* ---- small helpers ----------------------------------------------------------------------- */

static void put_be32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (24 - 8 * i));
}

static void put_be64(uint8_t *p, uint64_t v)
{
    put_be32(p, (uint32_t)(v >> 32));
    put_be32(p + 4, (uint32_t)v);
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get_be64(const uint8_t *p)
{
    return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

/* ZigZag then LEB128; bytes 1..8 carry 7 bits each, a 9th byte carries the last 8. */
static size_t zigzag_put(uint8_t *p, int64_t v)
{
    uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    for (size_t i = 0; i < 8; i++) {
        if (u >> 7 == 0) {
            p[i] = (uint8_t)u;
            return i + 1;
        }
        p[i] = (uint8_t)((u & 0x7f) | 0x80);
        u >>= 7;
    }
    p[8] = (uint8_t)u;
    return 9;
}

/* 0, or DIO_EPARSE when the input ends inside a word. */
static int zigzag_get(const uint8_t **pp, const uint8_t *end, int64_t *v)
{
    const uint8_t *p = *pp;
    uint64_t u = 0;
    int shift = 0;
    for (;;) {
        if (p == end)
            return DIO_EPARSE;
        uint8_t b = *p++;
        if (shift == 56) {
            u |= (uint64_t)b << 56;
            break;
        }
        u |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80))
            break;
    }
    *pp = p;
    *v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
    return 0;
}

/* core_hdr_init's sub_bucket_half_count_magnitude for 1..5 significant digits:
 * ceil(log2(2 * 10^digits)) - 1. */
static const int half_count_magnitude[] = {0, 4, 7, 10, 14, 17};

/* The significant digits a core_hdr was made with. */
static int sigfigs_of(const struct core_hdr *h)
{
    for (int s = 1; s <= 5; s++)
        if (half_count_magnitude[s] == h->sub_bucket_half_count_magnitude)
            return s;
    return 3;
}

/* ---- base64 ------------------------------------------------------------------------------ */

static const char b64_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_encode(struct core_buf *out, const uint8_t *p, size_t n)
{
    int rc = core_buf_reserve(out, (n + 2) / 3 * 4 + 1);
    if (rc)
        return rc;
    char *o = (char *)out->p + out->len;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        *o++ = b64_chars[v >> 18];
        *o++ = b64_chars[(v >> 12) & 63];
        *o++ = i + 1 < n ? b64_chars[(v >> 6) & 63] : '=';
        *o++ = i + 2 < n ? b64_chars[v & 63] : '=';
    }
    out->len = (size_t)(o - (char *)out->p);
    out->p[out->len] = '\0'; /* reserved above; not counted in len */
    return 0;
}

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Strict RFC 4648 with padding; surrounding whitespace (a log line's newline) is ignored.
 * out must hold n * 3 / 4 bytes. */
static int b64_decode(const char *s, size_t n, uint8_t *out, size_t *outlen)
{
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n == 0 || n % 4)
        return DIO_EPARSE;
    size_t pad = (s[n - 1] == '=') + (s[n - 2] == '=');
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        uint32_t v = 0;
        for (size_t j = 0; j < 4; j++) {
            int d = b64_value((unsigned char)s[i + j]);
            if (d < 0 && !(i + 4 == n && j >= 4 - pad))
                return DIO_EPARSE;
            v = v << 6 | (uint32_t)(d < 0 ? 0 : d);
        }
        out[o++] = (uint8_t)(v >> 16);
        out[o++] = (uint8_t)(v >> 8);
        out[o++] = (uint8_t)v;
    }
    *outlen = o - pad;
    return 0;
}

/* ---- encode ------------------------------------------------------------------------------ */

/* Header + counts into raw (room: HEADER_SIZE + counts_len * MAX_WORD). Returns the size. */
static size_t encode_raw(const struct core_hdr *h, uint8_t *raw)
{
    int last = h->counts_len - 1;
    while (last >= 0 && h->counts[last] == 0)
        last--;
    size_t n = HEADER_SIZE;
    for (int i = 0; i <= last;) {
        int zeros = 0;
        while (i + zeros <= last && h->counts[i + zeros] == 0)
            zeros++;
        if (zeros > 1) {
            n += zigzag_put(raw + n, -(int64_t)zeros);
            i += zeros;
        } else {
            n += zigzag_put(raw + n, h->counts[i++]);
        }
    }
    double ratio = 1.0;
    uint64_t ratio_bits;
    memcpy(&ratio_bits, &ratio, sizeof ratio_bits);
    put_be32(raw, V2_ENCODING_COOKIE);
    put_be32(raw + 4, (uint32_t)(n - HEADER_SIZE));
    put_be32(raw + 8, 0); /* normalizing index offset */
    put_be32(raw + 12, (uint32_t)sigfigs_of(h));
    put_be64(raw + 16, (uint64_t)h->lowest);
    put_be64(raw + 24, (uint64_t)h->highest);
    put_be64(raw + 32, ratio_bits);
    return n;
}

int wire_hdr_encode(const struct core_hdr *h, struct core_buf *out)
{
    if (!h || !h->counts || h->counts_len <= 0)
        return DIO_EINVAL;
    size_t rawcap = HEADER_SIZE + (size_t)h->counts_len * MAX_WORD;
    uint8_t *raw = core_malloc(rawcap);
    size_t rawlen = encode_raw(h, raw);
    uLongf zlen = compressBound((uLong)rawlen);
    uint8_t *z = core_malloc(8 + zlen);
    int rc = DIO_EIO;
    if (compress2(z + 8, &zlen, raw, (uLong)rawlen, Z_DEFAULT_COMPRESSION) == Z_OK) {
        put_be32(z, V2_COMPRESSION_COOKIE);
        put_be32(z + 4, (uint32_t)zlen);
        rc = b64_encode(out, z, 8 + zlen);
    }
    core_free(z);
    core_free(raw);
    return rc;
}

/* ---- decode ------------------------------------------------------------------------------ */

struct hdr_header {
    uint32_t payload_len;
    int32_t sigfigs;
    int64_t lowest, highest;
};

/* Counters core_hdr_init would allocate for this configuration (as it computes them), or -1
 * when the configuration is invalid or needs more than MAX_COUNTERS. */
static int64_t config_counters(const struct hdr_header *hh)
{
    if (hh->sigfigs < 1 || hh->sigfigs > 5 || hh->lowest < 1 || hh->highest < 2 ||
        hh->highest / 2 < hh->lowest)
        return -1;
    int half_mag = half_count_magnitude[hh->sigfigs];
    int unit_mag = 63 - __builtin_clzll((uint64_t)hh->lowest);
    if (unit_mag + half_mag > 61) /* HdrHistogram_c's limit: sub-bucket values must fit */
        return -1;
    int64_t smallest_untrackable = (int64_t)1 << (half_mag + 1 + unit_mag);
    int64_t buckets = 1;
    while (smallest_untrackable <= hh->highest) {
        if (smallest_untrackable > INT64_MAX / 2) {
            buckets++;
            break;
        }
        smallest_untrackable <<= 1;
        buckets++;
    }
    int64_t n = (buckets + 1) << half_mag;
    return n > MAX_COUNTERS ? -1 : n;
}

static int parse_header(const uint8_t *p, struct hdr_header *hh)
{
    if ((get_be32(p) & ~0xf0u) != V2_ENCODING_COOKIE_BASE)
        return DIO_EPARSE;
    hh->payload_len = get_be32(p + 4);
    hh->sigfigs = (int32_t)get_be32(p + 12);
    hh->lowest = (int64_t)get_be64(p + 16);
    hh->highest = (int64_t)get_be64(p + 24);
    /* The normalizing index offset (0 from Java's Histogram and HdrHistogram_c, 1 from
     * hdr-histogram-js) and the integer-to-double ratio only matter to DoubleHistogram
     * internals; like hdr-histogram-js and HdrHistogram_py we read past them. Below 2^62 every
     * counter's value range fits an int64 (no overflow in value_at_index). */
    int64_t counters = config_counters(hh);
    if (counters < 0 || hh->highest >= (int64_t)1 << 62 ||
        hh->payload_len > (uint64_t)counters * MAX_WORD)
        return DIO_EPARSE;
    return 0;
}

/* The 40 header bytes. *ended: the stream ended right after them (an empty histogram). */
static int inflate_header(z_stream *z, uint8_t *p, int *ended)
{
    z->next_out = p;
    z->avail_out = HEADER_SIZE;
    int zr = inflate(z, Z_SYNC_FLUSH);
    *ended = zr == Z_STREAM_END;
    return (zr == Z_OK || zr == Z_STREAM_END) && z->avail_out == 0 ? 0 : DIO_EPARSE;
}

/* At most n payload bytes into p (all input is in memory, so one call goes as far as it can);
 * the stream must end, with its checksum, by then. Fewer bytes than the header claimed are
 * accepted, as the Java reader does: early HdrHistogram_c wrote the header's 40 bytes into
 * the payload length. */
static int inflate_payload(z_stream *z, uint8_t *p, size_t n, size_t *got)
{
    z->next_out = p;
    z->avail_out = (uInt)n;
    int zr = n ? inflate(z, Z_SYNC_FLUSH) : Z_OK;
    if (zr != Z_OK && zr != Z_STREAM_END)
        return DIO_EPARSE;
    *got = n - z->avail_out;
    if (zr == Z_STREAM_END)
        return 0;
    if (z->avail_out != 0)
        return DIO_EPARSE; /* truncated */
    uint8_t extra;
    z->next_out = &extra;
    z->avail_out = 1;
    zr = inflate(z, Z_FINISH);
    return zr == Z_STREAM_END && z->avail_out == 1 ? 0 : DIO_EPARSE;
}

/* Zero runs and counts into h's counts (which start zeroed). */
static int decode_counts(struct core_hdr *h, const uint8_t *p, const uint8_t *end)
{
    int64_t i = 0;
    while (p < end) {
        int64_t v;
        if (zigzag_get(&p, end, &v))
            return DIO_EPARSE;
        if (v < 0) {
            if (v == INT64_MIN || -v > h->counts_len - i)
                return DIO_EPARSE;
            i += -v;
            continue;
        }
        if (i >= h->counts_len || v > INT64_MAX - h->total)
            return DIO_EPARSE;
        h->counts[i++] = v;
        h->total += v;
    }
    return 0;
}

/* The lowest value counter i covers (core/hdr.c's layout; see the comment there). */
static int64_t value_at_index(const struct core_hdr *h, int i)
{
    int b = (i >> h->sub_bucket_half_count_magnitude) - 1;
    int sub = (i & (h->sub_bucket_half_count - 1)) + h->sub_bucket_half_count;
    if (b < 0) {
        sub -= h->sub_bucket_half_count;
        b = 0;
    }
    return (int64_t)sub << (b + h->unit_magnitude);
}

/* As HdrHistogram_c's reset_internal_counters: min is the lowest value of the first non-zero
 * counter above index 0, max the highest value of the last non-zero counter. */
static void fix_min_max(struct core_hdr *h)
{
    int first = -1, last = -1;
    for (int i = 0; i < h->counts_len; i++) {
        if (h->counts[i]) {
            if (first < 0 && i != 0)
                first = i;
            last = i;
        }
    }
    h->min = first < 0 ? INT64_MAX : value_at_index(h, first);
    if (h->counts[0] && h->min > h->lowest)
        h->min = h->lowest; /* values below lowest were recorded at index 0 */
    h->max = last < 0 ? 0 : core_hdr_highest_equiv(h, value_at_index(h, last));
}

static int decode_body(const uint8_t *zbuf, size_t zlen, struct core_hdr *out)
{
    z_stream z = {0};
    if (inflateInit(&z) != Z_OK)
        return DIO_ENOMEM;
    z.next_in = (Bytef *)(uintptr_t)zbuf;
    z.avail_in = (uInt)zlen;
    uint8_t head[HEADER_SIZE];
    struct hdr_header hh;
    uint8_t *payload = NULL;
    size_t got = 0;
    int ended = 0;
    int rc = inflate_header(&z, head, &ended);
    if (rc == 0)
        rc = parse_header(head, &hh);
    if (rc == 0) {
        payload = core_malloc((size_t)hh.payload_len + 1); /* capped by parse_header */
        if (!ended)
            rc = inflate_payload(&z, payload, hh.payload_len, &got);
    }
    inflateEnd(&z);
    if (rc == 0)
        rc = core_hdr_init(out, hh.lowest, hh.highest, hh.sigfigs) ? DIO_EPARSE : 0;
    if (rc == 0) {
        rc = decode_counts(out, payload, payload + got);
        if (rc)
            core_hdr_free(out);
        else
            fix_min_max(out);
    }
    core_free(payload);
    return rc;
}

int wire_hdr_decode(const char *b64, size_t n, struct core_hdr *out)
{
    if (!b64 || !out)
        return DIO_EINVAL;
    if (n > MAX_TEXT)
        return DIO_EPARSE;
    uint8_t *bin = core_malloc(n / 4 * 3 + 3);
    size_t len = 0;
    int rc = b64_decode(b64, n, bin, &len);
    if (rc == 0 && (len < 8 || (get_be32(bin) & ~0xf0u) != V2_COMPRESSION_COOKIE_BASE ||
                    get_be32(bin + 4) > len - 8))
        rc = DIO_EPARSE;
    if (rc == 0)
        rc = decode_body(bin + 8, get_be32(bin + 4), out);
    core_free(bin);
    return rc;
}
