/* The control API: read the live world, change it (docs/control-api.md).
 *
 *   GET  /api/world                       the scenario, the entities with their state, the states
 *   GET  /api/entities/{name}             one entity
 *   PUT  /api/entities/{name}/state       {"state": "degrading", "over": "30s"}: 202
 *   GET  /api/labels?after=ID             labels since ID (the last WORLD_LABELS kept)
 *   GET  /api/aggregates?after=T          per-second aggregates after sim-ms T (world/agg.c)
 *   GET  /api/stream                      Server-Sent Events (control_sse.c)
 *   PUT  /api/rate, /api/speed, /api/chaos; POST /api/pause, /api/resume,
 *        /api/faults/{name}/start|stop    live control: world commands (world/live.c)
 *
 * Changes never touch the world here: they become world commands (world_command), applied by
 * the world's thread at its next tick and labelled there (source: command), like scheduled
 * changes. What GET shows of entity states is a mirror kept from that label stream under this
 * module's mutex, so an HTTP thread never reads what the world's thread is writing.
 *
 * Auth: with a token set, changes need "Authorization: Bearer TOKEN"; a listener on a
 * non-loopback address refuses to start without a token, and then reads need it too. Bodies
 * are capped (413); errors are JSON {"error": "..."} naming the problem, unknown entities get
 * 404 with the closest names. */
#include <arpa/inet.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/control_int.h"

#define LABELS_KEPT CONTROL_LABELS_KEPT
#define answer control__answer
#define fail control__fail
#define DEFAULT_MAX_BODY 65536

/* ---- answers ---------------------------------------------------------------------------- */
void control__answer(struct server__answer *a, int status, const char *json)
{
    a->status = status;
    a->content_type = "application/json";
    core_buf_reset(&a->body);
    core_buf_puts(&a->body, json);
}

void control__fail(struct server__answer *a, int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    a->status = status;
    a->content_type = "application/json";
    core_buf_reset(&a->body);
    core_buf_puts(&a->body, "{\"error\":");
    core_buf_put_json_str(&a->body, msg);
    core_buf_puts(&a->body, "}\n");
}

static const char *const kind_names[] = {"host", "service", "model"};

static void put_entity(const struct server_control *c, int i, struct core_buf *b)
{
    const struct world_entity *en = &c->w->ents[i];
    const struct control_mirror *m = &c->ents[i];
    char t[40];
    world_format_time(m->since, t, sizeof t);
    core_buf_puts(b, "{\"name\":");
    core_buf_put_json_str(b, en->name);
    core_buf_printf(b, ",\"kind\":\"%s\",\"state\":", kind_names[en->kind]);
    core_buf_put_json_str(b, c->w->scn->states[m->state].name);
    core_buf_printf(b, ",\"since\":%s%s%s,\"source\":\"%s\"}", m->since ? "\"" : "",
                    m->since ? t : "null", m->since ? "\"" : "",
                    m->since ? world_source_name(m->source) : "start");
}

static void put_acct(struct core_buf *b, const struct world_acct *x)
{
    core_buf_printf(b,
                    "\"generated\":%llu,\"delivered\":%llu,\"dropped\":%llu,\"timed_out\":%llu,"
                    "\"in_flight\":%llu",
                    (unsigned long long)x->generated, (unsigned long long)x->delivered,
                    (unsigned long long)x->dropped, (unsigned long long)x->timed_out,
                    (unsigned long long)x->in_flight);
}

/* "accounting": the total, then each output (as of the last aggregate snapshot). */
static void put_accounting(struct server_control *c, struct core_buf *b)
{
    struct world_acct o[WORLD_AGG_OUTPUTS], tot = {"total", 0, 0, 0, 0, 0};
    int n = c->cfg.agg ? world_agg_accounting(c->cfg.agg, o, WORLD_AGG_OUTPUTS) : 0;
    for (int i = 0; i < n; i++) {
        tot.generated += o[i].generated;
        tot.delivered += o[i].delivered;
        tot.dropped += o[i].dropped;
        tot.timed_out += o[i].timed_out;
        tot.in_flight += o[i].in_flight;
    }
    core_buf_puts(b, ",\"accounting\":{");
    put_acct(b, &tot);
    core_buf_puts(b, ",\"outputs\":[");
    for (int i = 0; i < n; i++) {
        core_buf_puts(b, i ? ",{\"name\":" : "{\"name\":");
        core_buf_put_json_str(b, o[i].name);
        core_buf_putc(b, ',');
        put_acct(b, &o[i]);
        core_buf_putc(b, '}');
    }
    core_buf_puts(b, "]}");
}

