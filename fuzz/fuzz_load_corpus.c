/* libFuzzer: --corpus files (one body per line, or a JSON array) either parse into at least
 * one non-empty body or are refused; nothing crashes, nothing is read past the input. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "driver/driver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 20)
        return 0;
    struct driver_corpus c;
    char err[256];
    char *copy = core_malloc(size + 1); /* exact size: ASan sees any overread */
    memcpy(copy, data, size);
    if (driver_corpus_parse(copy, size, &c, err, sizeof err) == 0) {
        if (c.n == 0)
            __builtin_trap();
        for (size_t i = 0; i < c.n; i++)
            if (!c.body[i][0])
                __builtin_trap();
        driver_corpus_free(&c);
    }
    core_free(copy);
    return 0;
}
