/* OpenMetrics file output (--openmetrics-file PATH; docs/openmetrics.md): the whole run's metric
 * points as one OpenMetrics 1.0 text, for `promtool tsdb create-blocks-from openmetrics`.
 *
 * OpenMetrics forbids interleaving families, but the engine emits one interval of every
 * family at a time. So each family's sample lines are spooled into a temporary file of its own
 * (created next to PATH and unlinked at once, so nothing is left behind whatever happens; a
 * 64 KiB buffer per family in memory), and when the hub stops the file is assembled: per
 * family, in order of first appearance, its # TYPE / # UNIT / # HELP and its spooled lines,
 * then "# EOF". Within a family lines keep the engine's order, so each series' samples are in
 * time order, which the TSDB appender needs. The text goes to PATH.tmp (opened at start, so a
 * directory we cannot write to is an error before the run) and is renamed to PATH when whole.
 *
 * Costs: memory 64 KiB per family (at most EXPORT_OM_MAX_FAMILIES); disk, at the end, the
 * file plus the spools not yet copied (about twice the file at the peak).
 *
 * Accounting: a spooled point is in flight; delivered once the complete file is in place.
 * dropped(encode): no OpenMetrics form (delta temporality), a NaN counter, or past the family
 * cap; dropped(io): a spool or the final file could not be written (then nothing of that family,
 * or of the file, is counted delivered). The assembly runs after the shutdown deadline if it
 * must: it is local disk, and stopping half-way would lose the whole run. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "export/internal.h"
#include "wire/wire.h"

#define SPOOL_BUF ((size_t)64 << 10)
#define COPY_BUF ((size_t)1 << 20)
#define MAX_DESCS 1024

struct fam {
    const struct rec_metric *m; /* first descriptor seen: HELP and type come from it */
    struct wire_om_family f;
    int fd; /* the spool, -1 when it could not be created */
    struct core_buf buf;
    uint64_t points;
    int failed; /* a spool write failed: the family's points are dropped(io) at the end */
};

struct desc {
    const struct rec_metric *m;
    int fam; /* -1: no OpenMetrics form */
};

struct om_out {
    struct export_output o; /* first: the hub sees this */
    char *path, *tmp;
    int out_fd;
    struct fam *fams;
    uint32_t nfams;
    struct desc descs[MAX_DESCS];
    uint32_t ndescs, last;
    pthread_t thread;
    int started;
    int warned_cap;
};

