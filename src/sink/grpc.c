/* OTLP/gRPC in the sink: the unary Export calls of the three collector services, received by
 * the base's HTTP/2 listener (httpd_h2) and answered through sink_handle exactly like
 * OTLP/HTTP protobuf, so counting, verification and the fault options are the same.
 *
 * A call: gRPC framing off (wire_grpc_unframe: one message, gzip with grpc-encoding: gzip),
 * then sink_handle on /v1/<signal> with the message as an application/x-protobuf body; its
 * HTTP answer becomes a gRPC status (trailers grpc-status, grpc-message and, for retryable
 * faults given --retry-after, a google.rpc.RetryInfo in grpc-status-details-bin):
 *   200 -> OK with the Export*ServiceResponse (partial_success when items were invalid)
 *   400 -> INVALID_ARGUMENT   413 -> RESOURCE_EXHAUSTED (no RetryInfo: not retryable)
 *   429 -> RESOURCE_EXHAUSTED + RetryInfo when --retry-after is set (else UNAVAILABLE, so
 *          that the client retries)   502/503/504 -> UNAVAILABLE   other -> UNKNOWN/INTERNAL
 * --delay holds every answer to a call that got this far (as HTTP holds every data response):
 * the listener keeps the stream waiting, no thread sleeps, other calls go on. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sink/internal.h"

enum {
    G_OK = 0,
    G_UNKNOWN = 2,
    G_INVALID_ARGUMENT = 3,
    G_RESOURCE_EXHAUSTED = 8,
    G_UNIMPLEMENTED = 12,
    G_INTERNAL = 13,
    G_UNAVAILABLE = 14,
};

static const char *const services[REC_NSIGNALS][2] = {
    {"/opentelemetry.proto.collector.trace.v1.TraceService/Export", "/v1/traces"},
    {"/opentelemetry.proto.collector.metrics.v1.MetricsService/Export", "/v1/metrics"},
    {"/opentelemetry.proto.collector.logs.v1.LogsService/Export", "/v1/logs"}};

/* The strings the trailers point at, kept in the response's own room (rs->strings). */
struct strings {
    char code[8];
    char msg[256];
    char details[512];
};
_Static_assert(sizeof(struct strings) <= sizeof(((struct httpd_h2_response *)0)->strings),
               "gRPC trailer strings do not fit the response");

struct answer {
    struct httpd_h2_response *rs;
    struct strings *k;
};

static void b64(const uint8_t *p, size_t n, char *out, size_t outlen)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t k = 0;
    for (size_t i = 0; i < n && k + 5 < outlen; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        out[k++] = t[v >> 18 & 63];
        out[k++] = t[v >> 12 & 63];
        if (i + 1 < n)
            out[k++] = t[v >> 6 & 63];
        if (i + 2 < n)
            out[k++] = t[v & 63];
    }
    out[k] = 0; /* unpadded, as gRPC sends -bin values */
}

/* google.rpc.Status {code, message, details: [Any RetryInfo {retry_delay {seconds}}]}. */
static void retry_details(struct answer *a, int code, int64_t secs)
{
    struct core_buf st, any, ri, dur;
    core_buf_init(&st, 1024);
    core_buf_init(&any, 512);
    core_buf_init(&ri, 64);
    core_buf_init(&dur, 32);
    static const char type[] = "type.googleapis.com/google.rpc.RetryInfo";
    wire_pb_u64(&dur, 1, (uint64_t)secs);
    wire_pb_bytes(&ri, 1, dur.p, dur.len);
    wire_pb_bytes(&any, 1, type, sizeof type - 1);
    wire_pb_bytes(&any, 2, ri.p, ri.len);
    wire_pb_u64(&st, 1, (uint64_t)code);
    wire_pb_bytes(&st, 2, a->k->msg, strlen(a->k->msg));
    wire_pb_bytes(&st, 3, any.p, any.len);
    b64(st.p, st.len, a->k->details, sizeof a->k->details);
    core_buf_free(&st);
    core_buf_free(&any);
    core_buf_free(&ri);
    core_buf_free(&dur);
}

/* grpc-message is percent-encoded: anything outside printable ASCII, and '%'. */
static void set_message(struct answer *a, const char *m)
{
    size_t k = 0;
    char *out = a->k->msg;
    for (; *m && k + 4 < sizeof a->k->msg; m++) {
        unsigned char c = (unsigned char)*m;
        if (c >= 0x20 && c < 0x7f && c != '%')
            out[k++] = (char)c;
        else
            k += (size_t)snprintf(out + k, sizeof a->k->msg - k, "%%%02X", c);
    }
    out[k] = 0;
}

static void status(struct answer *a, int code, const char *msg)
{
    struct httpd_h2_response *rs = a->rs;
    snprintf(a->k->code, sizeof a->k->code, "%d", code);
    rs->trailers[rs->ntrailers++] = (struct httpd_h2_field){"grpc-status", a->k->code};
    if (msg && *msg) {
        set_message(a, msg);
        rs->trailers[rs->ntrailers++] = (struct httpd_h2_field){"grpc-message", a->k->msg};
    }
}

