/* One request, without sockets: route, validate, plan, answer. The order of the checks is the
 * order of the status codes in docs/serve.md: 404/405 (routing), 413 (body size), 400 (the
 * X-Diorama-Delay header), 415/400/422 (the body), then the scenario's own answer. */
#include <stdio.h>
#include <string.h>

#include "server/internal.h"
#include "wire/wire.h"

#define ANSWER_MAX ((size_t)16 << 20) /* /metrics with every series; other answers are small */

void server__answer_init(struct server__answer *a)
{
    memset(a, 0, sizeof *a);
    core_buf_init(&a->body, ANSWER_MAX);
    a->route = -1;
    a->content_type = "application/json";
}

void server__answer_free(struct server__answer *a)
{
    core_buf_free(&a->body);
}

void server__answer_error(struct server__answer *a, int status, const char *msg)
{
    a->status = status;
    a->content_type = "application/json";
    core_buf_reset(&a->body);
    core_buf_puts(&a->body, "{\"error\":");
    core_buf_put_json_str(&a->body, msg);
    core_buf_printf(&a->body, ",\"status\":%d}\n", status);
}

static int has_body(const char *method)
{
    return !strcmp(method, "POST") || !strcmp(method, "PUT") || !strcmp(method, "PATCH");
}

static void builtin(struct server *s, const struct server__route *r, struct server__answer *a)
{
    a->status = 200;
    if (r->kind == SERVER__R_HEALTH) {
        core_buf_puts(&a->body, "{\"status\":\"ok\"}\n");
        return;
    }
    a->content_type = WIRE_PROM_CONTENT_TYPE;
    if (server__metrics_text(s, &a->body))
        server__answer_error(a, 500, "metrics did not fit the answer buffer");
}

static void answer_classify(const struct server *s, const struct server__plan *p,
                            const struct server__text *t, struct server__answer *a)
{
    core_buf_puts(&a->body, "{\"label\":\"");
    core_buf_puts(&a->body, server__labels[t->label]);
    core_buf_printf(&a->body, "\",\"confidence\":%.2f,\"model\":", t->confidence);
    if (p->model >= 0)
        core_buf_put_json_str(&a->body, s->w->models[p->model].scn->name);
    else
        core_buf_puts(&a->body, "null");
    core_buf_printf(&a->body, ",\"tokens_in\":%u,\"tokens_out\":%u}\n", a->tokens_in,
                    a->tokens_out);
}

static void answer_generic(const struct server *s, const struct server__route *r,
                           const struct server__plan *p, struct server__answer *a)
{
    const struct world_service *sv = &s->w->svcs[r->svc];
    core_buf_puts(&a->body, "{\"service\":");
    core_buf_put_json_str(&a->body, sv->scn->name);
    core_buf_puts(&a->body, ",\"operation\":");
    core_buf_put_json_str(&a->body, sv->ops[r->op].scn->name);
    core_buf_printf(&a->body, ",\"status\":%d,\"latency_ms\":%.3f", a->status,
                    (double)p->latency_ns / 1e6);
    if (p->pool_wait_ns) /* part of latency_ms: queued for a pool's connection */
        core_buf_printf(&a->body, ",\"pool_wait_ms\":%.3f", (double)p->pool_wait_ns / 1e6);
    if (p->model >= 0) {
        core_buf_puts(&a->body, ",\"model\":");
        core_buf_put_json_str(&a->body, s->w->models[p->model].scn->name);
        core_buf_printf(&a->body, ",\"tokens_in\":%u,\"tokens_out\":%u", a->tokens_in,
                        a->tokens_out);
    }
    core_buf_puts(&a->body, "}\n");
}

/* The scenario's part: plan the request, count its tokens, write the answer. */
static void modelled(struct server *s, const struct server__route *r, const struct server__text *t,
                     struct server__answer *a)
{
    struct server__plan p;
    uint64_t k = atomic_fetch_add(&s->k, 1) + 1;
    uint64_t now = s->cfg.clock ? s->cfg.clock(s->cfg.hook_ctx) : core_mono_ns() - s->t0_ns;
    server__plan(&s->model, r, k, now, &p);
    memcpy(a->faults, p.faults, sizeof a->faults);
    a->wait_ns += p.latency_ns;
    a->status = p.status;
    if (p.status >= 400) {
        char msg[320]; /* names are at most 128 bytes, without control characters */
        if (p.pool_svc >= 0)
            snprintf(msg, sizeof msg, "no connection of %s/%s's pool within %.0fms",
                     s->w->svcs[p.pool_svc].scn->name,
                     s->w->svcs[p.pool_svc].ops[p.pool_op].scn->name, (double)p.pool_wait_ns / 1e6);
        else
            snprintf(msg, sizeof msg, "the scenario failed this request with status %d", p.status);
        server__answer_error(a, p.status, msg);
        return;
    }
    if (r->tokens) {
        /* about 4 characters per token, as for English text and common tokenizers */
        a->tokens_in =
            t->has_text ? (uint32_t)((t->text_len + 3) / 4 * p.tokens_factor) : p.tokens_in;
        a->tokens_out = p.tokens_out;
    }
    if (r->classify)
        answer_classify(s, &p, t, a);
    else
        answer_generic(s, r, &p, a);
}

static void scenario_route(struct server *s, const struct server__route *r,
                           const struct server__request *rq, struct server__answer *a)
{
    char msg[256];
    uint64_t delay = 0;
    struct server__text t = {0};
    if (rq->body_over) {
        snprintf(msg, sizeof msg, "the body is over the limit of %zu bytes (--max-body)",
                 s->cfg.max_body);
        server__answer_error(a, 413, msg);
        return;
    }
    if (rq->delay && server__parse_delay(rq->delay, s->cfg.max_delay_ns, &delay, msg, sizeof msg)) {
        server__answer_error(a, 400, msg);
        return;
    }
    a->wait_ns = delay; /* honoured for every answer from here on, valid body or not */
    a->delayed = delay > 0;
    int st = has_body(rq->method) ? server__validate_body(rq->content_type, rq->body, rq->len,
                                                          r->classify, &t, msg, sizeof msg)
                                  : 0;
    if (st)
        server__answer_error(a, st, msg);
    else
        modelled(s, r, &t, a);
}

void server__handle(struct server *s, const struct server__request *rq, struct server__answer *a)
{
    char msg[256];
    a->method = server__method_index(rq->method);
    a->traffic = server__traffic_index(&s->m, rq->traffic);
    int i = server__route_find(&s->rt, rq->method, rq->path, a->allow, sizeof a->allow);
    if (i < 0) {
        a->route = -1;
        snprintf(msg, sizeof msg, i == -1 ? "no route for this path" : "method not allowed here");
        server__answer_error(a, i == -1 ? 404 : 405, msg);
        return;
    }
    a->route = i;
    const struct server__route *r = &s->rt.r[i];
    if (r->kind != SERVER__R_SCENARIO)
        builtin(s, r, a);
    else
        scenario_route(s, r, rq, a);
}
