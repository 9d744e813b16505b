/* GET /api/stream: Server-Sent Events of the live world (docs/control-api.md).
 *
 *   event: world           the GET /api/world object: first, then after every change that alters it
 *   event: agg             each per-second aggregate as it is published (world/agg.c)
 *   event: label           {"id":N,"label":{...}}: every label as it happens
 *   event: request_labels  ?labels=incident: one-request labels counted instead of sent
 *   ": keep-alive"         a comment line when nothing was sent for 15 s
 *
 * Cost: a label is formatted once, as its whole event, on the world's thread
 * (server_control_label); a stream copies those bytes and formats nothing per label. What ten
 * streams cost a busy world is then the bytes themselves: inference at --speed max labels
 * thousands of requests a second (every-N and probability faults), half a kilobyte each. A
 * client that wants the incidents, not every request's blip, asks ?labels=incident and gets
 * per-fault counts of the blips instead (exact: every id up to "to" was sent or counted).
 *
 * A stream is a streaming answer of the listener base (httpd_h1_stream): the base pulls it on
 * its worker thread when the previous bytes were written, when woken (the world's thread wakes
 * it after a label or a snapshot, at most every SSE_BATCH_NS) and every 100 ms; a pull never
 * waits. The world's thread only appends to rings and wakes, it never writes to a socket and
 * never waits for a client. Each stream keeps its own cursors into the label ring and the
 * aggregates ring. A client that stops reading stops pulling; when it lags by more than a ring
 * holds, or takes no byte for CONTROL_SSE_TIMEOUT_S, it is closed and counted (sse_dropped) --
 * the world never slows.
 *
 * The connection stays in the listener's connection cap; neither the header deadline nor the
 * idle timeout applies to a stream in progress (the keep-alive lines go every 15 s). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "server/control_int.h"

#define SSE_FILL_ENOUGH (1u << 20)  /* stop collecting labels past this; the rest next time */
#define SSE_COUNTS_NS 1000000000ULL /* request_labels at most this often (and before a label) */

/* ?labels= */
static const struct {
    const char *name;
    int incident; /* one-request labels counted, not sent */
} label_filters[] = {{"all", 0}, {"incident", 1}};

struct sse {
    struct server_control *c;
    int incident;
    uint64_t label_next;  /* the next label id to send */
    uint64_t agg_next;    /* the next aggregate seq to send */
    uint64_t world_seen;  /* c->world_gen sent last; UINT64_MAX: nothing sent yet */
    uint64_t last_send;   /* monotonic */
    uint64_t last_counts; /* monotonic: the last request_labels event */
    uint64_t nskipped;    /* one-request labels counted since then */
    uint32_t *per_fault;  /* ... by fault index (w->nfaults); incident streams only */
};

/* event: request_labels {"to":ID,"n":N,"faults":[{"fault":F,"target":T,"n":K}...]}: the
 * one-request labels counted since the last one; every id <= to was sent or counted. */
static void put_counts(struct sse *s, struct core_buf *to)
{
    const struct world *w = s->c->w;
    if (!s->nskipped)
        return;
    core_buf_printf(to, "event: request_labels\ndata: {\"to\":%llu,\"n\":%llu,\"faults\":[",
                    (unsigned long long)(s->label_next - 1), (unsigned long long)s->nskipped);
    for (int f = 0, n = 0; f < w->nfaults; f++) {
        if (!s->per_fault[f])
            continue;
        core_buf_puts(to, n++ ? ",{\"fault\":" : "{\"fault\":");
        core_buf_put_json_str(to, w->faults[f].scn->name);
        core_buf_puts(to, ",\"target\":");
        core_buf_put_json_str(to, w->faults[f].scn->target);
        core_buf_printf(to, ",\"n\":%u}", s->per_fault[f]);
        s->per_fault[f] = 0;
    }
    core_buf_puts(to, "]}\n\n");
    s->nskipped = 0;
    s->last_counts = core_mono_ns();
}

/* The labels the stream has not seen, as their preformatted events; c->mu held. */
static void put_labels(struct sse *s, struct core_buf *to)
{
    struct server_control *c = s->c;
    size_t enough = to->len + SSE_FILL_ENOUGH;
    for (; s->label_next <= c->nlabels && to->len < enough; s->label_next++) {
        const struct control_label *r = &c->ring[(s->label_next - 1) % CONTROL_LABEL_RING];
        if (s->incident && r->fault >= 0) {
            s->nskipped++;
            s->per_fault[r->fault]++;
            continue;
        }
        put_counts(s, to); /* the counts before a later label: ids stay in order */
        core_buf_append(to, r->ev, r->len);
    }
    if (s->nskipped && core_mono_ns() >= s->last_counts + SSE_COUNTS_NS)
        put_counts(s, to);
}

static void put_aggs(struct sse *s, struct core_buf *to)
{
    uint64_t last = world_agg_last(s->c->cfg.agg);
    for (; s->agg_next <= last; s->agg_next++) {
        size_t at = to->len;
        core_buf_puts(to, "event: agg\ndata: ");
        if (world_agg_get(s->c->cfg.agg, s->agg_next, to)) {
            to->len = at;
            continue;
        }
        core_buf_puts(to, "\n\n");
    }
}

