/* GET /api/stream: Server-Sent Events of the live world (docs/control-api.md).
 *
 *   event: world   the GET /api/world object: first, then after every change that alters it
 *   event: agg     each per-second aggregate as it is published (world/agg.c)
 *   event: label   {"id":N,"label":{...}}: every label as it happens
 *   ": keep-alive" a comment line when nothing was sent for 15 s
 *
 * The control listener runs a thread per connection, so a stream's content callback may wait
 * (on the control's condition variable) for something to send; the world's thread only
 * appends to rings and signals, it never writes to a socket and never waits for a client.
 * Each stream keeps its own cursors into the label ring and the aggregates ring. A client
 * that stops reading stops pulling; when it lags by more than a ring holds, or sends nothing
 * for CONTROL_SSE_TIMEOUT_S, it is closed and counted (sse_dropped) -- the world never slows.
 *
 * The connection stays in the listener's connection cap; the header deadline does not apply
 * to a response in progress, and the idle timeout is set per connection to
 * CONTROL_SSE_TIMEOUT_S, which the keep-alive lines (every 15 s) always beat. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "server/control_int.h"

#define SSE_CHUNK (64u << 10)        /* bytes one callback hands over at most */
#define SSE_OUT_MAX (8u << 20)       /* one stream's pending text */
#define SSE_FILL_ENOUGH (256u << 10) /* stop collecting labels past this; the rest next time */

struct sse {
    struct server_control *c;
    uint64_t label_next; /* the next label id to send */
    uint64_t agg_next;   /* the next aggregate seq to send */
    uint64_t world_seen; /* c->world_gen sent last; UINT64_MAX: nothing sent yet */
    uint64_t last_send;  /* monotonic */
    struct core_buf out;
    size_t off; /* bytes of out already handed to libmicrohttpd */
};

static void put_event(struct core_buf *b, const char *name, const char *json, size_t len)
{
    core_buf_printf(b, "event: %s\ndata: ", name);
    core_buf_append(b, json, len);
    core_buf_puts(b, "\n\n");
}

/* Collects what the stream has not seen; c->mu held. 0, or -1 when it lagged too far. */
static int sse_fill(struct sse *s)
{
    struct server_control *c = s->c;
    if (s->world_seen != c->world_gen) {
        struct core_buf wb;
        core_buf_init(&wb, SSE_OUT_MAX / 2);
        control__put_world(c, &wb);
        if (wb.len && wb.p[wb.len - 1] == '\n')
            wb.len--;
        put_event(&s->out, "world", (const char *)wb.p, wb.len);
        core_buf_free(&wb);
        s->world_seen = c->world_gen;
    }
    uint64_t first = c->nlabels > CONTROL_LABELS_KEPT ? c->nlabels - CONTROL_LABELS_KEPT + 1 : 1;
    if (s->label_next < first)
        return -1;
    for (; s->label_next <= c->nlabels && s->out.len < SSE_FILL_ENOUGH; s->label_next++) {
        const struct control_label *r = &c->ring[(s->label_next - 1) % CONTROL_LABELS_KEPT];
        core_buf_printf(&s->out, "event: label\ndata: {\"id\":%llu,\"label\":%s}\n\n",
                        (unsigned long long)r->id, r->json);
    }
    if (!c->cfg.agg)
        return 0;
    uint64_t last = world_agg_last(c->cfg.agg);
    if (last >= WORLD_AGG_KEPT && s->agg_next + WORLD_AGG_KEPT <= last)
        return -1;
    for (; s->agg_next <= last; s->agg_next++) {
        size_t at = s->out.len;
        core_buf_puts(&s->out, "event: agg\ndata: ");
        if (world_agg_get(c->cfg.agg, s->agg_next, &s->out)) {
            s->out.len = at;
            continue;
        }
        core_buf_puts(&s->out, "\n\n");
    }
    return 0;
}

