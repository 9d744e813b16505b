/* server: the X-Diorama-Delay parser, body validation and labels, the route table, the latency
 * model (determinism, faults, calls), request handling without sockets, the traffic-type bound,
 * the /metrics text and the timer's order and drain. Table-driven where the input is text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/internal.h"

#define MS 1000000ULL

/* ---- fixtures --------------------------------------------------------------------------- */

struct fx {
    struct scenario *scn;
    struct world *w;
    struct server *s;
};

static void fx_open(struct fx *f, const char *name_or_yaml, uint64_t seed)
{
    struct scn_error e;
    char msg[1024];
    int rc = strchr(name_or_yaml, '\n') ? scenario_load_string("test.yaml", name_or_yaml,
                                                               strlen(name_or_yaml), &f->scn, &e)
                                        : scenario_load(name_or_yaml, &f->scn, &e);
    if (rc) {
        scenario_format_error(&e, msg, sizeof msg);
        print_error("%s\n", msg);
    }
    assert_int_equal(rc, 0);
    struct world_opts wo = {.seed = seed, .nshards = 1};
    assert_int_equal(world_build(&f->w, f->scn, &wo, msg, sizeof msg), 0);
    struct server_cfg cfg = {.listen = "127.0.0.1:0", .seed = seed, .max_delay_ns = 30000 * MS};
    assert_int_equal(server_new(&f->s, f->w, &cfg, msg, sizeof msg), 0);
}

static void fx_close(struct fx *f)
{
    server_free(f->s);
    world_free(f->w);
    scenario_free(f->scn);
}

/* ---- X-Diorama-Delay ---------------------------------------------------------------------- */

static void test_delay_parse(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int rc;
        uint64_t ns;
    } cases[] = {
        {"3500ms", 0, 3500 * MS},
        {"3500", 0, 3500 * MS}, /* a bare number is milliseconds */
        {"1.5", 0, 1500000},
        {"2s", 0, 2000 * MS},
        {"250us", 0, 250000},
        {"1.5s", 0, 1500 * MS},
        {" 2s ", 0, 2000 * MS},
        {"0", 0, 0},
        {"30s", 0, 30000 * MS}, /* the cap itself is allowed */
        {"1m", DIO_ERANGE, 0},
        {"31s", DIO_ERANGE, 0},
        {"", DIO_EPARSE, 0},
        {"   ", DIO_EPARSE, 0},
        {"abc", DIO_EPARSE, 0},
        {"-5ms", DIO_EPARSE, 0},
        {"5 ms", DIO_EPARSE, 0},
        {"1e3", DIO_EPARSE, 0},
        {"2x", DIO_EPARSE, 0},
        {"1.2.3", DIO_EPARSE, 0},
        {"ms", DIO_EPARSE, 0},
        {"0000000000000000000000000000000000000000000000000000000000000000001ms", DIO_EPARSE, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t ns = 12345;
        char msg[256] = "";
        int rc = server__parse_delay(cases[i].in, 30000 * MS, &ns, msg, sizeof msg);
        if (rc != cases[i].rc)
            print_error("'%s': rc %d, want %d\n", cases[i].in, rc, cases[i].rc);
        assert_int_equal(rc, cases[i].rc);
        if (rc == 0)
            assert_int_equal(ns, cases[i].ns);
        else
            assert_non_null(strstr(msg, "X-Diorama-Delay"));
        if (rc == DIO_ERANGE)
            assert_non_null(strstr(msg, "30s"));
    }
}

static void test_delay_message_is_safe(void **state)
{
    (void)state;
    char msg[256];
    uint64_t ns;
    assert_int_equal(server__parse_delay("\x01\"\\\xff", 1000, &ns, msg, sizeof msg), DIO_EPARSE);
    for (const char *p = msg; *p; p++) /* printable ASCII: safe inside a JSON string */
        assert_true(*p >= 0x20 && *p < 0x7f);
    assert_null(strchr(strstr(msg, "got '") + 5, '"'));
}

/* ---- bodies and labels -------------------------------------------------------------------- */

