/* libFuzzer: gunzip never writes past the buffer's max, and what it accepts re-compresses and
 * decodes to the same bytes. */
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
    struct core_buf out, gz, again;
    core_buf_init(&out, MAX_OUT);
    int rc = wire_gunzip(&out, data, size);
    if (rc != 0 && rc != DIO_EPARSE && rc != DIO_EFULL)
        __builtin_trap();
    if (out.len > MAX_OUT || (rc != 0 && out.len != 0))
        __builtin_trap();
    if (rc == 0) {
        core_buf_init(&gz, 2 * MAX_OUT);
        core_buf_init(&again, MAX_OUT);
        if (wire_gzip(&gz, out.p, out.len, 1) || wire_gunzip(&again, gz.p, gz.len) ||
            again.len != out.len || (out.len && memcmp(again.p, out.p, out.len)))
            __builtin_trap();
        core_buf_free(&gz);
        core_buf_free(&again);
    }
    core_buf_free(&out);
    return 0;
}
