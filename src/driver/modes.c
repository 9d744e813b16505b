/* driver: request bodies and the failure modes. Every request variant a run can send is
 * built here once, as the exact bytes to write; the hot path only picks one. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "driver/internal.h"

static const char *const mode_names[DRV_NMODES] = {"normal_traffic", "latency_injection",
                                                   "error_injection", "token_bloat"};
/* Default share of requests that carry the mode's failure. */
static const double mode_share[DRV_NMODES] = {0, 0.3, 0.5, 1.0};

const char *driver_mode_name(int mode)
{
    return mode >= 0 && mode < DRV_NMODES ? mode_names[mode] : "?";
}

int driver_mode_parse(const char *s)
{
    for (int i = 0; i < DRV_NMODES; i++)
        if (!strcmp(s, mode_names[i]))
            return i;
    static const char *const shortn[DRV_NMODES] = {"normal", "latency", "error", "bloat"};
    for (int i = 0; i < DRV_NMODES; i++)
        if (!strcmp(s, shortn[i]))
            return i;
    return -1;
}

/* ---- corpus ---------------------------------------------------------------------------- */

/* Job-application emails, the traffic a "classify" endpoint of the demo services expects. */
static const char *const builtin_emails[] = {
    "Dear Hiring Manager, I am writing to apply for the Senior Backend Engineer position. I "
    "have eight years of experience building distributed systems in Go and C, and I led the "
    "migration of our payment platform to Kubernetes. I would welcome the chance to talk.",
    "Hello, please find attached my CV for the Data Analyst role advertised on your careers "
    "page. I recently completed a master's degree in statistics and spent a year at a retail "
    "company building demand forecasts in Python and SQL. Kind regards, Amira",
    "Hi team, I saw the opening for a Frontend Developer and I think I am a good fit. I work "
    "with TypeScript and React every day and care a lot about accessibility. My portfolio is "
    "linked in my resume. Thanks for your time, Jonas",
    "To whom it may concern: I would like to be considered for the Warehouse Supervisor "
    "position in Rotterdam. I have managed a team of twelve pickers for three years and hold "
    "a forklift licence. I am available to start next month.",
    "Dear Ms. Okafor, following our conversation at the career fair, I am sending my "
    "application for the Machine Learning Engineer internship. I have trained text "
    "classifiers with PyTorch and deployed one behind a small FastAPI service.",
    "Good morning, I am interested in the Customer Support Specialist vacancy. I speak "
    "English, Spanish and Portuguese fluently and have handled up to sixty tickets a day in "
    "my current role at a travel agency. I look forward to hearing from you.",
    "Dear recruiter, I am applying for the Site Reliability Engineer position. On call for "
    "four years, I wrote our runbooks, cut alert noise by half and introduced SLOs for every "
    "customer-facing service. References are available on request.",
    "Hi, I'm a registered nurse with five years in intensive care and I'd like to apply for "
    "the Clinical Data Coordinator role. I am comfortable with EHR systems and have helped "
    "run two clinical trials. Best wishes, Priya",
    "Dear Sir or Madam, please accept my application for the Accountant position. I am a "
    "chartered accountant with experience in month-end close, audits and IFRS reporting for "
    "a manufacturing group with revenue of 200 million euros.",
    "Hello! I'm a recent graduate in graphic design applying for your Junior Designer "
    "opening. I love typography and branding work, and I've freelanced for three local "
    "cafes and a music festival. My portfolio link is in the attached resume.",
    "Dear hiring team, I would like to apply for the Product Manager role on the payments "
    "team. I have shipped two mobile banking features used by a million customers and I "
    "enjoy working closely with engineers and designers.",
    "Hi there, I am writing about the Electrician apprenticeship. I finished my vocational "
    "course last spring with top marks and have been helping my uncle's company with "
    "residential wiring since. I am reliable, punctual and keen to learn.",
};
#define NBUILTIN (sizeof builtin_emails / sizeof builtin_emails[0])

