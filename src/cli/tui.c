/* --tui: the terminal side of the live view (the frame itself is tui_render.c).
 *
 * While the view is up the terminal is in a state the user must get back whatever happens:
 * the alternate screen, a hidden cursor, no echo. It is restored by tui_stop on the normal
 * path, by an atexit handler, by the stop signals' handler when a second Ctrl-C ends the
 * process at once (cli's handler then _exits, skipping atexit), and by the fatal signals'
 * handler before the signal's previous disposition (default or a sanitizer's) runs. Ctrl-Z
 * gives it back before the process stops and SIGCONT takes it again. Those paths use only
 * write(2), tcsetattr(3), sigaction(2) and raise(3), which are async-signal-safe.
 *
 * Messages on stderr would scribble over the frame, so when stderr is the terminal it goes
 * into a pipe this thread reads: the footer shows the last message and how many came, and
 * tui_stop prints the last LOG_KEEP of them once the normal screen is back.
 *
 * One thread draws: it wakes on a self-pipe (SIGWINCH, stop), on key presses (q stops the
 * run like Ctrl-C) and on stderr, or every POLL_MS to look for a new snapshot; each frame
 * is built in one buffer and written with one write(2). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/tui.h"
#include "engine/engine.h"

#define POLL_MS 200
#define FRAME_MAX (8u << 20) /* TUI_MAX_W x TUI_MAX_H at a few bytes a column */
#define LOG_KEEP 32
#define LOG_LINE 400

struct tui {
    struct tui_src src;
    pthread_t thread;
    int started;
    int wake[2];   /* self-pipe: SIGWINCH and stop write a byte */
    int errp[2];   /* stderr while the screen is up; -1 when stderr is not the terminal */
    int saved_err; /* the real stderr, -1 when not redirected */
    int keys;      /* stdin when it is a terminal, else -1 */
    atomic_int stop, stopping;
    struct tui_hist *hist;
    uint64_t seen; /* snapshots pushed into hist */
    struct core_buf snap, frame;
    struct tui_fault *faults;
    /* messages held back (the thread writes; tui_stop reads after the join) */
    char log[LOG_KEEP][LOG_LINE];
    uint64_t nlog;
    char part[LOG_LINE];
    size_t plen;
};

/* ---- what signal handlers and atexit may touch ----------------------------------------- */
static const int stop_sigs[] = {SIGINT, SIGTERM, SIGHUP};
static const int fatal_sigs[] = {SIGSEGV, SIGBUS, SIGABRT, SIGFPE};
#define NSTOP (int)(sizeof stop_sigs / sizeof stop_sigs[0])
#define NFATAL (int)(sizeof fatal_sigs / sizeof fatal_sigs[0])
static struct sigaction g_old_stop[NSTOP], g_old_fatal[NFATAL], g_old_winch, g_old_tstp, g_old_cont;
static volatile sig_atomic_t g_active;    /* the terminal is ours to give back */
static volatile sig_atomic_t g_suspended; /* given back for a Ctrl-Z, to take again on SIGCONT */
static volatile sig_atomic_t g_wake = -1;
static struct termios g_tio, g_raw; /* the user's modes, ours */
static int g_have_tio;

static void restore_raw(void)
{
    if (!g_active)
        return;
    g_active = 0;
    ssize_t r = write(STDOUT_FILENO, TUI_LEAVE, sizeof TUI_LEAVE - 1);
    (void)r;
    if (g_have_tio)
        tcsetattr(STDIN_FILENO, TCSANOW, &g_tio);
}

static void poke(char c)
{
    int fd = g_wake;
    if (fd >= 0) {
        ssize_t r = write(fd, &c, 1);
        (void)r;
    }
}

static void on_winch(int sig)
{
    int e = errno;
    (void)sig;
    poke('w');
    errno = e;
}

/* The first stop signal lets the run end normally (tui_stop restores the terminal after the
 * flush); a second one makes cli's handler _exit at once, so the terminal is restored first. */
static void on_stop(int sig)
{
    int e = errno;
    for (int i = 0; i < NSTOP; i++) {
        if (stop_sigs[i] != sig)
            continue;
        if (cli_stop)
            restore_raw();
        poke('s');
        void (*prev)(int) = g_old_stop[i].sa_handler;
        if (prev == SIG_DFL) { /* nobody asked to stop cleanly: the default, after restoring */
            restore_raw();
            sigaction(sig, &g_old_stop[i], NULL);
            raise(sig);
        } else if (!(g_old_stop[i].sa_flags & SA_SIGINFO) && prev != SIG_IGN) {
            prev(sig);
        }
    }
    errno = e;
}

