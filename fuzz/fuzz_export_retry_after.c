/* libFuzzer: Retry-After values (delta-seconds and the three HTTP-date forms) and the retry
 * policy around them. Properties: never crashes, a parsed delay is capped at one day. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "export/export.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 256)
        return 0;
    char s[257];
    memcpy(s, data, size);
    s[size] = 0;
    const uint64_t now = 1445412480ULL * 1000000000ULL;
    uint64_t d = 0;
    if (export_retry_after_parse(s, now, &d) == 0 && d > 86400ULL * 1000000000ULL)
        abort();
    struct core_rng rng;
    core_rng_init(&rng, size, 0, 0);
    int attempt = size ? data[0] : 1;
    int v = export_retry_policy(503, s, attempt, 1000000000ULL, 5000000000ULL, now, &rng, &d);
    if (v != EXPORT_RETRY)
        abort();
    return 0;
}
