/* One request: route, fault choice, content type and encoding, decode, verify, response.
 *
 * Responses follow the OTLP/HTTP spec: 200 with an Export*ServiceResponse (partial_success
 * when items were invalid), 400 undecodable (google.rpc.Status), 413 over the decompressed
 * size limit, 415 unknown content type or encoding, 404 other paths, 405 other methods; the
 * body is protobuf or JSON as the request was. Remote write answers 204, or 400 with text.
 * Injected faults (--fail) are chosen before the body is looked at and never count its items,
 * so a client that retries them delivers each item exactly once. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sink/internal.h"

#define CT_PB "application/x-protobuf"
#define CT_JSON "application/json"
#define CT_TEXT "text/plain; charset=utf-8"

/* google.rpc.Code */
enum { RPC_INVALID_ARGUMENT = 3, RPC_RESOURCE_EXHAUSTED = 8, RPC_UNAVAILABLE = 14 };

enum route {
    R_NONE = -1,
    R_TRACES = REC_SPANS,
    R_METRICS = REC_METRICS,
    R_LOGS = REC_LOGS,
    R_RW = WIRE_SAMPLES
};

enum fmt { F_UNKNOWN, F_PB, F_JSON };

static enum route route_of(const char *path)
{
    static const char *const paths[] = {"/v1/traces", "/v1/metrics", "/v1/logs", "/api/v1/write"};
    size_t n = strcspn(path, "?");
    for (int i = 0; i < 4; i++)
        if (strlen(paths[i]) == n && !strncmp(path, paths[i], n))
            return (enum route)i;
    return R_NONE;
}

/* The media type, without parameters, case-insensitively. */
static enum fmt format_of(const char *ct)
{
    if (!ct)
        return F_UNKNOWN;
    while (*ct == ' ')
        ct++;
    size_t n = strcspn(ct, "; \t");
    if (n == strlen(CT_PB) && !strncasecmp(ct, CT_PB, n))
        return F_PB;
    if (n == strlen(CT_JSON) && !strncasecmp(ct, CT_JSON, n))
        return F_JSON;
    return F_UNKNOWN;
}

static int is_encoding(const char *ce, const char *want)
{
    if (!ce)
        return 0;
    while (*ce == ' ')
        ce++;
    size_t n = strcspn(ce, " \t");
    return n == strlen(want) && !strncasecmp(ce, want, n);
}

static void count_status(struct sink *s, unsigned status)
{
    if (status >= 100 && status < 600)
        atomic_fetch_add(&s->status[status / 100], 1);
}

static void text(struct sink_response *rs, unsigned status, const char *msg)
{
    rs->status = status;
    rs->content_type = CT_TEXT;
    core_buf_puts(&rs->body, msg);
    core_buf_putc(&rs->body, '\n');
}

/* A failure for an OTLP request: google.rpc.Status as protobuf or JSON. */
static void otlp_error(struct sink_response *rs, enum fmt f, unsigned status, int code,
                       const char *msg)
{
    rs->status = status;
    if (f == F_JSON) {
        rs->content_type = CT_JSON;
        core_buf_printf(&rs->body, "{\"code\":%d,\"message\":", code);
        core_buf_put_json_str(&rs->body, msg);
        core_buf_putc(&rs->body, '}');
        return;
    }
    rs->content_type = CT_PB;
    wire_pb_u64(&rs->body, 1, (uint64_t)code);
    wire_pb_bytes(&rs->body, 2, msg, strlen(msg));
}

static void otlp_ok(struct sink_response *rs, enum fmt f, int sig, uint64_t rejected,
                    const char *msg)
{
    static const char *const keys[] = {"rejectedSpans", "rejectedDataPoints", "rejectedLogRecords"};
    rs->status = 200;
    if (f == F_PB) {
        rs->content_type = CT_PB;
        wire_otlp_response_pb(&rs->body, sig, rejected, msg);
        return;
    }
    rs->content_type = CT_JSON;
    if (!rejected) {
        core_buf_puts(&rs->body, "{}");
        return;
    }
    core_buf_printf(&rs->body, "{\"partialSuccess\":{\"%s\":\"%llu\",\"errorMessage\":", keys[sig],
                    (unsigned long long)rejected);
    core_buf_put_json_str(&rs->body, msg);
    core_buf_puts(&rs->body, "}}");
}

/* --fail: the first spec whose share the request's draw falls into. Deterministic per request
 * number (core_rng keyed by seed and the number). */
static unsigned pick_fault(struct sink *s)
{
    if (!s->cfg.nfaults)
        return 0;
    uint64_t n = atomic_fetch_add(&s->nreq, 1);
    struct core_rng r;
    core_rng_init(&r, s->cfg.seed, n, 0x5e1f);
    double u = core_rng_unit(&r), acc = 0;
    for (int i = 0; i < s->cfg.nfaults; i++) {
        acc += s->cfg.faults[i].share;
        if (u < acc)
            return s->cfg.faults[i].status;
    }
    return 0;
}

