/* libFuzzer: the load driver's HTTP/1.1 response parser. Whatever the server sends, it
 * returns complete / need more / error without crashing, and cutting the input in two at any
 * point (chosen by the first byte) gives the same answer as feeding it whole. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "driver/driver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int feed(const char *d, size_t n, size_t split, struct driver_http *p, size_t *total)
{
    size_t used = 0;
    driver_http_reset(p, 0);
    int rc = driver_http_feed(p, d, split, &used);
    *total = used;
    if (rc == 0 && split < n) {
        rc = driver_http_feed(p, d + split, n - split, &used);
        *total += used;
    }
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *d = (const char *)data + 1;
    size_t n = size - 1, split = n ? data[0] % (n + 1) : 0;
    struct driver_http a, b;
    size_t ua, ub;
    int ra = feed(d, n, n, &a, &ua);
    int rb = feed(d, n, split, &b, &ub);
    if (ra != rb || (ra == 1 && (ua != ub || a.status != b.status || a.close != b.close)))
        __builtin_trap();
    if (ra == 1 && (a.status < 100 || a.status > 599 || ua > n))
        __builtin_trap();
    (void)driver_http_eof(&a);
    return 0;
}
