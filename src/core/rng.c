#include <math.h>

#include "core/core.h"

/* splitmix64's finaliser: a bijective mixer with full avalanche. Counter-based use
 * (mix(key + i * golden)) is exactly splitmix64, which passes BigCrush. */
uint64_t core_mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

/* FNV-1a then mixed: for turning names into entity keys. */
uint64_t core_hash64(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return core_mix64(h);
}

void core_rng_init(struct core_rng *r, uint64_t seed, uint64_t entity, uint64_t stream)
{
    r->key = core_mix64(core_mix64(core_mix64(seed) ^ entity) ^ (stream * 0x9e3779b97f4a7c15ULL));
    r->ctr = 0;
}

/* Lemire's multiply-shift with rejection: unbiased. */
uint64_t core_rng_below(struct core_rng *r, uint64_t n)
{
    uint64_t x = core_rng_u64(r);
    __uint128_t m = (__uint128_t)x * n;
    uint64_t l = (uint64_t)m;
    if (l < n) {
        uint64_t t = -n % n;
        while (l < t) {
            x = core_rng_u64(r);
            m = (__uint128_t)x * n;
            l = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

double core_rng_exp(struct core_rng *r, double mean)
{
    return -mean * log1p(-core_rng_unit(r));
}

double core_rng_normal(struct core_rng *r)
{
    double u1 = core_rng_unit(r);
    double u2 = core_rng_unit(r);
    return sqrt(-2.0 * log1p(-u1)) * cos(2.0 * M_PI * u2);
}
