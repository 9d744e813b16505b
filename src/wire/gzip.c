/* gzip (RFC 1952) of a whole buffer, for Content-Encoding: gzip. One deflate call into room
 * reserved from deflateBound, so the output buffer grows at most once. */
#include <zlib.h>

#include "wire/wire.h"

int wire_gzip(struct core_buf *out, const void *in, size_t n, int level)
{
    if (level < 1 || level > 9 || (n && !in) || n > UINT32_MAX)
        return DIO_EINVAL;
    z_stream z = {0};
    /* windowBits 15 + 16: a gzip header and trailer instead of zlib's. */
    if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return DIO_ENOMEM;
    size_t bound = deflateBound(&z, (uLong)n);
    int rc = core_buf_reserve(out, bound);
    if (rc == 0) {
        z.next_in = (Bytef *)(uintptr_t)in;
        z.avail_in = (uInt)n;
        z.next_out = out->p + out->len;
        z.avail_out = (uInt)bound;
        if (deflate(&z, Z_FINISH) == Z_STREAM_END)
            out->len += bound - z.avail_out;
        else
            rc = DIO_EIO;
    }
    deflateEnd(&z);
    return rc;
}