static void put_rates(struct server_control *c, struct core_buf *b)
{
    struct world *w = c->w;
    core_buf_puts(b, ",\"rates\":[");
    for (int i = 0; i < w->ntraffic; i++) {
        core_buf_puts(b, i ? ",{\"name\":" : "{\"name\":");
        core_buf_put_json_str(b, w->traffic[i].name);
        core_buf_printf(b, ",\"base\":%g,\"factor\":%g}", w->traffic[i].base,
                        atomic_load_explicit(&w->traffic[i].factor, memory_order_relaxed));
    }
    struct world_chaos_cfg cc;
    int holds;
    char spec[WORLD_CHAOS_SPEC_MAX];
    world_chaos_get(w, &cc, &holds);
    world_chaos_format(&cc, spec, sizeof spec);
    double speed = c->cfg.speed > 0 ? atomic_load(&w->speed) : 0;
    core_buf_printf(b, "],\"speed\":%g,\"paused\":%s,\"chaos\":{\"enabled\":%s,\"spec\":",
                    speed > 0 ? speed : c->cfg.speed, atomic_load(&w->paused) ? "true" : "false",
                    cc.enabled ? "true" : "false");
    core_buf_put_json_str(b, spec);
    core_buf_printf(b, ",\"holding\":%d}", holds);
}

void control__put_world(struct server_control *c, struct core_buf *b)
{
    const struct scenario *s = c->w->scn;
    core_buf_puts(b, "{\"scenario\":");
    core_buf_put_json_str(b, s->name);
    core_buf_printf(b, ",\"run_id\":\"%s\",\"states\":[", c->w->run_id);
    for (int i = 0; i < s->nstates; i++) {
        core_buf_puts(b, i ? "," : "");
        core_buf_put_json_str(b, s->states[i].name);
    }
    core_buf_puts(b, "],\"entities\":[");
    for (int i = 0; i < c->w->nents; i++) {
        core_buf_puts(b, i ? "," : "");
        put_entity(c, i, b);
    }
    core_buf_putc(b, ']');
    control__put_faults(c, b);
    put_rates(c, b);
    put_accounting(c, b);
    core_buf_printf(b,
                    ",\"labels\":%llu,\"commands\":%llu,\"streams\":{\"open\":%d,"
                    "\"opened\":%llu,\"refused\":%llu,\"dropped\":%llu}}\n",
                    (unsigned long long)c->nlabels, (unsigned long long)c->commands,
                    atomic_load(&c->nsse), (unsigned long long)c->sse_opened,
                    (unsigned long long)c->sse_refused, (unsigned long long)c->sse_dropped);
}

static void get_world(struct server_control *c, struct server__answer *a)
{
    answer(a, 200, "");
    pthread_mutex_lock(&c->mu);
    control__sync(c);
    control__put_world(c, &a->body);
    pthread_mutex_unlock(&c->mu);
}

/* 404 naming the closest entity name. */
static void unknown_entity(struct server_control *c, const char *name, struct server__answer *a)
{
    const struct world *w = c->w;
    const char *best = scenario_suggest(name, w->ents, w->nents, sizeof *w->ents,
                                        offsetof(struct world_entity, name));
    if (best)
        fail(a, 404, "no entity '%.128s' (did you mean '%s'?)", name, best);
    else
        fail(a, 404, "no entity '%.128s' (GET /api/world lists them)", name);
}

