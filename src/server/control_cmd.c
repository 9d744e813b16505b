/* The control API's live changes beyond entity states (docs/control-api.md):
 *
 *   PUT  /api/rate     {"factor": 2} or {"rps": 150}, optional "target": "svc/op" or a model
 *   POST /api/pause    no new traffic (hosts' metrics go on)
 *   POST /api/resume
 *   PUT  /api/speed    {"speed": 10}: real-time runs only (400 at --speed max)
 *   PUT  /api/chaos    {"enabled": true, "spec": "every=10m,hold=1-3m,max=2"}
 *   POST /api/faults/{name}/start {"for": "2m", "variant": "50%"}, POST .../stop
 *
 * Like state changes, each one only becomes a world command here (world/live.c applies and
 * labels it at the next tick, source "command"); the answer is 202 with what was queued. */
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "server/control_int.h"

typedef void (*change_fn)(struct server_control *c, json_t *body,
                          const struct server__control_req *rq, struct server__answer *a);

/* ---- rate, pause, speed, chaos ------------------------------------------------------------ */
static void unknown_traffic(struct server_control *c, const char *name, struct server__answer *a)
{
    const struct world *w = c->w;
    const char *best = scenario_suggest(name, w->traffic, w->ntraffic, sizeof *w->traffic,
                                        offsetof(struct world_traffic, name));
    if (best)
        control__fail(a, 404, "no traffic source '%.128s' (did you mean '%s'?)", name, best);
    else
        control__fail(a, 404, "no traffic source '%.128s' (GET /api/world lists \"rates\")", name);
}

static void accepted(struct server__answer *a, const char *what, double v)
{
    control__answer(a, 202, "");
    core_buf_printf(&a->body, "{\"accepted\":true,\"%s\":%g,\"applies\":\"at the next tick\"}\n",
                    what, v);
}

static void put_rate(struct server_control *c, json_t *j, const struct server__control_req *rq,
                     struct server__answer *a)
{
    (void)rq;
    json_t *f = json_object_get(j, "factor"), *r = json_object_get(j, "rps");
    json_t *t = json_object_get(j, "target");
    if ((!f) == (!r) || !json_is_number(f ? f : r) || (t && !json_is_string(t))) {
        control__fail(a, 400,
                      "expected {\"factor\": 2.0} or {\"rps\": 150}, with an optional "
                      "\"target\": \"service/operation\" or a model name");
        return;
    }
    int src = t ? world_traffic_find(c->w, json_string_value(t)) : -1;
    if (t && src < 0) {
        unknown_traffic(c, json_string_value(t), a);
        return;
    }
    struct world_cmd cmd = {.kind = f ? WORLD_CMD_RATE : WORLD_CMD_RPS,
                            .entity = src,
                            .source = WORLD_SRC_COMMAND,
                            .value = json_number_value(f ? f : r)};
    if (world__live_check(c->w, &cmd)) {
        control__fail(a, 400, "%s must be a number from 0 to %s", f ? "factor" : "rps",
                      f ? "1000" : "10000000");
        return;
    }
    if (!control__command(c, &cmd, a))
        accepted(a, f ? "factor" : "rps", cmd.value);
}

static void post_pause(struct server_control *c, json_t *j, const struct server__control_req *rq,
                       struct server__answer *a)
{
    (void)j;
    int pause = !strcmp(rq->path, "/api/pause");
    struct world_cmd cmd = {.kind = pause ? WORLD_CMD_PAUSE : WORLD_CMD_RESUME,
                            .entity = -1,
                            .source = WORLD_SRC_COMMAND};
    if (!control__command(c, &cmd, a))
        control__answer(a, 202,
                        pause ? "{\"accepted\":true,\"paused\":true}\n"
                              : "{\"accepted\":true,\"paused\":false}\n");
}

static void put_speed(struct server_control *c, json_t *j, const struct server__control_req *rq,
                      struct server__answer *a)
{
    (void)rq;
    json_t *v = json_object_get(j, "speed");
    struct world_cmd cmd = {.kind = WORLD_CMD_SPEED,
                            .entity = -1,
                            .source = WORLD_SRC_COMMAND,
                            .value = json_is_number(v) ? json_number_value(v) : -1};
    if (c->cfg.speed <= 0)
        control__fail(a, 400,
                      "this run goes as fast as it can (--speed max): its speed cannot "
                      "change");
    else if (!json_is_number(v) || world__live_check(c->w, &cmd))
        control__fail(a, 400, "expected {\"speed\": N} with N above 0 (at most 1000000)");
    else if (!control__command(c, &cmd, a))
        accepted(a, "speed", cmd.value);
}

static void put_chaos(struct server_control *c, json_t *j, const struct server__control_req *rq,
                      struct server__answer *a)
{
    (void)rq;
    json_t *en = json_object_get(j, "enabled"), *sp = json_object_get(j, "spec");
    char err[200];
    struct world_cmd cmd = {.kind = WORLD_CMD_CHAOS, .entity = -1, .source = WORLD_SRC_COMMAND};
    if (!json_is_boolean(en) || (sp && !json_is_string(sp))) {
        control__fail(a, 400,
                      "expected {\"enabled\": true, \"spec\": \"every=10m,hold=1m-3m,"
                      "max=2\"} (spec optional)");
        return;
    }
    if (json_is_true(en)) {
        const char *spec = sp ? json_string_value(sp) : "every=10m,hold=1m-3m,max=2";
        if (world_chaos_parse(spec, &cmd.chaos, err, sizeof err) || !cmd.chaos.enabled) {
            control__fail(a, 400, "spec: %s", cmd.chaos.enabled ? err : "\"off\" with enabled");
            return;
        }
    }
    if (!control__command(c, &cmd, a)) {
        char spec[WORLD_CHAOS_SPEC_MAX];
        world_chaos_format(&cmd.chaos, spec, sizeof spec);
        control__answer(a, 202, "{\"accepted\":true,\"spec\":");
        core_buf_put_json_str(&a->body, spec);
        core_buf_puts(&a->body, "}\n");
    }
}