static void test_body_validation(void **state)
{
    (void)state;
    static const struct {
        const char *ct, *body;
        int need_text, status;
    } cases[] = {
        {"application/json", "{\"text\": \"Dear team, I apply\"}", 1, 0},
        {"Application/JSON; charset=utf-8", "{\"text\": \"x\"}", 1, 0},
        {"application/json", "{\"input\": 1}", 0, 0}, /* other routes: any object */
        {"application/json", "{}", 0, 0},
        {NULL, "{\"text\": \"x\"}", 1, 415},
        {"text/plain", "{\"text\": \"x\"}", 1, 415},
        {"application/x-www-form-urlencoded", "text=x", 1, 415},
        {"application/jsonx", "{}", 0, 415},
        {"application/json", "{\"text\": \"cut in ha", 1, 400},
        {"application/json", "", 1, 400},
        {"application/json", "[1, 2]", 0, 400},
        {"application/json", "42", 0, 400},
        {"application/json", "{\"a\": 1, \"a\": 2}", 0, 400},
        {"application/json", "{\"input\": null, \"lang\": \"en\"}", 1, 422},
        {"application/json", "{\"text\": \"\"}", 1, 422},
        {"application/json", "{\"text\": 5}", 1, 422},
        {"application/json", "{\"text\": null}", 1, 422},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct server__text t;
        char msg[256] = "";
        int st = server__validate_body(cases[i].ct, cases[i].body, strlen(cases[i].body),
                                       cases[i].need_text, &t, msg, sizeof msg);
        if (st != cases[i].status)
            print_error("case %zu: status %d, want %d (%s)\n", i, st, cases[i].status, msg);
        assert_int_equal(st, cases[i].status);
        if (st)
            assert_true(strlen(msg) > 0);
    }
}

static void test_text_fields(void **state)
{
    (void)state;
    struct server__text t;
    char msg[128];
    const char body[] = "{\"text\": \"a\\u0000b\\u00e9\"}"; /* NUL and a 2-byte character */
    assert_int_equal(
        server__validate_body("application/json", body, sizeof body - 1, 1, &t, msg, sizeof msg),
        0);
    assert_true(t.has_text);
    assert_int_equal(t.text_len, 5);
}

static void test_labels(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int label;
    } cases[] = {
        {"We are pleased to offer you the position of Data Analyst.", SERVER__LABEL_OFFER},
        {"Unfortunately we decided not to move forward with your application.",
         SERVER__LABEL_REJECTION},
        {"We would like to schedule an interview. Please send your availability.",
         SERVER__LABEL_INTERVIEW},
        {"Dear Hiring Manager, I am writing to APPLY for the Senior Backend Engineer position.",
         SERVER__LABEL_JOB},
        {"Hi team, lunch is on Friday at noon.", SERVER__LABEL_OTHER},
        {"", SERVER__LABEL_OTHER},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int label;
        double c1, c2;
        server__classify(cases[i].text, strlen(cases[i].text), &label, &c1);
        assert_int_equal(label, cases[i].label);
        server__classify(cases[i].text, strlen(cases[i].text), &label, &c2);
        assert_true(c1 == c2); /* the same text, the same answer */
        if (label == SERVER__LABEL_OTHER)
            assert_true(c1 >= 0.5 && c1 < 0.8);
        else
            assert_true(c1 >= 0.8 && c1 < 1.0);
    }
    int label;
    double c;
    server__classify("x\0offer letter", 14, &label, &c); /* text after a NUL still counts */
    assert_int_equal(label, SERVER__LABEL_OFFER);
}

/* ---- routes ------------------------------------------------------------------------------- */

static void test_path_match(void **state)
{
    (void)state;
    assert_true(server__path_match("/classify", "/classify"));
    assert_false(server__path_match("/classify", "/classify/"));
    assert_false(server__path_match("/classify", "/classif"));
    assert_false(server__path_match("/classify", "/classifyx"));
    assert_true(server__path_match("/", "/"));
    assert_false(server__path_match("/", "/a"));
    assert_false(server__path_match("/", ""));
    assert_true(server__path_match("/users/{id}", "/users/42"));
    assert_false(server__path_match("/users/{id}", "/users/"));
    assert_false(server__path_match("/users/{id}", "/users/42/x"));
    assert_true(server__path_match("/users/{id}/orders", "/users/7/orders"));
    assert_false(server__path_match("/users/{id}/orders", "/users//orders"));
    assert_true(server__path_match("/a/{}", "/a/{}")); /* "{}" is a literal segment */
    assert_false(server__path_match("/a/{}", "/a/b"));
}

