/* libFuzzer: the control API's request handling without sockets. The first byte picks the
 * method, path shape and whether a token is sent; the rest is the entity name / ?after= value
 * (up to the first NUL) and the body. Commands are applied every call (the world's thread's
 * part), so queue, mirror and label ring all get exercised; "/api/" + the name reaches the
 * live changes (rate, pause, resume, speed, chaos, faults/NAME/start) and the aggregates,
 * which get a snapshot every call.
 * Properties: no crash; every answer has a real status and is valid JSON; a 2xx change was
 * queued; the label ring never claims more than it keeps. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "server/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct server_control *c;
static struct world *w;
static struct world_agg *agg;

static void on_label(void *ctx, const struct world_label *l)
{
    server_control_label(ctx, l);
}

static void setup(void)
{
    static struct scenario *scn;
    struct world_opts wo = {.seed = 4, .nshards = 1};
    struct server_control_cfg cfg = {
        .listen = "127.0.0.1:0", .token = "t0k", .max_body = 4096, .speed = 1};
    char err[256];
    if (scenario_load("fleet", &scn, NULL) || world_build(&w, scn, &wo, err, sizeof err))
        __builtin_trap();
    cfg.agg = agg = world_agg_new(w);
    if (server_control_new(&c, w, &cfg, err, sizeof err))
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const methods[] = {"GET", "PUT", "POST", "HEAD"};
    static uint64_t now;
    if (!c)
        setup();
    if (size < 1)
        return 0;
    uint8_t sel = data[0];
    const char *rest = (const char *)data + 1;
    size_t n = size - 1, slen = strnlen(rest, n);
    char str[300], path[400];
    snprintf(str, sizeof str, "%.*s", (int)(slen < 299 ? slen : 299), rest);
    const char *body = slen < n ? rest + slen + 1 : "";
    size_t blen = slen < n ? n - slen - 1 : 0;
    switch ((sel >> 2) & 3) {
    case 0:
        snprintf(path, sizeof path, "/api/entities/%s/state", str);
        break;
    case 1:
        snprintf(path, sizeof path, "/api/entities/%s", str);
        break;
    case 2:
        snprintf(path, sizeof path, "/api/%s", (sel & 1) ? "aggregates" : "labels");
        break;
    default:
        snprintf(path, sizeof path, "/api/%s", str);
        break;
    }
    struct server__control_req rq = {
        methods[sel & 3],          path, (sel & 0x10) ? "Bearer t0k" : NULL,
        (sel & 0x20) ? str : NULL, body, blen,
        (sel & 0xc0) == 0xc0};
    struct server__answer a;
    server__answer_init(&a);
    server__control_handle(c, &rq, &a);
    if (a.status < 200 || a.status > 599)
        __builtin_trap();
    json_error_t je;
    json_t *j = json_loadb((const char *)a.body.p, a.body.len, 0, &je);
    if (!j) {
        fprintf(stderr, "not JSON (%s): %.*s\n", je.text, (int)a.body.len, (const char *)a.body.p);
        __builtin_trap();
    }
    json_decref(j);
    if (a.status == 202 && !world_pending(w))
        __builtin_trap();
    server__answer_free(&a);
    struct world_out out = {c, 1767225600000000000ULL, on_label, NULL};
    world_advance(w, now += 1000000000ULL, &out);
    world_agg_count(agg, (int)(sel % 3), (uint64_t)sel * 1000000ULL, sel & 1);
    world_agg_publish(agg, now, 1767225600000000000ULL);
    return 0;
}
