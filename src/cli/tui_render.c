/* The --tui frame as a pure function: snapshot JSON + head + history + screen size -> bytes.
 *
 * A frame is a sequence of rows, each "move to row N, erase it, draw it", so a frame never
 * depends on what the screen showed before (a resize or a stray message is gone on the next
 * frame) and needs no diffing. Every row is cut at the screen's width counting columns, not
 * bytes: escapes take none, a UTF-8 character one. Text from the scenario (names, states)
 * has its control bytes replaced, so a name cannot move the cursor.
 *
 * The screen, top to bottom: the header; entries and models (rate, errors, p50, p99 and
 * sparklines of the last minute); hosts (coloured by state, the unhealthy first, "+N more"
 * when they do not fit); active faults; outputs' accounting; a footer. When the height is
 * short, every section keeps at least one row and the rest goes to outputs, faults, traffic,
 * hosts in that order. */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/tui.h"

#define HIST_SERIES 512 /* entries + models remembered; more are shown without sparklines */
#define NAME_W 28       /* widest name column */
#define NUM_W 9         /* a number column, with its leading space */
#define SPARK_MIN 8     /* narrower than this: no sparkline */
#define CELL_MAX 34     /* widest host cell */

/* ---- history ---------------------------------------------------------------------------- */
struct series {
    char name[128];
    double rate[TUI_HIST], p99[TUI_HIST]; /* ring, slot = push % TUI_HIST */
};

struct tui_hist {
    struct series *s;
    int n;
    uint64_t pushes;
};

struct tui_hist *tui_hist_new(void)
{
    struct tui_hist *h = core_calloc(1, sizeof *h);
    h->s = core_calloc(HIST_SERIES, sizeof *h->s);
    return h;
}

void tui_hist_free(struct tui_hist *h)
{
    if (!h)
        return;
    core_free(h->s);
    core_free(h);
}

static double num(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static const char *str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static const struct series *hist_find(const struct tui_hist *h, const char *name)
{
    for (int i = 0; h && i < h->n; i++)
        if (!strcmp(h->s[i].name, name))
            return &h->s[i];
    return NULL;
}

static struct series *hist_add(struct tui_hist *h, const char *name)
{
    struct series *s = (struct series *)hist_find(h, name);
    if (s || h->n == HIST_SERIES || strlen(name) >= sizeof s->name)
        return s;
    s = &h->s[h->n++];
    snprintf(s->name, sizeof s->name, "%s", name);
    for (int k = 0; k < TUI_HIST; k++)
        s->rate[k] = s->p99[k] = NAN;
    return s;
}

int tui_hist_push(struct tui_hist *h, const char *json, size_t len)
{
    json_t *root = json_loadb(json, len, 0, NULL);
    if (!json_is_object(root)) {
        json_decref(root);
        return DIO_EINVAL;
    }
    int slot = (int)(h->pushes % TUI_HIST);
    for (int i = 0; i < h->n; i++) /* a source missing from this snapshot: a gap */
        h->s[i].rate[slot] = h->s[i].p99[slot] = NAN;
    static const char *const arrays[] = {"entries", "models"};
    for (int a = 0; a < 2; a++) {
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(root, arrays[a]), i, e)
        {
            struct series *s = hist_add(h, str(e, "name"));
            if (s) {
                s->rate[slot] = num(e, "rate");
                s->p99[slot] = num(e, "p99");
            }
        }
    }
    h->pushes++;
    json_decref(root);
    return 0;
}

/* The last min(pushes, TUI_HIST) values of one series, oldest first. */
static int hist_values(const struct tui_hist *h, const struct series *s, int p99, double *out)
{
    int n = h->pushes < TUI_HIST ? (int)h->pushes : TUI_HIST;
    for (int k = 0; k < n; k++) {
        int slot = (int)((h->pushes - (uint64_t)n + (uint64_t)k) % TUI_HIST);
        out[k] = p99 ? s->p99[slot] : s->rate[slot];
    }
    return n;
}

/* ---- sparklines ------------------------------------------------------------------------- */
static const char *const blocks[8] = {"\u2581", "\u2582", "\u2583", "\u2584",
                                      "\u2585", "\u2586", "\u2587", "\u2588"};
static const char ascii_ramp[8] = {'_', '.', '-', '~', '=', '+', '*', '#'};