static int code_of(unsigned http, int64_t retry_after, int *retry_info)
{
    *retry_info = 0;
    switch (http) {
    case 200:
        return G_OK;
    case 400:
    case 415:
        return G_INVALID_ARGUMENT;
    case 413:
        return G_RESOURCE_EXHAUSTED;
    case 429:
        *retry_info = retry_after >= 0;
        return retry_after >= 0 ? G_RESOURCE_EXHAUSTED : G_UNAVAILABLE;
    case 502:
    case 503:
    case 504:
        *retry_info = retry_after >= 0;
        return G_UNAVAILABLE;
    case 404:
        return G_UNIMPLEMENTED;
    default:
        return http >= 500 ? G_INTERNAL : G_UNKNOWN;
    }
}

/* The sink's HTTP answer as a gRPC one. */
static void from_http(struct answer *a, const struct sink_response *hr)
{
    int ri;
    int code = code_of(hr->status, hr->retry_after, &ri);
    if (code == G_OK) {
        wire_grpc_frame(&a->rs->body, hr->body.p, hr->body.len, 0);
        status(a, G_OK, NULL);
        return;
    }
    char m[160];
    snprintf(m, sizeof m, "%s (the sink's HTTP status %u)",
             hr->status == 413                           ? "request over --max-request-size"
             : hr->status == 400                         ? "undecodable request"
             : hr->retry_after >= 0 || hr->status >= 500 ? "injected fault or server busy"
                                                         : "refused",
             hr->status);
    status(a, code, m);
    if (ri) {
        retry_details(a, code, hr->retry_after);
        a->rs->trailers[a->rs->ntrailers++] =
            (struct httpd_h2_field){"grpc-status-details-bin", a->k->details};
    }
}

static int route(const char *path)
{
    for (int i = 0; i < REC_NSIGNALS; i++)
        if (!strcmp(path, services[i][0]))
            return i;
    return -1;
}

static int grpc_content_type(const char *ct)
{
    return ct && !strncasecmp(ct, "application/grpc", 16) &&
           (ct[16] == 0 || ct[16] == '+' || ct[16] == ';');
}

/* Checks before the body: 0 to go on, else the call was answered. */
static int precheck(struct sink *s, const struct httpd_h2_request *rq, struct answer *a, int sig,
                    int *gzip)
{
    const char *enc = httpd_h2_header(rq, "grpc-encoding");
    *gzip = enc && !strcasecmp(enc, "gzip");
    if (!grpc_content_type(rq->content_type)) {
        a->rs->status = 415; /* gRPC: a request that is not gRPC gets HTTP 415 */
        return 1;
    }
    if (sink__server_down(s)) {
        atomic_fetch_add(&s->refused, 1);
        status(a, G_UNAVAILABLE, "sink is down (--down-for)");
        return 1;
    }
    if (sig < 0 || strcmp(rq->method, "POST")) {
        status(a, G_UNIMPLEMENTED, "unknown method: OTLP's Trace/Metrics/LogsService Export");
        return 1;
    }
    if (enc && !*gzip && strcasecmp(enc, "identity")) {
        a->rs->headers[a->rs->nheaders++] =
            (struct httpd_h2_field){"grpc-accept-encoding", "identity,gzip"};
        status(a, G_UNIMPLEMENTED, "unsupported grpc-encoding: identity or gzip");
        return 1;
    }
    return 0;
}

static void call(struct sink *s, const struct httpd_h2_request *rq, struct answer *a, int sig,
                 int gzip)
{
    struct sink_request hq = {
        .method = "POST", .path = services[sig][1], .content_type = "application/x-protobuf"};
    struct sink_response hr;
    core_buf_init(&hr.body, (size_t)1 << 20);
    struct core_buf scratch;
    core_buf_init(&scratch, sink_max_request(s));
    int rc = 0;
    if (rq->refused) {
        sink_refuse(s, &hq, rq->refused, &hr);
    } else if ((rc = wire_grpc_unframe(rq->body, rq->len, gzip, &scratch, &hq.body, &hq.len))) {
        atomic_fetch_add(&s->requests, 1);
        if (rc == DIO_EFULL)
            sink_refuse(s, &hq, 413, &hr);
        else
            status(a, G_INTERNAL,
                   rc == DIO_EINVAL ? "compressed message without grpc-encoding"
                                    : "malformed gRPC message framing");
    } else {
        sink_handle(s, &hq, &hr);
    }
    if (!a->rs->ntrailers)
        from_http(a, &hr);
    a->rs->delay_ns = s->cfg.delay_ns; /* --delay, as for HTTP: the listener holds the answer */
    core_buf_free(&scratch);
    core_buf_free(&hr.body);
}

void sink__grpc_request(void *cls, const struct httpd_h2_request *rq, struct httpd_h2_response *rs)
{
    struct sink *s = cls;
    struct answer ans = {rs, (struct strings *)rs->strings}, *a = &ans;
    rs->status = 200;
    rs->headers[rs->nheaders++] = (struct httpd_h2_field){"content-type", "application/grpc"};
    int gzip, sig = route(rq->path);
    if (!precheck(s, rq, a, sig, &gzip))
        call(s, rq, a, sig, gzip);
    if (rs->status != 200) { /* not a gRPC answer at all */
        rs->nheaders = rs->ntrailers = 0;
        core_buf_reset(&rs->body);
    }
}
