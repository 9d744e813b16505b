/* libFuzzer: the web console's answers (console.c) without sockets. The first byte picks the
 * method and whether the caller may read data; the rest is the URL (up to the first NUL) and
 * an If-None-Match value. Properties: no crash; a real status; 200 bodies of files are the
 * embedded bytes, 304 has none; graph.json and every error are valid JSON. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "server/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct world *w;

static void setup(void)
{
    static struct scenario *scn;
    struct world_opts wo = {.seed = 4, .nshards = 1};
    char err[256];
    if (scenario_load("fleet", &scn, NULL) || world_build(&w, scn, &wo, err, sizeof err))
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const methods[] = {"GET", "HEAD", "POST", "PUT"};
    if (!w)
        setup();
    if (size < 1)
        return 0;
    const char *rest = (const char *)data + 1;
    size_t n = size - 1, ulen = strnlen(rest, n);
    char url[512], inm[512];
    snprintf(url, sizeof url, "%.*s", (int)(ulen < 511 ? ulen : 511), rest);
    size_t ilen = ulen < n ? n - ulen - 1 : 0;
    snprintf(inm, sizeof inm, "%.*s", (int)(ilen < 511 ? ilen : 511),
             ulen < n ? rest + ulen + 1 : "");
    if (!server__console_wants(url))
        return 0;
    struct server__console_reply r = {0};
    core_buf_init(&r.dyn, 16u << 20);
    server__console_answer(w, methods[data[0] & 3], url, ilen ? inm : NULL, data[0] & 4, &r);
    if (r.status < 200 || r.status > 599 || !r.type || (r.status == 304 && r.len))
        __builtin_trap();
    if (!r.etag) { /* generated: graph.json or an error */
        json_error_t je;
        json_t *j = json_loadb(r.body, r.len, 0, &je);
        if (!j)
            __builtin_trap();
        json_decref(j);
    }
    core_buf_free(&r.dyn);
    return 0;
}
