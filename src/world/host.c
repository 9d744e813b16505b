/* Host behaviour: the metrics a host's agent reports (the OTel hostmetrics receiver's names and
 * units; GPU devices as the OTel hardware conventions name what NVIDIA DCGM measures).
 *
 * Every value starts from the host's profile (scenario/profile.c) and moves with
 *   - its busy share: the state's (or the host's own) cpu, the shape's swing, a share of the
 *     load of the services it runs, a small daily wave and a bounded random walk;
 *   - its state: cpu as above, memory leaks (entity->leaked), errors (network errors), GPU use;
 * so a degrading database host's CPU, disk, load average and memory rise together while the
 * requests its services serve slow down (plan.c reads the same state).
 *
 * Walks are AR(1) steps clamped to +-amp: bounded whatever the run length. Counters (CPU time,
 * bytes, operations, packets, errors) are cumulative doubles the engine rounds. Each host draws
 * from its own stream (seed, "host" + index), in a fixed order, so a host's values do not
 * depend on other hosts or on which outputs run. The layout (one series per metric, device,
 * direction, state ...) is built once and never grows; its size is scenario_host_series(). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "world/world.h"

#define GIB 1073741824.0
#define NMODES 5
#define NDISKS 4 /* most disks a profile has (profile.c) */

const struct world_hmetric world_host_metrics[WORLD_HM_COUNT] = {
    [WORLD_HM_CPU_TIME] = {"system.cpu.time", "Seconds each logical CPU spent in each mode.", "s",
                           1, 1, 0},
    [WORLD_HM_CPU_UTIL] = {"system.cpu.utilization",
                           "Share of the last interval each logical CPU spent in each mode.", "1",
                           0, 0, 0},
    [WORLD_HM_LOAD1] = {"system.cpu.load_average.1m", "Average runnable threads over 1 minute.",
                        "{thread}", 0, 0, 0},
    [WORLD_HM_LOAD5] = {"system.cpu.load_average.5m", "Average runnable threads over 5 minutes.",
                        "{thread}", 0, 0, 0},
    [WORLD_HM_LOAD15] = {"system.cpu.load_average.15m", "Average runnable threads over 15 minutes.",
                         "{thread}", 0, 0, 0},
    [WORLD_HM_MEM_USAGE] = {"system.memory.usage", "Bytes of memory in use.", "By", 1, 0, 1},
    [WORLD_HM_MEM_UTIL] = {"system.memory.utilization", "Share of memory in use.", "1", 0, 0, 0},
    [WORLD_HM_DISK_IO] = {"system.disk.io", "Disk bytes transferred.", "By", 1, 1, 1},
    [WORLD_HM_DISK_OPS] = {"system.disk.operations", "Disk operations completed.", "{operation}", 1,
                           1, 1},
    [WORLD_HM_FS_USAGE] = {"system.filesystem.usage", "Filesystem bytes used.", "By", 1, 0, 1},
    [WORLD_HM_NET_IO] = {"system.network.io", "Bytes transmitted and received.", "By", 1, 1, 1},
    [WORLD_HM_NET_ERR] = {"system.network.errors", "Transmit and receive errors.", "{error}", 1, 1,
                          1},
    [WORLD_HM_NET_PKT] = {"system.network.packets", "Packets transmitted and received.", "{packet}",
                          1, 1, 1},
    [WORLD_HM_PROCS] = {"system.processes.count", "Processes by status.", "{process}", 1, 0, 1},
    [WORLD_HM_GPU_UTIL] = {"hw.gpu.utilization", "GPU utilisation (DCGM_FI_DEV_GPU_UTIL).", "1", 0,
                           0, 0},
    [WORLD_HM_GPU_MEM] = {"hw.gpu.memory.usage", "GPU memory used (DCGM_FI_DEV_FB_USED).", "By", 1,
                          0, 1},
    [WORLD_HM_GPU_TEMP] = {"hw.temperature", "GPU temperature (DCGM_FI_DEV_GPU_TEMP).", "Cel", 0, 0,
                           0},
    [WORLD_HM_GPU_POWER] = {"hw.power", "GPU power draw (DCGM_FI_DEV_POWER_USAGE).", "W", 0, 0, 0},
};

