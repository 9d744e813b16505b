/* libFuzzer: OTLP protobuf decoding never crashes, leaks or reads out of bounds; every item it
 * reports is consistent. The first byte picks the signal (traces, metrics, logs). */
#include <stddef.h>
#include <stdint.h>

#include "wire/wire.h"

static volatile uint8_t touched; /* keeps the reads below from being optimised away */

static int check_item(void *ctx, const struct wire_item *it)
{
    const struct rec_str *s[3] = {&it->service, &it->run_id, &it->name};
    for (int k = 0; k < 3; k++)
        for (uint32_t i = 0; i < s[k]->len; i++)
            touched += (uint8_t)s[k]->p[i]; /* views must be readable (ASan) */
    if (!it->valid != (it->problem != NULL) || it->signal != *(const int *)ctx)
        __builtin_trap();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > (1 << 20))
        return 0;
    int signal = data[0] % REC_NSIGNALS;
    struct wire_decode_stats st;
    char err[128];
    int rc =
        wire_otlp_decode(signal, 0, data + 1, size - 1, check_item, &signal, &st, err, sizeof err);
    if ((rc != 0 && rc != DIO_EPARSE) || st.rejected > st.items)
        __builtin_trap();
    return 0;
}
