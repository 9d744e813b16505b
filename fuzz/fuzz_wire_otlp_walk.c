/* libFuzzer, differential: the in-place OTLP protobuf walker (decode_otlp_walk.c) against
 * protobuf-c's unpack (wire__otlp_unpack) on the same bytes. Whatever protobuf-c accepts, the
 * walker accepts with the same items in the same order (every field of wire_item, strings
 * included) and the same stats; a request the walker refuses hands out no item. The first
 * byte picks the signal (traces, metrics, logs); the corpus is fuzz_wire_otlp_pb's. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "wire/decode_int.h"

struct digest {
    uint64_t h, n;
};

static void mix(struct digest *d, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        d->h = (d->h ^ b[i]) * 0x100000001b3ULL;
}

static void mix_str(struct digest *d, struct rec_str s)
{
    mix(d, &s.len, sizeof s.len);
    mix(d, s.p, s.len);
}

static int on_item(void *ctx, const struct wire_item *it)
{
    struct digest *d = ctx;
    d->n++;
    mix(d, &it->signal, sizeof it->signal);
    mix(d, &it->seq, sizeof it->seq);
    mix(d, &it->count, sizeof it->count);
    mix(d, &it->gen_ns, sizeof it->gen_ns);
    mix(d, &it->time_ns, sizeof it->time_ns);
    mix(d, &it->valid, sizeof it->valid);
    mix_str(d, it->service);
    mix_str(d, it->run_id);
    mix_str(d, it->name);
    if (!it->valid)
        mix(d, it->problem, strlen(it->problem));
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > (1 << 20))
        return 0;
    int signal = data[0] % REC_NSIGNALS;
    struct digest da = {0xcbf29ce484222325ULL, 0}, db = da;
    struct wire_decode_stats sa = {0, 0}, sb = {0, 0};
    struct wire__sink ka = {on_item, &da, &sa, 0}, kb = {on_item, &db, &sb, 0};
    char err[128];
    int ra = wire__otlp_unpack(signal, data + 1, size - 1, &ka, err, sizeof err);
    int rb = wire__otlp_walk(signal, data + 1, size - 1, &kb, err, sizeof err);
    if (rb != 0 && (rb != DIO_EPARSE || db.n || sb.items))
        __builtin_trap(); /* refused, yet items were handed out */
    if (ra == 0 && (rb != 0 || da.n != db.n || da.h != db.h || sa.items != sb.items ||
                    sa.rejected != sb.rejected))
        __builtin_trap(); /* protobuf-c accepted it and the walker disagrees */
    return 0;
}