static const char *const modes[NMODES] = {"user", "system", "wait", "steal", "idle"};
static const double busy_share[NMODES - 1] = {0.62, 0.25, 0.09, 0.04}; /* of the busy time */
static const char *const mem_states[4] = {"used", "free", "cached", "buffered"};
static const char *const disk_dev[NDISKS] = {"sda", "sdb", "sdc", "sdd"};
static const char *const mounts[NDISKS] = {"/", "/data", "/data2", "/data3"};
static const char *const io_dir[2] = {"read", "write"};
static const char *const fs_states[2] = {"used", "free"};
static const char *const net_dir[2] = {"transmit", "receive"};
static const char *const proc_status[3] = {"running", "sleeping", "blocked"};

struct world_host_sim {
    struct core_rng rng;
    struct world_hseries *layout;
    uint32_t n;
    int disks;
    char (*gpu_id)[16];                              /* "gpu0" ... */
    double w_cpu, w_mem, w_io, w_net, w_proc, w_gpu; /* bounded walks */
    double *cpu_time;                                /* cpus x NMODES */
    double load[3];
    int sampled; /* a first sample was taken */
    double disk_bytes[NDISKS][2], disk_ops[NDISKS][2], fs_grown[NDISKS];
    double net_bytes[2], net_pkts[2], net_errs[2];
};

/* ---- layout ---------------------------------------------------------------------------- */
struct lay {
    struct world_hseries *v;
    uint32_t n;
};

static struct world_hseries *put(struct lay *l, int metric)
{
    struct world_hseries *s = &l->v[l->n++];
    memset(s, 0, sizeof *s);
    s->metric = (uint8_t)metric;
    return s;
}

static void attr(struct world_hseries *s, const char *key, const char *str, int64_t i)
{
    struct world_hattr *a = &s->attrs[s->nattrs++];
    a->key = key;
    a->str = str;
    a->i = i;
}

static void lay_cpu(struct lay *l, int cpus)
{
    for (int m = WORLD_HM_CPU_TIME; m <= WORLD_HM_CPU_UTIL; m++)
        for (int c = 0; c < cpus; c++)
            for (int k = 0; k < NMODES; k++) {
                struct world_hseries *s = put(l, m);
                attr(s, "cpu.logical_number", NULL, c);
                attr(s, "cpu.mode", modes[k], 0);
            }
    for (int m = WORLD_HM_LOAD1; m <= WORLD_HM_LOAD15; m++)
        put(l, m);
    for (int m = WORLD_HM_MEM_USAGE; m <= WORLD_HM_MEM_UTIL; m++)
        for (int k = 0; k < 4; k++)
            attr(put(l, m), "system.memory.state", mem_states[k], 0);
}

static void lay_io(struct lay *l, int disks)
{
    for (int m = WORLD_HM_DISK_IO; m <= WORLD_HM_DISK_OPS; m++)
        for (int d = 0; d < disks; d++)
            for (int k = 0; k < 2; k++) {
                struct world_hseries *s = put(l, m);
                attr(s, "system.device", disk_dev[d], 0);
                attr(s, "disk.io.direction", io_dir[k], 0);
            }
    for (int d = 0; d < disks; d++)
        for (int k = 0; k < 2; k++) {
            struct world_hseries *s = put(l, WORLD_HM_FS_USAGE);
            attr(s, "system.device", disk_dev[d], 0);
            attr(s, "system.filesystem.mountpoint", mounts[d], 0);
            attr(s, "system.filesystem.state", fs_states[k], 0);
        }
    for (int m = WORLD_HM_NET_IO; m <= WORLD_HM_NET_PKT; m++)
        for (int k = 0; k < 2; k++) {
            struct world_hseries *s = put(l, m);
            attr(s, "network.interface.name", "eth0", 0);
            attr(s, "network.io.direction", net_dir[k], 0);
        }
    for (int k = 0; k < 3; k++)
        attr(put(l, WORLD_HM_PROCS), "status", proc_status[k], 0);
}

