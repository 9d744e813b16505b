/* The --tui frame renderer as a pure function (cli/tui.h): an AGG snapshot + head + history +
 * screen size -> bytes. Each frame is replayed on a small virtual terminal (cursor moves,
 * erases, SGR, UTF-8 text) to check what a user would see: no row wider than the screen at
 * 40/80/200 columns, no row below the screen, sparkline scaling, the ASCII fallback, a colour
 * per host state, "+N more", "terminal too small", scenario text unable to send escapes. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cli/tui.h"

/* ---- a virtual terminal ----------------------------------------------------------------- */
#define VT_ROWS 64
#define VT_BYTES 8192

struct vt {
    int w, h;
    char text[VT_ROWS][VT_BYTES]; /* what each row shows, escapes removed */
    int cols[VT_ROWS];
    int maxrow, overflow, badrow;
};

/* Replays a frame: CSI r;c H moves, CSI 2K / K / J erase, CSI ... m is colour; anything
 * else is text (one column per UTF-8 character). */
static void vt_play(struct vt *v, const struct core_buf *b, int w, int h)
{
    memset(v, 0, sizeof *v);
    v->w = w, v->h = h;
    int row = 0;
    for (size_t i = 0; i < b->len;) {
        const char *p = (const char *)b->p + i;
        if (p[0] == 033 && p[1] == '[') {
            size_t k = 2;
            while (i + k < b->len && !(p[k] >= 0x40 && p[k] <= 0x7e))
                k++;
            int r = 1, c = 1;
            if (p[k] == 'H' && sscanf(p + 2, "%d;%d", &r, &c) >= 1)
                row = r - 1;
            else if (p[k] == 'H')
                row = 0;
            if (p[k] == 'K' && row < VT_ROWS)
                v->text[row][0] = 0, v->cols[row] = 0;
            if (row >= h || r > h || c != 1)
                v->badrow = 1;
            v->maxrow = row > v->maxrow ? row : v->maxrow;
            i += k + 1;
            continue;
        }
        assert_true(row < VT_ROWS);
        size_t len = strlen(v->text[row]);
        if (len + 1 < VT_BYTES)
            v->text[row][len] = p[0], v->text[row][len + 1] = 0;
        if (((unsigned char)p[0] & 0xc0) != 0x80 && ++v->cols[row] > w)
            v->overflow = 1;
        i++;
    }
}

/* The frame as a C string (the NUL is not part of the frame). */
static const char *cstr(struct core_buf *b)
{
    core_buf_putc(b, 0);
    b->len--;
    return (const char *)b->p;
}

/* Any SGR (ESC [ digits/semicolons m) in the frame. */
static int has_sgr(const char *s)
{
    for (; (s = strstr(s, "\033[")); s++) {
        size_t k = 2 + strspn(s + 2, "0123456789;");
        if (s[k] == 'm')
            return 1;
    }
    return 0;
}

static int vt_find(const struct vt *v, const char *s)
{
    for (int r = 0; r < v->h && r < VT_ROWS; r++)
        if (strstr(v->text[r], s))
            return r;
    return -1;
}

/* ---- fixtures --------------------------------------------------------------------------- */
static const char snap[] =
    "{\"t\":1767225630000,\"wall\":1,"
    "\"entries\":[{\"name\":\"frontend/GET /checkout/with/a/very/long/path\",\"rate\":123.4,"
    "\"errors\":1.5,\"p50\":12.5,\"p99\":250},"
    "{\"name\":\"cart/POST /add\",\"rate\":50,\"errors\":0,\"p50\":3,\"p99\":9.5}],"
    "\"models\":[{\"name\":\"gpt-4\",\"rate\":2,\"errors\":0,\"p50\":800,\"p99\":2100,"
    "\"gpu\":0.5}],"
    "\"hosts\":[{\"name\":\"web-1\",\"state\":\"healthy\",\"cpu\":0.2,\"mem\":1,\"gpu\":null},"
    "{\"name\":\"ppdb002\",\"state\":\"degrading\",\"cpu\":0.7,\"mem\":1,\"gpu\":null},"
    "{\"name\":\"ppdb003\",\"state\":\"critical\",\"cpu\":0.95,\"mem\":1,\"gpu\":null}],"
    "\"accounting\":{\"generated\":10,\"delivered\":9,\"dropped\":1,\"timed_out\":0,"
    "\"in_flight\":0}}";

static const struct world_acct outs[] = {{"otlp_http", 100, 90, 7, 3, 0}, {"null", 5, 5, 0, 0, 0}};
static const struct tui_fault faults[] = {{"slow-db", "ppdb002", "50%", 83},
                                          {"gpu-hog", "gpt-4", NULL, -1}};

