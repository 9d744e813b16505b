/* The web console's answers without sockets: which URLs are the console's, every embedded
 * file served with its type and ETag (304 on a match), every file index.html and the modules
 * name is embedded (a file missing from web/console/assets.txt would break the page
 * offline), 404 / 405, and graph.json: the world's shape, with the token rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "server/internal.h"

static const char yaml[] =
    "name: shape\n"
    "hosts: [{name: h1, profile: db, cpus: 8, memory_gib: 64}, {name: h2, gpus: 2}]\n"
    "services:\n"
    "  - name: front\n"
    "    host: h2\n"
    "    operations:\n"
    "      - {name: GET /, rate: 5, calls: [db/SELECT a, db/SELECT b, api/POST /x]}\n"
    "  - {name: api, operations: [{name: POST /x, calls: [db/SELECT a]}]}\n"
    "  - {name: db, host: h1, operations: [{name: SELECT a}, {name: SELECT b}]}\n";

static void reply(const char *method, const char *url, const char *inm, int may_read,
                  const struct world *w, struct server__console_reply *r)
{
    memset(r, 0, sizeof *r);
    core_buf_init(&r->dyn, 1 << 20);
    server__console_answer(w, method, url, inm, may_read, r);
}

static void test_wants(void **st)
{
    assert_true(server__console_wants("/"));
    assert_true(server__console_wants("/index.html"));
    assert_true(server__console_wants("/console/app.js"));
    assert_true(server__console_wants("/console/"));
    assert_false(server__console_wants("/api/world"));
    assert_false(server__console_wants("/consoles"));
    assert_false(server__console_wants("/console"));
    assert_false(server__console_wants(""));
}

static const char *type_for(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot)
        return "text/plain; charset=utf-8";
    if (!strcmp(dot, ".html"))
        return "text/html; charset=utf-8";
    if (!strcmp(dot, ".js"))
        return "text/javascript; charset=utf-8";
    if (!strcmp(dot, ".css"))
        return "text/css; charset=utf-8";
    return NULL;
}

static void test_every_file(void **st)
{
    int n = 0;
    for (const struct server__console_asset *a = server__console_assets; a->name; a++, n++) {
        char url[256];
        struct server__console_reply r;
        snprintf(url, sizeof url, "/console/%s", a->name);
        reply("GET", url, NULL, 0, NULL, &r);
        assert_int_equal(r.status, 200);
        assert_int_equal(r.len, a->len);
        assert_ptr_equal(r.body, a->data);
        assert_non_null(type_for(a->name));
        assert_string_equal(r.type, type_for(a->name));
        assert_non_null(r.etag);
        assert_true(r.etag[0] == '"' && strlen(r.etag) == 18);
        /* revalidation: the same ETag -> 304 without a body; another -> 200 */
        char inm[64];
        snprintf(inm, sizeof inm, "W/\"x\", %s", a->etag);
        core_buf_free(&r.dyn);
        reply("HEAD", url, inm, 0, NULL, &r);
        assert_int_equal(r.status, 304);
        assert_int_equal(r.len, 0);
        core_buf_free(&r.dyn);
        reply("GET", url, "\"0000000000000000\"", 0, NULL, &r);
        assert_int_equal(r.status, 200);
        core_buf_free(&r.dyn);
    }
    assert_true(n >= 8);
}

static void test_root_is_index(void **st)
{
    struct server__console_reply r;
    for (int i = 0; i < 2; i++) {
        reply("GET", i ? "/index.html" : "/", NULL, 0, NULL, &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.type, "text/html; charset=utf-8");
        assert_non_null(strstr((const char *)r.body, "<title>diorama console</title>"));
        core_buf_free(&r.dyn);
    }
}

/* Every "/console/NAME" (in index.html) and "./NAME.js" (an import in a module) names an
 * embedded file: the page loads nothing that is not in the binary. */
static void check_refs(const char *text, const char *prefix, const char *what)
{
    size_t plen = strlen(prefix);
    for (const char *p = strstr(text, prefix); p; p = strstr(p + 1, prefix)) {
        char name[128];
        size_t n = strcspn(p + plen, "\"' )");
        if (!n || n >= sizeof name)
            continue;
        memcpy(name, p + plen, n);
        name[n] = 0;
        if (!strcmp(name, "graph.json"))
            continue; /* generated */
        int found = 0;
        for (const struct server__console_asset *a = server__console_assets; a->name; a++)
            found |= !strcmp(a->name, name);
        if (!found)
            fail_msg("%s names %s%s, which is not embedded (web/console/assets.txt)", what, prefix,
                     name);
    }
}