void tui_spark(const double *vals, int n, int cols, int utf8, struct core_buf *out)
{
    int k = n < cols ? n : cols;
    const double *v = vals + (n - k);
    double max = 0;
    for (int i = 0; i < k; i++)
        if (isfinite(v[i]) && v[i] > max)
            max = v[i];
    for (int i = k; i < cols; i++)
        core_buf_putc(out, ' ');
    for (int i = 0; i < k; i++) {
        if (!isfinite(v[i])) {
            core_buf_putc(out, ' ');
            continue;
        }
        int lvl = max > 0 && v[i] > 0 ? (int)(v[i] / max * 7 + 0.5) : 0;
        lvl = lvl < 0 ? 0 : lvl > 7 ? 7 : lvl;
        if (utf8)
            core_buf_puts(out, blocks[lvl]);
        else
            core_buf_putc(out, ascii_ramp[lvl]);
    }
}

/* ---- rows ------------------------------------------------------------------------------- */
struct frame {
    struct core_buf *b;
    const struct tui_view *v;
    int width, height, row;
};

struct line {
    struct frame *f;
    int col;
};

static void line_begin(struct frame *f, struct line *l)
{
    core_buf_printf(f->b, "\033[%d;1H\033[2K", ++f->row);
    l->f = f;
    l->col = 0;
}

static void line_end(struct line *l)
{
    if (l->f->v->color)
        core_buf_puts(l->f->b, "\033[0m");
}

static void sgr(struct line *l, const char *code)
{
    if (l->f->v->color)
        core_buf_printf(l->f->b, "\033[%sm", code);
}

/* Length of the UTF-8 sequence led by c (1 for a stray continuation or invalid byte). */
static int seq_len(unsigned char c)
{
    return c >= 0xf0 && c < 0xf8 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
}

/* Appends at most `max` columns of s; returns the columns used. Control bytes and C1
 * controls (U+0080..U+009F: some terminals take U+009B as CSI) become '?', and so does any
 * non-ASCII character when the terminal is not UTF-8. */
static int put_cols(struct line *l, const char *s, int max)
{
    int used = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p && used < max && l->col < l->f->width) {
        int n = *p < 0x80 ? 1 : seq_len(*p);
        int ok = n > 1 && l->f->v->utf8 && !(p[0] == 0xc2 && p[1] < 0xa0); /* not C1 (CSI) */
        for (int k = 1; ok && k < n; k++)
            ok = (p[k] & 0xc0) == 0x80;
        if (*p < 0x20 || *p == 0x7f || (*p >= 0x80 && !ok))
            core_buf_putc(l->f->b, '?');
        else
            core_buf_append(l->f->b, p, (size_t)n);
        for (int k = 0; k < n && *p; k++) /* skip the sequence, never past the NUL */
            p++;
        used++, l->col++;
    }
    return used;
}

static void put(struct line *l, const char *s)
{
    put_cols(l, s, l->f->width);
}

static int text_cols(const char *s)
{
    int n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        n += (*p & 0xc0) != 0x80;
    return n;
}

/* s in a field of exactly w columns: cut with an ellipsis, padded on the right (or the left
 * when right-aligned). */
static void put_field(struct line *l, const char *s, int w, int right)
{
    int n = text_cols(s);
    if (n > w && w > 1) {
        put_cols(l, s, w - 1);
        put(l, l->f->v->utf8 ? "\u2026" : "~");
        return;
    }
    for (int i = n; right && i < w; i++)
        put(l, " ");
    put_cols(l, s, w);
    for (int i = n; !right && i < w; i++)
        put(l, " ");
}

static void putf(struct line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct line *l, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    put(l, tmp);
}

/* ---- numbers ---------------------------------------------------------------------------- */
static void fmt_rate(double v, char *out, size_t n)
{
    if (!isfinite(v))
        snprintf(out, n, "-");
    else if (v < 10)
        snprintf(out, n, "%.2f", v);
    else if (v < 1e4)
        snprintf(out, n, "%.1f", v);
    else if (v < 1e7)
        snprintf(out, n, "%.1fk", v / 1e3);
    else
        snprintf(out, n, "%.1fM", v / 1e6);
}

static void fmt_ms(double v, char *out, size_t n)
{
    if (!isfinite(v))
        snprintf(out, n, "-");
    else if (v < 10)
        snprintf(out, n, "%.2fms", v);
    else if (v < 1000)
        snprintf(out, n, "%.0fms", v);
    else
        snprintf(out, n, "%.2fs", v / 1e3);
}

