/* What to do with a gRPC call's status (OTLP/gRPC spec, "Failures"): which codes are retried,
 * and the RetryInfo a server may put in grpc-status-details-bin. Pure functions over bytes
 * the peer chose, bounded by their input and fuzzed (fuzz/fuzz_export_grpc_status.c). */
#include <stdio.h>
#include <string.h>

#include "export/export.h"

#define NS_PER_S 1000000000ULL
#define DELAY_CAP_NS (86400ULL * NS_PER_S) /* as for Retry-After: longer is "never" */
#define RETRY_INFO_TYPE "type.googleapis.com/google.rpc.RetryInfo"

enum {
    G_CANCELLED = 1,
    G_DEADLINE_EXCEEDED = 4,
    G_RESOURCE_EXHAUSTED = 8,
    G_ABORTED = 10,
    G_OUT_OF_RANGE = 11,
    G_UNAVAILABLE = 14,
    G_DATA_LOSS = 15,
};

static const char *const code_names[] = {
    "OK",        "CANCELLED",      "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
    "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED",   "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
    "DATA_LOSS", "UNAUTHENTICATED"};

const char *export_grpc_code_name(int code)
{
    if (code < 0)
        return "transport failure";
    return (size_t)code < sizeof code_names / sizeof *code_names ? code_names[code] : "UNKNOWN";
}

int export_grpc_policy(int code, int has_retry_info, uint64_t retry_info_ns, int attempt,
                       uint64_t initial_ns, uint64_t max_ns, struct core_rng *rng,
                       uint64_t *delay_ns)
{
    if (code == 0)
        return EXPORT_OK;
    int retry = code < 0 || code == G_CANCELLED || code == G_DEADLINE_EXCEEDED ||
                code == G_ABORTED || code == G_OUT_OF_RANGE || code == G_UNAVAILABLE ||
                code == G_DATA_LOSS || (code == G_RESOURCE_EXHAUSTED && has_retry_info);
    if (!retry)
        return EXPORT_FAIL;
    uint64_t d =
        has_retry_info ? retry_info_ns : export_retry_backoff(attempt, initial_ns, max_ns, rng);
    if (delay_ns)
        *delay_ns = d;
    return EXPORT_RETRY;
}

/* ---- grpc-status-details-bin ------------------------------------------------------------ */

static int b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

/* Decodes into out (at most n * 3 / 4 bytes). Trailing '=' allowed. Length or -1. */
static long b64dec(const char *s, size_t n, uint8_t *out)
{
    while (n > 0 && s[n - 1] == '=')
        n--;
    if (n % 4 == 1)
        return -1;
    uint32_t acc = 0;
    long k = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64val((unsigned char)s[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[k++] = (uint8_t)(acc >> bits);
        }
    }
    return k;
}

struct rd {
    const uint8_t *p, *end;
};

static int rd_varint(struct rd *r, uint64_t *v)
{
    uint64_t x = 0;
    for (int sh = 0; sh < 64; sh += 7) {
        if (r->p >= r->end)
            return -1;
        uint8_t b = *r->p++;
        x |= (uint64_t)(b & 0x7f) << sh;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

/* Next field; LEN payloads in *sub, fixed ones skipped. */
static int rd_field(struct rd *r, uint32_t *f, uint64_t *v, struct rd *sub)
{
    uint64_t tag;
    if (rd_varint(r, &tag) || (tag >> 3) == 0 || (tag >> 3) > 0x1fffffff)
        return -1;
    *f = (uint32_t)(tag >> 3);
    size_t skip = 0;
    switch (tag & 7) {
    case 0:
        return rd_varint(r, v);
    case 1:
        skip = 8;
        break;
    case 5:
        skip = 4;
        break;
    case 2:
        if (rd_varint(r, v) || *v > (uint64_t)(r->end - r->p))
            return -1;
        *sub = (struct rd){r->p, r->p + *v};
        r->p += *v;
        *f |= 0x80000000u; /* mark: LEN */
        return 0;
    default:
        return -1;
    }
    if ((size_t)(r->end - r->p) < skip)
        return -1;
    r->p += skip;
    return 0;
}

/* google.protobuf.Duration { int64 seconds = 1; int32 nanos = 2; } inside RetryInfo {
 * Duration retry_delay = 1; }. */
static int retry_info(struct rd r, uint64_t *ns)
{
    uint64_t secs = 0, nanos = 0, v;
    uint32_t f;
    struct rd sub, dur = {0};
    while (r.p < r.end) {
        if (rd_field(&r, &f, &v, &sub))
            return -1;
        if (f == (1u | 0x80000000u))
            dur = sub;
    }
    while (dur.p && dur.p < dur.end) {
        if (rd_field(&dur, &f, &v, &sub))
            return -1;
        if (f == 1)
            secs = v;
        else if (f == 2)
            nanos = v;
    }
    if ((int64_t)secs < 0 || (int64_t)nanos < 0)
        secs = nanos = 0; /* a negative delay means "now" */
    *ns = secs >= DELAY_CAP_NS / NS_PER_S ? DELAY_CAP_NS : secs * NS_PER_S + nanos % NS_PER_S;
    return 0;
}

/* google.protobuf.Any { string type_url = 1; bytes value = 2; } */
static int any_detail(struct rd r, int *has, uint64_t *ns)
{
    uint32_t f;
    uint64_t v;
    struct rd sub, type = {0}, val = {0};
    while (r.p < r.end) {
        if (rd_field(&r, &f, &v, &sub))
            return -1;
        if (f == (1u | 0x80000000u))
            type = sub;
        else if (f == (2u | 0x80000000u))
            val = sub;
    }
    size_t tl = strlen(RETRY_INFO_TYPE);
    if (!type.p || (size_t)(type.end - type.p) != tl || memcmp(type.p, RETRY_INFO_TYPE, tl))
        return 0;
    if (val.p && retry_info(val, ns))
        return -1;
    *has = 1;
    if (!val.p)
        *ns = 0;
    return 0;
}

static void copy_msg(const struct rd *s, char *msg, size_t msglen)
{
    size_t n = (size_t)(s->end - s->p);
    if (!msg || !msglen)
        return;
    if (n > msglen - 1)
        n = msglen - 1;
    for (size_t i = 0; i < n; i++)
        msg[i] = s->p[i] < 0x20 || s->p[i] == 0x7f ? '?' : (char)s->p[i];
    msg[n] = 0;
}

int export_grpc_status_details(const char *b64, size_t n, int *has, uint64_t *delay_ns, char *msg,
                               size_t msglen)
{
    *has = 0;
    *delay_ns = 0;
    if (msg && msglen)
        msg[0] = 0;
    if (n > 65536)
        return DIO_EPARSE; /* more than any header block we accept */
    uint8_t buf[49152 + 4];
    long len = b64dec(b64, n, buf);
    if (len < 0)
        return DIO_EPARSE;
    /* google.rpc.Status { int32 code = 1; string message = 2; repeated Any details = 3; } */
    struct rd r = {buf, buf + len}, sub;
    uint32_t f;
    uint64_t v;
    while (r.p < r.end) {
        if (rd_field(&r, &f, &v, &sub))
            return DIO_EPARSE;
        if (f == (2u | 0x80000000u))
            copy_msg(&sub, msg, msglen);
        else if (f == (3u | 0x80000000u) && any_detail(sub, has, delay_ns))
            return DIO_EPARSE;
    }
    return 0;
}