/* {"state": NAME, "over": DURATION?} -> a command. */
static void put_state(struct server_control *c, int ent, const char *body, size_t len,
                      struct server__answer *a)
{
    json_error_t je;
    json_t *j = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &je);
    const char *st = j ? json_string_value(json_object_get(j, "state")) : NULL;
    json_t *over = j ? json_object_get(j, "over") : NULL;
    uint64_t over_ns = 0;
    int idx = st ? world_state_find(c->w, st) : -1;
    if (!j)
        fail(a, 400, "the body is not JSON: %s (line %d, column %d)", je.text, je.line, je.column);
    else if (!json_is_object(j) || !st)
        fail(a, 400, "expected {\"state\": \"NAME\"} with an optional \"over\": \"30s\"");
    else if (idx < 0)
        fail(a, 400, "unknown state '%.64s' (GET /api/world lists the states)", st);
    else if (over &&
             (!json_is_string(over) || core_parse_duration(json_string_value(over), &over_ns)))
        fail(a, 400, "\"over\" must be a duration like \"30s\" or \"10m\"");
    if (!j || a->status) {
        json_decref(j);
        return;
    }
    json_decref(j);
    struct world_cmd cmd = {.kind = WORLD_CMD_STATE,
                            .entity = ent,
                            .state = idx,
                            .over_ns = over_ns,
                            .source = WORLD_SRC_COMMAND};
    if (control__command(c, &cmd, a))
        return;
    answer(a, 202, "{\"accepted\":true,\"entity\":");
    core_buf_put_json_str(&a->body, c->w->ents[ent].name);
    core_buf_puts(&a->body, ",\"state\":");
    core_buf_put_json_str(&a->body, c->w->scn->states[idx].name); /* st died with j */
    core_buf_printf(&a->body, ",\"over_ns\":%llu,\"applies\":\"at the next tick\"}\n",
                    (unsigned long long)over_ns);
}

static void get_labels(struct server_control *c, const char *after, struct server__answer *a)
{
    char *end = NULL;
    unsigned long long from = after ? strtoull(after, &end, 10) : 0;
    if (after && (!*after || *end || *after == '-' || from == ULLONG_MAX)) {
        fail(a, 400, "after: expected a label id (an integer), got '%.32s'", after);
        return;
    }
    answer(a, 200, "{\"labels\":[");
    pthread_mutex_lock(&c->mu);
    control__sync(c);
    uint64_t first = c->nlabels > LABELS_KEPT ? c->nlabels - LABELS_KEPT + 1 : 1;
    int n = 0;
    for (uint64_t id = from >= first ? from + 1 : first; id <= c->nlabels; id++) {
        const struct control_label *r = &c->ring[(id - 1) % CONTROL_LABEL_RING];
        /* the event's data line: {"id":N,"label":{...}} */
        core_buf_puts(&a->body, n++ ? "," : "");
        core_buf_append(&a->body, r->ev + CONTROL_LABEL_DATA_OFF,
                        r->len - CONTROL_LABEL_DATA_OFF - 2);
    }
    core_buf_printf(&a->body, "],\"last\":%llu,\"oldest_kept\":%llu}\n",
                    (unsigned long long)c->nlabels, (unsigned long long)first);
    pthread_mutex_unlock(&c->mu);
}

int control__command(struct server_control *c, const struct world_cmd *cmd,
                     struct server__answer *a)
{
    if (atomic_load(&c->ended)) {
        fail(a, 503, "the run has ended: the world takes no more changes");
        return -1;
    }
    int rc = world_command(c->w, cmd);
    pthread_mutex_lock(&c->mu);
    c->commands += rc == 0;
    c->refused += rc != 0;
    pthread_mutex_unlock(&c->mu);
    if (rc == DIO_EINVAL)
        fail(a, 400, "the world refused this change (a value out of range)");
    else if (rc)
        fail(a, 503, "%d changes are already waiting for the next tick; try again",
             WORLD_CMD_QUEUE);
    return rc ? -1 : 0;
}

static void get_aggregates(struct server_control *c, const char *after, struct server__answer *a)
{
    char *end = NULL;
    unsigned long long from = after ? strtoull(after, &end, 10) : 0;
    if (after && (!*after || *end || *after == '-' || from == ULLONG_MAX)) {
        fail(a, 400, "after: expected a time in unix milliseconds (an integer), got '%.32s'",
             after);
        return;
    }
    answer(a, 200, "{\"interval_ms\":1000,\"points\":[");
    if (c->cfg.agg)
        world_agg_after(c->cfg.agg, from, &a->body);
    core_buf_puts(&a->body, "]}\n");
}

/* ---- routing ---------------------------------------------------------------------------- */
#define authorised control__authorised
int control__authorised(const struct server_control *c, const char *auth)
{
    if (!c->cfg.token || !*c->cfg.token)
        return 1;
    return auth && !strncmp(auth, "Bearer ", 7) && !strcmp(auth + 7, c->cfg.token);
}

