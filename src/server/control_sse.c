/* GET /api/stream: Server-Sent Events of the live world (docs/control-api.md).
 *
 *   event: world   the GET /api/world object: first, then after every change that alters it
 *   event: agg     each per-second aggregate as it is published (world/agg.c)
 *   event: label   {"id":N,"label":{...}}: every label as it happens
 *   ": keep-alive" a comment line when nothing was sent for 15 s
 *
 * A stream is a streaming answer of the listener base (httpd_h1_stream): the base pulls it on
 * its worker thread when the previous bytes were written, when woken (control__sse_wake, after
 * a snapshot) and every 100 ms; a pull never waits. The world's thread only appends to rings
 * and signals, it never writes to a socket and never waits for a client. Each stream keeps its
 * own cursors into the label ring and the aggregates ring. A client that stops reading stops
 * pulling; when it lags by more than a ring holds, or takes no byte for CONTROL_SSE_TIMEOUT_S,
 * it is closed and counted (sse_dropped) -- the world never slows.
 *
 * The connection stays in the listener's connection cap; neither the header deadline nor the
 * idle timeout applies to a stream in progress (the keep-alive lines go every 15 s). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "server/control_int.h"

#define SSE_OUT_MAX (8u << 20)       /* one stream's pending text */
#define SSE_FILL_ENOUGH (256u << 10) /* stop collecting labels past this; the rest next time */
#define SSE_BATCH_NS 50000000ULL     /* news this soon after a send waits for the next pull */

struct sse {
    struct server_control *c;
    uint64_t label_next; /* the next label id to send */
    uint64_t agg_next;   /* the next aggregate seq to send */
    uint64_t world_seen; /* c->world_gen sent last; UINT64_MAX: nothing sent yet */
    uint64_t last_send;  /* monotonic */
    struct core_buf out;
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
    /* A stream is pulled again as soon as its bytes are written: under a busy world that is a
     * write per label or two, ten streams a few thousand writes a second. Within SSE_BATCH_NS of
     * a send nothing is taken; the base's next pull (every 100 ms) takes it all in one write. */
    if (s->world_seen != UINT64_MAX && core_mono_ns() < s->last_send + SSE_BATCH_NS)
        return 0;
    control__sync(c);
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
        /* no printf over the label: ten streams copy every label */
        core_buf_printf(&s->out,
                        "event: label\ndata: {\"id\":%llu,\"label\":", (unsigned long long)r->id);
        core_buf_puts(&s->out, r->json);
        core_buf_puts(&s->out, "}\n\n");
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

/* The base's pull: what the stream has not seen, or a keep-alive line when that is due. */
static int sse_pull(void *cls, struct core_buf *to)
{
    struct sse *s = cls;
    struct server_control *c = s->c;
    core_buf_reset(&s->out);
    pthread_mutex_lock(&c->mu);
    if (c->stopping) {
        pthread_mutex_unlock(&c->mu);
        return 1;
    }
    if (sse_fill(s)) {
        c->sse_dropped++;
        pthread_mutex_unlock(&c->mu);
        return -1;
    }
    pthread_mutex_unlock(&c->mu);
    uint64_t now = core_mono_ns();
    if (!s->out.len && now >= s->last_send + CONTROL_SSE_KEEPALIVE_NS)
        core_buf_puts(&s->out, ": keep-alive\n\n");
    if (s->out.len) {
        core_buf_append(to, s->out.p, s->out.len);
        s->last_send = now;
    }
    return 0;
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

static void sse_done(void *cls, int why)
{
    struct sse *s = cls;
    if (why == HTTPD_H1_STREAM_STALLED) { /* its client took no byte for too long */
        pthread_mutex_lock(&s->c->mu);
        s->c->sse_dropped++;
        pthread_mutex_unlock(&s->c->mu);
    }
    sse_free(s);
}

static const struct httpd_h1_stream sse_ops = {sse_pull, sse_done};

int control__sse_open(struct server_control *c, struct server__answer *a,
                      struct httpd_h1_response *rs)
{
    pthread_mutex_lock(&c->mu);
    int full = c->nsse >= CONTROL_SSE_MAX;
    c->sse_refused += full;
    c->nsse += !full;
    c->sse_opened += !full;
    control__sync(c);
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
        return -1;
    }
    struct sse *s = core_calloc(1, sizeof *s);
    s->c = c;
    s->label_next = from;
    s->agg_next = c->cfg.agg ? world_agg_last(c->cfg.agg) : 0;
    s->agg_next += s->agg_next == 0; /* the latest one first, then each new one */
    s->world_seen = UINT64_MAX;
    s->last_send = core_mono_ns();
    core_buf_init(&s->out, SSE_OUT_MAX);
    rs->status = 200;
    rs->content_type = "text/event-stream";
    httpd_h1_add_header(rs, "Cache-Control", "no-store");
    httpd_h1_add_header(rs, "X-Accel-Buffering", "no");
    rs->stream = &sse_ops;
    rs->stream_cls = s;
    rs->stream_stall_ns = (uint64_t)CONTROL_SSE_TIMEOUT_S * 1000000000ULL;
    return 0;
}

void control__sse_wake(struct server_control *c)
{
    pthread_mutex_lock(&c->mu);
    pthread_cond_broadcast(&c->wake);
    pthread_mutex_unlock(&c->mu);
    httpd_h1_wake(c->d); /* the streams are pulled now, not at the next tick */
}
