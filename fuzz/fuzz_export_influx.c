/* libFuzzer: what --influx and http/json read or show from untrusted text: an InfluxDB /write
 * answer (status from the first two bytes, body from the rest; export_influx_answer), the
 * OTLP/JSON partial success (export_otlp_partial_success_json), and export_url_mask over the
 * input as a URL. Properties: no read past the input, rejected never above the records,
 * masked output NUL-terminated within its buffer and without the text after p= / the
 * userinfo password. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "export/export.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    long status = 100 + (long)((data[0] << 8 | data[1]) % 500);
    size_t n = size - 2;
    uint8_t *body = malloc(n ? n : 1); /* exact size: ASan sees any overread */
    memcpy(body, data + 2, n);
    uint64_t rejected = 0, records = data[0];
    if (export_influx_answer(status, body, n, records, &rejected) && rejected > records)
        abort();
    int64_t r = 0;
    char msg[16];
    if (export_otlp_partial_success_json(body, n, &r, msg, sizeof msg) == 0 &&
        strnlen(msg, sizeof msg) == sizeof msg)
        abort();
    char *url = malloc(n + 1);
    memcpy(url, body, n);
    url[n] = 0;
    char out[64];
    export_url_mask(url, out, sizeof out);
    if (strnlen(out, sizeof out) == sizeof out)
        abort();
    char err[256];
    export_influx_url_check(url, err, sizeof err);
    free(url);
    free(body);
    return 0;
}