static char *wrap_text(const char *s, size_t n)
{
    struct core_buf b;
    core_buf_init(&b, 4u << 20);
    char *tmp = core_strndup(s, n);
    core_buf_puts(&b, "{\"text\": ");
    core_buf_put_json_str(&b, tmp);
    core_buf_putc(&b, '}');
    core_buf_putc(&b, '\0');
    core_free(tmp);
    return (char *)b.p;
}

void driver_corpus_builtin(struct driver_corpus *c)
{
    c->n = NBUILTIN;
    c->body = core_calloc(NBUILTIN, sizeof *c->body);
    for (size_t i = 0; i < NBUILTIN; i++)
        c->body[i] = wrap_text(builtin_emails[i], strlen(builtin_emails[i]));
}

void driver_corpus_free(struct driver_corpus *c)
{
    for (size_t i = 0; i < c->n; i++)
        core_free(c->body[i]);
    core_free(c->body);
    c->body = NULL;
    c->n = 0;
}

#define CORPUS_MAX_BYTES (64u << 20)
#define CORPUS_MAX_BODIES 100000
#define CORPUS_MAX_BODY (1u << 20)

static int corpus_add(struct driver_corpus *c, size_t *cap, char *body)
{
    if (c->n == CORPUS_MAX_BODIES) {
        core_free(body);
        return -1;
    }
    if (c->n == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        c->body = core_realloc(c->body, *cap * sizeof *c->body);
    }
    c->body[c->n++] = body;
    return 0;
}

/* Length of the JSON value at s (a string or a bracketed value), 0 if it does not end. Only
 * bracket matching with string awareness: the target judges the JSON, we only split it. */
static size_t json_value_len(const char *s, size_t n)
{
    int depth = 0, in_str = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (in_str) {
            if (ch == '\\')
                i++;
            else if (ch == '"' && (in_str = 0, depth == 0))
                return i + 1;
        } else if (ch == '"') {
            in_str = 1;
        } else if (ch == '{' || ch == '[') {
            depth++;
        } else if (ch == '}' || ch == ']') {
            if (--depth == 0)
                return i + 1;
            if (depth < 0)
                return 0;
        } else if (depth == 0) {
            return 0;
        }
    }
    return 0;
}

static int corpus_array(const char *d, size_t n, struct driver_corpus *c, size_t *cap)
{
    size_t i = 1;
    for (;;) {
        while (i < n && (isspace((unsigned char)d[i]) || d[i] == ','))
            i++;
        if (i < n && d[i] == ']')
            return 0;
        size_t len = i < n ? json_value_len(d + i, n - i) : 0;
        if (!len || len > CORPUS_MAX_BODY)
            return -1;
        char *body = d[i] == '"' ? core_strndup("", 0) : core_strndup(d + i, len);
        if (d[i] == '"') { /* keep the string's escapes: they are valid inside our literal */
            core_free(body);
            body = core_malloc(len + 12);
            snprintf(body, len + 12, "{\"text\": %.*s}", (int)len, d + i);
        }
        if (corpus_add(c, cap, body))
            return -1;
        i += len;
    }
}

static int corpus_lines(const char *d, size_t n, struct driver_corpus *c, size_t *cap)
{
    size_t i = 0;
    while (i < n) {
        const char *nl = memchr(d + i, '\n', n - i);
        size_t len = nl ? (size_t)(nl - d - i) : n - i;
        size_t l = len;
        if (l && d[i + l - 1] == '\r')
            l--;
        if (l > CORPUS_MAX_BODY)
            return -1;
        if (l && memchr(d + i, '\0', l))
            return -1;
        if (l)
            if (corpus_add(c, cap, d[i] == '{' ? core_strndup(d + i, l) : wrap_text(d + i, l)))
                return -1;
        i += len + 1;
    }
    return 0;
}