static void test_routes_shop(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "shop", 1);
    const struct server__routes *rt = &f.s->rt;
    /* built-ins, then every "METHOD /path" server operation; SQL operations are not routes,
     * and "GET /cart" (cart) is listed once */
    static const char *const want[] = {"GET /metrics",     "GET /healthz",  "GET /",
                                       "POST /checkout",   "GET /products", "GET /cart",
                                       "POST /cart/clear", "POST /orders",  "POST /charge"};
    assert_int_equal(rt->n, (int)(sizeof want / sizeof want[0]));
    for (int i = 0; i < rt->n; i++)
        assert_string_equal(rt->r[i].name, want[i]);
    assert_int_equal(server_nroutes(f.s), rt->n);
    assert_string_equal(server_route_name(f.s, 2), "GET /");
    assert_null(server_route_name(f.s, rt->n));
    char allow[96];
    assert_int_equal(server__route_find(rt, "GET", "/products", allow, sizeof allow), 4);
    assert_int_equal(server__route_find(rt, "HEAD", "/products", allow, sizeof allow), 4);
    assert_int_equal(server__route_find(rt, "POST", "/products", allow, sizeof allow), -2);
    assert_string_equal(allow, "GET, HEAD");
    assert_int_equal(server__route_find(rt, "DELETE", "/charge", allow, sizeof allow), -2);
    assert_string_equal(allow, "POST");
    assert_int_equal(server__route_find(rt, "GET", "/nope", allow, sizeof allow), -1);
    assert_int_equal(server__route_find(rt, "GET", "/metrics", allow, sizeof allow), 0);
    assert_false(rt->r[2].tokens); /* no model enters the shop */
    fx_close(&f);
}

static const char two_services[] = "name: two\n"
                                   "services:\n"
                                   "  - name: a\n"
                                   "    operations:\n"
                                   "      - {name: \"GET /items/{id}\", latency: 2ms}\n"
                                   "      - {name: \"PUT /items/{id}\", latency: 3ms}\n"
                                   "      - {name: GET /metrics, latency: 1ms}\n"
                                   "      - {name: GET /internal, kind: internal}\n"
                                   "  - name: b\n"
                                   "    operations:\n"
                                   "      - {name: \"GET /items/{id}\", latency: 9ms}\n";

static void test_routes_shadowing(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, two_services, 1);
    const struct server__routes *rt = &f.s->rt;
    /* the scenario's GET /metrics and b's GET /items/{id} are shadowed; internal ops are no
     * routes */
    assert_int_equal(rt->n, 4);
    assert_int_equal(rt->r[2].svc, 0);
    char allow[96];
    assert_int_equal(server__route_find(rt, "PUT", "/items/9", allow, sizeof allow), 3);
    assert_int_equal(server__route_find(rt, "POST", "/items/9", allow, sizeof allow), -2);
    assert_string_equal(allow, "GET, HEAD, PUT");
    assert_int_equal(server__route_find(rt, "GET", "/internal", allow, sizeof allow), -1);
    assert_int_equal(rt->r[0].kind, SERVER__R_METRICS);
    fx_close(&f);
}

static void test_routes_classify(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "classify", 4);
    const struct server__routes *rt = &f.s->rt;
    assert_int_equal(rt->n, 3);
    assert_string_equal(rt->r[2].name, "POST /classify");
    assert_true(rt->r[2].classify);
    assert_true(rt->r[2].tokens);
    assert_int_equal(rt->r[2].nmodels, 1);
    fx_close(&f);
}

/* ---- the latency model -------------------------------------------------------------------- */

static void plans(struct server__model *m, const struct server__route *r, int n,
                  struct server__plan *out)
{
    for (int k = 1; k <= n; k++)
        server__plan(m, r, (uint64_t)k, 0, &out[k - 1]);
}

