/* libFuzzer: OTEL_EXPORTER_OTLP_HEADERS lists. Properties: never crashes or leaks; every
 * header produced is "name: value" with a token name and no CR, LF or NUL in it, so a list
 * can never inject a header line; at most 128 headers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "export/export.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = 0;
    char **h = NULL;
    char err[128];
    if (export_headers_parse(s, &h, err, sizeof err) == 0) {
        size_t n = 0;
        for (char **p = h; p && *p; p++, n++) {
            const char *colon = strstr(*p, ": ");
            if (!colon || colon == *p || strpbrk(*p, "\r\n"))
                abort();
            for (const char *c = *p; c < colon; c++) {
                if (*c == ' ' || *c == ':' || *c == ',' || (unsigned char)*c < 0x21)
                    abort();
            }
        }
        if (n > 128)
            abort();
    } else if (h) {
        abort(); /* a failed first parse leaves the list empty */
    }
    export_headers_free(h);
    free(s);
    return 0;
}