static void fault(struct sink *s, enum route rt, enum fmt f, unsigned status,
                  struct sink_response *rs)
{
    atomic_fetch_add(&s->faults, 1);
    rs->retry_after = s->cfg.retry_after_s;
    if (rt == R_RW || f == F_UNKNOWN) {
        text(rs, status, "injected fault (diorama sink --fail)");
        return;
    }
    int code = status == 400 ? RPC_INVALID_ARGUMENT : RPC_UNAVAILABLE;
    otlp_error(rs, f, status, code, "injected fault (diorama sink --fail)");
}

struct decode_ctx {
    struct sink__verify *v;
    uint64_t arrival_ns;
    struct sink__reqsnap snap;
    char problem[120];
};

static int on_item(void *ctx, const struct wire_item *it)
{
    struct decode_ctx *d = ctx;
    if (!it->valid && !d->problem[0])
        snprintf(d->problem, sizeof d->problem, "%s", it->problem ? it->problem : "invalid");
    sink__verify_item(d->v, it, d->arrival_ns, &d->snap);
    return 0;
}

static void record(struct sink *s, int sig, enum fmt f, const void *body, size_t len);

static void handle_otlp(struct sink *s, const struct sink_request *rq, enum route rt, enum fmt f,
                        struct sink_response *rs)
{
    struct core_buf plain;
    core_buf_init(&plain, s->cfg.max_request);
    const void *body = rq->body;
    size_t len = rq->len;
    if (is_encoding(rq->content_encoding, "gzip")) {
        int rc = wire_gunzip(&plain, rq->body, rq->len);
        if (rc == DIO_EFULL) {
            otlp_error(rs, f, 413, RPC_RESOURCE_EXHAUSTED, "decompressed body over the limit");
            goto done;
        }
        if (rc) {
            otlp_error(rs, f, 400, RPC_INVALID_ARGUMENT, "bad gzip body");
            goto done;
        }
        body = plain.p;
        len = plain.len;
    }
    struct decode_ctx d = {&s->v, rq->arrival_ns ? rq->arrival_ns : core_wall_ns(), {0, 0}, ""};
    struct wire_decode_stats st = {0, 0};
    char err[160] = "";
    if (wire_otlp_decode((int)rt, f == F_JSON, body, len, on_item, &d, &st, err, sizeof err)) {
        otlp_error(rs, f, 400, RPC_INVALID_ARGUMENT, err[0] ? err : "undecodable request");
        goto done;
    }
    record(s, (int)rt, f, body, len);
    otlp_ok(rs, f, (int)rt, st.rejected, d.problem);
done:
    core_buf_free(&plain);
}

/* Which remote write a Content-Type asks for, by its proto parameter (the 2.0 spec): 1 for
 * none or prometheus.WriteRequest, 2 for io.prometheus.write.v2.Request, 0 for another. */
static int rw_version_of(const char *ct)
{
    const char *p = ct ? strchr(ct, ';') : NULL;
    if (!p)
        return 1;
    while (*p == ';' || *p == ' ' || *p == '\t')
        p++;
    if (!*p)
        return 1;
    if (strncasecmp(p, "proto=", 6))
        return 0;
    p += 6;
    size_t n = strcspn(p, "; \t");
    if (n == 30 && !strncmp(p, "io.prometheus.write.v2.Request", n))
        return 2;
    return n == 23 && !strncmp(p, "prometheus.WriteRequest", n) ? 1 : 0;
}

static void handle_rw(struct sink *s, const struct sink_request *rq, struct sink_response *rs)
{
    int version = rw_version_of(rq->content_type);
    if (format_of(rq->content_type) != F_PB || !is_encoding(rq->content_encoding, "snappy") ||
        !version) {
        text(rs, 415,
             "remote write wants Content-Type application/x-protobuf (proto=prometheus."
             "WriteRequest or io.prometheus.write.v2.Request) and Content-Encoding snappy");
        return;
    }
    struct decode_ctx d = {&s->v, rq->arrival_ns ? rq->arrival_ns : core_wall_ns(), {0, 0}, ""};
    struct wire_decode_stats st = {0, 0};
    struct wire_rw2_written w = {0, 0, 0};
    char err[160] = "";
    int rc = version == 2 ? wire_rw2_decode(rq->body, rq->len, s->cfg.max_request, on_item, &d, &st,
                                            &w, err, sizeof err)
                          : wire_rw_decode(rq->body, rq->len, s->cfg.max_request, on_item, &d, &st,
                                           err, sizeof err);
    if (version == 2) {
        rs->rw_written[0] = (int64_t)w.samples;
        rs->rw_written[1] = (int64_t)w.histograms;
        rs->rw_written[2] = (int64_t)w.exemplars;
    }
    if (rc == DIO_EFULL) {
        text(rs, 413, "decompressed body over the limit");
        return;
    }
    if (rc) {
        text(rs, 400, err[0] ? err : "undecodable write request");
        return;
    }
    record(s, WIRE_SAMPLES, F_PB, rq->body, rq->len);
    rs->status = 204;
    rs->content_type = CT_TEXT;
}