static void test_model_deterministic(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "inference", 42);
    const struct server__route *r = &f.s->rt.r[2]; /* POST /v1/chat/completions */
    assert_string_equal(r->name, "POST /v1/chat/completions");
    enum { N = 600 };
    static struct server__plan a[N], b[N], c[N];
    struct server__model m1, m2, m3;
    server__model_init(&m1, f.w, 42);
    server__model_init(&m2, f.w, 42);
    server__model_init(&m3, f.w, 43);
    plans(&m1, r, N, a);
    plans(&m2, r, N, b);
    plans(&m3, r, N, c);
    int differ = 0, gpt4 = 0, llama = 0;
    for (int i = 0; i < N; i++) {
        assert_memory_equal(&a[i], &b[i], sizeof a[i]);
        differ += a[i].latency_ns != c[i].latency_ns;
        gpt4 += a[i].model == 0;
        llama += a[i].model == 1;
        assert_true(a[i].model == 0 || a[i].model == 1); /* clip-vit enters elsewhere */
        assert_true(a[i].tokens_in > 0 && a[i].tokens_out > 0);
    }
    assert_true(differ > N / 2);
    /* gpt-4 50/s, llama-70b 20/s: about 5/7 of the requests are gpt-4 */
    assert_true(gpt4 > N * 5 / 7 - 60 && gpt4 < N * 5 / 7 + 60);
    assert_int_equal(gpt4 + llama, N);
    server__model_free(&m1);
    server__model_free(&m2);
    server__model_free(&m3);
    fx_close(&f);
}

static void test_model_classify_faults(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "classify", 4);
    const struct server__route *r = &f.s->rt.r[2];
    enum { N = 400 };
    static struct server__plan p[N];
    struct server__model m;
    server__model_init(&m, f.w, 4);
    plans(&m, r, N, p);
    for (int i = 0; i < N; i++) {
        /* 3 ms +-20% at the api, 2 network round trips of 0.2..0.8 ms, 150 ms +-20% model;
         * every 200th model request 6x slower: never near the 2 s of injected delays */
        uint64_t lo = 2400000 + 200000 + 120 * MS, hi = 3600000 + 800000 + 180 * MS;
        int slow = (i + 1) % 200 == 0;
        uint64_t ml = p[i].latency_ns;
        if (slow)
            assert_true(ml >= 2400000 + 200000 + 6 * 120 * MS && ml <= hi + 5 * 180 * MS);
        else
            assert_true(ml >= lo && ml <= hi);
        assert_int_equal(p[i].status, 200);
        assert_int_equal(p[i].faults[0], slow);              /* latency_spike */
        assert_int_equal(p[i].faults[3], (i + 1) % 50 == 0); /* gpu_degradation */
        assert_true(p[i].tokens_out >= 4 && p[i].tokens_out <= 12);
    }
    server__model_free(&m);
    fx_close(&f);
}

static const char errors_yaml[] = "name: errs\n"
                                  "services:\n"
                                  "  - name: front\n"
                                  "    operations:\n"
                                  "      - name: GET /seq\n"
                                  "        latency: 10ms\n"
                                  "        calls: [back/GET /fail, back/GET /ok]\n"
                                  "      - name: GET /par\n"
                                  "        latency: 10ms\n"
                                  "        parallel: true\n"
                                  "        calls: [back/GET /ok, back/GET /slow]\n"
                                  "  - name: back\n"
                                  "    operations:\n"
                                  "      - {name: GET /fail, latency: 1ms, error_rate: 50%,"
                                  " error_status: 503}\n"
                                  "      - {name: GET /ok, latency: {base: 5ms, jitter: 0}}\n"
                                  "      - {name: GET /slow, latency: {base: 50ms, jitter: 0}}\n"
                                  "faults:\n"
                                  "  - {name: ok-broken, target: back/GET /ok, every: 10,"
                                  " effect: {error_status: 418}}\n";

