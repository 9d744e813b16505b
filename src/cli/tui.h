#ifndef DIORAMA_CLI_TUI_H
#define DIORAMA_CLI_TUI_H
/* --tui: a full-screen live view of a run on a terminal (docs/cli.md, "--tui").
 *
 * Two halves. tui_render.c is a pure function: one aggregate snapshot (the AGG JSON of
 * docs/control-api.md), what the world says now (tui_head), the last minute of snapshots
 * (tui_hist) and the screen's size -> the bytes of one frame (ANSI escapes, no curses).
 * tui.c owns the terminal: alternate screen, hidden cursor, no echo, SIGWINCH, stderr held
 * back while the screen is up, and a thread that draws a frame with one write(2) per new
 * snapshot. */
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "world/world.h"

#define TUI_HIST 60  /* seconds of history behind a sparkline */
#define TUI_MIN_W 30 /* below this width or height: "terminal too small" */
#define TUI_MIN_H 10
#define TUI_MAX_W 1000 /* larger screens are drawn at this size (bounds a frame's bytes) */
#define TUI_MAX_H 500

/* ---- history (the last TUI_HIST snapshots' rate and p99 per entry/model) ---------------- */
struct tui_hist;
struct tui_hist *tui_hist_new(void);
void tui_hist_free(struct tui_hist *h);
/* Adds one snapshot; text that is not an AGG object is ignored (DIO_EINVAL). */
int tui_hist_push(struct tui_hist *h, const char *json, size_t len);

/* ---- what the snapshot does not say ----------------------------------------------------- */
struct tui_fault {
    const char *name, *target, *variant;
    double left_s; /* simulated seconds until it ends; < 0: until stopped */
};

struct tui_head {
    const char *scenario, *run_id;
    double speed;      /* 0: max */
    uint64_t start_ms; /* the run's simulated start (unix ms) */
    int paused;
    const char *chaos; /* the scheduler's spec, NULL when off */
    int chaos_holding;
    const struct tui_fault *faults;
    int nfaults;
    const struct world_acct *outs; /* per output; names as export_output_name */
    int nouts;
    int stopping;         /* the run is ending (flushing outputs) */
    const char *links;    /* the run's endpoints (the banner is hidden behind the screen) */
    uint64_t nlog;        /* messages held back while the screen is up */
    const char *last_log; /* the last of them, or NULL */
};

struct tui_view {
    int width, height;
    int utf8;  /* block-character sparklines; else an ASCII ramp */
    int color; /* SGR colours; else plain text (NO_COLOR) */
};

/* One frame into out (appended): the whole screen from the top-left corner. json NULL (no
 * snapshot yet) draws the header and a waiting line. 0, or DIO_EFULL when out's cap cut it. */
int tui_render(const char *json, size_t len, const struct tui_head *head,
               const struct tui_hist *hist, const struct tui_view *v, struct core_buf *out);
/* One sparkline of vals[0..n) (oldest first; NaN: no data, drawn as a space) scaled 0..the
 * largest value, in `cols` columns (the newest at the right). Exposed for tests. */
void tui_spark(const double *vals, int n, int cols, int utf8, struct core_buf *out);

/* The escapes that enter and leave the full-screen mode (tests look for them). */
#define TUI_ENTER "\033[?1049h\033[?25l\033[H\033[2J"
#define TUI_LEAVE "\033[0m\033[?25h\033[?1049l"

/* ---- the terminal (tui.c) --------------------------------------------------------------- */
/* 0 when --tui can be used (stdout is a terminal, TERM is not "dumb"), else DIO_EINVAL with
 * err saying why. */
int tui_usable(char *err, size_t n);
/* The locale's character set is UTF-8 (LC_ALL, else LC_CTYPE, else LANG). */
int tui_locale_utf8(void);

struct engine;
struct tui_src {
    struct world *w;
    struct world_agg *agg;
    const struct engine *eng;
    uint64_t start_ns; /* the run's simulated start */
    double speed;      /* the run's --speed (0: max) */
    const char *links; /* endpoints for the footer ("console http://..."), or NULL */
};
/* Enters the alternate screen and starts drawing. NULL when the terminal could not be set
 * up (nothing changed then). */
struct tui *tui_start(const struct tui_src *src);
/* The run is ending: the next frames say so. */
void tui_stopping(struct tui *t);
/* Leaves the alternate screen, restores the terminal and stderr, then prints the messages
 * held back. NULL is a no-op. */
void tui_stop(struct tui *t);

#endif