/* GET /status: what arrived so far, as --json would write it (no verdict). */
static int status_page(struct sink *s, const struct sink_request *rq, struct sink_response *rs)
{
    if (!rq->method || strcmp(rq->method, "GET") || !rq->path || strcmp(rq->path, "/status"))
        return 0;
    rs->status = 200;
    rs->content_type = CT_JSON;
    sink_result_json(s, NULL, 0, &rs->body);
    return 1;
}

static void dispatch(struct sink *s, const struct sink_request *rq, struct sink_response *rs)
{
    enum route rt = route_of(rq->path ? rq->path : "");
    if (rt == R_NONE && status_page(s, rq, rs))
        return;
    if (rt == R_NONE) {
        text(rs, 404,
             "not found: OTLP on /v1/traces, /v1/metrics, /v1/logs; remote write "
             "on /api/v1/write");
        return;
    }
    if (!rq->method || strcmp(rq->method, "POST") != 0) {
        text(rs, 405, "method not allowed: POST");
        return;
    }
    atomic_fetch_add(&s->requests, 1);
    atomic_fetch_add(&s->bytes, rq->len);
    enum fmt f = format_of(rq->content_type);
    unsigned fs = pick_fault(s);
    if (fs) {
        fault(s, rt, f, fs, rs);
        return;
    }
    if (rt == R_RW) {
        handle_rw(s, rq, rs);
        return;
    }
    if (f == F_UNKNOWN) {
        text(rs, 415, "unsupported content type: application/x-protobuf or application/json");
        return;
    }
    if (rq->content_encoding && !is_encoding(rq->content_encoding, "gzip") &&
        !is_encoding(rq->content_encoding, "identity")) {
        otlp_error(rs, f, 415, RPC_INVALID_ARGUMENT, "unsupported content encoding: gzip only");
        return;
    }
    handle_otlp(s, rq, rt, f, rs);
}

void sink_handle(struct sink *s, const struct sink_request *rq, struct sink_response *rs)
{
    core_buf_reset(&rs->body);
    rs->retry_after = -1;
    rs->rw_written[0] = -1;
    rs->content_type = CT_TEXT;
    dispatch(s, rq, rs);
    count_status(s, rs->status);
}

void sink_refuse(struct sink *s, const struct sink_request *rq, unsigned status,
                 struct sink_response *rs)
{
    core_buf_reset(&rs->body);
    rs->retry_after = -1;
    rs->rw_written[0] = -1;
    enum route rt = route_of(rq->path ? rq->path : "");
    enum fmt f = format_of(rq->content_type);
    if (rt != R_NONE)
        atomic_fetch_add(&s->requests, 1);
    const char *msg = status == 413 ? "request body over the limit (--max-request-size)"
                                    : "server busy: too many request bytes held, retry later";
    int code = status == 413 ? RPC_RESOURCE_EXHAUSTED : RPC_UNAVAILABLE;
    if (rt == R_NONE || rt == R_RW || f == F_UNKNOWN)
        text(rs, status, msg);
    else
        otlp_error(rs, f, status, code, msg);
    if (status == 503) {
        atomic_fetch_add(&s->busy, 1);
        rs->retry_after = 1;
    }
    count_status(s, rs->status);
}

size_t sink_max_request(const struct sink *s)
{
    return s->cfg.max_request;
}

/* --record DIR: every accepted data request, decompressed, as NNNNNNNN-<signal>.<pb|json>
 * (remote write: as received, snappy). For benchmarks; write errors are logged once. */
static void record(struct sink *s, int sig, enum fmt f, const void *body, size_t len)
{
    static atomic_uint_fast64_t n;
    static atomic_int warned;
    if (!s->cfg.record_dir)
        return;
    char path[4096];
    snprintf(path, sizeof path, "%s/%08llu-%s.%s", s->cfg.record_dir,
             (unsigned long long)atomic_fetch_add(&n, 1), sink_signal_names[sig],
             sig == WIRE_SAMPLES ? "snappy"
             : f == F_JSON       ? "json"
                                 : "pb");
    FILE *fp = fopen(path, "wb");
    int ok = fp && fwrite(body, 1, len, fp) == len;
    if (fp && fclose(fp))
        ok = 0;
    if (!ok && !atomic_exchange(&warned, 1))
        core_warn("--record: cannot write %s", path);
}
