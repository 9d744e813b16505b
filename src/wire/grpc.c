/* gRPC length-prefixed messages: the framing of a unary call's request and response body
 * (gRPC over HTTP/2: Length-Prefixed-Message = Compressed-Flag Message-Length Message). Reads
 * bytes a peer chose, so it is bounded by its input and fuzzed (fuzz/fuzz_wire_grpc.c). */
#include <string.h>

#include "wire/wire.h"

int wire_grpc_frame(struct core_buf *out, const void *msg, size_t n, int compressed)
{
    if (n > 0xffffffffu)
        return DIO_EFULL;
    uint8_t h[WIRE_GRPC_PREFIX] = {compressed ? 1 : 0, (uint8_t)(n >> 24), (uint8_t)(n >> 16),
                                   (uint8_t)(n >> 8), (uint8_t)n};
    int rc = core_buf_append(out, h, sizeof h);
    return rc ? rc : core_buf_append(out, msg, n);
}

int wire_grpc_unframe(const void *body, size_t len, int gzip_ok, struct core_buf *scratch,
                      const void **msg, size_t *n)
{
    const uint8_t *p = body;
    if (len < WIRE_GRPC_PREFIX || p[0] > 1)
        return DIO_EPARSE;
    size_t m = (size_t)p[1] << 24 | (size_t)p[2] << 16 | (size_t)p[3] << 8 | p[4];
    if (m != len - WIRE_GRPC_PREFIX)
        return DIO_EPARSE; /* truncated, or a second message: unary calls carry one */
    if (!p[0]) {
        *msg = p + WIRE_GRPC_PREFIX;
        *n = m;
        return 0;
    }
    if (!gzip_ok)
        return DIO_EINVAL;
    core_buf_reset(scratch);
    int rc = wire_gunzip(scratch, p + WIRE_GRPC_PREFIX, m);
    if (rc)
        return rc;
    *msg = scratch->p;
    *n = scratch->len;
    return 0;
}