static void lay_gpu(struct lay *l, struct world_host_sim *hs, const struct scn_host *h)
{
    for (int m = WORLD_HM_GPU_UTIL; m <= WORLD_HM_GPU_POWER; m++)
        for (int g = 0; g < h->gpus; g++) {
            struct world_hseries *s = put(l, m);
            attr(s, "hw.id", hs->gpu_id[g], 0);
            attr(s, "hw.type", "gpu", 0);
            if (h->gpu_model)
                attr(s, "hw.model", h->gpu_model, 0);
        }
}

static void host_build(struct world *w, int h)
{
    const struct scn_host *sh = w->hosts[h].scn;
    const struct scn_profile *p = scenario_profile(sh->profile_id);
    struct world_host_sim *hs = core_calloc(1, sizeof *hs);
    core_rng_init(&hs->rng, w->seed, core_hash64("host", 4) + (uint64_t)h, 0);
    hs->disks = p->disks < NDISKS ? p->disks : NDISKS;
    hs->n = (uint32_t)scenario_host_series(sh);
    hs->layout = core_calloc(hs->n, sizeof *hs->layout);
    hs->cpu_time = core_calloc((size_t)sh->cpus * NMODES, sizeof *hs->cpu_time);
    hs->gpu_id = core_calloc((size_t)(sh->gpus ? sh->gpus : 1), sizeof *hs->gpu_id);
    for (int g = 0; g < sh->gpus; g++)
        snprintf(hs->gpu_id[g], sizeof hs->gpu_id[g], "gpu%d", g);
    struct lay l = {hs->layout, 0};
    lay_cpu(&l, sh->cpus);
    lay_io(&l, hs->disks);
    lay_gpu(&l, hs, sh);
    if (l.n != hs->n) /* scenario/series.c and this file disagree: a bug, never input */
        abort();
    w->hosts[h].sim = hs;
}

void world__hosts_build(struct world *w)
{
    for (int h = 0; h < w->nhosts; h++)
        host_build(w, h);
}

void world__hosts_free(struct world *w)
{
    for (int h = 0; w->hosts && h < w->nhosts; h++) {
        struct world_host_sim *hs = w->hosts[h].sim;
        if (!hs)
            continue;
        core_free(hs->layout);
        core_free(hs->cpu_time);
        core_free(hs->gpu_id);
        core_free(hs);
    }
}

const struct world_hseries *world_host_layout(const struct world *w, int h, uint32_t *n)
{
    *n = w->hosts[h].sim->n;
    return w->hosts[h].sim->layout;
}

