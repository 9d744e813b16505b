/* Host profiles and name patterns: what lets a scenario describe a fleet without a script.
 *
 * A profile is the baseline of a kind of server, taken from typical cloud instance sizes and
 * what their workloads do at rest: a web front end moves more network than disk, a database
 * reads its disks hard and keeps most memory in use and in the page cache, an ML or GPU node
 * has many CPUs, GPU devices and large files, a cache is memory, a queue writes its log. The
 * numbers are the baseline the world's random walks move around (world/host.c); a host's own
 * keys (cpu, cpus, memory_gib, gpus) override the first four. The table is in
 * docs/scenario-format.md ("profiles"): keep the two in step. */
#include <stdio.h>
#include <string.h>

#include "scenario/scn_internal.h"

#define MB 1e6

static const struct scn_profile profiles[SCN_NPROFILES] = {
    /* name, cpu, cpus, memory_gib, gpus, mem_used, mem_cached, disks, disk_gib, disk_used,
     * disk_read, disk_write, disk_iops, net_rx, net_tx, procs, gpu_util, gpu_mem_gib, watts */
    [SCN_PROF_GENERAL] = {"general", 0.30, 4, 16, 0, 0.35, 0.20, 1, 100, 0.40, 2 * MB, 1 * MB, 100,
                          2 * MB, 2 * MB, 180, 0, 0, 0},
    [SCN_PROF_WEB] = {"web", 0.25, 4, 16, 0, 0.30, 0.20, 1, 50, 0.35, 0.5 * MB, 1 * MB, 60, 12 * MB,
                      25 * MB, 220, 0, 0, 0},
    [SCN_PROF_DB] = {"db", 0.35, 8, 64, 0, 0.55, 0.30, 2, 500, 0.60, 40 * MB, 15 * MB, 2500, 8 * MB,
                     10 * MB, 160, 0, 0, 0},
    [SCN_PROF_ML] = {"ml", 0.45, 16, 128, 2, 0.45, 0.25, 1, 1000, 0.50, 60 * MB, 5 * MB, 800,
                     15 * MB, 5 * MB, 300, 0.70, 40, 400},
    [SCN_PROF_GPU] = {"gpu", 0.20, 32, 256, 1, 0.40, 0.25, 1, 2000, 0.45, 80 * MB, 10 * MB, 1000,
                      25 * MB, 10 * MB, 350, 0.75, 80, 700},
    [SCN_PROF_CACHE] = {"cache", 0.20, 4, 32, 0, 0.70, 0.05, 1, 50, 0.20, 0.2 * MB, 2 * MB, 50,
                        30 * MB, 30 * MB, 90, 0, 0, 0},
    [SCN_PROF_QUEUE] = {"queue", 0.30, 8, 32, 0, 0.40, 0.35, 1, 500, 0.45, 10 * MB, 30 * MB, 1500,
                        20 * MB, 20 * MB, 150, 0, 0, 0},
    [SCN_PROF_EDGE] = {"edge", 0.30, 4, 16, 0, 0.30, 0.20, 1, 50, 0.35, 0.5 * MB, 1 * MB, 60,
                       12 * MB, 25 * MB, 200, 0, 0, 0},
};

const struct scn_profile *scenario_profile(int id)
{
    return id >= 0 && id < SCN_NPROFILES ? &profiles[id] : NULL;
}

int scenario_profile_find(const char *name)
{
    for (int i = 0; i < SCN_NPROFILES; i++)
        if (!strcmp(profiles[i].name, name))
            return i;
    return -1;
}

const char *const *scn__profile_names(void)
{
    static const char *names[SCN_NPROFILES + 1];
    for (int i = 0; i < SCN_NPROFILES; i++) /* same values every time: no race that matters */
        names[i] = profiles[i].name;
    return names;
}

/* Reads one placeholder at p ('%' already seen at p[0]): "%d", "%3d", "%03d". Returns its
 * length (0: not one) and sets *zero and *width. */
static int placeholder(const char *p, int *zero, int *width)
{
    int i = 1;
    *zero = p[i] == '0';
    i += *zero;
    *width = 0;
    if (p[i] >= '1' && p[i] <= '9')
        *width = p[i++] - '0';
    if (p[i] >= '0' && p[i] <= '9')
        return 0; /* at most one width digit: names stay short */
    return p[i] == 'd' && (!*zero || *width) ? i + 1 : 0;
}

int scn__pattern_check(const char *pat, const char **why)
{
    int n = 0, zero, width;
    for (const char *p = pat; *p; p++) {
        if (*p != '%')
            continue;
        if (p[1] == '%') {
            p++;
            continue;
        }
        int len = placeholder(p, &zero, &width);
        if (!len) {
            *why = "a '%' must start %d, %Nd or %0Nd (N one digit), or be written %%";
            return -1;
        }
        n++;
        p += len - 1;
    }
    if (n != 1) {
        *why = n ? "must contain only one %d (or %Nd, %0Nd) placeholder"
                 : "must contain a %d (or %Nd, %0Nd) placeholder when count is given";
        return -1;
    }
    return 0;
}

void scn__pattern_format(const char *pat, long num, char *out, size_t n)
{
    size_t k = 0;
    int zero, width;
    for (const char *p = pat; *p && k + 1 < n; p++) {
        if (*p != '%') {
            out[k++] = *p;
            continue;
        }
        if (p[1] == '%') {
            out[k++] = '%';
            p++;
            continue;
        }
        int len = placeholder(p, &zero, &width);
        int w = snprintf(out + k, n - k, zero ? "%0*ld" : "%*ld", width, num);
        k += w > 0 ? (size_t)w : 0;
        k = k < n ? k : n - 1;
        p += len - 1;
    }
    out[k] = '\0';
}
