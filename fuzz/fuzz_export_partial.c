/* libFuzzer: the partial_success reader of Export*ServiceResponse bodies (bytes the collector
 * chose). Properties: never reads out of bounds, the message is NUL-terminated, printable
 * ASCII or UTF-8 bytes only, and within its buffer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "export/export.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy so ASan catches any read past the end. */
    uint8_t *body = malloc(size ? size : 1);
    memcpy(body, data, size);
    int64_t rejected = 0;
    char msg[16];
    if (export_otlp_partial_success(body, size, &rejected, msg, sizeof msg) == 0) {
        size_t n = strnlen(msg, sizeof msg);
        if (n == sizeof msg)
            abort();
        for (size_t i = 0; i < n; i++) {
            if ((unsigned char)msg[i] < 0x20 || msg[i] == 0x7f)
                abort();
        }
    }
    export_otlp_partial_success(body, size, &rejected, NULL, 0);
    free(body);
    return 0;
}