int driver_corpus_parse(const char *data, size_t n, struct driver_corpus *c, char *err, size_t errn)
{
    memset(c, 0, sizeof *c);
    size_t cap = 0, i = 0;
    if (n > CORPUS_MAX_BYTES) {
        snprintf(err, errn, "corpus larger than 64 MiB");
        return DIO_EPARSE;
    }
    while (i < n && isspace((unsigned char)data[i]))
        i++;
    int rc = i < n && data[i] == '[' ? corpus_array(data + i, n - i, c, &cap)
                                     : corpus_lines(data, n, c, &cap);
    if (rc || c->n == 0) {
        snprintf(err, errn,
                 rc ? "corpus: not one body per line nor a JSON array of strings/objects "
                      "(or over 100,000 bodies / 1 MiB per body)"
                    : "corpus: no bodies");
        driver_corpus_free(c);
        return DIO_EPARSE;
    }
    return 0;
}

/* ---- requests -------------------------------------------------------------------------- */

static int user_has(const struct driver_opts *o, const char *name)
{
    size_t n = strlen(name);
    for (int i = 0; i < o->nheaders; i++)
        if (!strncasecmp(o->headers[i], name, n) && o->headers[i][n] == ':')
            return 1;
    return 0;
}

struct variant {
    const char *body; /* NULL: none */
    size_t len;
    const char *ctype; /* NULL: application/json when there is a body */
    const char *extra; /* one more header line (without CRLF) or NULL */
};

/* Where one group of requests goes: -X (NULL: POST with a body, GET without) and the path. */
struct target {
    const char *method;
    const char *path;
};

static int bodiless(const char *method)
{
    return method && (!strcasecmp(method, "GET") || !strcasecmp(method, "HEAD") ||
                      !strcasecmp(method, "DELETE"));
}

static void put_tag(const struct driver_opts *o, struct core_buf *b)
{
    core_buf_printf(b, "%s: ", o->tag_header ? o->tag_header : "X-Traffic-Type");
    if (o->tag_value) {
        core_buf_puts(b, o->tag_value);
    } else {
        core_buf_puts(b, "DIORAMA_");
        for (const char *p = driver_mode_name(o->mode); *p; p++)
            core_buf_putc(b, (char)toupper((unsigned char)*p));
    }
    core_buf_puts(b, "\r\n");
}

static void build_one(const struct driver_opts *o, const struct target *tg, const struct variant *v,
                      struct driver_req *r)
{
    struct core_buf b;
    core_buf_init(&b, (v->len + 65536) * 2);
    const char *method = tg->method ? tg->method : (v->body ? "POST" : "GET");
    const struct driver_url *u = &o->url;
    int dflt_port = !strcmp(u->port, u->tls ? "443" : "80");
    int v6 = strchr(u->host, ':') != NULL;
    core_buf_printf(&b, "%s %s HTTP/1.1\r\n", method, tg->path);
    if (!user_has(o, "host"))
        core_buf_printf(&b, "Host: %s%s%s%s%s\r\n", v6 ? "[" : "", u->host, v6 ? "]" : "",
                        dflt_port ? "" : ":", dflt_port ? "" : u->port);
    if (!user_has(o, "user-agent"))
        core_buf_puts(&b, "User-Agent: diorama/" DIORAMA_VERSION "\r\n");
    put_tag(o, &b);
    if (v->extra)
        core_buf_printf(&b, "%s\r\n", v->extra);
    for (int i = 0; i < o->nheaders; i++)
        core_buf_printf(&b, "%s\r\n", o->headers[i]);
    if (v->body) {
        if (v->ctype || !user_has(o, "content-type"))
            core_buf_printf(&b, "Content-Type: %s\r\n", v->ctype ? v->ctype : "application/json");
        core_buf_printf(&b, "Content-Length: %zu\r\n", v->len);
    }
    core_buf_puts(&b, "\r\n");
    if (v->body)
        core_buf_append(&b, v->body, v->len);
    r->buf = (char *)b.p;
    r->len = b.len;
    r->head = !strcasecmp(method, "HEAD");
}

/* The bodies normal requests carry: --body, else the corpus, else none for GET/HEAD. */
static size_t normal_bodies(const struct driver_opts *o, const struct target *tg,
                            struct variant **out)
{
    const struct driver_corpus *c = o->corpus;
    int none = bodiless(tg->method);
    size_t n = o->body || none ? 1 : c->n;
    struct variant *v = core_calloc(n, sizeof *v);
    if (o->body) {
        v[0].body = o->body;
        v[0].len = o->body_len;
    } else if (!none) {
        for (size_t i = 0; i < n; i++) {
            v[i].body = c->body[i];
            v[i].len = strlen(c->body[i]);
        }
    }
    *out = v;
    return n;
}