/* Returns into the faulting instruction (or abort()'s re-raise) with the previous handler
 * back in place: it reports and ends the process as it would have without us. */
static void on_fatal(int sig)
{
    restore_raw();
    for (int i = 0; i < NFATAL; i++)
        if (fatal_sigs[i] == sig)
            sigaction(sig, &g_old_fatal[i], NULL);
}

static void on_tstp(int sig);

/* Ctrl-Z: the shell gets its screen and modes back, then the process stops as it would have
 * (SIGTSTP is blocked while this runs, so the default action comes when it returns). */
static void on_tstp(int sig)
{
    int e = errno;
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    if (g_active) {
        restore_raw();
        g_suspended = 1;
    }
    sigaction(SIGTSTP, &dfl, NULL);
    raise(sig);
    errno = e;
}

/* fg: the full screen again, redrawn at once. */
static void on_cont(int sig)
{
    int e = errno;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_tstp;
    sigaction(SIGTSTP, &sa, NULL);
    if (g_suspended) {
        g_suspended = 0;
        g_active = 1;
        ssize_t r = write(STDOUT_FILENO, TUI_ENTER, sizeof TUI_ENTER - 1);
        (void)r;
        if (g_have_tio)
            tcsetattr(STDIN_FILENO, TCSANOW, &g_raw);
    }
    poke('w');
    (void)sig;
    errno = e;
}

static void at_exit(void)
{
    restore_raw();
}

static void handlers_install(void)
{
    static int registered;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop;
    for (int i = 0; i < NSTOP; i++)
        sigaction(stop_sigs[i], &sa, &g_old_stop[i]);
    sa.sa_handler = on_fatal;
    for (int i = 0; i < NFATAL; i++)
        sigaction(fatal_sigs[i], &sa, &g_old_fatal[i]);
    sa.sa_flags = SA_RESTART;
    sa.sa_handler = on_winch;
    sigaction(SIGWINCH, &sa, &g_old_winch);
    sa.sa_handler = on_tstp;
    sigaction(SIGTSTP, &sa, &g_old_tstp);
    sa.sa_handler = on_cont;
    sigaction(SIGCONT, &sa, &g_old_cont);
    if (!registered++)
        atexit(at_exit);
}

static void handlers_remove(void)
{
    for (int i = 0; i < NSTOP; i++)
        sigaction(stop_sigs[i], &g_old_stop[i], NULL);
    for (int i = 0; i < NFATAL; i++)
        sigaction(fatal_sigs[i], &g_old_fatal[i], NULL);
    sigaction(SIGWINCH, &g_old_winch, NULL);
    sigaction(SIGTSTP, &g_old_tstp, NULL);
    sigaction(SIGCONT, &g_old_cont, NULL);
}

/* ---- checks ------------------------------------------------------------------------------ */
int tui_usable(char *err, size_t n)
{
    const char *term = getenv("TERM");
    if (!isatty(STDOUT_FILENO)) {
        snprintf(err, n, "stdout is not a terminal (drop --tui for the status line)");
        return DIO_EINVAL;
    }
    if (term && !strcmp(term, "dumb")) {
        snprintf(err, n, "TERM=dumb cannot draw a full-screen view (drop --tui)");
        return DIO_EINVAL;
    }
    return 0;
}

int tui_locale_utf8(void)
{
    static const char *const vars[] = {"LC_ALL", "LC_CTYPE", "LANG"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v)
            return strcasestr(v, "utf-8") || strcasestr(v, "utf8");
    }
    return 0;
}

/* ---- held-back messages ----------------------------------------------------------------- */
static void log_line(struct tui *t)
{
    t->part[t->plen] = 0;
    snprintf(t->log[t->nlog % LOG_KEEP], LOG_LINE, "%s", t->part);
    t->nlog++;
    t->plen = 0;
}

static void log_read(struct tui *t)
{
    char buf[4096];
    ssize_t n;
    while ((n = read(t->errp[0], buf, sizeof buf)) > 0)
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == '\n')
                log_line(t);
            else if (t->plen < LOG_LINE - 1) /* a longer line is cut */
                t->part[t->plen++] = buf[i];
        }
}

static const char *log_last(const struct tui *t)
{
    return t->nlog ? t->log[(t->nlog - 1) % LOG_KEEP] : NULL;
}