static void test_model_errors_and_calls(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, errors_yaml, 9);
    const struct server__routes *rt = &f.s->rt;
    char allow[96];
    int seq = server__route_find(rt, "GET", "/seq", allow, sizeof allow);
    int par = server__route_find(rt, "GET", "/par", allow, sizeof allow);
    int ok = server__route_find(rt, "GET", "/ok", allow, sizeof allow);
    assert_true(seq >= 0 && par >= 0 && ok >= 0);
    struct server__model m;
    server__model_init(&m, f.w, 9);
    int failed = 0;
    for (uint64_t k = 1; k <= 1000; k++) {
        struct server__plan p;
        server__plan(&m, &rt->r[seq], k, 0, &p);
        /* a callee's 503 passes through; the 418 of /ok (a 4xx) stays with the callee */
        assert_true(p.status == 200 || p.status == 503);
        failed += p.status == 503;
        assert_int_equal(p.faults[4], p.status == 503); /* /fail's error_rate, counted */
        /* sequential: 8..12 ms + 1 ms +-20% + 5 ms + 2 round trips */
        assert_true(p.latency_ns >= 8 * MS + 800000 + 5 * MS + 400000);
    }
    assert_true(failed > 400 && failed < 600);
    struct server__plan p;
    server__plan(&m, &rt->r[par], 1, 0, &p);
    /* parallel: the slowest call (50 ms), not the sum (55 ms) */
    assert_true(p.latency_ns >= 8 * MS + 50 * MS + 200000);
    assert_true(p.latency_ns <= 12 * MS + 50 * MS + 800000);
    /* /ok's own counter: 1000 (seq) + 1 (par) requests so far; the 1010th is the 101st
     * multiple of 10 */
    int statuses = 0;
    for (uint64_t k = 0; k < 9; k++) {
        server__plan(&m, &rt->r[ok], 2000 + k, 0, &p);
        statuses += p.status == 418;
    }
    assert_int_equal(statuses, 1);
    server__model_free(&m);
    fx_close(&f);
}

/* ---- requests without sockets ------------------------------------------------------------- */

struct req {
    const char *method, *path, *ct, *delay, *traffic, *body;
    int over;
};

static int handle(struct fx *f, const struct req *q, struct server__answer *a)
{
    struct server__request rq = {.method = q->method,
                                 .path = q->path,
                                 .content_type = q->ct,
                                 .delay = q->delay,
                                 .traffic = q->traffic,
                                 .body = q->body,
                                 .len = q->body ? strlen(q->body) : 0,
                                 .body_over = q->over};
    server__answer_init(a);
    server__handle(f->s, &rq, a);
    server__count(f->s, a, a->wait_ns);
    return a->status;
}

static void test_handle_statuses(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "classify", 4);
    static const char J[] = "application/json";
    static const struct {
        struct req q;
        int status;
    } cases[] = {
        {{"POST", "/classify", J, NULL, NULL, "{\"text\": \"I apply for the role\"}", 0}, 200},
        {{"GET", "/classify", NULL, NULL, NULL, NULL, 0}, 405},
        {{"POST", "/nope", J, NULL, NULL, "{}", 0}, 404},
        {{"POST", "/classify", J, NULL, NULL, "{\"text\": \"x\"}", 1}, 413},
        {{"POST", "/classify", "text/plain", NULL, NULL, "{\"text\": \"x\"}", 0}, 415},
        {{"POST", "/classify", J, NULL, NULL, "{\"text\": \"x", 0}, 400},
        {{"POST", "/classify", J, NULL, NULL, "{\"input\": null}", 0}, 422},
        {{"POST", "/classify", J, "soon", NULL, "{\"text\": \"x\"}", 0}, 400},
        {{"POST", "/classify", J, "31s", NULL, "{\"text\": \"x\"}", 0}, 400},
        {{"GET", "/healthz", NULL, "5s", NULL, NULL, 0}, 200},
        {{"HEAD", "/healthz", NULL, NULL, NULL, NULL, 0}, 200},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct server__answer a;
        int st = handle(&f, &cases[i].q, &a);
        if (st != cases[i].status)
            print_error("case %zu: %d, want %d: %.*s\n", i, st, cases[i].status, (int)a.body.len,
                        (const char *)a.body.p);
        assert_int_equal(st, cases[i].status);
        if (st == 405)
            assert_string_equal(a.allow, "POST");
        if (st >= 400)
            assert_non_null(memmem(a.body.p, a.body.len, "\"error\":", 8));
        if (cases[i].q.path[1] == 'h')
            assert_int_equal(a.wait_ns, 0); /* built-ins ignore X-Diorama-Delay */
        server__answer_free(&a);
    }
    fx_close(&f);
}