static struct tui_head head(void)
{
    struct tui_head h = {.scenario = "fleet",
                         .run_id = "abc123",
                         .speed = 10,
                         .start_ms = 1767225600000ULL,
                         .paused = 1,
                         .chaos = "every=10m,hold=1m-3m,max=2",
                         .chaos_holding = 1,
                         .faults = faults,
                         .nfaults = 2,
                         .outs = outs,
                         .nouts = 2};
    return h;
}

static void render(const char *json, const struct tui_head *h, const struct tui_hist *hist, int w,
                   int ht, int utf8, int color, struct core_buf *b, struct vt *v)
{
    struct tui_view view = {w, ht, utf8, color};
    core_buf_reset(b);
    assert_int_equal(tui_render(json, json ? strlen(json) : 0, h, hist, &view, b), 0);
    vt_play(v, b, w, ht);
    assert_false(v->overflow);
    assert_false(v->badrow);
    assert_true(v->maxrow < ht);
}

/* ---- tests ------------------------------------------------------------------------------ */
static void test_widths(void **state)
{
    (void)state;
    static struct vt v;
    struct core_buf b;
    core_buf_init(&b, 1 << 22);
    struct tui_head h = head();
    struct tui_hist *hist = tui_hist_new();
    for (int i = 0; i < 70; i++)
        assert_int_equal(tui_hist_push(hist, snap, strlen(snap)), 0);
    static const int widths[] = {40, 80, 200};
    for (int k = 0; k < 3; k++) {
        render(snap, &h, hist, widths[k], 30, 1, 1, &b, &v);
        assert_true(vt_find(&v, "fleet") == 0);
        assert_true(vt_find(&v, "cart/POST") > 0);
        assert_true(vt_find(&v, "123.4") > 0);
        assert_true(vt_find(&v, "gpt-4") > 0);
        assert_true(vt_find(&v, "ppdb003") > 0);
        assert_true(vt_find(&v, "otlp_http") > 0);
        /* the long name is cut with an ellipsis everywhere (NAME_W is 28) */
        assert_true(vt_find(&v, "frontend/GET /checkout/with/a/very/long/path") < 0);
        assert_true(vt_find(&v, "frontend/GET") > 0);
    }
    /* 40: no p50 column, no sparkline; 80: p99's; 200: rate's and p99's, a minute each */
    render(snap, &h, hist, 40, 30, 1, 1, &b, &v);
    assert_true(vt_find(&v, "P50") < 0 && vt_find(&v, "last") < 0);
    render(snap, &h, hist, 80, 30, 1, 1, &b, &v);
    assert_true(vt_find(&v, "P50") > 0 && vt_find(&v, "p99, last") > 0);
    assert_true(vt_find(&v, "rate, last") < 0);
    render(snap, &h, hist, 200, 30, 1, 1, &b, &v);
    assert_true(vt_find(&v, "rate, last 60s") > 0 && vt_find(&v, "p99, last 60s") > 0);
    /* the header: speed, simulated time and offset, paused, chaos */
    assert_non_null(strstr(v.text[0], "speed 10x"));
    assert_non_null(strstr(v.text[0], "sim 2026-01-01 00:00:30Z (+30s)"));
    assert_non_null(strstr(v.text[0], "PAUSED"));
    assert_non_null(strstr(v.text[0], "chaos every=10m,hold=1m-3m,max=2 (1 holding)"));
    /* faults and outputs */
    int r = vt_find(&v, "slow-db");
    assert_true(r > 0);
    assert_non_null(strstr(v.text[r], "-> ppdb002  variant 50%  ends in 1m23s"));
    assert_non_null(strstr(v.text[vt_find(&v, "gpu-hog")], "until stopped"));
    assert_non_null(strstr(v.text[vt_find(&v, "otlp_http")], "100          90           7"));
    tui_hist_free(hist);
    core_buf_free(&b);
}

