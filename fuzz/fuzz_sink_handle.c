/* libFuzzer: the sink's whole request path (routing, content types, gzip, every decoder,
 * verification state) with hostile bodies. The first byte picks the route and encodings; the
 * rest is the body. One sink lives across inputs, so state built by earlier inputs (sequence
 * windows, name tables) is exercised too; its bounds keep memory flat. */
#include <stddef.h>
#include <stdint.h>

#include "sink/sink.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct sink *the_sink(void)
{
    static struct sink *s;
    if (!s) {
        struct sink_cfg cfg = {.listen = "127.0.0.1:0",
                               .max_request = 1 << 20,
                               .retry_after_s = -1,
                               .max_names = 64,
                               .max_runs = 4,
                               .window_log2 = 12};
        char err[256];
        if (sink_new(&s, &cfg, err, sizeof err))
            __builtin_trap();
    }
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const paths[] = {"/v1/traces", "/v1/metrics", "/v1/logs", "/api/v1/write",
                                        "/nope"};
    static const char *const types[] = {"application/x-protobuf", "application/json", "text/plain",
                                        NULL};
    if (size < 1)
        return 0;
    uint8_t sel = data[0];
    struct sink_request rq = {.method = (sel & 0x80) ? "GET" : "POST",
                              .path = paths[(sel & 7) % 5],
                              .content_type = types[(sel >> 3) & 3],
                              .content_encoding = (sel & 0x20) ? "gzip" : NULL,
                              .body = data + 1,
                              .len = size - 1,
                              .arrival_ns = 1};
    struct sink_response rs;
    core_buf_init(&rs.body, 1 << 20);
    sink_handle(the_sink(), &rq, &rs);
    if (rs.status < 200 || rs.status > 599)
        __builtin_trap(); /* every input gets a real HTTP answer */
    core_buf_free(&rs.body);
    return 0;
}