/* ---- faults (world's fault commands: the faults' own module applies them) ----------------- */
void control__put_faults(struct server_control *c, struct core_buf *b)
{
    const struct world *w = c->w;
    core_buf_puts(b, ",\"faults\":[");
    for (int i = 0; i < w->nfaults; i++) {
        const struct scn_fault *f = w->faults[i].scn;
        core_buf_puts(b, i ? ",{\"name\":" : "{\"name\":");
        core_buf_put_json_str(b, f->name);
        core_buf_puts(b, ",\"kind\":");
        core_buf_put_json_str(b, w->faults[i].kind);
        core_buf_puts(b, ",\"target\":");
        core_buf_put_json_str(b, f->target);
        core_buf_puts(b, ",\"variants\":[");
        for (int v = 0; v < f->nvariants; v++) {
            core_buf_puts(b, v ? "," : "");
            core_buf_put_json_str(b, f->variants[v].name);
        }
        core_buf_puts(b, "]");
        control__put_fault_state(c, i, b);
        core_buf_putc(b, '}');
    }
    core_buf_putc(b, ']');
}

/* "/api/faults/NAME/start" -> the fault's index (-1 unknown, NAME copied to name), start. */
static int fault_path(struct server_control *c, const char *path, char *name, size_t n, int *start)
{
    const char *p = path + strlen("/api/faults/");
    const char *slash = strrchr(p, '/');
    if (!slash || slash == p || (size_t)(slash - p) >= n)
        return -2;
    *start = !strcmp(slash, "/start");
    if (!*start && strcmp(slash, "/stop"))
        return -2;
    memcpy(name, p, (size_t)(slash - p));
    name[slash - p] = 0;
    for (int i = 0; i < c->w->nfaults; i++)
        if (!strcmp(c->w->faults[i].scn->name, name))
            return i;
    return -1;
}

static void unknown_fault(struct server_control *c, const char *name, struct server__answer *a)
{
    const struct world *w = c->w;
    const char *best = NULL;
    /* world_fault's name is behind its scn pointer: suggest over a small table of names */
    const char **names = core_calloc((size_t)w->nfaults + 1, sizeof *names);
    for (int i = 0; i < w->nfaults; i++)
        names[i] = w->faults[i].scn->name;
    best = scenario_suggest(name, names, w->nfaults, sizeof *names, 0);
    if (best)
        control__fail(a, 404, "no fault '%.128s' (did you mean '%s'?)", name, best);
    else
        control__fail(a, 404, "no fault '%.128s' (GET /api/world lists \"faults\")", name);
    core_free(names);
}

static void post_fault(struct server_control *c, json_t *j, const struct server__control_req *rq,
                       struct server__answer *a)
{
    char name[256];
    int start = 0;
    int f = fault_path(c, rq->path, name, sizeof name, &start);
    if (f == -2) {
        control__fail(a, 404, "no such resource: %.200s (POST /api/faults/NAME/start or stop)",
                      rq->path);
        return;
    }
    if (f < 0) {
        unknown_fault(c, name, a);
        return;
    }
    control__fault_command(c, f, start, j, a);
}

/* ---- routing ------------------------------------------------------------------------------ */
struct change {
    const char *path; /* exact, or a prefix ending in '/' */
    const char *method;
    change_fn fn;
};

static const struct change changes[] = {
    {"/api/rate", "PUT", put_rate},      {"/api/pause", "POST", post_pause},
    {"/api/resume", "POST", post_pause}, {"/api/speed", "PUT", put_speed},
    {"/api/chaos", "PUT", put_chaos},    {"/api/faults/", "POST", post_fault},
};
#define NCHANGES (sizeof changes / sizeof *changes)

static const struct change *change_of(const char *path)
{
    for (size_t i = 0; i < NCHANGES; i++) {
        size_t n = strlen(changes[i].path);
        if (changes[i].path[n - 1] == '/' ? !strncmp(path, changes[i].path, n)
                                          : !strcmp(path, changes[i].path))
            return &changes[i];
    }
    return NULL;
}

int control__is_change(const char *path, const char **method)
{
    const struct change *ch = change_of(path);
    if (ch)
        *method = ch->method;
    return ch != NULL;
}

void control__change(struct server_control *c, const struct server__control_req *rq,
                     struct server__answer *a)
{
    const struct change *ch = change_of(rq->path);
    json_error_t je;
    json_t *j = NULL;
    if (rq->len) { /* pause, resume, fault stop: a body is optional */
        j = json_loadb(rq->body, rq->len, JSON_REJECT_DUPLICATES, &je);
        if (!j) {
            control__fail(a, 400, "the body is not JSON: %s (line %d, column %d)", je.text, je.line,
                          je.column);
            return;
        }
    } else {
        j = json_object();
    }
    if (!json_is_object(j))
        control__fail(a, 400, "the body must be a JSON object");
    else
        ch->fn(c, j, rq, a);
    json_decref(j);
}