static void test_spark(void **state)
{
    (void)state;
    struct core_buf b;
    core_buf_init(&b, 4096);
    double ramp[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    tui_spark(ramp, 8, 8, 1, &b);
    core_buf_putc(&b, 0);
    assert_string_equal((char *)b.p, "▁▂▃▄▅▆▇█");
    /* scaled to the largest shown value, not to an absolute */
    double x[2] = {500, 1000};
    core_buf_reset(&b);
    tui_spark(x, 2, 2, 1, &b);
    core_buf_putc(&b, 0);
    assert_string_equal((char *)b.p, "▅█");
    /* fewer values than columns: padded on the left; NaN is a gap; all zero is the floor */
    double g[3] = {1, NAN, 0};
    core_buf_reset(&b);
    tui_spark(g, 3, 5, 1, &b);
    core_buf_putc(&b, 0);
    assert_string_equal((char *)b.p, "  █ ▁");
    double z[3] = {0, 0, 0};
    core_buf_reset(&b);
    tui_spark(z, 3, 3, 0, &b);
    core_buf_putc(&b, 0);
    assert_string_equal((char *)b.p, "___");
    /* more values than columns: the newest; the scale is that of the shown ones */
    double m[10] = {1000, 1000, 0, 1, 2, 3, 4, 5, 6, 7};
    core_buf_reset(&b);
    tui_spark(m, 10, 8, 0, &b);
    core_buf_putc(&b, 0);
    assert_string_equal((char *)b.p, "_.-~=+*#");
    core_buf_free(&b);
}

/* Seventy snapshots of a rising rate: the sparkline holds the last minute, newest right. */
static void test_history(void **state)
{
    (void)state;
    static struct vt v;
    struct core_buf b;
    char js[256];
    core_buf_init(&b, 1 << 22);
    struct tui_hist *hist = tui_hist_new();
    for (int i = 0; i < 70; i++) {
        snprintf(js, sizeof js,
                 "{\"t\":1767225600000,\"entries\":[{\"name\":\"a/b\",\"rate\":%d,\"errors\":0,"
                 "\"p50\":1,\"p99\":%d}],\"models\":[],\"hosts\":[]}",
                 i, i < 66 ? 7 : 70);
        assert_int_equal(tui_hist_push(hist, js, strlen(js)), 0);
    }
    assert_int_equal(tui_hist_push(hist, "not json", 8), DIO_EINVAL);
    struct tui_head h = head();
    render(js, &h, hist, 200, 30, 0, 0, &b, &v);
    int r = vt_find(&v, "a/b");
    assert_true(r > 0);
    /* rate 10..69 over 60 columns, scaled to 69: '.' (10/69) up to '#'; p99 is 7 (a tenth
     * of the top: '.') then 70 for the last four */
    assert_non_null(strstr(v.text[r], "  .....-----"));
    assert_non_null(strstr(v.text[r], "**#####  ....."));
    assert_non_null(strstr(v.text[r], ".....####"));
    assert_null(strstr(v.text[r], ".....#####"));
    tui_hist_free(hist);
    core_buf_free(&b);
}

static void test_ascii(void **state)
{
    (void)state;
    static struct vt v;
    struct core_buf b;
    core_buf_init(&b, 1 << 22);
    struct tui_head h = head();
    struct tui_hist *hist = tui_hist_new();
    static const char js[] =
        "{\"t\":1767225630000,\"entries\":[{\"name\":\"caf\xc3\xa9/GET\",\"rate\":1,"
        "\"errors\":0,\"p50\":1,\"p99\":2}],\"models\":[],"
        "\"hosts\":[{\"name\":\"h\xc3\xa9\",\"state\":\"healthy\",\"cpu\":0.1}]}";
    for (int i = 0; i < 3; i++)
        tui_hist_push(hist, js, strlen(js));
    render(js, &h, hist, 120, 30, 0, 1, &b, &v);
    for (size_t i = 0; i < b.len; i++)
        assert_true(b.p[i] < 0x80); /* nothing a C/POSIX terminal cannot show */
    assert_true(vt_find(&v, "caf?/GET") > 0);
    assert_true(vt_find(&v, "###") > 0);
    render(js, &h, hist, 120, 30, 1, 1, &b, &v);
    assert_true(vt_find(&v, "café/GET") > 0);
    assert_true(vt_find(&v, "███") > 0);
    tui_hist_free(hist);
    core_buf_free(&b);
}

/* The SGR right before a host's text is its state's colour; without colour there is none. */
static void test_colours(void **state)
{
    (void)state;
    static struct vt v;
    struct core_buf b;
    core_buf_init(&b, 1 << 22);
    struct tui_head h = head();
    render(snap, &h, NULL, 100, 30, 1, 1, &b, &v);
    const char *s = cstr(&b);
    assert_non_null(strstr(s, "\033[32mweb-1 20%"));
    assert_non_null(strstr(s, "\033[33mppdb002 70% degrading"));
    assert_non_null(strstr(s, "\033[31mppdb003 95% critical"));
    /* the unhealthy first: critical, degrading, then healthy */
    assert_true(strstr(s, "ppdb003 95%") < strstr(s, "ppdb002 70%"));
    assert_true(strstr(s, "ppdb002 70%") < strstr(s, "web-1 20%"));
    int r = vt_find(&v, "HOSTS");
    assert_non_null(strstr(v.text[r], "3 (1 critical, 1 degrading, 0 other)"));
    assert_true(has_sgr(s));
    render(snap, &h, NULL, 100, 30, 1, 0, &b, &v);
    assert_false(has_sgr(cstr(&b)));
    assert_true(vt_find(&v, "ppdb003 95% critical") > 0);
    core_buf_free(&b);
}

static void test_too_small(void **state)
{
    (void)state;
    static struct vt v;
    struct core_buf b;
    core_buf_init(&b, 1 << 22);
    struct tui_head h = head();
    render(snap, &h, NULL, 20, 30, 1, 1, &b, &v);
    assert_true(vt_find(&v, "terminal to") == 0);
    assert_true(vt_find(&v, "ppdb") < 0);
    render(snap, &h, NULL, 80, 5, 1, 1, &b, &v);
    assert_true(vt_find(&v, "terminal too small: 80x5 (--tui needs 30x10)") == 0);
    render(snap, &h, NULL, TUI_MIN_W, TUI_MIN_H, 1, 1, &b, &v);
    assert_true(vt_find(&v, "terminal too small") < 0);
    assert_true(vt_find(&v, "fleet") == 0);
    core_buf_free(&b);
}

/* 200 hosts on 80x20: a full screen ending in "+N more" where shown + N = 200. */
static void test_more(void **state)
{
    (void)state;
    static struct vt v;
    struct core_buf js, b;
    core_buf_init(&js, 1 << 20);
    core_buf_init(&b, 1 << 22);
    core_buf_puts(&js, "{\"t\":1767225630000,\"entries\":[],\"models\":[],\"hosts\":[");
    for (int i = 0; i < 200; i++)
        core_buf_printf(&js, "%s{\"name\":\"host-%03d\",\"state\":\"%s\",\"cpu\":0.5}",
                        i ? "," : "", i, i == 150 ? "critical" : "healthy");
    core_buf_puts(&js, "]}");
    core_buf_putc(&js, 0);
    struct tui_head h = head();
    render((const char *)js.p, &h, NULL, 80, 20, 1, 1, &b, &v);
    int shown = 0, more = 0;
    for (int r = 0; r < 20; r++) {
        for (const char *p = v.text[r]; (p = strstr(p, "host-")); p++)
            shown++;
        const char *m = strstr(v.text[r], "+");
        if (m && strstr(m, " more"))
            sscanf(m, "+%d more", &more);
    }
    assert_true(more > 0);
    assert_int_equal(shown + more, 200);
    assert_true(vt_find(&v, "host-150 50% critical") > 0); /* the unhealthy one is kept */
    assert_true(vt_find(&v, "no traffic sources") > 0);
    core_buf_free(&js);
    core_buf_free(&b);
}

/* Names come from scenario files: an ESC in one is drawn as '?', never sent. */
static void test_escapes(void **state)
{
    (void)state;
    static struct vt v;
    struct core_buf b;
    core_buf_init(&b, 1 << 22);
    static const char js[] = "{\"t\":1,\"entries\":[{\"name\":\"x\\u001b[2Jy\",\"rate\":1},"
                             "{\"name\":\"c1\\u009b2J\",\"rate\":1}],"
                             "\"hosts\":[{\"name\":\"h\\u0007\",\"state\":\"\\u001b[31m\"}]}";
    struct tui_head h = head();
    h.last_log = "diorama: warning: \033[2J";
    h.nlog = 3;
    render(js, &h, NULL, 100, 30, 1, 1, &b, &v);
    assert_null(strstr(cstr(&b), "\033[2J"));
    assert_true(vt_find(&v, "x?[2Jy") > 0);
    assert_null(strstr(cstr(&b), "\xc2\x9b")); /* U+009B is CSI to some terminals */
    assert_true(vt_find(&v, "c1?2J") > 0);
    assert_true(vt_find(&v, "3 messages (printed on exit): diorama: warning: ?[2J") == 29);
    /* no snapshot yet, or a broken one: a frame still */
    render(NULL, &h, NULL, 100, 30, 1, 1, &b, &v);
    assert_true(vt_find(&v, "waiting for the first snapshot") == 1);
    render("{", &h, NULL, 100, 30, 1, 1, &b, &v);
    assert_true(vt_find(&v, "HOSTS") > 0);
    core_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_widths),  cmocka_unit_test(test_spark),
        cmocka_unit_test(test_history), cmocka_unit_test(test_ascii),
        cmocka_unit_test(test_colours), cmocka_unit_test(test_too_small),
        cmocka_unit_test(test_more),    cmocka_unit_test(test_escapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