static void log_print(struct tui *t)
{
    if (t->plen)
        log_line(t);
    uint64_t first = t->nlog > LOG_KEEP ? t->nlog - LOG_KEEP : 0;
    if (first)
        fprintf(stderr, "diorama: %llu messages while the dashboard was up; the last %d:\n",
                (unsigned long long)t->nlog, LOG_KEEP);
    for (uint64_t i = first; i < t->nlog; i++)
        fprintf(stderr, "%s\n", t->log[i % LOG_KEEP]);
}

/* ---- drawing ---------------------------------------------------------------------------- */
/* Pushes every snapshot published since the last look (at most a minute's worth) into the
 * history and keeps the newest in t->snap. 1 if there was one. */
static int catch_up(struct tui *t)
{
    uint64_t last = t->src.agg ? world_agg_last(t->src.agg) : 0;
    if (last <= t->seen)
        return 0;
    uint64_t from = last - t->seen > TUI_HIST ? last - TUI_HIST + 1 : t->seen + 1;
    for (uint64_t q = from; q <= last; q++) {
        core_buf_reset(&t->snap);
        if (world_agg_get(t->src.agg, q, &t->snap) == 0)
            tui_hist_push(t->hist, (const char *)t->snap.p, t->snap.len);
    }
    t->seen = last;
    return 1;
}

static int collect_faults(struct tui *t, double now_s)
{
    const struct world *w = t->src.w;
    int n = 0;
    for (int i = 0; i < w->nfaults; i++) {
        uint64_t until;
        int variant;
        if (!world_fault_active(w, i, &until, &variant))
            continue;
        const struct scn_fault *f = w->faults[i].scn;
        t->faults[n++] = (struct tui_fault){
            f->name, f->target,
            variant >= 0 && variant < f->nvariants && f->nvariants > 1 ? f->variants[variant].name
                                                                       : NULL,
            until == UINT64_MAX ? -1 : (double)until / 1e9 - now_s};
    }
    return n;
}

static void draw(struct tui *t, const struct tui_view *v)
{
    struct world *w = t->src.w;
    struct world_acct outs[WORLD_AGG_OUTPUTS];
    struct world_chaos_cfg cc;
    char spec[WORLD_CHAOS_SPEC_MAX];
    int holding = 0;
    world_chaos_get(w, &cc, &holding);
    world_chaos_format(&cc, spec, sizeof spec);
    double speed = t->src.speed > 0 ? atomic_load(&w->speed) : 0;
    struct tui_head h = {
        .scenario = w->scn->name,
        .run_id = w->run_id,
        .speed = speed,
        .start_ms = t->src.start_ns / 1000000,
        .paused = atomic_load(&w->paused),
        .chaos = cc.enabled ? spec : NULL,
        .chaos_holding = holding,
        .faults = t->faults,
        .nfaults = collect_faults(t, (double)engine_sim_now(t->src.eng) / 1e9),
        .outs = outs,
        .nouts = t->src.agg ? world_agg_accounting(t->src.agg, outs, WORLD_AGG_OUTPUTS) : 0,
        .stopping = atomic_load(&t->stopping),
        .links = t->src.links,
        .nlog = t->nlog,
        .last_log = log_last(t),
    };
    core_buf_reset(&t->frame);
    tui_render(t->seen ? (const char *)t->snap.p : NULL, t->snap.len, &h, t->hist, v, &t->frame);
    size_t off = 0; /* one write unless the terminal takes less (then the rest follows) */
    while (off < t->frame.len && !g_suspended) {
        ssize_t n = write(STDOUT_FILENO, t->frame.p + off, t->frame.len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
}

static void view_now(struct tui_view *v)
{
    struct winsize ws;
    v->width = 80, v->height = 24;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col && ws.ws_row)
        v->width = ws.ws_col, v->height = ws.ws_row;
    v->utf8 = tui_locale_utf8();
    const char *nc = getenv("NO_COLOR"); /* https://no-color.org */
    v->color = !(nc && *nc);
}

/* q or Q stops the run the way Ctrl-C does (through the same handlers). 0 when stdin closed. */
static int keys_read(struct tui *t)
{
    char buf[64];
    ssize_t n = read(t->keys, buf, sizeof buf);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
        return 0;
    for (ssize_t i = 0; i < n; i++)
        if ((buf[i] == 'q' || buf[i] == 'Q') && !cli_stop)
            raise(SIGINT);
    return 1;
}

static int wait_events(struct tui *t)
{
    struct pollfd p[3] = {{t->wake[0], POLLIN, 0}, {t->errp[0], POLLIN, 0}, {t->keys, POLLIN, 0}};
    int redraw = 0;
    if (poll(p, 3, POLL_MS) <= 0)
        return 0;
    if (p[0].revents) {
        char buf[64];
        while (read(t->wake[0], buf, sizeof buf) > 0)
            redraw = 1;
    }
    if (p[1].revents)
        log_read(t);
    if (p[2].revents && !keys_read(t))
        t->keys = -1;
    return redraw;
}

static void *loop(void *arg)
{
    struct tui *t = arg;
    struct tui_view v, was = {0, 0, 0, 0};
    int redraw = 1, stopping = 0;
    while (!atomic_load(&t->stop)) {
        view_now(&v);
        redraw |= catch_up(t) || v.width != was.width || v.height != was.height ||
                  stopping != atomic_load(&t->stopping);
        if (redraw) {
            stopping = atomic_load(&t->stopping);
            draw(t, &v);
            was = v;
        }
        redraw = wait_events(t);
    }
    return NULL;
}

/* ---- start and stop --------------------------------------------------------------------- */
static int pipe_nb(int fds[2])
{
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK))
        return -1;
    return 0;
}