/* Collects into to what the stream has not seen; c->mu held. 0, or -1 when it lagged too far. */
static int sse_fill(struct sse *s, struct core_buf *to)
{
    struct server_control *c = s->c;
    /* A stream is pulled again as soon as its bytes are written: under a busy world that is a
     * write per label or two, ten streams a few thousand writes a second. Within SSE_BATCH_NS of
     * a send nothing is taken; a later pull (a wake, or the base's every 100 ms) takes it all
     * in one write. */
    if (s->world_seen != UINT64_MAX && core_mono_ns() < s->last_send + CONTROL_SSE_BATCH_NS)
        return 0;
    control__sync(c);
    if (s->world_seen != c->world_gen) {
        size_t at = to->len;
        core_buf_puts(to, "event: world\ndata: ");
        control__put_world(c, to);
        if (to->len > at && to->p[to->len - 1] == '\n')
            to->len--;
        core_buf_puts(to, "\n\n");
        s->world_seen = c->world_gen;
    }
    uint64_t first = c->nlabels > CONTROL_LABEL_RING ? c->nlabels - CONTROL_LABEL_RING + 1 : 1;
    if (s->label_next < first)
        return -1;
    put_labels(s, to);
    if (!c->cfg.agg)
        return 0;
    uint64_t last = world_agg_last(c->cfg.agg);
    if (last >= WORLD_AGG_KEPT && s->agg_next + WORLD_AGG_KEPT <= last)
        return -1;
    put_aggs(s, to);
    return 0;
}

/* The base's pull: what the stream has not seen, or a keep-alive line when that is due. */
static int sse_pull(void *cls, struct core_buf *to)
{
    struct sse *s = cls;
    struct server_control *c = s->c;
    size_t at = to->len;
    pthread_mutex_lock(&c->mu);
    if (c->stopping) {
        pthread_mutex_unlock(&c->mu);
        return 1;
    }
    if (sse_fill(s, to)) {
        c->sse_dropped++;
        pthread_mutex_unlock(&c->mu);
        return -1;
    }
    pthread_mutex_unlock(&c->mu);
    uint64_t now = core_mono_ns();
    if (to->len == at && now >= s->last_send + CONTROL_SSE_KEEPALIVE_NS)
        core_buf_puts(to, ": keep-alive\n\n");
    if (to->len > at)
        s->last_send = now;
    return 0;
}

static void sse_free(void *cls)
{
    struct sse *s = cls;
    struct server_control *c = s->c;
    pthread_mutex_lock(&c->mu);
    c->nsse--;
    pthread_mutex_unlock(&c->mu);
    core_free(s->per_fault);
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

/* ?labels=WHICH: its index in label_filters, -1 unknown. */
static int label_filter(const char *which)
{
    for (int i = 0; i < (int)(sizeof label_filters / sizeof *label_filters); i++)
        if (!strcmp(which ? which : "all", label_filters[i].name))
            return i;
    return -1;
}

static int refuse(struct server__answer *a, int status, const char *why)
{
    a->status = status;
    a->content_type = "application/json";
    core_buf_reset(&a->body);
    core_buf_puts(&a->body, "{\"error\":");
    core_buf_put_json_str(&a->body, why);
    core_buf_puts(&a->body, "}\n");
    return -1;
}

int control__sse_open(struct server_control *c, const char *which, struct server__answer *a,
                      struct httpd_h1_response *rs)
{
    int filter = label_filter(which);
    if (filter < 0)
        return refuse(a, 400, "labels: expected all or incident");
    pthread_mutex_lock(&c->mu);
    int full = c->nsse >= CONTROL_SSE_MAX;
    c->sse_refused += full;
    c->nsse += !full;
    c->sse_opened += !full;
    control__sync(c);
    uint64_t from = c->nlabels + 1; /* labels from now on: GET /api/labels has the past */
    pthread_mutex_unlock(&c->mu);
    if (full) {
        char why[128];
        snprintf(why, sizeof why,
                 "%d event streams are open, the most this listener serves; try again later",
                 CONTROL_SSE_MAX);
        return refuse(a, 503, why);
    }
    struct sse *s = core_calloc(1, sizeof *s);
    s->c = c;
    s->incident = label_filters[filter].incident;
    s->per_fault =
        s->incident ? core_calloc((size_t)c->w->nfaults + 1, sizeof *s->per_fault) : NULL;
    s->label_next = from;
    s->agg_next = c->cfg.agg ? world_agg_last(c->cfg.agg) : 0;
    s->agg_next += s->agg_next == 0; /* the latest one first, then each new one */
    s->world_seen = UINT64_MAX;
    s->last_send = s->last_counts = core_mono_ns();
    rs->status = 200;
    rs->content_type = "text/event-stream";
    httpd_h1_add_header(rs, "Cache-Control", "no-store");
    httpd_h1_add_header(rs, "X-Accel-Buffering", "no");
    rs->stream = &sse_ops;
    rs->stream_cls = s;
    rs->stream_stall_ns = (uint64_t)CONTROL_SSE_TIMEOUT_S * 1000000000ULL;
    return 0;
}