static void fmt_secs(double s, char *out, size_t n)
{
    if (s < 0)
        s = 0;
    uint64_t t = (uint64_t)(s + 0.5);
    if (t >= 3600)
        snprintf(out, n, "%lluh%02llum", (unsigned long long)(t / 3600),
                 (unsigned long long)(t / 60 % 60));
    else if (t >= 60)
        snprintf(out, n, "%llum%02llus", (unsigned long long)(t / 60),
                 (unsigned long long)(t % 60));
    else
        snprintf(out, n, "%llus", (unsigned long long)t);
}

/* ---- header and footer ------------------------------------------------------------------ */
static void header(struct frame *f, const json_t *root, const struct tui_head *h)
{
    struct line l;
    line_begin(f, &l);
    sgr(&l, "7");
    putf(&l, " diorama  %s  run %s  speed ", h->scenario ? h->scenario : "?",
         h->run_id ? h->run_id : "?");
    if (h->speed > 0)
        putf(&l, "%gx", h->speed);
    else
        put(&l, "max");
    double t = num(root, "t");
    if (isfinite(t) && t >= 0) {
        char when[40], off[24];
        time_t secs = (time_t)(t / 1000);
        struct tm tm;
        gmtime_r(&secs, &tm);
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
        fmt_secs((t - (double)h->start_ms) / 1e3, off, sizeof off);
        putf(&l, "  sim %sZ (+%s)", when, off);
    }
    if (h->paused)
        put(&l, "  PAUSED");
    if (h->chaos)
        putf(&l, "  chaos %s (%d holding)", h->chaos, h->chaos_holding);
    while (l.col < f->width)
        put(&l, " ");
    line_end(&l);
}

static void footer(struct frame *f, const struct tui_head *h)
{
    struct line l;
    f->row = f->height - 1;
    line_begin(f, &l);
    sgr(&l, "2");
    put(&l, h->stopping ? " stopping: flushing the outputs..." : " q or Ctrl-C: stop");
    if (h->links && *h->links)
        putf(&l, "  |  %s", h->links);
    if (h->nlog)
        putf(&l, "  |  %llu message%s (printed on exit): %s", (unsigned long long)h->nlog,
             h->nlog == 1 ? "" : "s", h->last_log ? h->last_log : "");
    line_end(&l);
}

static void title(struct frame *f, const char *text, const char *more)
{
    struct line l;
    line_begin(f, &l);
    sgr(&l, "1");
    put(&l, text);
    sgr(&l, "0");
    if (more)
        put(&l, more);
    line_end(&l);
}

static void more_line(struct frame *f, int n)
{
    struct line l;
    line_begin(f, &l);
    sgr(&l, "2");
    putf(&l, "  +%d more", n);
    line_end(&l);
}

/* ---- entries and models ----------------------------------------------------------------- */
struct cols {
    int name, p50, sparks, spark_w; /* p50: shown; sparks: 0, 1 (p99) or 2 (rate and p99) */
    /* name: at least "ENTRY/MODEL", at most NAME_W */
};

static struct cols columns(int width, int longest)
{
    struct cols c = {longest < 11 ? 11 : longest > NAME_W ? NAME_W : longest, width >= 60, 0, 0};
    int fixed = NUM_W * (3 + c.p50);
    if (c.name + fixed > width) /* narrow: the name gives way first, down to 8 columns */
        c.name = width - fixed > 8 ? width - fixed : 8;
    int left = width - c.name - fixed - 2;
    if (left >= 2 * 30 + 2)
        c.sparks = 2, c.spark_w = (left - 2) / 2 < TUI_HIST ? (left - 2) / 2 : TUI_HIST;
    else if (left >= SPARK_MIN)
        c.sparks = 1, c.spark_w = left < TUI_HIST ? left : TUI_HIST;
    return c;
}

static void num_field(struct line *l, double v, int ms, const char *colour)
{
    char t[32];
    (ms ? fmt_ms : fmt_rate)(v, t, sizeof t);
    if (colour)
        sgr(l, colour);
    put_field(l, t, NUM_W, 1);
    if (colour)
        sgr(l, "0");
}

