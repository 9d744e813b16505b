#include "core/core.h"

const char *core_strerror(int err)
{
    switch (err) {
#define DIO_X(name, val, msg)                                                                      \
    case name:                                                                                     \
        return msg;
        DIO_ERRNO_MAP(DIO_X)
#undef DIO_X
    }
    return "unknown error";
}
