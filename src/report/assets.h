#ifndef DIORAMA_REPORT_ASSETS_H
#define DIORAMA_REPORT_ASSETS_H
#include <stddef.h>

/* Files embedded at build time from web/assets.txt (see CMakeLists.txt). Ends with a NULL
 * name. Data is NUL-terminated for convenience; len excludes the NUL. */
struct report_asset {
    const char *name; /* path relative to web/, e.g. "node_modules/uplot/dist/uPlot.min.css" */
    const unsigned char *data;
    size_t len;
};

extern const struct report_asset report_assets[];
const struct report_asset *report_asset_find(const char *name);

#endif