#define NDELAYS 16

static void build_latency(const struct driver_opts *o, const struct target *tg,
                          const struct variant *nv, size_t nn, struct drv__reqgroup *g)
{
    g->ninj = NDELAYS;
    g->inj = core_calloc(NDELAYS, sizeof *g->inj);
    for (size_t i = 0; i < NDELAYS; i++) {
        char hdr[64];
        unsigned ms = 2000 + (unsigned)i * 200; /* 2.0 .. 5.0 s */
        snprintf(hdr, sizeof hdr, "X-Diorama-Delay: %ums", ms);
        struct variant v = nv[i % nn];
        v.extra = hdr;
        build_one(o, tg, &v, &g->inj[i]);
        g->inj[i].client_delay_ms = (uint32_t)(o->client_delay_ns / 1000000);
    }
}

static void build_errors(const struct driver_opts *o, const struct target *tg,
                         const struct variant *nv, size_t nn, struct drv__reqgroup *g)
{
    static const char missing[] = "{\"input\": null, \"lang\": \"en\"}";
    static const char notjson[] = "text=this+is+not+json&<<<";
    g->ninj = 4 * 4;
    g->inj = core_calloc(g->ninj, sizeof *g->inj);
    for (size_t i = 0; i < g->ninj; i++) {
        struct variant v = nv[i % nn];
        if (!v.body) { /* GET without a body: malformed bodies still go out */
            v.body = o->corpus->body[i % o->corpus->n];
            v.len = strlen(v.body);
        }
        switch (i % 4) {
        case 0: /* cut short: unbalanced JSON */
            v.len = v.len > 3 ? v.len / 2 : 1;
            break;
        case 1:
            v.body = missing, v.len = sizeof missing - 1;
            break;
        case 2:
            v.ctype = "text/plain";
            break;
        case 3:
            v.body = notjson, v.len = sizeof notjson - 1;
            v.ctype = "application/x-www-form-urlencoded";
            break;
        }
        build_one(o, tg, &v, &g->inj[i]);
    }
}

#define NBLOAT 8

static void build_bloat(const struct driver_opts *o, const struct target *tg,
                        struct drv__reqgroup *g)
{
    g->ninj = NBLOAT;
    g->inj = core_calloc(NBLOAT, sizeof *g->inj);
    for (size_t i = 0; i < NBLOAT; i++) {
        size_t want = 10000 + i * 4000; /* 10,000 .. 38,000 characters of prompt */
        struct core_buf t;
        core_buf_init(&t, want + 4096);
        for (size_t k = i; t.len < want; k++) {
            core_buf_puts(&t, builtin_emails[k % NBUILTIN]);
            core_buf_putc(&t, ' ');
        }
        char *body = wrap_text((const char *)t.p, t.len);
        struct variant v = {.body = body, .len = strlen(body)};
        build_one(o, tg, &v, &g->inj[i]);
        core_free(body);
        core_buf_free(&t);
    }
}

/* Builds group g of the array starting at g0 (its index is the route's). */
static void build_group(const struct driver_opts *o, const struct target *tg,
                        struct drv__reqgroup *g0, struct drv__reqgroup *g)
{
    struct variant *nv;
    size_t nn = normal_bodies(o, tg, &nv);
    g->nnormal = nn;
    g->normal = core_calloc(nn, sizeof *g->normal);
    for (size_t i = 0; i < nn; i++)
        build_one(o, tg, &nv[i], &g->normal[i]);
    if (o->mode == DRV_LATENCY)
        build_latency(o, tg, nv, nn, g);
    else if (o->mode == DRV_ERROR)
        build_errors(o, tg, nv, nn, g);
    else if (o->mode == DRV_BLOAT)
        build_bloat(o, tg, g);
    for (size_t i = 0; i < g->ninj; i++)
        g->inj[i].injected = 1;
    int route = (int)(g - g0);
    for (size_t i = 0; i < g->nnormal; i++)
        g->normal[i].route = route;
    for (size_t i = 0; i < g->ninj; i++)
        g->inj[i].route = route;
    core_free(nv);
}