static void test_handle_classify(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "classify", 4);
    char body[20100];
    strcpy(body, "{\"text\": \"");
    size_t n = strlen(body);
    for (int i = 0; i < 20000; i++)
        body[n++] = "application "[i % 12];
    strcpy(body + n, "\"}");
    struct req q = {"POST", "/classify", "application/json", "2500ms", "DIORAMA_TOKEN_BLOAT", body,
                    0};
    struct server__answer a;
    assert_int_equal(handle(&f, &q, &a), 200);
    assert_int_equal(a.tokens_in, 5000); /* 20,000 characters / 4 */
    assert_true(a.delayed);
    assert_true(a.wait_ns >= 2500 * MS + 120 * MS);
    assert_non_null(memmem(a.body.p, a.body.len, "\"label\":\"job_application\"", 25));
    assert_non_null(memmem(a.body.p, a.body.len, "\"model\":\"mail-classifier-small\"", 31));
    assert_non_null(memmem(a.body.p, a.body.len, "\"tokens_in\":5000", 16));
    server__answer_free(&a);
    /* a validation error still honours the delay, without modelled latency */
    struct req bad = {"POST", "/classify", "text/plain", "100ms", NULL, "x", 0};
    assert_int_equal(handle(&f, &bad, &a), 415);
    assert_int_equal(a.wait_ns, 100 * MS);
    server__answer_free(&a);
    fx_close(&f);
}

static void test_generic_answer(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "inference", 42);
    struct req q = {
        "POST", "/v1/chat/completions", "application/json", NULL, NULL, "{\"messages\": []}", 0};
    struct server__answer a;
    assert_int_equal(handle(&f, &q, &a), 200);
    assert_non_null(memmem(a.body.p, a.body.len, "\"service\":\"gateway\"", 19));
    assert_true(a.tokens_in > 0); /* the model's token counts when there is no text */
    server__answer_free(&a);
    struct req g = {"GET", "/v1/embeddings", NULL, NULL, NULL, NULL, 0};
    assert_int_equal(handle(&f, &g, &a), 405);
    server__answer_free(&a);
    fx_close(&f);
}

static void test_traffic_bound(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "minimal", 1);
    struct server__metrics *m = &f.s->m;
    char v[80];
    assert_int_equal(server__traffic_index(m, NULL), 0);
    assert_int_equal(server__traffic_index(m, "none"), 0);
    assert_int_equal(server__traffic_index(m, "other"), SERVER__NTRAFFIC - 1);
    for (int i = 0; i < 20; i++) {
        snprintf(v, sizeof v, "T%d", i);
        int idx = server__traffic_index(m, v);
        assert_int_equal(idx, i < 16 ? i + 1 : SERVER__NTRAFFIC - 1);
        assert_int_equal(server__traffic_index(m, v), idx); /* stable */
    }
    memset(v, 'x', 65);
    v[65] = 0;
    assert_int_equal(server__traffic_index(m, v), SERVER__NTRAFFIC - 1);
    fx_close(&f);
}

static void test_metrics_text(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "classify", 4);
    struct server__answer a;
    struct req ok = {"POST",
                     "/classify",
                     "application/json",
                     "2s",
                     "DIORAMA_LATENCY_INJECTION",
                     "{\"text\": \"abcdefgh\"}",
                     0};
    struct req bad = {"POST", "/classify", "text/plain", NULL, "DIORAMA_ERROR_INJECTION", "x", 0};
    for (int i = 0; i < 3; i++) {
        handle(&f, &ok, &a);
        server__answer_free(&a);
    }
    handle(&f, &bad, &a);
    server__answer_free(&a);
    struct req nope = {"GET", "/nope", NULL, NULL, NULL, NULL, 0};
    handle(&f, &nope, &a);
    server__answer_free(&a);
    struct req scrape = {"GET", "/metrics", NULL, NULL, NULL, NULL, 0};
    assert_int_equal(handle(&f, &scrape, &a), 200);
    assert_string_equal(a.content_type, "text/plain; version=0.0.4; charset=utf-8");
    core_buf_putc(&a.body, 0);
    const char *t = (const char *)a.body.p;
    static const char *const want[] = {
        "http_server_requests_total{route=\"POST /classify\",method=\"POST\",status=\"200\","
        "traffic_type=\"DIORAMA_LATENCY_INJECTION\"} 3\n",
        "http_server_requests_total{route=\"POST /classify\",method=\"POST\",status=\"415\","
        "traffic_type=\"DIORAMA_ERROR_INJECTION\"} 1\n",
        "http_server_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\","
        "traffic_type=\"none\"} 1\n",
        "# TYPE http_server_request_duration_seconds histogram\n",
        "http_server_request_duration_seconds_bucket{route=\"POST /classify\",le=\"+Inf\"} 4\n",
        "http_server_request_duration_seconds_bucket{route=\"POST /classify\",le=\"1\"} 1\n",
        "llm_tokens_used_total{route=\"POST /classify\",direction=\"in\"} 6\n",
        "diorama_serve_delayed_total 3\n",
        "diorama_serve_faults_total{kind=\"error_rate\"} 0\n",
        "# TYPE http_server_active_requests gauge\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        if (!strstr(t, want[i]))
            print_error("missing: %s\n---\n%s\n", want[i], t);
        assert_non_null(strstr(t, want[i]));
    }
    server__answer_free(&a);
    struct server_stats st;
    server_stats(f.s, &st);
    assert_int_equal(st.requests, 6);
    assert_int_equal(st.by_class[2], 4); /* 3 classify + the scrape... counted after writing */
    assert_int_equal(st.by_class[4], 2);
    assert_int_equal(st.delayed, 3);
    fx_close(&f);
}

