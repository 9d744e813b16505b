/* libFuzzer: core's user-facing syntaxes (durations, rates, k=v lists) never crash, and a
 * duration that parses formats and re-parses without error. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/core.h"

static int count_kv(void *ctx, const char *k, const char *v)
{
    (void)v;
    *(size_t *)ctx += strlen(k);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *s = core_strndup((const char *)data, size); /* stops at the first NUL, like argv */
    uint64_t ns;
    double rate;
    size_t n = 0;
    if (core_parse_duration(s, &ns) == 0) {
        char out[64];
        core_format_duration(ns, out, sizeof out);
        uint64_t again;
        if (core_parse_duration(out, &again) != 0)
            __builtin_trap(); /* what we print must be readable back */
    }
    (void)core_parse_rate(s, &rate);
    (void)core_parse_kv_list(s, count_kv, &n);
    core_free(s);
    return 0;
}
