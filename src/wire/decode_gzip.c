/* gunzip for request bodies (Content-Encoding: gzip) and the OTLP export response. */
#include <string.h>
#include <zlib.h>

#include "wire/decode_int.h"

/* Output is inflated straight into out in steps of at most this much room, so a small
 * body never reserves more than it needs and a bomb stops at out->max. */
#define STEP (64u << 10)

static int inflate_some(z_stream *z, struct core_buf *out)
{
    size_t room = out->max - out->len < STEP ? out->max - out->len : STEP;
    if (room == 0) {
        /* Full: only acceptable if nothing but the trailer is left. */
        uint8_t probe;
        z->next_out = &probe;
        z->avail_out = 1;
        int zr = inflate(z, Z_NO_FLUSH);
        if (z->avail_out == 0)
            return DIO_EFULL; /* more output: over the limit */
        return zr == Z_STREAM_END ? 1 : DIO_EPARSE;
    }
    if (core_buf_reserve(out, room))
        return DIO_EFULL;
    z->next_out = out->p + out->len;
    z->avail_out = (uInt)room;
    int zr = inflate(z, Z_NO_FLUSH);
    out->len += room - z->avail_out;
    if (zr == Z_STREAM_END)
        return 1;
    if (zr == Z_OK || (zr == Z_BUF_ERROR && z->avail_in))
        return 0;
    return DIO_EPARSE; /* corrupt, or input ended mid-stream */
}

int wire_gunzip(struct core_buf *out, const void *in, size_t n)
{
    if ((n && !in) || n > UINT32_MAX)
        return DIO_EINVAL;
    z_stream z = {0};
    /* 15 + 32: gzip or zlib header, detected; members may follow each other (RFC 1952 2.2). */
    if (inflateInit2(&z, 15 + 32) != Z_OK)
        return DIO_ENOMEM;
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)n;
    size_t start = out->len;
    int rc = n ? 0 : DIO_EPARSE;
    while (rc == 0) {
        rc = inflate_some(&z, out);
        if (rc == 1 && z.avail_in) /* another member */
            rc = inflateReset(&z) == Z_OK ? 0 : DIO_EPARSE;
    }
    inflateEnd(&z);
    if (rc < 0)
        out->len = start;
    return rc < 0 ? rc : 0;
}

/* Export{Trace,Metrics,Logs}ServiceResponse share their layout: partial_success (1) {
 * rejected_<items> (1, int64), error_message (2) }. */
int wire_otlp_response_pb(struct core_buf *out, int signal, uint64_t rejected, const char *msg)
{
    if (signal < 0 || signal >= REC_NSIGNALS)
        return DIO_EINVAL;
    if (rejected == 0)
        return 0; /* full success: the empty message */
    size_t ps = wire_pb_begin(out, 1);
    if (ps == (size_t)-1 || wire_pb_u64(out, 1, rejected))
        return DIO_EFULL;
    if (msg && *msg && wire_pb_bytes(out, 2, msg, strlen(msg)))
        return DIO_EFULL;
    return wire_pb_end(out, ps);
}
