/* Load shapes: how a rate (or a host's baseline CPU) changes over simulated time, as a factor
 * that multiplies it (docs/scenario-format.md, "shape"). A pure function of the simulated
 * clock and a key: the random parts (bursts, noise) come from a hash of (key, minute), so the
 * factor at a time is the same however often and in whatever order it is asked for, which
 * keeps runs deterministic and lets the engine thin arrivals against it. */
#include <math.h>

#include "world/world.h"

#define MIN_NS 60000000000ULL
#define DAY_NS 86400000000000ULL

/* A uniform draw in [0, 1) for (key, minute). */
static double draw(uint64_t key, uint64_t minute)
{
    uint64_t z = key ^ (minute * 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1.0p-53;
}

static int in_burst(const struct scn_shape *sh, uint64_t key, uint64_t minute)
{
    uint64_t span = (sh->burst_ns + MIN_NS - 1) / MIN_NS; /* minutes a burst lasts */
    for (uint64_t j = 0; j < span && j <= minute; j++)
        if (draw(key ^ 0xb0b5, minute - j) < sh->burst_p)
            return 1;
    return 0;
}

static double daily(const struct scn_shape *sh, uint64_t unix_ns)
{
    double f = 1;
    uint64_t tod = unix_ns % DAY_NS;
    if (sh->diurnal > 0) {
        double x = ((double)tod - (double)sh->peak_min * 60e9) / (double)DAY_NS;
        f *= 1 + sh->diurnal * cos(2 * M_PI * x);
    }
    uint64_t dow = (unix_ns / DAY_NS + 4) % 7; /* 1970-01-01 was a Thursday; 0 = Sunday */
    if (sh->weekend >= 0 && (dow == 0 || dow == 6))
        f *= sh->weekend;
    for (int i = 0; i < sh->nmaint; i++) {
        uint64_t at = (uint64_t)sh->maint[i].at_min * MIN_NS;
        if ((tod + DAY_NS - at) % DAY_NS < sh->maint[i].duration_ns)
            f *= sh->maint[i].factor;
    }
    return f;
}

double world_shape_factor(const struct scn_shape *sh, uint64_t key, uint64_t unix_ns,
                          uint64_t off_ns)
{
    if (!sh->set)
        return 1;
    double f = daily(sh, unix_ns);
    uint64_t minute = unix_ns / MIN_NS;
    if (sh->burst_p > 0 && in_burst(sh, key, minute))
        f *= sh->burst_factor;
    if (sh->ramp_ns)
        f *= off_ns >= sh->ramp_ns ? sh->ramp_to
                                   : sh->ramp_from + (sh->ramp_to - sh->ramp_from) *
                                                         (double)off_ns / (double)sh->ramp_ns;
    if (sh->noise > 0)
        f *= 1 + sh->noise * (2 * draw(key ^ 0x9015e, minute) - 1);
    return f > 0 ? f : 0;
}

double world_shape_max(const struct scn_shape *sh)
{
    if (!sh->set)
        return 1;
    double f = (1 + sh->diurnal) * (sh->weekend > 1 ? sh->weekend : 1) * (1 + sh->noise);
    if (sh->burst_p > 0 && sh->burst_factor > 1)
        f *= sh->burst_factor;
    if (sh->ramp_ns) {
        double r = sh->ramp_from > sh->ramp_to ? sh->ramp_from : sh->ramp_to;
        f *= r > 1 ? r : 1;
    }
    for (int i = 0; i < sh->nmaint; i++)
        f *= sh->maint[i].factor > 1 ? sh->maint[i].factor : 1;
    return f;
}