/* "/api/entities/NAME[/state]": the entity index (-1 unknown, name copied to out) and whether
 * the path ends in /state. -2 when the path has another shape. */
static int entity_path(const struct server_control *c, const char *path, char *out, size_t n,
                       int *is_state)
{
    const char *p = path + strlen("/api/entities/");
    const char *slash = strchr(p, '/');
    size_t len = slash ? (size_t)(slash - p) : strlen(p);
    *is_state = slash && !strcmp(slash, "/state");
    if (!len || len >= n || (slash && !*is_state))
        return -2;
    memcpy(out, p, len);
    out[len] = 0;
    return world_entity_find(c->w, out);
}

static void route_entity(struct server_control *c, const struct server__control_req *rq,
                         struct server__answer *a)
{
    char name[256];
    int is_state;
    int e = entity_path(c, rq->path, name, sizeof name, &is_state);
    int want_put = is_state;
    if (e == -2) {
        fail(a, 404, "no such resource: %.200s", rq->path);
    } else if (strcmp(rq->method, want_put ? "PUT" : "GET")) {
        fail(a, 405, "%s is not allowed here; use %s", rq->method, want_put ? "PUT" : "GET");
        snprintf(a->allow, sizeof a->allow, "%s", want_put ? "PUT" : "GET");
    } else if (e < 0) {
        unknown_entity(c, name, a);
    } else if (want_put && !authorised(c, rq->auth)) {
        fail(a, 401, "changes need \"Authorization: Bearer TOKEN\" (--control-token)");
    } else if (want_put) {
        put_state(c, e, rq->body, rq->len, a);
    } else {
        answer(a, 200, "");
        pthread_mutex_lock(&c->mu);
        control__sync(c);
        put_entity(c, e, &a->body);
        pthread_mutex_unlock(&c->mu);
        core_buf_putc(&a->body, '\n');
    }
}

static const char *const reads[] = {"/api/world", "/api/labels", "/api/aggregates", "/api/stream"};
#define CONTROL_SSE_TYPE "text/event-stream"

static int read_route(const char *path)
{
    for (int i = 0; i < (int)(sizeof reads / sizeof *reads); i++)
        if (!strcmp(path, reads[i]))
            return i;
    return -1;
}

void server__control_handle(struct server_control *c, const struct server__control_req *rq,
                            struct server__answer *a)
{
    const char *want = NULL;
    a->status = 0;
    a->allow[0] = 0;
    if (rq->body_over) {
        fail(a, 413, "the body is over the limit of %zu bytes", c->cfg.max_body);
    } else if (!c->loopback && !authorised(c, rq->auth)) {
        fail(a, 401, "this listener is not on loopback: every request needs the token");
    } else if (!strncmp(rq->path, "/api/entities/", 14)) {
        route_entity(c, rq, a);
    } else if (control__is_change(rq->path, &want)) {
        if (strcmp(rq->method, want)) {
            fail(a, 405, "%s is not allowed here; use %s", rq->method, want);
            snprintf(a->allow, sizeof a->allow, "%s", want);
        } else if (!authorised(c, rq->auth)) {
            fail(a, 401, "changes need \"Authorization: Bearer TOKEN\" (--control-token)");
        } else {
            control__change(c, rq, a);
        }
    } else if (read_route(rq->path) >= 0) {
        if (strcmp(rq->method, "GET") && strcmp(rq->method, "HEAD")) {
            fail(a, 405, "%s is not allowed here; use GET", rq->method);
            snprintf(a->allow, sizeof a->allow, "GET");
        } else if (read_route(rq->path) == 0) {
            get_world(c, a);
        } else if (read_route(rq->path) == 1) {
            get_labels(c, rq->after, a);
        } else if (read_route(rq->path) == 2) {
            get_aggregates(c, rq->after, a);
        } else { /* the stream itself needs the connection: on_request opens it */
            answer(a, 200, "{\"stream\":true}\n"); /* what a socketless caller sees */
            a->content_type = CONTROL_SSE_TYPE;
        }
    } else {
        fail(a, 404, "no such resource: %.200s (try GET /api/world)", rq->path);
    }
}

/* ---- the world's side -------------------------------------------------------------------- */
/* Wakes the streams for a label, at most every CONTROL_SSE_BATCH_NS and only while one is open:
 * an eventfd write, no lock. A state change reaches the streams within one tick, not at the
 * next snapshot or the base's 100 ms pull. */
