/* OTLP/JSON lines output: one Export*ServiceRequest per line, in submit order (so a run with
 * a fixed seed and a fast clock writes a byte-identical file). Its own thread encodes and
 * writes; a write error drops that batch as dropped(io), logs, and the output goes on (the
 * disk may come back). "-" writes to stdout, which is never closed.
 *
 * Invariant: a batch counted delivered is one whole line on disk, never glued to another.
 * Lines go out with write(2), no stdio buffer, so we know how much of a line reached the file.
 * When a write fails part-way (disk full, EFBIG), a file we opened is cut back to the end of
 * the last whole line (ftruncate); where that is impossible (stdout, a pipe) the torn line is
 * ended with '\n' before the next one, so it costs only the batch already counted dropped(io). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "export/internal.h"
#include "wire/wire.h"

#define LOG_EVERY_NS (10ULL * 1000000000ULL)

struct file_out {
    struct export_output o; /* first: the hub sees this */
    int fd;
    int is_stdout;
    int seekable; /* a regular file we opened: a torn line is cut back with ftruncate */
    int torn;     /* the file ends in a partial line: write '\n' before the next line */
    off_t good;   /* seekable: the end of the last whole line */
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

/* Writes all n bytes, retrying short writes. 0, or the errno of the failure; *done says how
 * many bytes reached the file either way. */
static int write_all(int fd, const uint8_t *p, size_t n, size_t *done)
{
    *done = 0;
    while (*done < n) {
        ssize_t w = write(fd, p + *done, n - *done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 && errno ? errno : EIO;
        *done += (size_t)w;
    }
    return 0;
}

/* A line was written only in part: take it back, or remember to end it. */
static void untear(struct file_out *x, size_t done)
{
    if (done == 0)
        return;
    if (x->seekable && ftruncate(x->fd, x->good) == 0 && lseek(x->fd, x->good, SEEK_SET) == x->good)
        return;
    x->torn = 1;
}

/* One encoded line to the file. 0 or an errno; on failure nothing of it is left as a
 * line start that the next line could continue. */
static int put_line(struct file_out *x, const struct core_buf *line)
{
    size_t done;
    if (x->torn) {
        int err = write_all(x->fd, (const uint8_t *)"\n", 1, &done);
        if (err)
            return err;
        x->torn = 0;
        if (x->seekable)
            x->good = lseek(x->fd, 0, SEEK_CUR);
    }
    int err = write_all(x->fd, line->p, line->len, &done);
    if (err) {
        untear(x, done);
        return err;
    }
    x->good += (off_t)line->len;
    return 0;
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
    int err = put_line(x, &x->buf);
    if (err) {
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
    if (x->torn) {
        size_t done;
        (void)write_all(x->fd, (const uint8_t *)"\n", 1, &done); /* end the file on a line */
    }
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
    if (!x->is_stdout && close(x->fd) != 0)
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
    if (is_stdout)
        fflush(stdout); /* lines go to fd 1 directly from now on */
    int fd = is_stdout ? STDOUT_FILENO : open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s for writing: %s", path, strerror(errno));
        return NULL;
    }
    struct file_out *x = core_calloc(1, sizeof *x);
    export__output_init(&x->o, &file_ops, verify_attrs);
    x->fd = fd;
    x->is_stdout = is_stdout;
    struct stat st;
    /* Only a file we created is ours to cut back; stdout may be shared with other writers. */
    x->seekable = !is_stdout && fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    x->path = core_strdup(is_stdout ? "stdout" : path);
    core_buf_init(&x->buf, EXPORT__MAX_BODY);
    return &x->o;
}