/* ---- values ---------------------------------------------------------------------------- */
static double clamp(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* One AR(1) step that stays within +-amp: pulled back 10% a step, pushed by up to 30% of amp. */
static double walk(struct core_rng *r, double x, double amp)
{
    return clamp(0.9 * x + 0.3 * amp * (2 * core_rng_unit(r) - 1), -amp, amp);
}

struct tick {
    const struct scn_host *sh;
    const struct scn_profile *p;
    const struct world_entity *en;
    double dt, load, rps, busy_sum, wait_sum;
    double *v;
    uint32_t k; /* next value */
};

/* CPU time and utilisation per CPU and mode; the load averages decay towards the runnable
 * threads as Linux's do (exponentially, over 1, 5 and 15 minutes). */
static void sample_cpu(struct world_host_sim *hs, struct tick *t)
{
    int cpus = t->sh->cpus;
    double *util = t->v + t->k + (size_t)cpus * NMODES; /* the utilisation block follows */
    for (int c = 0; c < cpus; c++) {
        double busy = clamp(t->load + 0.03 * (2 * core_rng_unit(&hs->rng) - 1), 0.01, 1);
        for (int m = 0; m < NMODES; m++) {
            double u = m < NMODES - 1 ? busy * busy_share[m] : 1 - busy;
            util[c * NMODES + m] = u;
            hs->cpu_time[c * NMODES + m] += u * t->dt;
            t->v[t->k + (size_t)c * NMODES + m] = hs->cpu_time[c * NMODES + m];
        }
        t->busy_sum += busy;
        t->wait_sum += busy * busy_share[2];
    }
    t->k += (uint32_t)cpus * NMODES * 2;
    static const double window_s[3] = {60, 300, 900};
    double runnable = t->busy_sum + t->wait_sum;
    for (int i = 0; i < 3; i++) {
        double a = hs->sampled ? exp(-t->dt / window_s[i]) : 0; /* the agent starts late */
        hs->load[i] = hs->load[i] * a + runnable * (1 - a);
        t->v[t->k++] = hs->load[i];
    }
}

/* Used memory follows the load loosely and a leak fills it (never past 99%); the page cache
 * and buffers take what is left of their share; free is the rest. */
static void sample_mem(struct world_host_sim *hs, struct tick *t)
{
    double total = t->sh->memory_gib * GIB;
    hs->w_mem = walk(&hs->rng, hs->w_mem, 0.01);
    double used = total * (t->p->mem_used + 0.2 * clamp(t->load, 0, 1) + hs->w_mem);
    used = clamp(used + t->en->leaked, 0, total * 0.99);
    double cached = clamp(total * t->p->mem_cached * (1 + hs->w_mem), 0, (total - used) * 0.9);
    double buffered = clamp(total * 0.02, 0, (total - used - cached) * 0.5);
    double v[4] = {used, total - used - cached - buffered, cached, buffered};
    for (int i = 0; i < 4; i++)
        t->v[t->k + i] = floor(v[i]);
    for (int i = 0; i < 4; i++)
        t->v[t->k + 4 + i] = v[i] / total;
    t->k += 8;
}

/* Disks work with the load (a busy database reads more); 0.1% of what is written stays on the
 * filesystem, up to 98% full. */
static void sample_disk(struct world_host_sim *hs, struct tick *t)
{
    hs->w_io = walk(&hs->rng, hs->w_io, 0.15);
    double f = (0.4 + 1.2 * t->load) * (1 + hs->w_io);
    double rate[2] = {t->p->disk_read * f, t->p->disk_write * f};
    double ops[2] = {t->p->disk_iops * f * 0.6, t->p->disk_iops * f * 0.4};
    for (int d = 0; d < hs->disks; d++)
        for (int k = 0; k < 2; k++) {
            hs->disk_bytes[d][k] += rate[k] * t->dt;
            hs->disk_ops[d][k] += ops[k] * t->dt;
            t->v[t->k + (uint32_t)d * 2 + (uint32_t)k] = floor(hs->disk_bytes[d][k]);
            t->v[t->k + (uint32_t)(hs->disks + d) * 2 + (uint32_t)k] = floor(hs->disk_ops[d][k]);
        }
    t->k += (uint32_t)hs->disks * 4;
    double size = t->p->disk_gib * GIB;
    for (int d = 0; d < hs->disks; d++) {
        hs->fs_grown[d] = clamp(hs->fs_grown[d] + rate[1] * t->dt * 1e-3, 0, size);
        double used = clamp(size * t->p->disk_used + hs->fs_grown[d], 0, size * 0.98);
        t->v[t->k++] = floor(used);
        t->v[t->k++] = floor(size - used);
    }
}

/* Network moves with the requests served and the CPU; errors are rare unless the host's state
 * makes requests fail. */
static void sample_net(struct world_host_sim *hs, struct tick *t)
{
    hs->w_net = walk(&hs->rng, hs->w_net, 0.15);
    double f = (0.3 + 1.5 * t->rps / (t->rps + 200) + 0.7 * t->load) * (1 + hs->w_net);
    double bytes[2] = {t->p->net_tx * f * t->dt, t->p->net_rx * f * t->dt};
    double err_share = 2e-6 + 0.01 * t->en->cur.error_rate;
    for (int k = 0; k < 2; k++) {
        double pkts = bytes[k] / (k ? 900 : 1200);
        hs->net_bytes[k] += bytes[k];
        hs->net_pkts[k] += pkts;
        hs->net_errs[k] += pkts * err_share;
        t->v[t->k + (uint32_t)k] = floor(hs->net_bytes[k]);
        t->v[t->k + 2 + (uint32_t)k] = floor(hs->net_errs[k]);
        t->v[t->k + 4 + (uint32_t)k] = floor(hs->net_pkts[k]);
    }
    t->k += 6;
    hs->w_proc = walk(&hs->rng, hs->w_proc, 0.05);
    t->v[t->k++] = floor(t->busy_sum * 0.5) + 1;
    t->v[t->k++] = floor(t->p->procs * (1 + hs->w_proc + 0.1 * clamp(t->load, 0, 1)));
    t->v[t->k++] = floor(t->wait_sum);
}

/* GPUs: the state's gpu_util when it sets one, else the profile's, moving with the load. */
static void sample_gpu(struct world_host_sim *hs, struct tick *t)
{
    int n = t->sh->gpus;
    double base = t->p->gpu_util > 0 ? t->p->gpu_util : 0.5;
    double mem = (t->p->gpu_mem_gib > 0 ? t->p->gpu_mem_gib : 16) * GIB;
    double watts = t->p->gpu_watts > 0 ? t->p->gpu_watts : 300;
    hs->w_gpu = walk(&hs->rng, hs->w_gpu, 0.05);
    double u0 = t->en->cur.gpu >= 0 ? t->en->cur.gpu : base * (0.7 + 0.6 * clamp(t->load, 0, 1));
    for (int g = 0; g < n; g++) {
        double u = clamp(u0 + hs->w_gpu + 0.02 * (2 * core_rng_unit(&hs->rng) - 1), 0, 1);
        t->v[t->k + (uint32_t)g] = u;
        t->v[t->k + (uint32_t)(n + g)] = floor(mem * (0.35 + 0.55 * u));
        t->v[t->k + (uint32_t)(2 * n + g)] = 34 + 48 * u + core_rng_unit(&hs->rng);
        t->v[t->k + (uint32_t)(3 * n + g)] = watts * (0.15 + 0.85 * u);
    }
    t->k += (uint32_t)n * 4;
}

void world_host_sample(struct world *w, int h, uint64_t off, uint64_t unix_ns, double interval_s,
                       double rps, double *vals)
{
    struct world_host_sim *hs = w->hosts[h].sim;
    const struct scn_host *sh = w->hosts[h].scn;
    struct tick t = {sh,
                     scenario_profile(sh->profile_id),
                     &w->ents[world__entity_of(w, SCN_ENT_HOST, h)],
                     interval_s,
                     0,
                     rps,
                     0,
                     0,
                     vals,
                     0};
    double day = sin(2 * M_PI * (double)(unix_ns % 86400000000000ULL) / 86400e9);
    /* cur.cpu: the state's (or the host's own); a shape moves the host's own baseline */
    double f = world_shape_factor(&sh->shape, (uint64_t)h, unix_ns, off);
    hs->w_cpu = walk(&hs->rng, hs->w_cpu, 0.04);
    t.load =
        t.en->cur.cpu + sh->cpu * (f - 1) + 0.25 * (rps / (rps + 500.0)) + 0.05 * day + hs->w_cpu;
    sample_cpu(hs, &t);
    sample_mem(hs, &t);
    sample_disk(hs, &t);
    sample_net(hs, &t);
    sample_gpu(hs, &t);
    hs->sampled = 1;
}