static void wake_streams(struct server_control *c)
{
    if (!c->d || !atomic_load_explicit(&c->nsse, memory_order_relaxed))
        return;
    uint64_t now = core_mono_ns();
    if (now - c->woke_ns < CONTROL_SSE_BATCH_NS)
        return;
    c->woke_ns = now;
    httpd_h1_wake(c->d);
}

/* The label as its whole stream event (control_int.h), with id: the queue's order is the
 * ring's, so the label queued at tail gets id tail + 1. */
static void format_label(struct server_control *c, const struct world_label *l, uint64_t id,
                         struct control_label *out)
{
    struct core_buf *b = &c->lbuf;
    core_buf_reset(b);
    core_buf_printf(b, "event: label\ndata: {\"id\":%llu,\"label\":", (unsigned long long)id);
    world_label_json(l, b);
    if (b->len && b->p[b->len - 1] == '\n')
        b->len--;
    core_buf_puts(b, "}\n\n");
    out->id = id;
    out->len = (uint32_t)b->len;
    out->ev = core_malloc(b->len + 1);
    memcpy(out->ev, b->p, b->len + 1);
    /* a one-request label (scope "request"): GET /api/world did not change */
    out->fault = l->trace_id && l->fault ? (int)(l->fault - c->w->faults) : -1;
}

void server_control_label(struct server_control *c, const struct world_label *l)
{
    if (!c)
        return;
    uint64_t tail = atomic_load_explicit(&c->q_tail, memory_order_relaxed);
    uint64_t used = tail - atomic_load_explicit(&c->q_head, memory_order_acquire);
    /* no reader came for a while: move the queue on here, waiting only when it is full */
    if (used >= CONTROL_LABEL_QUEUE / 2 &&
        (used >= CONTROL_LABEL_QUEUE ? pthread_mutex_lock(&c->mu)
                                     : pthread_mutex_trylock(&c->mu)) == 0) {
        control__sync(c);
        pthread_mutex_unlock(&c->mu);
    }
    struct control_pending *p = &c->q[tail % CONTROL_LABEL_QUEUE];
    format_label(c, l, tail + 1, &p->l);
    /* a state period began or ended: the entity's state as of now */
    p->ent = !l->fault && !l->control ? world_entity_find(c->w, l->target) : -1;
    p->state = l->open && l->state ? (int)(l->state - c->w->scn->states) : SCN_STATE_HEALTHY;
    p->since = l->open ? l->start_ns : l->end_ns;
    p->source = l->source;
    atomic_store_explicit(&c->q_tail, tail + 1, memory_order_release);
    if (p->l.fault < 0) /* one-request blips wait for the base's next pull (100 ms at most) */
        wake_streams(c);
}

void control__sync(struct server_control *c)
{
    uint64_t head = atomic_load_explicit(&c->q_head, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&c->q_tail, memory_order_acquire);
    for (; head < tail; head++) {
        struct control_pending *p = &c->q[head % CONTROL_LABEL_QUEUE];
        struct control_label *r = &c->ring[c->nlabels % CONTROL_LABEL_RING];
        core_free(r->ev);
        *r = p->l; /* its id is ++nlabels (format_label) */
        c->nlabels++;
        c->world_gen += p->l.fault < 0;
        if (p->ent >= 0)
            c->ents[p->ent] = (struct control_mirror){p->state, p->since, p->source};
    }
    atomic_store_explicit(&c->q_head, head, memory_order_release);
}

/* ---- the listener ------------------------------------------------------------------------- */
static void respond(struct httpd_h1_response *rs, struct server__answer *a)
{
    rs->status = (unsigned)a->status;
    rs->content_type = a->content_type;
    core_buf_free(&rs->body);
    rs->body = a->body; /* moved, no copy */
    core_buf_init(&a->body, 0);
    httpd_h1_add_header(rs, "Cache-Control", "no-store");
    if (a->allow[0])
        httpd_h1_add_header(rs, "Allow", a->allow);
}

static void open_stream(struct server_control *c, const char *which, struct httpd_h1_response *rs,
                        struct server__answer *a)
{
    if (control__sse_open(c, which, a, rs))
        respond(rs, a); /* 400 a bad ?labels=, 503 too many streams */
    server__answer_free(a);
}

