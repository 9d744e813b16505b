/* The web console (docs/console.md): web/console's files, embedded at build time, served by
 * the control listener at GET / (index.html) and GET /console/NAME, plus
 * GET /console/graph.json, the world's shape the page draws its call graph from (services with
 * their host and the services they call, models with the service they enter, hosts). Live data
 * comes from the control API itself (/api/world, /api/stream ...), not from here.
 *
 * Every answer carries a Content-Security-Policy that allows nothing but this origin: the page
 * loads no script, style, font or image from elsewhere and may connect nowhere else, so it
 * works offline and a hostile scenario name cannot make it talk to a third party. Files are
 * revalidated (no-cache + ETag, 304 when unchanged); the graph, which is data, is never cached.
 * Reading the files needs no token (they hold no data); graph.json follows the API's rule
 * (may_read: on a non-loopback listener only with the token). */
#include <string.h>

#include "server/internal.h"

#define CSP                                                                                        \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "              \
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "                    \
    "form-action 'none'; frame-ancestors 'none'"
#define PREFIX "/console/"

static const struct {
    const char *ext, *type;
} types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json"},
    {".svg", "image/svg+xml"},
};

static const char *type_of(const char *name)
{
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (!strcmp(dot, types[i].ext))
            return types[i].type;
    return "text/plain; charset=utf-8";
}

int server__console_wants(const char *url)
{
    return !strcmp(url, "/") || !strcmp(url, "/index.html") ||
           !strncmp(url, PREFIX, strlen(PREFIX));
}

static const struct server__console_asset *find(const char *name)
{
    for (const struct server__console_asset *a = server__console_assets; a->name; a++)
        if (!strcmp(a->name, name))
            return a;
    return NULL;
}

static void text(struct server__console_reply *r, int status, const char *type, const char *msg)
{
    r->status = status;
    r->type = type;
    r->etag = NULL;
    core_buf_reset(&r->dyn);
    core_buf_puts(&r->dyn, msg);
    r->body = r->dyn.p;
    r->len = r->dyn.len;
}

/* ---- graph.json: the world's shape -------------------------------------------------------- */
/* The distinct services op's calls reach, after those already in seen (a bitmap by index). */
static void put_calls(const struct scenario *s, const struct scn_service *sv, unsigned char *seen,
                      struct core_buf *b)
{
    int n = 0;
    for (int o = 0; o < sv->nops; o++)
        for (int k = 0; k < sv->ops[o].ncalls; k++) {
            int to = sv->ops[o].calls[k].svc;
            if (to < 0 || to >= s->nservices || seen[to])
                continue;
            seen[to] = 1;
            core_buf_puts(b, n++ ? "," : "");
            core_buf_put_json_str(b, s->services[to].name);
        }
}

static void put_services(const struct scenario *s, struct core_buf *b)
{
    unsigned char *seen = core_calloc((size_t)s->nservices + 1, 1);
    core_buf_puts(b, "\"services\":[");
    for (int i = 0; i < s->nservices; i++) {
        const struct scn_service *sv = &s->services[i];
        memset(seen, 0, (size_t)s->nservices + 1);
        core_buf_puts(b, i ? ",{\"name\":" : "{\"name\":");
        core_buf_put_json_str(b, sv->name);
        core_buf_puts(b, ",\"host\":");
        if (sv->host_idx >= 0)
            core_buf_put_json_str(b, s->hosts[sv->host_idx].name);
        else
            core_buf_puts(b, "null");
        core_buf_puts(b, ",\"calls\":[");
        put_calls(s, sv, seen, b);
        core_buf_puts(b, "],\"entries\":[");
        for (int o = 0, n = 0; o < sv->nops; o++)
            if (sv->ops[o].rate > 0) {
                core_buf_puts(b, n++ ? "," : "");
                core_buf_put_json_str(b, sv->ops[o].name);
            }
        core_buf_puts(b, "]}");
    }
    core_buf_puts(b, "]");
    core_free(seen);
}