/* Our own files name no other origin (the SVG namespace is a name, not a request). */
static void no_outside_url(const struct server__console_asset *a)
{
    static const char *const schemes[] = {"http://", "https://", "//cdn", NULL};
    for (int i = 0; schemes[i]; i++)
        for (const char *p = strstr((const char *)a->data, schemes[i]); p;
             p = strstr(p + 1, schemes[i]))
            if (strncmp(p, "http://www.w3.org/2000/svg", 26))
                fail_msg("%s names an outside URL: %.40s", a->name, p);
}

static void test_references_embedded(void **st)
{
    for (const struct server__console_asset *a = server__console_assets; a->name; a++) {
        const char *dot = strrchr(a->name, '.');
        if (dot && (!strcmp(dot, ".html") || !strcmp(dot, ".js"))) {
            check_refs((const char *)a->data, "/console/", a->name);
            check_refs((const char *)a->data, "from './", a->name);
        }
        if (strncmp(a->name, "uPlot", 5) && strcmp(a->name, "LICENSE"))
            no_outside_url(a);
    }
}

static void test_errors(void **st)
{
    struct server__console_reply r;
    reply("GET", "/console/nope.js", NULL, 1, NULL, &r);
    assert_int_equal(r.status, 404);
    assert_string_equal(r.type, "application/json");
    assert_null(r.etag);
    core_buf_free(&r.dyn);
    reply("GET", "/console/../index.html", NULL, 1, NULL, &r);
    assert_int_equal(r.status, 404);
    core_buf_free(&r.dyn);
    reply("POST", "/", NULL, 1, NULL, &r);
    assert_int_equal(r.status, 405);
    assert_string_equal(r.allow, "GET, HEAD");
    core_buf_free(&r.dyn);
    reply("DELETE", "/console/app.js", NULL, 1, NULL, &r);
    assert_int_equal(r.status, 405);
    core_buf_free(&r.dyn);
}

static void test_graph(void **st)
{
    struct scenario *s;
    struct scn_error e;
    struct world *w;
    char msg[256];
    assert_int_equal(scenario_load_string("shape.yaml", yaml, strlen(yaml), &s, &e), 0);
    struct world_opts wo = {.seed = 1, .nshards = 1};
    assert_int_equal(world_build(&w, s, &wo, msg, sizeof msg), 0);
    struct server__console_reply r;
    reply("GET", "/console/graph.json", NULL, 0, w, &r);
    assert_int_equal(r.status, 401);
    core_buf_free(&r.dyn);
    reply("GET", "/console/graph.json", NULL, 1, w, &r);
    assert_int_equal(r.status, 200);
    assert_null(r.etag); /* data: never cached */
    json_error_t je;
    json_t *j = json_loadb(r.body, r.len, 0, &je);
    assert_non_null(j);
    char *dump = json_dumps(j, JSON_COMPACT);
    /* calls are per service, each named once, in first-call order */
    assert_non_null(strstr(dump, "{\"name\":\"front\",\"host\":\"h2\",\"calls\":[\"db\",\"api\"],"
                                 "\"entries\":[\"GET /\"]}"));
    assert_non_null(strstr(dump, "{\"name\":\"api\",\"host\":null,\"calls\":[\"db\"]"));
    assert_non_null(strstr(dump, "{\"name\":\"db\",\"host\":\"h1\",\"calls\":[],\"entries\":[]}"));
    assert_non_null(strstr(dump, "{\"name\":\"h1\",\"profile\":\"db\",\"cpus\":8,"
                                 "\"memory_gib\":64,\"gpus\":0}"));
    assert_int_equal(json_array_size(json_object_get(j, "hosts")), 2);
    assert_int_equal(json_array_size(json_object_get(j, "models")), 0);
    free(dump);
    json_decref(j);
    core_buf_free(&r.dyn);
    world_free(w);
    scenario_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wants),         cmocka_unit_test(test_every_file),
        cmocka_unit_test(test_root_is_index), cmocka_unit_test(test_references_embedded),
        cmocka_unit_test(test_errors),        cmocka_unit_test(test_graph),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
