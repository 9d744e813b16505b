/* libFuzzer: remote-write 2.0 decoding (snappy block + io.prometheus.write.v2.Request, symbol
 * references, metadata) never crashes or leaks, refuses bodies that would uncompress past the
 * limit, and never reports more written than it saw. */
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
    struct wire_rw2_written w;
    char err[128];
    int rc = wire_rw2_decode(data, size, 4 << 20, check_item, NULL, &st, &w, err, sizeof err);
    if ((rc != 0 && rc != DIO_EPARSE && rc != DIO_EFULL) || st.rejected > st.items ||
        w.samples + w.histograms > st.items - st.rejected)
        __builtin_trap();
    return 0;
}
