/* Protobuf writer: the checked, one-field-at-a-time API. The OTLP encoder does not use these on
 * its hot path (it measures the whole request first and then writes with unchecked pointer
 * ops, see otlp_pb.c); they serve the smaller encoders and the tests.
 *
 * Encoding is canonical: varints are minimal, so a nested message's length prefix has exactly
 * the size its value needs. wire_pb_begin reserves PB_LEN_RESERVE bytes for it, which covers
 * bodies of 128..16383 bytes without moving anything; wire_pb_end moves the body when the
 * final length needs fewer or more bytes. */
#include <string.h>

#include "wire/wire.h"

#define PB_LEN_RESERVE 2

int wire_pb_varint(struct core_buf *b, uint64_t v)
{
    if (core_buf_reserve(b, 10))
        return DIO_EFULL;
    b->len = (size_t)(wire__put_varint(b->p + b->len, v) - b->p);
    return 0;
}

int wire_pb_tag(struct core_buf *b, uint32_t field, int wt)
{
    return wire_pb_varint(b, ((uint64_t)field << 3) | (uint64_t)wt);
}

int wire_pb_bytes(struct core_buf *b, uint32_t field, const void *p, size_t n)
{
    if (wire_pb_tag(b, field, WIRE_PB_LEN) || wire_pb_varint(b, n))
        return DIO_EFULL;
    return core_buf_append(b, p, n);
}

int wire_pb_u64(struct core_buf *b, uint32_t field, uint64_t v)
{
    if (wire_pb_tag(b, field, WIRE_PB_VARINT))
        return DIO_EFULL;
    return wire_pb_varint(b, v);
}

static int put_le(struct core_buf *b, uint64_t v, int n)
{
    if (core_buf_reserve(b, (size_t)n))
        return DIO_EFULL;
    for (int i = 0; i < n; i++)
        b->p[b->len++] = (uint8_t)(v >> (8 * i));
    return 0;
}

int wire_pb_fixed64(struct core_buf *b, uint32_t field, uint64_t v)
{
    if (wire_pb_tag(b, field, WIRE_PB_I64))
        return DIO_EFULL;
    return put_le(b, v, 8);
}

int wire_pb_fixed32(struct core_buf *b, uint32_t field, uint32_t v)
{
    if (wire_pb_tag(b, field, WIRE_PB_I32))
        return DIO_EFULL;
    return put_le(b, v, 4);
}

int wire_pb_double(struct core_buf *b, uint32_t field, double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return wire_pb_fixed64(b, field, u);
}

size_t wire_pb_begin(struct core_buf *b, uint32_t field)
{
    if (wire_pb_tag(b, field, WIRE_PB_LEN) || core_buf_reserve(b, PB_LEN_RESERVE))
        return (size_t)-1;
    size_t start = b->len;
    b->len += PB_LEN_RESERVE;
    return start;
}

int wire_pb_end(struct core_buf *b, size_t start)
{
    if (start == (size_t)-1 || start + PB_LEN_RESERVE > b->len)
        return DIO_EINVAL;
    size_t body = b->len - start - PB_LEN_RESERVE;
    size_t need = wire__varint_len(body);
    if (need > PB_LEN_RESERVE && core_buf_reserve(b, need - PB_LEN_RESERVE))
        return DIO_EFULL;
    if (need != PB_LEN_RESERVE) {
        memmove(b->p + start + need, b->p + start + PB_LEN_RESERVE, body);
        b->len = start + need + body;
    }
    wire__put_varint(b->p + start, body);
    return 0;
}
