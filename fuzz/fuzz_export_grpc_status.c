/* libFuzzer: grpc-status-details-bin (base64 google.rpc.Status with a RetryInfo) never reads
 * past its input, and a delay it finds is within the one-day cap. */
#include <stddef.h>
#include <stdint.h>

#include "export/export.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int has = 0;
    uint64_t d = 0;
    char msg[64];
    int rc = export_grpc_status_details((const char *)data, size, &has, &d, msg, sizeof msg);
    if (rc != 0 && rc != DIO_EPARSE)
        __builtin_trap();
    if (rc == 0 && d > 86400ULL * 1000000000ULL)
        __builtin_trap();
    return 0;
}
