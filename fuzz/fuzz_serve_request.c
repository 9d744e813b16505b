/* libFuzzer: diorama serve's input handling. The first byte picks what is fuzzed:
 *   0: the X-Diorama-Delay parser (the rest as the header value, up to the first NUL);
 *   1: the body validator (bits pick the content type and whether "text" is required);
 *   2: a whole request to the classify scenario without sockets (bits pick the method, path
 *      and content type; the rest is the body, or the delay header value when bit 0x40).
 * Properties: no crash; a delay that parses is within the cap; every answer has a real status
 * and, except /metrics, is valid JSON (messages never echo raw input bytes). */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "server/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CAP_NS 30000000000ULL

static struct server *the_server(void)
{
    static struct server *s;
    if (!s) {
        static struct scenario *scn;
        static struct world *w;
        struct world_opts wo = {.seed = 4, .nshards = 1};
        struct server_cfg cfg = {.listen = "127.0.0.1:0", .seed = 4, .max_delay_ns = CAP_NS};
        char err[256];
        if (scenario_load("classify", &scn, NULL) || world_build(&w, scn, &wo, err, sizeof err) ||
            server_new(&s, w, &cfg, err, sizeof err))
            __builtin_trap();
    }
    return s;
}

static const char *const types[] = {"application/json", "text/plain",
                                    "application/json; charset=utf-8", NULL};

static void fuzz_delay(const char *s)
{
    uint64_t ns = 0;
    char msg[256];
    int rc = server__parse_delay(s, CAP_NS, &ns, msg, sizeof msg);
    if (rc == 0 && ns > CAP_NS)
        __builtin_trap();
    if (rc != 0 && rc != DIO_EPARSE && rc != DIO_ERANGE)
        __builtin_trap();
}

static void fuzz_body(uint8_t sel, const uint8_t *body, size_t n)
{
    struct server__text t;
    char msg[256];
    int st = server__validate_body(types[sel & 3], body, n, sel & 4, &t, msg, sizeof msg);
    if (st != 0 && st != 400 && st != 415 && st != 422)
        __builtin_trap();
    if (st == 0 && (sel & 4) && (!t.has_text || !t.text_len))
        __builtin_trap();
    if (t.has_text && t.label >= SERVER__NLABELS)
        __builtin_trap();
}

static void fuzz_request(uint8_t sel, const uint8_t *rest, size_t n, const char *str)
{
    static const char *const methods[] = {"POST", "GET", "PUT", "HEAD"};
    static const char *const paths[] = {"/classify", "/healthz", "/nope", "/classify/x"};
    struct server__request rq = {.method = methods[sel & 3],
                                 .path = paths[(sel >> 2) & 3],
                                 .content_type = types[(sel >> 4) & 3],
                                 .delay = (sel & 0x40) ? str : NULL,
                                 .traffic = (sel & 0x80) ? str : "DIORAMA_NORMAL_TRAFFIC",
                                 .body = rest,
                                 .len = n};
    struct server__answer a;
    server__answer_init(&a);
    server__handle(the_server(), &rq, &a);
    if (a.status < 200 || a.status > 599 || a.wait_ns > CAP_NS + 2000000000ULL)
        __builtin_trap(); /* a real status; held at most the cap plus the modelled latency */
    json_t *j = json_loadb((const char *)a.body.p, a.body.len, 0, NULL);
    if (!j)
        __builtin_trap();
    json_decref(j);
    server__count(the_server(), &a, a.wait_ns);
    server__answer_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || size > 1 << 16)
        return 0;
    char *str = core_strndup((const char *)data + 2, size - 2); /* stops at a NUL, like a header */
    switch (data[0] % 3) {
    case 0:
        fuzz_delay(str);
        break;
    case 1:
        fuzz_body(data[1], data + 2, size - 2);
        break;
    default:
        fuzz_request(data[1], data + 2, size - 2, str);
    }
    core_free(str);
    return 0;
}
