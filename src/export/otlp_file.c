/* OTLP/JSON lines output: one Export*ServiceRequest per line, in submit order (so a run with
 * a fixed seed and a fast clock writes a byte-identical file). Its own thread encodes and
 * writes; a write error drops that batch as dropped(io), logs, and the output goes on (the
 * disk may come back). "-" writes to stdout, which is then only flushed, never closed. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "export/internal.h"
#include "wire/wire.h"

#define LOG_EVERY_NS (10ULL * 1000000000ULL)

struct file_out {
    struct export_output o; /* first: the hub sees this */
    FILE *f;
    int is_stdout;
    char *path;
    struct core_buf buf;
    pthread_t thread;
    int started;
    uint64_t last_log_ns;
    uint64_t suppressed;
};

static void log_io(struct file_out *x, int err)
{
    uint64_t now = core_mono_ns();
    if (x->last_log_ns && now - x->last_log_ns < LOG_EVERY_NS) {
        x->suppressed++;
        return;
    }
    core_error("%s: writing %s: %s; batch dropped (%llu earlier errors not shown)", x->o.name,
               x->path, strerror(err), (unsigned long long)x->suppressed);
    x->last_log_ns = now;
    x->suppressed = 0;
}

static void write_one(struct file_out *x, struct export__item *it)
{
    struct wire_otlp_opts opts = {x->o.verify_attrs};
    int s = it->b->signal;
    uint64_t n = it->b->n;
    uint64_t t0 = core_mono_ns();
    core_buf_reset(&x->buf);
    int rc = wire_otlp_json_encode(&x->buf, it->b, &opts);
    export__release(&x->o, it);
    export__count(&x->o.c[s].requests, 1);
    if (rc != 0) {
        export__count(&x->o.c[s].failed_requests, 1);
        export__dropped(&x->o, s, n, EXPORT_DROP_ENCODE);
        return;
    }
    errno = 0;
    size_t w = fwrite(x->buf.p, 1, x->buf.len, x->f);
    if (w != x->buf.len || fflush(x->f) != 0) {
        int err = errno ? errno : EIO;
        clearerr(x->f);
        export__count(&x->o.c[s].failed_requests, 1);
        export__dropped(&x->o, s, n, EXPORT_DROP_IO);
        log_io(x, err);
        return;
    }
    export__count(&x->o.c[s].bytes, x->buf.len);
    export__delivered(&x->o, s, n);
    export__latency(&x->o, s, core_mono_ns() - t0);
}

static void *file_main(void *arg)
{
    struct file_out *x = arg;
    for (;;) {
        uint64_t deadline = 0;
        int stopping = export__stopping(&x->o, &deadline);
        if (stopping && core_mono_ns() >= deadline)
            break;
        struct export__item it;
        if (export__take(&x->o, -1, &it)) {
            write_one(x, &it);
            continue;
        }
        if (stopping)
            break;
        export__wait(&x->o, 0);
    }
    export__drain_dropped(&x->o, EXPORT_DROP_SHUTDOWN);
    if (fflush(x->f) != 0)
        core_error("%s: flushing %s: %s", x->o.name, x->path, strerror(errno));
    return NULL;
}

static int file_start(struct export_output *o)
{
    struct file_out *x = (struct file_out *)o;
    if (export__thread_create(&x->thread, file_main, x) != 0)
        return DIO_ENOMEM;
    x->started = 1;
    return 0;
}

static void file_wake(struct export_output *o)
{
    (void)o; /* export_hub_submit broadcasts the hub's condition variable */
}

static void file_join(struct export_output *o)
{
    struct file_out *x = (struct file_out *)o;
    if (x->started) {
        pthread_join(x->thread, NULL);
        x->started = 0;
    }
}

static void file_destroy(struct export_output *o)
{
    struct file_out *x = (struct file_out *)o;
    file_join(o);
    if (x->is_stdout)
        fflush(x->f);
    else if (fclose(x->f) != 0)
        core_error("%s: closing %s: %s", o->name, x->path, strerror(errno));
    core_buf_free(&x->buf);
    core_free(x->path);
    export__output_fini(o);
    core_free(x);
}

static const struct export_output_ops file_ops = {
    .kind = "otlp_file",
    .start = file_start,
    .wake = file_wake,
    .join = file_join,
    .destroy = file_destroy,
};

struct export_output *export_otlp_file_new(const char *path, int verify_attrs, char *err,
                                           size_t errlen)
{
    int is_stdout = strcmp(path, "-") == 0;
    FILE *f = is_stdout ? stdout : fopen(path, "we");
    if (!f) {
        snprintf(err, errlen, "cannot open %s for writing: %s", path, strerror(errno));
        return NULL;
    }
    struct file_out *x = core_calloc(1, sizeof *x);
    export__output_init(&x->o, &file_ops, verify_attrs);
    x->f = f;
    x->is_stdout = is_stdout;
    x->path = core_strdup(is_stdout ? "stdout" : path);
    core_buf_init(&x->buf, EXPORT__MAX_BODY);
    return &x->o;
}