static void on_request(void *cls, struct httpd_h1_request *r, struct httpd_h1_response *rs)
{
    struct server_control *c = cls;
    const char *auth = httpd_h1_header(r, "Authorization");
    if (server__console_wants(r->path)) { /* the web console (console.c): pages need no token */
        server__console_respond(r, rs, c->w, c->loopback || authorised(c, auth));
        return;
    }
    struct server__control_req rq = {.method = r->method,
                                     .path = r->path,
                                     .auth = auth,
                                     .after = httpd_h1_arg(r, "after"),
                                     .body = (const char *)r->body,
                                     .len = r->len,
                                     .body_over = r->refused != 0};
    struct server__answer a;
    server__answer_init(&a);
    server__control_handle(c, &rq, &a);
    if (a.status == 200 && a.content_type && !strcmp(a.content_type, CONTROL_SSE_TYPE)) {
        open_stream(c, httpd_h1_arg(r, "labels"), rs, &a);
        return;
    }
    respond(rs, &a);
    server__answer_free(&a);
}

static int is_loopback(const struct httpd_addr *a)
{
    if (a->sa.ss_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)&a->sa)->sin_addr.s_addr) >> 24) == 127;
    return a->sa.ss_family == AF_INET6 &&
           IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)&a->sa)->sin6_addr);
}

int server_control_new(struct server_control **out, struct world *w,
                       const struct server_control_cfg *cfg, char *err, size_t errlen)
{
    *out = NULL;
    struct httpd_addr addr;
    const char *listen = cfg->listen ? cfg->listen : SERVER_CONTROL_DEFAULT_LISTEN;
    if (httpd_addr_parse(listen, &addr, err, errlen))
        return DIO_EINVAL;
    if (!is_loopback(&addr) && (!cfg->token || !*cfg->token)) {
        snprintf(err, errlen,
                 "the control API on %s (not loopback) needs a token: --control-token or "
                 "DIORAMA_CONTROL_TOKEN",
                 listen);
        return DIO_EINVAL;
    }
    struct server_control *c = core_calloc(1, sizeof *c);
    c->w = w;
    c->cfg = *cfg;
    c->cfg.listen = listen;
    if (!c->cfg.max_body)
        c->cfg.max_body = DEFAULT_MAX_BODY;
    c->loopback = is_loopback(&addr);
    pthread_mutex_init(&c->mu, NULL);
    c->ents = core_calloc((size_t)w->nents + 1, sizeof *c->ents);
    core_buf_init(&c->lbuf, 1 << 16); /* one label line */
    c->addr = addr;
    *out = c;
    return 0;
}

/* The world's thread, once a second: the streams are pulled now. Only the listener's eventfd:
 * the world's thread takes none of the API's locks (a reader holding one would stall the
 * world, a world thread preempted holding one would stall readers). */
static void on_snapshot(void *ctx)
{
    struct server_control *c = ctx;
    httpd_h1_wake(c->d);
}

int server_control_start(struct server_control *c, char *err, size_t errlen)
{
    struct httpd_h1_handlers h = {on_request, c, "control", c->cfg.max_body, 0, 0};
    if (c->cfg.agg)
        world_agg_set_notify(c->cfg.agg, on_snapshot, c);
    return httpd_h1_start(&c->d, &c->addr, &c->cfg.http, &h, err, errlen);
}

void server_control_end(struct server_control *c)
{
    if (c)
        atomic_store(&c->ended, 1);
}

int server_control_port(const struct server_control *c)
{
    return c && c->d ? httpd_h1_port(c->d) : 0;
}

void server_control_free(struct server_control *c)
{
    if (!c)
        return;
    if (c->cfg.agg)
        world_agg_set_notify(c->cfg.agg, NULL, NULL);
    pthread_mutex_lock(&c->mu);
    c->stopping = 1; /* event streams end */
    pthread_mutex_unlock(&c->mu);
    httpd_h1_stop(c->d); /* event streams end: their done callbacks run */
    control__sync(c);    /* labels still queued: into the ring, freed with it */
    for (int i = 0; i < CONTROL_LABEL_RING; i++)
        core_free(c->ring[i].ev);
    core_free(c->ents);
    core_buf_free(&c->lbuf);
    pthread_mutex_destroy(&c->mu);
    core_free(c);
}