/* The URL's path joined with a route's: "/api/" + "/checkout" -> "/api/checkout". */
static char *route_path(const char *base, const char *route)
{
    size_t n = strlen(base);
    while (n && base[n - 1] == '/')
        n--;
    struct core_buf b;
    core_buf_init(&b, SIZE_MAX / 2);
    core_buf_append(&b, base, n);
    core_buf_puts(&b, route[0] == '/' ? route : "/");
    if (route[0] != '/')
        core_buf_puts(&b, route);
    core_buf_putc(&b, '\0');
    return (char *)b.p;
}

static void build_routes(const struct driver_opts *o, struct drv__reqset *rs)
{
    double total = 0, acc = 0;
    for (int i = 0; i < o->nroutes; i++)
        total += o->routes[i].weight;
    for (size_t i = 0; i < rs->ng; i++) {
        const struct driver_route *rt = &o->routes[i];
        char *path = route_path(o->url.path, rt->path);
        struct target tg = {rt->method, path};
        build_group(o, &tg, rs->g, &rs->g[i]);
        core_free(path);
        acc += total > 0 ? rt->weight / total : 1.0 / (double)rs->ng;
        rs->cum[i] = acc;
    }
    rs->cum[rs->ng - 1] = 1; /* rounding must not leave a gap at the top */
}

int drv__reqs_build(const struct driver_opts *o, struct drv__reqset *rs, char *err, size_t errn)
{
    (void)err, (void)errn;
    memset(rs, 0, sizeof *rs);
    rs->ng = o->nroutes > 0 ? (size_t)o->nroutes : 1;
    rs->g = core_calloc(rs->ng, sizeof *rs->g);
    rs->cum = core_calloc(rs->ng, sizeof *rs->cum);
    if (o->nroutes > 0) {
        build_routes(o, rs);
    } else {
        struct target tg = {o->method, o->url.path};
        build_group(o, &tg, rs->g, &rs->g[0]);
        rs->cum[0] = 1;
    }
    rs->share = o->share >= 0 ? o->share : mode_share[o->mode];
    if (!rs->g[0].ninj)
        rs->share = 0;
    return 0;
}

void drv__reqs_free(struct drv__reqset *rs)
{
    for (size_t k = 0; k < rs->ng; k++) {
        struct drv__reqgroup *g = &rs->g[k];
        for (size_t i = 0; i < g->nnormal; i++)
            core_free(g->normal[i].buf);
        for (size_t i = 0; i < g->ninj; i++)
            core_free(g->inj[i].buf);
        core_free(g->normal);
        core_free(g->inj);
    }
    core_free(rs->g);
    core_free(rs->cum);
}

static double unit(uint64_t h)
{
    return (double)(h >> 11) * (1.0 / 9007199254740992.0);
}

static const struct drv__reqgroup *pick_group(const struct drv__reqset *rs, uint64_t h)
{
    if (rs->ng == 1)
        return &rs->g[0];
    double u = unit(core_mix64(h ^ 0x2545f4914f6cdd1dULL));
    size_t lo = 0, hi = rs->ng - 1; /* the first cum > u */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (rs->cum[mid] > u)
            hi = mid;
        else
            lo = mid + 1;
    }
    return &rs->g[lo];
}

const struct driver_req *drv__reqs_pick(const struct drv__reqset *rs, uint64_t seed, uint64_t k)
{
    uint64_t h = core_mix64(seed * 0x9e3779b97f4a7c15ULL + k);
    const struct drv__reqgroup *g = pick_group(rs, h);
    if (rs->share > 0 && unit(h) < rs->share)
        return &g->inj[core_mix64(h) % g->ninj];
    return &g->normal[g->nnormal == 1 ? 0 : core_mix64(h ^ 0x5bd1e995) % g->nnormal];
}