/* ---- the timer ---------------------------------------------------------------------------- */

struct fired {
    pthread_mutex_t mu;
    int order[16], cut[16], n, suspended;
};
static struct fired fired = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void on_fire(void *item, int cut)
{
    pthread_mutex_lock(&fired.mu);
    fired.order[fired.n] = (int)(intptr_t)item;
    fired.cut[fired.n++] = cut;
    pthread_mutex_unlock(&fired.mu);
}

static void on_before(void *item)
{
    (void)item;
    fired.suspended++; /* runs under the timer's lock */
}

static void test_timer(void **state)
{
    (void)state;
    struct server__timer t = {0};
    assert_int_equal(server__timer_start(&t, 4, on_fire), 0);
    uint64_t now = core_mono_ns();
    /* added out of order; fired in deadline order */
    assert_int_equal(server__timer_add(&t, now + 60 * MS, (void *)3, on_before), 0);
    assert_int_equal(server__timer_add(&t, now + 20 * MS, (void *)1, on_before), 0);
    assert_int_equal(server__timer_add(&t, now + 40 * MS, (void *)2, on_before), 0);
    assert_int_equal(server__timer_add(&t, now + 3600000 * MS, (void *)9, on_before), 0);
    assert_int_equal(server__timer_add(&t, now, (void *)7, on_before), -1); /* full */
    assert_int_equal(fired.suspended, 4);
    while (server__timer_held(&t) > 1)
        core_sleep_until_ns(core_mono_ns() + MS);
    assert_true(core_mono_ns() >= now + 60 * MS); /* not before its deadline */
    server__timer_drain(&t);                      /* the hour-long one is cut short */
    assert_int_equal(server__timer_add(&t, now, (void *)8, on_before), -1);
    server__timer_stop(&t);
    assert_int_equal(fired.n, 4);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(fired.order[i], i + 1);
        assert_int_equal(fired.cut[i], 0);
    }
    assert_int_equal(fired.order[3], 9);
    assert_int_equal(fired.cut[3], 1);
    assert_int_equal(fired.suspended, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delay_parse),
        cmocka_unit_test(test_delay_message_is_safe),
        cmocka_unit_test(test_body_validation),
        cmocka_unit_test(test_text_fields),
        cmocka_unit_test(test_labels),
        cmocka_unit_test(test_path_match),
        cmocka_unit_test(test_routes_shop),
        cmocka_unit_test(test_routes_shadowing),
        cmocka_unit_test(test_routes_classify),
        cmocka_unit_test(test_model_deterministic),
        cmocka_unit_test(test_model_classify_faults),
        cmocka_unit_test(test_model_errors_and_calls),
        cmocka_unit_test(test_handle_statuses),
        cmocka_unit_test(test_handle_classify),
        cmocka_unit_test(test_generic_answer),
        cmocka_unit_test(test_traffic_bound),
        cmocka_unit_test(test_metrics_text),
        cmocka_unit_test(test_timer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
