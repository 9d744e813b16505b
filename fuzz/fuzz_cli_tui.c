/* libFuzzer: the --tui renderer takes any bytes as a snapshot (and any screen size, locale and
 * colour setting) and draws a frame that stays inside the screen and has no byte from the
 * input's control characters; the history takes the same bytes. Input: 4 bytes of width,
 * height, flags, then the snapshot. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cli/tui.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4 || size > 65536)
        return 0;
    struct tui_view v = {data[0] * 2, data[1], data[2] & 1, (data[2] >> 1) & 1};
    static const struct world_acct outs[1] = {{"out", 3, 2, 1, 0, 0}};
    static const struct tui_fault faults[1] = {{"f", "t", "v", 10}};
    struct tui_head h = {.scenario = "s",
                         .run_id = "r",
                         .speed = data[3],
                         .start_ms = 0,
                         .paused = data[3] & 1,
                         .chaos = (data[3] & 2) ? "every=1m" : NULL,
                         .faults = faults,
                         .nfaults = data[3] & 4 ? 1 : 0,
                         .outs = outs,
                         .nouts = data[3] & 8 ? 1 : 0};
    struct tui_hist *hist = tui_hist_new();
    const char *json = (const char *)data + 4;
    size_t len = size - 4;
    tui_hist_push(hist, json, len);
    tui_hist_push(hist, json, len);
    struct core_buf out;
    core_buf_init(&out, 8u << 20);
    tui_render(json, len, &h, hist, &v, &out);
    /* every ESC in the frame starts one of ours: a CSI; never one the input smuggled in */
    for (size_t i = 0; i < out.len; i++)
        if (out.p[i] == 033 && (i + 1 >= out.len || out.p[i + 1] != '['))
            __builtin_trap();
    core_buf_free(&out);
    tui_hist_free(hist);
    return 0;
}
