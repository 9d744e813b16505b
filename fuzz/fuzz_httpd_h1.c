/* libFuzzer: the HTTP/1.1 request parser (src/httpd/h1_parse.c). The input is a byte stream
 * as a client would send it: the header block is found and parsed, then, for a chunked
 * request, the rest goes through the chunked decoder in pieces whose sizes the first byte
 * picks (a decoder must not care where reads split). Never crashes; a refusal is one of the
 * documented statuses with a reason; a decoder never reports more than it was given. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "httpd/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void chunked(const uint8_t *p, size_t n, size_t step)
{
    struct h1__chunked d;
    memset(&d, 0, sizeof d);
    uint64_t body = 0;
    while (n && !h1__chunked_done(&d)) {
        size_t piece = n < step ? n : step, doff, dlen;
        const char *why = NULL;
        long used = h1__chunked(&d, p, piece, 1 << 20, &doff, &dlen, &why);
        if (used < 0) {
            if ((used != -400 && used != -413) || !why || !*why)
                __builtin_trap();
            return;
        }
        if ((size_t)used > piece || doff + dlen > (size_t)used ||
            (used == 0 && !h1__chunked_done(&d)))
            __builtin_trap();
        body += dlen;
        p += used;
        n -= (size_t)used;
    }
    if (body > n + 100000000ULL)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    size_t step = (size_t)(data[0] % 17) + 1;
    data++;
    size--;
    size_t skip;
    long end = h1__head_end((const char *)data, size, &skip);
    if (end < 0 && end != -414 && end != -431)
        __builtin_trap();
    if (end <= 0)
        return 0;
    if (skip + (size_t)end > size || end > HTTPD_H1_MAX_HEADER)
        __builtin_trap();
    char *b = core_malloc((size_t)end + 1);
    memcpy(b, data + skip, (size_t)end);
    struct h1__head h;
    const char *why = NULL;
    unsigned st = h1__parse_head(b, (size_t)end, &h, &why);
    if (st && st != 400 && st != 417 && st != 431 && st != 501 && st != 505)
        __builtin_trap();
    if (st && (!why || !*why))
        __builtin_trap();
    if (!st) {
        if (!h.method || !h.path || !h.query || h.nfields > HTTPD_H1_MAX_FIELDS ||
            (h.chunked && h.has_length))
            __builtin_trap();
        if (h.chunked)
            chunked(data + skip + (size_t)end, size - skip - (size_t)end, step);
    }
    core_free(b);
    return 0;
}
