/* libFuzzer: the `diorama load` syntaxes — URL, rate stages, thresholds, -H headers — never
 * crash, and a schedule that parses is consistent: send times rise with the request index
 * and stay inside the schedule. The first byte picks the parser, the rest is the input. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "driver/driver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void schedule(const char *s)
{
    struct driver_schedule sc;
    char err[128];
    if (driver_schedule_parse(s, 1000000000ULL, &sc, err, sizeof err) || !(sc.total > 0))
        return; /* all-zero rates: nothing is ever due (the CLI refuses these) */
    uint64_t prev = 0;
    for (int i = 0; i <= 16; i++) {
        double c = sc.total * i / 17.0;
        uint64_t t = driver_schedule_time(&sc, c);
        if (t == UINT64_MAX || t < prev || t > sc.total_ns)
            __builtin_trap();
        prev = t;
        (void)driver_schedule_count(&sc, t);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4096)
        return 0;
    char *s = core_strndup((const char *)data + 1, size - 1);
    char err[256];
    struct driver_url u;
    struct driver_threshold t[DRIVER_MAX_THRESHOLDS];
    switch (data[0] % 4) {
    case 0:
        if (driver_url_parse(s, &u, err, sizeof err) == 0 && (!u.host[0] || u.path[0] != '/'))
            __builtin_trap();
        break;
    case 1:
        schedule(s);
        break;
    case 2:
        (void)driver_threshold_parse(s, t, DRIVER_MAX_THRESHOLDS, err, sizeof err);
        break;
    case 3:
        (void)driver_header_ok(s);
        break;
    }
    core_free(s);
    return 0;
}
