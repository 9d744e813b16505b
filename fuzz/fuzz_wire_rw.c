/* libFuzzer: remote-write decoding (snappy block + WriteRequest) never crashes or leaks, and
 * refuses bodies that would uncompress past the limit. */
#include <stddef.h>
#include <stdint.h>

#include "wire/wire.h"

static volatile uint8_t touched; /* keeps the reads below from being optimised away */

static int check_item(void *ctx, const struct wire_item *it)
{
    for (uint32_t i = 0; i < it->name.len; i++)
        touched += (uint8_t)it->name.p[i];
    for (uint32_t i = 0; i < it->service.len; i++)
        touched += (uint8_t)it->service.p[i];
    if (!it->valid != (it->problem != NULL) || it->signal != WIRE_SAMPLES)
        __builtin_trap();
    (void)ctx;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1 << 20))
        return 0;
    struct wire_decode_stats st;
    char err[128];
    int rc = wire_rw_decode(data, size, 4 << 20, check_item, NULL, &st, err, sizeof err);
    if ((rc != 0 && rc != DIO_EPARSE && rc != DIO_EFULL) || st.rejected > st.items)
        __builtin_trap();
    return 0;
}
