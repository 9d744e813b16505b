/* libFuzzer: the gRPC framing (length prefix, compressed flag, gzip) never reads past its
 * input or writes past the scratch buffer's max, and what it accepts frames back to a body
 * that unframes to the same message. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "wire/wire.h"

#define MAX_OUT (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1 << 20))
        return 0;
    struct core_buf scratch, again, scratch2;
    core_buf_init(&scratch, MAX_OUT);
    const void *msg = NULL;
    size_t n = 0;
    int rc = wire_grpc_unframe(data, size, 1, &scratch, &msg, &n);
    if (rc != 0 && rc != DIO_EPARSE && rc != DIO_EFULL)
        __builtin_trap();
    if (scratch.len > MAX_OUT)
        __builtin_trap();
    if (rc == 0) {
        core_buf_init(&again, 2 * MAX_OUT);
        core_buf_init(&scratch2, MAX_OUT);
        const void *m2 = NULL;
        size_t n2 = 0;
        if (wire_grpc_frame(&again, msg, n, 0) ||
            wire_grpc_unframe(again.p, again.len, 0, &scratch2, &m2, &n2) || n2 != n ||
            (n && memcmp(m2, msg, n)))
            __builtin_trap();
        core_buf_free(&again);
        core_buf_free(&scratch2);
    } else if (size >= WIRE_GRPC_PREFIX && data[0] == 1 &&
               wire_grpc_unframe(data, size, 0, &scratch, &msg, &n) == 0) {
        __builtin_trap(); /* compressed without an encoding must never be accepted */
    }
    core_buf_free(&scratch);
    return 0;
}