static void source_row(struct frame *f, const struct cols *c, const json_t *e,
                       const struct tui_hist *h)
{
    struct line l;
    line_begin(f, &l);
    put_field(&l, str(e, "name"), c->name, 0);
    double err = num(e, "errors");
    num_field(&l, num(e, "rate"), 0, NULL);
    num_field(&l, err, 0, isfinite(err) && err > 0 ? "31" : NULL);
    if (c->p50)
        num_field(&l, num(e, "p50"), 1, NULL);
    num_field(&l, num(e, "p99"), 1, NULL);
    const struct series *s = hist_find(h, str(e, "name"));
    double vals[TUI_HIST];
    struct core_buf sp;
    core_buf_init(&sp, 4 * TUI_HIST + 16);
    for (int k = c->sparks == 2 ? 0 : 1; k < 2 && c->sparks; k++) {
        int n = s ? hist_values(h, s, k, vals) : 0;
        core_buf_reset(&sp);
        tui_spark(vals, n, c->spark_w, f->v->utf8, &sp);
        core_buf_putc(&sp, 0);
        put(&l, "  ");
        sgr(&l, k ? "35" : "36");
        put(&l, (const char *)sp.p);
        sgr(&l, "0");
    }
    core_buf_free(&sp);
    line_end(&l);
}

static void sources_head(struct frame *f, const struct cols *c)
{
    struct line l;
    line_begin(f, &l);
    sgr(&l, "1");
    put_field(&l, "ENTRY/MODEL", c->name, 0);
    put_field(&l, "RATE/s", NUM_W, 1);
    put_field(&l, "ERR/s", NUM_W, 1);
    if (c->p50)
        put_field(&l, "P50", NUM_W, 1);
    put_field(&l, "P99", NUM_W, 1);
    static const char *const what[2] = {"rate", "p99"};
    for (int k = c->sparks == 2 ? 0 : 1; k < 2 && c->sparks; k++) {
        char t[64];
        snprintf(t, sizeof t, "%s, last %ds", what[k], c->spark_w);
        put(&l, "  ");
        put_field(&l, t, c->spark_w, 0);
    }
    line_end(&l);
}

static void sources(struct frame *f, const json_t *root, const struct tui_hist *h, int rows)
{
    const json_t *arr[2] = {json_object_get(root, "entries"), json_object_get(root, "models")};
    int total = (int)(json_array_size(arr[0]) + json_array_size(arr[1])), longest = 0;
    for (int a = 0; a < 2; a++) {
        size_t i;
        const json_t *e;
        json_array_foreach(arr[a], i, e)
        {
            int n = text_cols(str(e, "name"));
            longest = n > longest ? n : longest;
        }
    }
    struct cols c = columns(f->width, longest);
    sources_head(f, &c);
    int shown = total <= rows ? total : rows - 1;
    for (int a = 0, k = 0; a < 2; a++)
        for (size_t i = 0; i < json_array_size(arr[a]) && k < shown; i++, k++)
            source_row(f, &c, json_array_get(arr[a], i), h);
    if (total == 0)
        title(f, "", "  no traffic sources");
    else if (shown < total)
        more_line(f, total - shown);
}

/* ---- hosts ------------------------------------------------------------------------------ */
struct host {
    const char *name, *state;
    double cpu;
    int rank, idx;
};

/* Unhealthy first: they are what a watcher looks for, and "+N more" hides the healthy. */
static int state_rank(const char *s)
{
    return !strcmp(s, "critical") ? 0 : !strcmp(s, "healthy") ? 3 : !strcmp(s, "degrading") ? 2 : 1;
}

static const char *state_colour(const char *s)
{
    static const char *const c[4] = {"31", "35", "33", "32"};
    return c[state_rank(s)];
}

static int host_cmp(const void *a, const void *b)
{
    const struct host *x = a, *y = b;
    return x->rank != y->rank ? x->rank - y->rank : x->idx - y->idx;
}

static void host_text(const struct host *h, char *out, size_t n)
{
    if (h->rank == 3)
        snprintf(out, n, "%s %.0f%%", h->name, isfinite(h->cpu) ? h->cpu * 100 : 0);
    else
        snprintf(out, n, "%s %.0f%% %s", h->name, isfinite(h->cpu) ? h->cpu * 100 : 0, h->state);
}