/* No echo, no line buffering (keys reach us one by one), no XON/XOFF; signals stay on, so
 * Ctrl-C is still SIGINT and Ctrl-Z SIGTSTP. */
static void term_raw(struct tui *t)
{
    t->keys = -1;
    g_have_tio = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &g_tio) == 0;
    if (!g_have_tio)
        return;
    g_raw = g_tio;
    g_raw.c_lflag &= (tcflag_t) ~(ECHO | ICANON);
    g_raw.c_iflag &= (tcflag_t)~IXON; /* Ctrl-S would freeze our writes, then stderr's */
    g_raw.c_cc[VMIN] = 1;
    g_raw.c_cc[VTIME] = 0;
    if (tcsetattr(STDIN_FILENO, TCSANOW, &g_raw) == 0)
        t->keys = STDIN_FILENO;
}

/* stderr into the pipe when it is the terminal (a file or a pipe keeps it). */
static void err_capture(struct tui *t)
{
    t->errp[0] = t->errp[1] = t->saved_err = -1;
    if (!isatty(STDERR_FILENO) || pipe_nb(t->errp))
        return;
    fcntl(t->errp[1], F_SETFL, 0); /* writers block rather than lose a message */
    fflush(stderr);
    t->saved_err = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
    if (t->saved_err < 0 || dup2(t->errp[1], STDERR_FILENO) < 0) {
        close(t->errp[0]), close(t->errp[1]);
        if (t->saved_err >= 0)
            close(t->saved_err);
        t->errp[0] = t->errp[1] = t->saved_err = -1;
    }
}

static void err_release(struct tui *t)
{
    if (t->saved_err < 0)
        return;
    fflush(stderr);
    dup2(t->saved_err, STDERR_FILENO);
    close(t->saved_err);
    close(t->errp[1]);
    log_read(t); /* what was written before the switch back */
    close(t->errp[0]);
}

struct tui *tui_start(const struct tui_src *src)
{
    struct tui *t = core_calloc(1, sizeof *t);
    t->src = *src;
    if (pipe_nb(t->wake)) {
        core_free(t);
        return NULL;
    }
    t->hist = tui_hist_new();
    t->faults = core_calloc((size_t)src->w->nfaults + 1, sizeof *t->faults);
    core_buf_init(&t->snap, 4u << 20);
    core_buf_init(&t->frame, FRAME_MAX);
    term_raw(t);
    g_wake = t->wake[1];
    g_active = 1;
    handlers_install();
    ssize_t r = write(STDOUT_FILENO, TUI_ENTER, sizeof TUI_ENTER - 1);
    (void)r;
    err_capture(t);
    if (pthread_create(&t->thread, NULL, loop, t)) {
        tui_stop(t);
        return NULL;
    }
    t->started = 1;
    return t;
}

void tui_stopping(struct tui *t)
{
    if (!t)
        return;
    atomic_store(&t->stopping, 1);
    poke('s');
}

void tui_stop(struct tui *t)
{
    if (!t)
        return;
    atomic_store(&t->stop, 1);
    poke('s');
    if (t->started)
        pthread_join(t->thread, NULL);
    restore_raw();
    handlers_remove();
    g_wake = -1;
    err_release(t);
    log_print(t);
    close(t->wake[0]);
    close(t->wake[1]);
    tui_hist_free(t->hist);
    core_buf_free(&t->snap);
    core_buf_free(&t->frame);
    core_free(t->faults);
    core_free(t);
}
