/* The server's lifecycle and what cli/ reads from it. */
#include <stdio.h>
#include <string.h>

#include "server/internal.h"

#define DEFAULT_MAX_BODY ((size_t)1 << 20)

int server_new(struct server **out, const struct world *w, const struct server_cfg *cfg, char *err,
               size_t errlen)
{
    if (!cfg->listen) {
        snprintf(err, errlen, "no listen address");
        return DIO_EINVAL;
    }
    struct server *s = core_calloc(1, sizeof *s);
    s->cfg = *cfg;
    if (!s->cfg.max_body)
        s->cfg.max_body = DEFAULT_MAX_BODY;
    if (!s->cfg.http.max_connections) /* the timer's heap is sized by it */
        s->cfg.http.max_connections = HTTPD_DEFAULT_MAX_CONNECTIONS;
    s->w = w;
    s->t0_ns = core_mono_ns();
    server__routes_build(&s->rt, w);
    server__model_init(&s->model, w, cfg->seed);
    s->model.planned = cfg->planned;
    s->model.on_world = cfg->on_world;
    s->model.hook_ctx = cfg->hook_ctx;
    server__metrics_init(&s->m, s->rt.n);
    *out = s;
    return 0;
}

void server_free(struct server *s)
{
    if (!s)
        return;
    server_stop(s, 0);
    server__metrics_free(&s->m);
    server__model_free(&s->model);
    server__routes_free(&s->rt);
    core_free(s);
}

int server_start(struct server *s, char *err, size_t errlen)
{
    if (s->http) {
        snprintf(err, errlen, "already started");
        return DIO_EINVAL;
    }
    return server__http_start(s, err, errlen);
}

int server_port(const struct server *s)
{
    return s->port;
}

void server_stop(struct server *s, uint64_t grace_ns)
{
    server__http_stop(s, grace_ns);
}

void server_stats(const struct server *s, struct server_stats *o)
{
    const struct server__metrics *m = &s->m;
    memset(o, 0, sizeof *o);
    for (int i = 0; i < 6; i++) {
        o->by_class[i] = atomic_load(&m->classes[i]);
        o->requests += o->by_class[i];
    }
    o->delayed = atomic_load(&m->delayed);
    o->cut = atomic_load(&m->cut);
    for (int k = 0; k < SERVER_NFAULT_KINDS; k++)
        o->faults[k] = atomic_load(&m->faults[k]);
    o->inflight = atomic_load(&m->inflight);
}

int server_nroutes(const struct server *s)
{
    return s->rt.n;
}

const char *server_route_name(const struct server *s, int i)
{
    return i >= 0 && i < s->rt.n ? s->rt.r[i].name : NULL;
}