static int hosts_load(const json_t *root, struct host **out)
{
    const json_t *arr = json_object_get(root, "hosts");
    int n = (int)json_array_size(arr);
    struct host *hs = core_calloc((size_t)n + 1, sizeof *hs);
    for (int i = 0; i < n; i++) {
        const json_t *e = json_array_get(arr, (size_t)i);
        hs[i] = (struct host){str(e, "name"), str(e, "state"), num(e, "cpu"), 0, i};
        hs[i].rank = state_rank(hs[i].state);
    }
    qsort(hs, (size_t)n, sizeof *hs, host_cmp);
    *out = hs;
    return n;
}

/* Cells of the same width, as many per row as fit. */
static int host_cell_w(const struct host *hs, int n, int width)
{
    int w = 4;
    for (int i = 0; i < n; i++) {
        char t[300];
        host_text(&hs[i], t, sizeof t);
        int c = text_cols(t);
        w = c > w ? c : w;
    }
    w = (w > CELL_MAX ? CELL_MAX : w) + 2;
    return w > width ? width : w;
}

static int hosts_rows(const json_t *root, int width)
{
    struct host *hs;
    int n = hosts_load(root, &hs);
    int per = width / host_cell_w(hs, n, width);
    core_free(hs);
    per = per < 1 ? 1 : per;
    return n ? (n + per - 1) / per : 1;
}

static void hosts_title(struct frame *f, const struct host *hs, int n)
{
    int bad[3] = {0, 0, 0};
    for (int i = 0; i < n; i++)
        if (hs[i].rank < 3)
            bad[hs[i].rank]++;
    char t[160];
    snprintf(t, sizeof t, "  %d", n);
    if (bad[0] || bad[1] || bad[2])
        snprintf(t + strlen(t), sizeof t - strlen(t), " (%d critical, %d degrading, %d other)",
                 bad[0], bad[2], bad[1]);
    title(f, "HOSTS", t);
}

static void hosts(struct frame *f, const json_t *root, int rows)
{
    struct host *hs;
    int n = hosts_load(root, &hs);
    hosts_title(f, hs, n);
    int cw = host_cell_w(hs, n, f->width), per = f->width / cw;
    per = per < 1 ? 1 : per;
    int cap = rows * per, shown = n <= cap ? n : cap - 1;
    struct line l = {f, 0};
    for (int i = 0; i < shown || (i == 0 && n == 0); i++) {
        if (i % per == 0) {
            if (i)
                line_end(&l);
            line_begin(f, &l);
        }
        if (n == 0) {
            put(&l, "  no hosts");
            break;
        }
        char t[300];
        host_text(&hs[i], t, sizeof t);
        sgr(&l, state_colour(hs[i].state));
        put_field(&l, t, cw - 2, 0);
        sgr(&l, "0");
        put(&l, "  ");
    }
    if (shown < n) {
        if (shown % per == 0) {
            if (shown)
                line_end(&l);
            line_begin(f, &l);
        }
        sgr(&l, "2");
        putf(&l, "+%d more", n - shown);
    }
    line_end(&l);
    core_free(hs);
}

/* ---- faults and outputs ----------------------------------------------------------------- */
static void faults(struct frame *f, const struct tui_head *h, int rows)
{
    char t[64];
    snprintf(t, sizeof t, "  %d active", h->nfaults);
    title(f, "FAULTS", t);
    int shown = h->nfaults <= rows ? h->nfaults : rows - 1;
    for (int i = 0; i < shown; i++) {
        const struct tui_fault *x = &h->faults[i];
        struct line l;
        line_begin(f, &l);
        sgr(&l, "31");
        putf(&l, "  %s", x->name);
        sgr(&l, "0");
        putf(&l, " -> %s", x->target ? x->target : "?");
        if (x->variant)
            putf(&l, "  variant %s", x->variant);
        if (x->left_s < 0)
            put(&l, "  until stopped");
        else {
            fmt_secs(x->left_s, t, sizeof t);
            putf(&l, "  ends in %s", t);
        }
        line_end(&l);
    }
    if (shown < h->nfaults)
        more_line(f, h->nfaults - shown);
}

