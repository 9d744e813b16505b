/* OTLP/HTTP exporter configuration from a flag and the standard OTEL_EXPORTER_OTLP_*
 * environment (OpenTelemetry SDK environment variable specification). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "export/export.h"

#define MAX_HEADERS 128
#define MAX_HEADER_LEN 8192

static const char *const env_signal[REC_NSIGNALS] = {"TRACES", "METRICS", "LOGS"};
static const char *const url_signal[REC_NSIGNALS] = {"traces", "metrics", "logs"};

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* OTEL_EXPORTER_OTLP_<what> (signal < 0) or OTEL_EXPORTER_OTLP_<SIGNAL>_<what>; an empty
 * value counts as unset, as the spec says. `name` receives the variable's name. */
static const char *otel_env(int signal, const char *what, char *name, size_t n)
{
    if (signal < 0)
        snprintf(name, n, "OTEL_EXPORTER_OTLP_%s", what);
    else
        snprintf(name, n, "OTEL_EXPORTER_OTLP_%s_%s", env_signal[signal], what);
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* ---- headers ------------------------------------------------------------------------------ */

static int is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

struct hlist {
    char **v;
    size_t n;
    char *err;
    size_t errlen;
};

static int add_header(void *ctx, const char *k, const char *v)
{
    struct hlist *l = ctx;
    while (*k == ' ' || *k == '\t')
        k++;
    size_t klen = strlen(k);
    while (klen > 0 && (k[klen - 1] == ' ' || k[klen - 1] == '\t'))
        klen--;
    while (*v == ' ' || *v == '\t')
        v++;
    size_t vlen = strlen(v);
    while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
        vlen--;
    if (klen == 0) {
        seterr(l->err, l->errlen, "header with an empty name");
        return DIO_EINVAL;
    }
    for (size_t i = 0; i < klen; i++) {
        if (!is_tchar((unsigned char)k[i])) {
            seterr(l->err, l->errlen, "header name \"%.*s\" has a character not allowed in HTTP",
                   (int)(klen > 64 ? 64 : klen), k);
            return DIO_EINVAL;
        }
    }
    for (size_t i = 0; i < vlen; i++) {
        unsigned char c = (unsigned char)v[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            seterr(l->err, l->errlen, "header \"%.*s\" has a control character in its value",
                   (int)(klen > 64 ? 64 : klen), k);
            return DIO_EINVAL;
        }
    }
    if (l->n >= MAX_HEADERS || klen + vlen + 2 > MAX_HEADER_LEN) {
        seterr(l->err, l->errlen, "too many or too long headers (max %d, %d bytes each)",
               MAX_HEADERS, MAX_HEADER_LEN);
        return DIO_EINVAL;
    }
    char *h = core_malloc(klen + vlen + 3);
    memcpy(h, k, klen);
    memcpy(h + klen, ": ", 2);
    memcpy(h + klen + 2, v, vlen);
    h[klen + 2 + vlen] = 0;
    l->v = core_realloc(l->v, (l->n + 2) * sizeof *l->v);
    l->v[l->n++] = h;
    l->v[l->n] = NULL;
    return 0;
}

void export_headers_free(char **headers)
{
    if (!headers)
        return;
    for (char **p = headers; *p; p++)
        core_free(*p);
    core_free(headers);
}

int export_headers_parse(const char *list, char ***headers, char *err, size_t errlen)
{
    struct hlist l = {NULL, 0, err, errlen};
    for (char **p = *headers; p && *p; p++)
        l.n++;
    size_t had = l.n;
    if (had > 0) {
        l.v = core_malloc((had + 1) * sizeof *l.v);
        memcpy(l.v, *headers, (had + 1) * sizeof *l.v);
    }
    int rc = core_parse_kv_list(list, add_header, &l);
    if (rc != 0) {
        if (rc == DIO_EPARSE)
            seterr(err, errlen, "cannot parse header list (want name=value,name=value)");
        for (size_t i = had; i < l.n; i++)
            core_free(l.v[i]);
        core_free(l.v);
        return rc;
    }
    if (l.v) {
        core_free(*headers);
        *headers = l.v;
    }
    return 0;
}

/* ---- endpoints ---------------------------------------------------------------------------- */

/* The authority after "scheme://": [userinfo@]host[:port], host a name, an IPv4 address or an
 * [IPv6] literal. A port must be 1..65535: a bad one is a usage error now, not a connection
 * failure retried for the whole run. */
static int check_authority(const char *u, const char *a, const char *from, char *err, size_t errlen)
{
    size_t n = strcspn(a, "/?#");
    for (size_t i = n; i > 0; i--) { /* userinfo ends at the last '@' */
        if (a[i - 1] == '@') {
            a += i;
            n -= i;
            break;
        }
    }
    const char *end = a + n, *colon = NULL;
    if (n && *a == '[') {
        const char *rb = memchr(a, ']', n);
        if (!rb || rb == a + 1 || (rb + 1 < end && rb[1] != ':')) {
            seterr(err, errlen, "%s: OTLP endpoint \"%s\" has a bad [IPv6] host", from, u);
            return DIO_EINVAL;
        }
        colon = rb + 1 < end ? rb + 1 : NULL;
    } else {
        colon = memchr(a, ':', n);
        if (colon == a || n == 0) {
            seterr(err, errlen, "%s: OTLP endpoint \"%s\" has no host", from, u);
            return DIO_EINVAL;
        }
    }
    if (!colon)
        return 0;
    unsigned long port = 0;
    const char *p = colon + 1;
    for (; p < end && *p >= '0' && *p <= '9' && port <= 65535; p++)
        port = port * 10 + (unsigned long)(*p - '0');
    if (p != end || p == colon + 1 || port < 1 || port > 65535) {
        seterr(err, errlen, "%s: OTLP endpoint \"%s\": the port must be a number 1..65535", from,
               u);
        return DIO_EINVAL;
    }
    return 0;
}

static int check_url(const char *u, const char *from, char *err, size_t errlen)
{
    const char *host = NULL;
    if (strncasecmp(u, "http://", 7) == 0)
        host = u + 7;
    else if (strncasecmp(u, "https://", 8) == 0)
        host = u + 8;
    else if (strncasecmp(u, "grpc://", 7) == 0)
        host = u + 7; /* OTLP/gRPC, cleartext HTTP/2 (see grpc_endpoints) */
    else if (strncasecmp(u, "grpcs://", 8) == 0)
        host = u + 8; /* OTLP/gRPC over TLS */
    if (!host) {
        seterr(
            err, errlen,
            "%s: OTLP endpoint \"%s\" must start with http://, https:// or grpc:// (or grpcs://)",
            from, u);
        return DIO_EINVAL;
    }
    for (const char *p = u; *p; p++) {
        if ((unsigned char)*p <= 0x20 || *p == 0x7f) {
            seterr(err, errlen, "%s: OTLP endpoint \"%s\" contains a space or control character",
                   from, u);
            return DIO_EINVAL;
        }
    }
    return check_authority(u, host, from, err, errlen);
}

int export_otlp_url_check(const char *url, const char *from, char *err, size_t errlen)
{
    return check_url(url, from, err, errlen);
}

/* base + "v1/<signal>", with exactly one slash between them. */
static char *join_url(const char *base, int s)
{
    size_t n = strlen(base);
    while (n > 0 && base[n - 1] == '/')
        n--;
    size_t len = n + 4 + strlen(url_signal[s]) + 1;
    char *u = core_malloc(len);
    snprintf(u, len, "%.*s/v1/%s", (int)n, base, url_signal[s]);
    return u;
}

static int resolve_endpoints(struct export_otlp_http_cfg *cfg, const char *flag_url, char *err,
                             size_t errlen)
{
    char name[64], gname[64];
    const char *base = otel_env(-1, "ENDPOINT", gname, sizeof gname);
    const char *from_base = gname;
    if (flag_url && *flag_url) {
        base = flag_url;
        from_base = "--otlp";
    }
    int any = 0;
    for (int s = 0; s < REC_NSIGNALS; s++) {
        const char *own = otel_env(s, "ENDPOINT", name, sizeof name);
        int rc;
        if (base && base == flag_url) {
            rc = check_url(base, from_base, err, errlen);
            cfg->url[s] = rc == 0 ? join_url(base, s) : NULL;
        } else if (own) {
            rc = check_url(own, name, err, errlen);
            cfg->url[s] = rc == 0 ? core_strdup(own) : NULL;
        } else if (base) {
            rc = check_url(base, from_base, err, errlen);
            cfg->url[s] = rc == 0 ? join_url(base, s) : NULL;
        } else {
            continue;
        }
        if (rc != 0)
            return rc;
        any = 1;
    }
    if (!any) {
        seterr(err, errlen,
               "no OTLP endpoint: give a URL or set OTEL_EXPORTER_OTLP_ENDPOINT "
               "(or OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT)");
        return DIO_ENOENT;
    }
    if (flag_url && *flag_url) {
        size_t n = strlen(flag_url);
        for (int s = 0; s < REC_NSIGNALS; s++) {
            size_t m = strlen(url_signal[s]) + 4;
            if (n >= m && strncmp(flag_url + n - m, "/v1/", 4) == 0 &&
                strcmp(flag_url + n - m + 4, url_signal[s]) == 0)
                core_warn("OTLP URL %s is a base URL (like OTEL_EXPORTER_OTLP_ENDPOINT): "
                          "requests go to %s; give the URL without /v1/%s",
                          flag_url, cfg->url[s], url_signal[s]);
        }
    }
    return 0;
}

/* ---- the rest ----------------------------------------------------------------------------- */

/* OTEL_EXPORTER_OTLP_PROTOCOL values we speak, and what they select. */
static const struct {
    const char *name;
    int protocol;
} protocols[] = {
    {"http/protobuf", EXPORT_OTLP_HTTP_PROTOBUF},
    {"http/json", EXPORT_OTLP_HTTP_JSON},
    {"grpc", EXPORT_OTLP_GRPC},
};

int export_otlp_protocol_parse(const char *v, int *protocol)
{
    for (size_t i = 0; i < sizeof protocols / sizeof *protocols; i++) {
        if (strcmp(v, protocols[i].name) == 0) {
            *protocol = protocols[i].protocol;
            return 0;
        }
    }
    return DIO_EINVAL;
}

/* _PROTOCOL (signal < 0: for every signal) into cfg->protocol[]; unset leaves it as it is. */
static int check_protocol(struct export_otlp_http_cfg *cfg, int signal, char *err, size_t errlen)
{
    char name[64];
    int p;
    const char *v = otel_env(signal, "PROTOCOL", name, sizeof name);
    if (!v)
        return 0;
    if (export_otlp_protocol_parse(v, &p) != 0) {
        seterr(err, errlen, "%s=%s: unknown protocol (want http/protobuf, http/json or grpc)", name,
               v);
        return DIO_EINVAL;
    }
    for (int s = 0; s < REC_NSIGNALS; s++)
        if (signal < 0 || s == signal)
            cfg->protocol[s] = p;
    return 0;
}

/* gzip|none -> 1|-1, 0 when unset. */
static int compression(int signal, int *out, char *err, size_t errlen)
{
    char name[64];
    const char *v = otel_env(signal, "COMPRESSION", name, sizeof name);
    *out = 0;
    if (!v)
        return 0;
    if (strcmp(v, "gzip") == 0)
        *out = 1;
    else if (strcmp(v, "none") == 0)
        *out = -1;
    else {
        seterr(err, errlen, "%s=%s: want gzip or none", name, v);
        return DIO_EINVAL;
    }
    return 0;
}

static int timeout(uint64_t *ns, char *err, size_t errlen)
{
    char name[64];
    const char *v = otel_env(-1, "TIMEOUT", name, sizeof name);
    if (!v)
        return 0;
    uint64_t ms = 0;
    const char *p = v;
    for (; *p >= '0' && *p <= '9' && ms < 100000000ULL; p++)
        ms = ms * 10 + (uint64_t)(*p - '0');
    if (*p || ms == 0) {
        seterr(err, errlen, "%s=%s: want a timeout in milliseconds (1 .. 99999999)", name, v);
        return DIO_EINVAL;
    }
    *ns = ms * 1000000ULL;
    return 0;
}

static int resolve_headers(struct export_otlp_http_cfg *cfg, char *err, size_t errlen)
{
    char name[64], why[192];
    for (int s = -1; s < REC_NSIGNALS; s++) {
        const char *v = otel_env(s, "HEADERS", name, sizeof name);
        if (!v || (s >= 0 && !cfg->url[s]))
            continue;
        char ***dst = s < 0 ? &cfg->headers : &cfg->signal_headers[s];
        int rc = export_headers_parse(v, dst, why, sizeof why);
        if (rc != 0) {
            seterr(err, errlen, "%s: %s", name, why);
            return rc;
        }
    }
    return 0;
}

/* A grpc:// (cleartext) or grpcs:// (TLS) endpoint selects OTLP/gRPC for the signals it
 * serves. A gRPC endpoint names the server only (the spec's gRPC endpoints are host:port; the
 * method path is fixed), so url[s] becomes http://authority, or https://authority for TLS
 * (grpcs://, or https:// with the protocol grpc). */
static void grpc_endpoints(struct export_otlp_http_cfg *cfg)
{
    for (int s = 0; s < REC_NSIGNALS; s++) {
        char *u = cfg->url[s];
        if (!u)
            continue;
        if (strncasecmp(u, "grpc://", 7) == 0 || strncasecmp(u, "grpcs://", 8) == 0)
            cfg->protocol[s] = EXPORT_OTLP_GRPC;
        if (cfg->protocol[s] != EXPORT_OTLP_GRPC)
            continue;
        int tls = strncasecmp(u, "https://", 8) == 0 || strncasecmp(u, "grpcs://", 8) == 0;
        const char *a = strstr(u, "://") + 3;
        size_t n = strcspn(a, "/?#"), len = n + 9;
        cfg->url[s] = core_malloc(len);
        snprintf(cfg->url[s], len, "%s://%.*s", tls ? "https" : "http", (int)n, a);
        core_free(u);
    }
}

static int resolve(struct export_otlp_http_cfg *cfg, const char *flag_url, char *err, size_t errlen)
{
    int rc = check_protocol(cfg, -1, err, errlen);
    if (rc == 0)
        rc = resolve_endpoints(cfg, flag_url, err, errlen);
    for (int s = 0; rc == 0 && s < REC_NSIGNALS; s++) {
        if (cfg->url[s])
            rc = check_protocol(cfg, s, err, errlen);
    }
    if (rc == 0)
        grpc_endpoints(cfg);
    char name[64];
    const char *ca = otel_env(-1, "CERTIFICATE", name, sizeof name);
    if (rc == 0 && ca && strlen(ca) >= sizeof cfg->certificate) {
        seterr(err, errlen, "%s: the path is too long", name);
        rc = DIO_EINVAL;
    } else if (rc == 0 && ca) {
        snprintf(cfg->certificate, sizeof cfg->certificate, "%s", ca);
    }
    if (rc == 0)
        rc = resolve_headers(cfg, err, errlen);
    int gz = 0;
    if (rc == 0)
        rc = compression(-1, &gz, err, errlen);
    cfg->gzip = gz > 0;
    for (int s = 0; rc == 0 && s < REC_NSIGNALS; s++)
        rc = compression(s, &cfg->signal_gzip[s], err, errlen);
    if (rc == 0)
        rc = timeout(&cfg->timeout_ns, err, errlen);
    return rc;
}

int export_otlp_http_cfg_resolve(struct export_otlp_http_cfg *cfg, const char *flag_url, char *err,
                                 size_t errlen)
{
    if (err && errlen)
        err[0] = 0;
    memset(cfg, 0, sizeof *cfg); /* callers may pass it uninitialised; overrides come after */
    int rc = resolve(cfg, flag_url, err, errlen);
    if (rc != 0) {
        export_otlp_http_cfg_free(cfg);
        return rc;
    }
    if (cfg->timeout_ns == 0)
        cfg->timeout_ns = 10ULL * 1000000000ULL;
    if (cfg->retry_initial_ns == 0)
        cfg->retry_initial_ns = 1000000000ULL;
    if (cfg->retry_max_ns == 0)
        cfg->retry_max_ns = 5ULL * 1000000000ULL;
    if (cfg->retry_budget_ns == 0)
        cfg->retry_budget_ns = 30ULL * 1000000000ULL;
    if (cfg->max_concurrent <= 0)
        cfg->max_concurrent = 4;
    return 0;
}

void export_otlp_http_cfg_free(struct export_otlp_http_cfg *cfg)
{
    for (int s = 0; s < REC_NSIGNALS; s++) {
        core_free(cfg->url[s]);
        cfg->url[s] = NULL;
        export_headers_free(cfg->signal_headers[s]);
        cfg->signal_headers[s] = NULL;
    }
    export_headers_free(cfg->headers);
    cfg->headers = NULL;
}
