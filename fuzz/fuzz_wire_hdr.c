/* libFuzzer: wire_hdr_decode. Properties: never crashes, leaks or allocates by input (the
 * decoder caps itself at 2^22 counters); anything it accepts re-encodes and decodes to the
 * same counts. The first byte picks how much of the envelope the fuzzer writes itself, so it
 * reaches the header and counts parsers instead of dying at base64 or zlib checksums:
 *   0: the rest is the base64 text as given
 *   1: the rest is the binary compressed form (cookie, length, zlib); we base64 it
 *   2: the rest is the uncompressed encoding (header + counts); we deflate, wrap and base64 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "wire/wire.h"

static const char b64c[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *b64(const uint8_t *p, size_t n, size_t *outlen)
{
    char *o = malloc((n + 2) / 3 * 4 + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        o[k++] = b64c[v >> 18];
        o[k++] = b64c[(v >> 12) & 63];
        o[k++] = i + 1 < n ? b64c[(v >> 6) & 63] : '=';
        o[k++] = i + 2 < n ? b64c[v & 63] : '=';
    }
    o[k] = 0;
    *outlen = k;
    return o;
}

/* cookie 0x1c849314, length, zlib of raw. */
static uint8_t *wrap(const uint8_t *raw, size_t n, size_t *outlen)
{
    uLongf zl = compressBound((uLong)n);
    uint8_t *z = malloc(8 + zl);
    compress(z + 8, &zl, raw, (uLong)n);
    const uint8_t head[8] = {
        0x1c,       0x84, 0x93, 0x14, (uint8_t)(zl >> 24), (uint8_t)(zl >> 16), (uint8_t)(zl >> 8),
        (uint8_t)zl};
    memcpy(z, head, 8);
    *outlen = 8 + zl;
    return z;
}

static void check_reencode(const struct core_hdr *h)
{
    struct core_buf b;
    struct core_hdr d;
    core_buf_init(&b, 64u << 20);
    if (wire_hdr_encode(h, &b) != 0)
        abort();
    if (wire_hdr_decode((const char *)b.p, b.len, &d) != 0 || d.total != h->total ||
        d.counts_len != h->counts_len ||
        memcmp(d.counts, h->counts, (size_t)h->counts_len * sizeof *h->counts) != 0)
        abort();
    core_hdr_free(&d);
    core_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    size_t n = size - 1, len = 0;
    char *text = NULL;
    if (data[0] % 3 == 0) {
        text = malloc(n + 1);
        memcpy(text, data + 1, n);
        len = n;
    } else if (data[0] % 3 == 1) {
        text = b64(data + 1, n, &len);
    } else {
        size_t zn;
        uint8_t *z = wrap(data + 1, n, &zn);
        text = b64(z, zn, &len);
        free(z);
    }
    struct core_hdr h;
    if (wire_hdr_decode(text, len, &h) == 0) {
        check_reencode(&h);
        core_hdr_free(&h);
    }
    free(text);
    return 0;
}
