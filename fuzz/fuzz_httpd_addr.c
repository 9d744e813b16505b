/* libFuzzer: the listen-address parser (httpd_addr_split: syntax only, no name lookups) never
 * crashes, and an accepted address has a port in range and a host that fits. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "httpd/httpd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1024)
        return 0;
    char *s = core_strndup((const char *)data, size); /* stops at the first NUL, like argv */
    char host[HTTPD_HOST_MAX], err[512];
    int port = -1;
    if (httpd_addr_split(s, host, sizeof host, &port, err, sizeof err) == 0) {
        if (port < 0 || port > 65535 || strlen(host) >= sizeof host)
            __builtin_trap();
    } else if (!strstr(err, "bad listen address")) {
        __builtin_trap();
    }
    core_free(s);
    return 0;
}
