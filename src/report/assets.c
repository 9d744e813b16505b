#include <string.h>

#include "report/assets.h"

const struct report_asset *report_asset_find(const char *name)
{
    for (const struct report_asset *a = report_assets; a->name; a++)
        if (!strcmp(a->name, name))
            return a;
    return NULL;
}