static int write_all(int fd, const void *p, size_t n)
{
    const uint8_t *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 && errno ? errno : EIO;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

/* A spool next to the output, unlinked at once: -1 and errno on failure. */
static int spool_open(const char *path)
{
    size_t n = strlen(path) + sizeof ".spool.XXXXXX";
    char *t = core_malloc(n);
    snprintf(t, n, "%s.spool.XXXXXX", path);
    int fd = mkstemp(t);
    if (fd >= 0)
        unlink(t);
    core_free(t);
    return fd;
}

static int new_family(struct om_out *x, const struct rec_metric *m, const struct wire_om_family *f)
{
    for (uint32_t i = 0; i < x->nfams; i++)
        if (!strcmp(x->fams[i].f.name, f->name))
            return x->fams[i].f.type == f->type ? (int)i : -1; /* same name, other type */
    if (x->nfams == EXPORT_OM_MAX_FAMILIES) {
        if (!x->warned_cap++)
            core_error("%s: more than %d metric families; the points of %s and later ones are "
                       "dropped",
                       x->o.name, EXPORT_OM_MAX_FAMILIES, f->name);
        return -1;
    }
    struct fam *g = &x->fams[x->nfams];
    g->m = m;
    g->f = *f;
    g->fd = spool_open(x->path);
    core_buf_init(&g->buf, SPOOL_BUF + ((size_t)1 << 20)); /* room for a point past the mark */
    if (g->fd < 0) {
        g->failed = 1;
        core_error("%s: cannot create a spool file next to %s: %s", x->o.name, x->path,
                   strerror(errno));
    }
    return (int)x->nfams++;
}

/* The family index of descriptor m, or -1 (its points cannot be written). */
static int family_of(struct om_out *x, const struct rec_metric *m)
{
    if (x->last < x->ndescs && x->descs[x->last].m == m)
        return x->descs[x->last].fam;
    for (uint32_t i = 0; i < x->ndescs; i++)
        if (x->descs[i].m == m)
            return x->descs[x->last = i].fam;
    struct wire_om_family f;
    int fam = wire_om_family(m, &f) == 0 ? new_family(x, m, &f) : -1;
    if (x->ndescs < MAX_DESCS) {
        x->descs[x->ndescs] = (struct desc){m, fam};
        x->last = x->ndescs++;
    }
    return fam;
}

static void spool_flush(struct om_out *x, struct fam *g)
{
    if (!g->failed && g->buf.len) {
        int err = write_all(g->fd, g->buf.p, g->buf.len);
        if (err) {
            g->failed = 1;
            core_error("%s: writing the spool of %s: %s; its points will be dropped", x->o.name,
                       g->f.name, strerror(err));
        }
    }
    core_buf_reset(&g->buf);
}

static void spool_batch(struct om_out *x, const struct rec_batch *b)
{
    uint64_t bad = 0;
    for (uint32_t i = 0; i < b->n; i++) {
        const struct rec_point *pt = &b->r.points[i];
        int fam = pt->metric ? family_of(x, pt->metric) : -1;
        struct fam *g = fam >= 0 ? &x->fams[fam] : NULL;
        if (!g || wire_om_point(&g->buf, &g->f, b, pt) != 0) {
            bad++;
            continue;
        }
        g->points++;
        if (g->buf.len >= SPOOL_BUF)
            spool_flush(x, g);
    }
    if (bad)
        export__dropped(&x->o, REC_METRICS, bad, EXPORT_DROP_ENCODE);
}

/* Copies the spool of g to the output. 0 or an errno. */
static int copy_spool(struct om_out *x, struct fam *g, uint8_t *buf)
{
    if (lseek(g->fd, 0, SEEK_SET) != 0)
        return errno ? errno : EIO;
    for (;;) {
        ssize_t r = read(g->fd, buf, COPY_BUF);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return errno;
        if (r == 0)
            return 0;
        int err = write_all(x->out_fd, buf, (size_t)r);
        if (err)
            return err;
    }
}

/* One family into the output (its spool closed after, freeing its disk). 0 or an errno. */
static int put_family(struct om_out *x, struct fam *g, uint8_t *buf, struct core_buf *meta)
{
    spool_flush(x, g);
    if (g->failed)
        return 0; /* counted dropped(io) by the caller */
    core_buf_reset(meta);
    wire_om_meta(meta, &g->f, g->m);
    int err = write_all(x->out_fd, meta->p, meta->len);
    if (!err)
        err = copy_spool(x, g, buf);
    close(g->fd);
    g->fd = -1;
    return err;
}

/* Writes PATH.tmp and renames it. Counts every spooled point delivered or dropped(io). */
static void assemble(struct om_out *x)
{
    uint8_t *buf = core_malloc(COPY_BUF);
    struct core_buf meta;
    core_buf_init(&meta, 1 << 16);
    uint64_t t0 = core_mono_ns(), ok = 0, lost = 0;
    int err = 0;
    for (uint32_t i = 0; i < x->nfams && !err; i++)
        err = put_family(x, &x->fams[i], buf, &meta);
    if (!err)
        err = write_all(x->out_fd, "# EOF\n", 6);
    off_t size = lseek(x->out_fd, 0, SEEK_CUR);
    if (!err && close(x->out_fd) != 0)
        err = errno ? errno : EIO;
    else if (err)
        close(x->out_fd);
    x->out_fd = -1;
    if (!err && rename(x->tmp, x->path) != 0)
        err = errno;
    for (uint32_t i = 0; i < x->nfams; i++)
        *(err || x->fams[i].failed ? &lost : &ok) += x->fams[i].points;
    if (err) {
        unlink(x->tmp);
        core_error("%s: writing %s: %s; its %llu points are dropped", x->o.name, x->path,
                   strerror(err), (unsigned long long)(ok + lost));
    } else {
        export__count(&x->o.c[REC_METRICS].bytes, size > 0 ? (uint64_t)size : 0);
        export__latency(&x->o, REC_METRICS, core_mono_ns() - t0);
    }
    export__count(&x->o.c[REC_METRICS].requests, 1);
    export__delivered(&x->o, REC_METRICS, ok);
    export__dropped(&x->o, REC_METRICS, lost, EXPORT_DROP_IO);
    core_buf_free(&meta);
    core_free(buf);
}

static void *om_main(void *arg)
{
    struct om_out *x = arg;
    for (;;) {
        uint64_t deadline = 0;
        int stopping = export__stopping(&x->o, &deadline);
        if (stopping && core_mono_ns() >= deadline)
            break;
        struct export__item it;
        if (export__take(&x->o, REC_METRICS, &it)) {
            spool_batch(x, it.b);
            export__release(&x->o, &it);
            continue;
        }
        if (stopping)
            break;
        export__wait(&x->o, 0);
    }
    export__drain_dropped(&x->o, EXPORT_DROP_SHUTDOWN);
    assemble(x);
    return NULL;
}

static int om_start(struct export_output *o)
{
    struct om_out *x = (struct om_out *)o;
    if (export__thread_create(&x->thread, om_main, x) != 0)
        return DIO_ENOMEM;
    x->started = 1;
    return 0;
}

static void om_wake(struct export_output *o)
{
    (void)o; /* export_hub_submit broadcasts the hub's condition variable */
}

static void om_join(struct export_output *o)
{
    struct om_out *x = (struct om_out *)o;
    if (x->started) {
        pthread_join(x->thread, NULL);
        x->started = 0;
    }
}

static void om_destroy(struct export_output *o)
{
    struct om_out *x = (struct om_out *)o;
    om_join(o);
    for (uint32_t i = 0; i < x->nfams; i++) {
        if (x->fams[i].fd >= 0)
            close(x->fams[i].fd);
        core_buf_free(&x->fams[i].buf);
    }
    if (x->out_fd >= 0) { /* never started: leave no .tmp behind */
        close(x->out_fd);
        unlink(x->tmp);
    }
    core_free(x->fams);
    core_free(x->path);
    core_free(x->tmp);
    export__output_fini(o);
    core_free(x);
}

static const struct export_output_ops om_ops = {
    .kind = "openmetrics_file",
    .start = om_start,
    .wake = om_wake,
    .join = om_join,
    .destroy = om_destroy,
};

struct export_output *export_om_file_new(const char *path, char *err, size_t errlen)
{
    size_t n = strlen(path) + sizeof ".tmp";
    char *tmp = core_malloc(n);
    snprintf(tmp, n, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
        core_free(tmp);
        return NULL;
    }
    struct om_out *x = core_calloc(1, sizeof *x);
    export__output_init(&x->o, &om_ops, 0);
    x->o.signals = 1u << REC_METRICS;
    x->path = core_strdup(path);
    x->tmp = tmp;
    x->out_fd = fd;
    x->fams = core_calloc(EXPORT_OM_MAX_FAMILIES, sizeof *x->fams);
    return &x->o;
}