static void output_row(struct frame *f, const char *name, const uint64_t v[5], int head)
{
    static const char *const names[5] = {"GENERATED", "DELIVERED", "DROPPED", "TIMED_OUT",
                                         "IN_FLIGHT"};
    struct line l;
    line_begin(f, &l);
    sgr(&l, head ? "1" : "0");
    put_field(&l, name, 16, 0);
    for (int k = 0; k < 5; k++) {
        char t[32];
        snprintf(t, sizeof t, "%llu", head ? 0ULL : (unsigned long long)v[k]);
        int bad = !head && (k == 2 || k == 3) && v[k];
        if (bad)
            sgr(&l, "31");
        put_field(&l, head ? names[k] : t, 12, 1);
        if (bad)
            sgr(&l, "0");
    }
    line_end(&l);
}

static void outputs(struct frame *f, const struct tui_head *h, int rows)
{
    output_row(f, "OUTPUT", NULL, 1);
    int shown = h->nouts <= rows ? h->nouts : rows - 1;
    for (int i = 0; i < shown; i++) {
        const struct world_acct *o = &h->outs[i];
        uint64_t v[5] = {o->generated, o->delivered, o->dropped, o->timed_out, o->in_flight};
        output_row(f, o->name, v, 0);
    }
    if (h->nouts == 0)
        title(f, "", "  no push outputs");
    else if (shown < h->nouts)
        more_line(f, h->nouts - shown);
}

/* ---- layout ----------------------------------------------------------------------------- */
enum { SEC_SOURCES, SEC_HOSTS, SEC_FAULTS, SEC_OUTPUTS, NSEC };

/* Rows for each section's body: one each, then what they want in the order below. */
static void layout(int avail, const int want[NSEC], int got[NSEC])
{
    static const int order[NSEC] = {SEC_OUTPUTS, SEC_FAULTS, SEC_SOURCES, SEC_HOSTS};
    for (int s = 0; s < NSEC; s++)
        got[s] = 1;
    avail -= NSEC;
    for (int k = 0; k < NSEC && avail > 0; k++) {
        int s = order[k], more = want[s] - got[s];
        more = more < avail ? more : avail;
        if (more > 0)
            got[s] += more, avail -= more;
    }
}

static void body(struct frame *f, const json_t *root, const struct tui_head *h,
                 const struct tui_hist *hist)
{
    int nsrc = (int)(json_array_size(json_object_get(root, "entries")) +
                     json_array_size(json_object_get(root, "models")));
    int want[NSEC] = {nsrc ? nsrc : 1, hosts_rows(root, f->width), h->nfaults ? h->nfaults : 1,
                      h->nouts ? h->nouts : 1};
    int got[NSEC];
    /* rows for bodies: all but the header, the footer and one title row per section */
    layout(f->height - 2 - NSEC, want, got);
    sources(f, root, hist, got[SEC_SOURCES]);
    hosts(f, root, got[SEC_HOSTS]);
    faults(f, h, got[SEC_FAULTS]);
    outputs(f, h, got[SEC_OUTPUTS]);
}

static int too_small(struct frame *f)
{
    struct line l;
    f->width = f->width < 1 ? 1 : f->width;
    core_buf_puts(f->b, "\033[H\033[2J");
    f->row = 0;
    line_begin(f, &l);
    putf(&l, "terminal too small: %dx%d (--tui needs %dx%d)", f->v->width, f->v->height, TUI_MIN_W,
         TUI_MIN_H);
    line_end(&l);
    return 0;
}

int tui_render(const char *json, size_t len, const struct tui_head *head,
               const struct tui_hist *hist, const struct tui_view *v, struct core_buf *out)
{
    struct frame f = {out, v, v->width < TUI_MAX_W ? v->width : TUI_MAX_W,
                      v->height < TUI_MAX_H ? v->height : TUI_MAX_H, 0};
    if (f.width < TUI_MIN_W || f.height < TUI_MIN_H)
        return too_small(&f);
    json_t *root = json ? json_loadb(json, len, 0, NULL) : NULL;
    if (!json_is_object(root)) {
        json_decref(root);
        root = json_object(); /* an empty snapshot: the header and the sections' titles */
    }
    header(&f, root, head);
    if (!json) {
        struct line l;
        line_begin(&f, &l);
        put(&l, " waiting for the first snapshot (one a second)...");
        line_end(&l);
    } else {
        body(&f, root, head, hist);
    }
    core_buf_puts(out, "\033[J"); /* below the last row: whatever a taller frame left */
    footer(&f, head);
    json_decref(root);
    return core_buf_reserve(out, 64) ? DIO_EFULL : 0; /* an append failed near the cap */
}