static void put_models(const struct scenario *s, struct core_buf *b)
{
    core_buf_puts(b, ",\"models\":[");
    for (int i = 0; i < s->nmodels; i++) {
        const struct scn_model *m = &s->models[i];
        int sv = m->entry_svc >= 0 && m->entry_svc < s->nservices ? m->entry_svc : -1;
        core_buf_puts(b, i ? ",{\"name\":" : "{\"name\":");
        core_buf_put_json_str(b, m->name);
        core_buf_puts(b, ",\"service\":");
        if (sv >= 0)
            core_buf_put_json_str(b, s->services[sv].name);
        else
            core_buf_puts(b, "null");
        core_buf_puts(b, ",\"entry\":");
        if (m->entry)
            core_buf_put_json_str(b, m->entry);
        else
            core_buf_puts(b, "null");
        core_buf_puts(b, "}");
    }
    core_buf_puts(b, "]");
}

static void put_hosts(const struct scenario *s, struct core_buf *b)
{
    core_buf_puts(b, ",\"hosts\":[");
    for (int i = 0; i < s->nhosts; i++) {
        const struct scn_host *h = &s->hosts[i];
        core_buf_puts(b, i ? ",{\"name\":" : "{\"name\":");
        core_buf_put_json_str(b, h->name);
        core_buf_puts(b, ",\"profile\":");
        core_buf_put_json_str(b, h->profile ? h->profile : "general");
        core_buf_printf(b, ",\"cpus\":%d,\"memory_gib\":%g,\"gpus\":%d}", h->cpus, h->memory_gib,
                        h->gpus);
    }
    core_buf_puts(b, "]");
}

/* The scenario is immutable while the world runs, so any thread may read it. */
static void graph(const struct world *w, struct server__console_reply *r)
{
    const struct scenario *s = w->scn;
    struct core_buf *b = &r->dyn;
    core_buf_reset(b);
    core_buf_puts(b, "{\"scenario\":");
    core_buf_put_json_str(b, s->name);
    core_buf_puts(b, ",");
    put_services(s, b);
    put_models(s, b);
    put_hosts(s, b);
    core_buf_puts(b, "}\n");
    r->status = 200;
    r->type = "application/json";
    r->etag = NULL;
    r->body = b->p;
    r->len = b->len;
}

void server__console_answer(const struct world *w, const char *method, const char *url,
                            const char *if_none_match, int may_read,
                            struct server__console_reply *r)
{
    const char *name = strncmp(url, PREFIX, strlen(PREFIX)) ? "index.html" : url + strlen(PREFIX);
    const struct server__console_asset *a = find(name);
    const char *json = "application/json";
    r->allow[0] = 0;
    if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
        text(r, 405, json, "{\"error\":\"the console is read with GET\"}\n");
        strcpy(r->allow, "GET, HEAD");
    } else if (!strcmp(name, "graph.json")) {
        if (may_read)
            graph(w, r);
        else
            text(r, 401, json,
                 "{\"error\":\"this listener is not on loopback: every request "
                 "needs the token\"}\n");
    } else if (!a) {
        text(r, 404, json, "{\"error\":\"no such console file (GET / is the console)\"}\n");
    } else {
        int same = if_none_match && strstr(if_none_match, a->etag);
        r->status = same ? 304 : 200;
        r->type = type_of(a->name);
        r->etag = a->etag;
        r->body = a->data;
        r->len = same ? 0 : a->len;
    }
}

void server__console_respond(struct httpd_h1_request *rq, struct httpd_h1_response *rs,
                             const struct world *w, int may_read)
{
    struct server__console_reply r = {0};
    core_buf_init(&r.dyn, 16u << 20); /* graph.json of the largest scenario fits */
    server__console_answer(w, rq->method, rq->path, httpd_h1_header(rq, "If-None-Match"), may_read,
                           &r);
    rs->status = (unsigned)r.status;
    rs->content_type = r.type;
    if (r.etag) { /* embedded files live as long as the process: sent without a copy */
        rs->static_body = r.body;
        rs->static_len = r.len;
    } else {
        core_buf_append(&rs->body, r.body, r.len);
    }
    httpd_h1_add_header(rs, "Cache-Control", r.etag ? "no-cache" : "no-store");
    if (r.etag)
        httpd_h1_add_header(rs, "ETag", r.etag);
    if (r.allow[0])
        httpd_h1_add_header(rs, "Allow", r.allow);
    httpd_h1_add_header(rs, "Content-Security-Policy", CSP);
    httpd_h1_add_header(rs, "X-Content-Type-Options", "nosniff");
    httpd_h1_add_header(rs, "Referrer-Policy", "no-referrer");
    core_buf_free(&r.dyn);
}