static void wait_until(struct server_control *c, uint64_t mono_ns)
{
    struct timespec now_m, now_r;
    clock_gettime(CLOCK_MONOTONIC, &now_m);
    clock_gettime(CLOCK_REALTIME, &now_r); /* the condition variable's clock */
    uint64_t m = (uint64_t)now_m.tv_sec * 1000000000ULL + (uint64_t)now_m.tv_nsec;
    uint64_t wait = mono_ns > m ? mono_ns - m : 0;
    uint64_t at = (uint64_t)now_r.tv_sec * 1000000000ULL + (uint64_t)now_r.tv_nsec + wait;
    struct timespec ts = {(time_t)(at / 1000000000ULL), (long)(at % 1000000000ULL)};
    pthread_cond_timedwait(&c->wake, &c->mu, &ts);
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct sse *s = cls;
    struct server_control *c = s->c;
    (void)pos;
    if (s->off >= s->out.len) {
        core_buf_reset(&s->out);
        s->off = 0;
        pthread_mutex_lock(&c->mu);
        for (;;) {
            if (c->stopping) {
                pthread_mutex_unlock(&c->mu);
                return MHD_CONTENT_READER_END_OF_STREAM;
            }
            if (sse_fill(s)) {
                c->sse_dropped++;
                pthread_mutex_unlock(&c->mu);
                return MHD_CONTENT_READER_END_WITH_ERROR;
            }
            if (s->out.len)
                break;
            if (core_mono_ns() >= s->last_send + CONTROL_SSE_KEEPALIVE_NS) {
                core_buf_puts(&s->out, ": keep-alive\n\n");
                break;
            }
            wait_until(c, s->last_send + CONTROL_SSE_KEEPALIVE_NS);
        }
        pthread_mutex_unlock(&c->mu);
        s->last_send = core_mono_ns();
    }
    size_t n = s->out.len - s->off;
    n = n < max ? n : max;
    memcpy(buf, s->out.p + s->off, n);
    s->off += n;
    return (ssize_t)n;
}

static void sse_free(void *cls)
{
    struct sse *s = cls;
    struct server_control *c = s->c;
    pthread_mutex_lock(&c->mu);
    c->nsse--;
    pthread_mutex_unlock(&c->mu);
    core_buf_free(&s->out);
    core_free(s);
}

struct MHD_Response *control__sse_open(struct server_control *c, struct server__answer *a)
{
    pthread_mutex_lock(&c->mu);
    int full = c->nsse >= CONTROL_SSE_MAX;
    c->sse_refused += full;
    c->nsse += !full;
    c->sse_opened += !full;
    uint64_t from = c->nlabels + 1; /* labels from now on: GET /api/labels has the past */
    pthread_mutex_unlock(&c->mu);
    if (full) {
        a->status = 503;
        a->content_type = "application/json";
        core_buf_reset(&a->body);
        core_buf_printf(&a->body,
                        "{\"error\":\"%d event streams are open, the most this listener "
                        "serves; try again later\"}\n",
                        CONTROL_SSE_MAX);
        return NULL;
    }
    struct sse *s = core_calloc(1, sizeof *s);
    s->c = c;
    s->label_next = from;
    s->agg_next = c->cfg.agg ? world_agg_last(c->cfg.agg) : 0;
    s->agg_next += s->agg_next == 0; /* the latest one first, then each new one */
    s->world_seen = UINT64_MAX;
    s->last_send = core_mono_ns();
    core_buf_init(&s->out, SSE_OUT_MAX);
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, SSE_CHUNK, sse_read, s, sse_free);
    if (!r) {
        sse_free(s);
        return NULL;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(r, "X-Accel-Buffering", "no");
    return r;
}

void control__sse_wake(struct server_control *c)
{
    pthread_mutex_lock(&c->mu);
    pthread_cond_broadcast(&c->wake);
    pthread_mutex_unlock(&c->mu);
}

void control__sse_timed_out(struct server_control *c)
{
    pthread_mutex_lock(&c->mu);
    c->sse_dropped++;
    pthread_mutex_unlock(&c->mu);
}
