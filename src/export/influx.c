/* InfluxDB line protocol output (--influx URL; docs/influx.md): metric points POSTed to an
 * InfluxDB 1.x /write (or VictoriaMetrics' /write) by the HTTP push machinery of otlp_http.c,
 * with its batching, retries and accounting. Bodies are wire_influx_encode's lines, ns
 * precision. Answers, as InfluxDB 1.x gives them:
 *   2xx                        every point written
 *   400 "partial write: ... dropped=N"   the other points were written: N dropped(rejected)
 *   other 4xx                  the batch is refused (bad database, auth ...): dropped(rejected)
 *   429, 5xx, no answer        retried with backoff (a write is idempotent in InfluxDB: a
 *                              point with the same series and time overwrites, so a retry of
 *                              a batch that did arrive duplicates nothing)
 * Credentials: user:password@ in the URL (HTTP basic auth), InfluxDB's own u= and p= query
 * parameters, or $INFLUX_USERNAME/$INFLUX_PASSWORD (basic auth) or $INFLUX_TOKEN
 * ("Authorization: Token ..."); export_url_mask hides them wherever a URL is shown. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "export/internal.h"
#include "wire/wire.h"

static int influx_encode(struct core_buf *out, const struct rec_batch *b, int verify,
                         uint32_t *skipped)
{
    (void)verify; /* the verification attributes are span/log attributes and Metric metadata:
                   * neither has a place in a line (diorama.run_id, a resource attribute, does) */
    return wire_influx_encode(out, b, skipped);
}

/* The N of the last "dropped=N" in an InfluxDB partial-write error. 0 or DIO_EPARSE. */
static int dropped_count(const char *s, size_t n, uint64_t *out)
{
    static const char key[] = "dropped=";
    const size_t k = sizeof key - 1;
    int found = 0;
    for (size_t i = 0; i + k <= n; i++) {
        if (memcmp(s + i, key, k) != 0)
            continue;
        uint64_t v = 0;
        size_t j = i + k, digits = 0;
        for (; j < n && s[j] >= '0' && s[j] <= '9' && v < UINT64_MAX / 10 - 9; j++, digits++)
            v = v * 10 + (uint64_t)(s[j] - '0');
        if (digits) {
            *out = v;
            found = 1;
        }
    }
    return found ? 0 : DIO_EPARSE;
}

static int contains(const char *s, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(s + i, needle, k) == 0)
            return 1;
    return 0;
}

int export_influx_answer(long status, const void *body, size_t n, uint64_t records,
                         uint64_t *rejected)
{
    const char *s = body ? body : "";
    *rejected = 0;
    if (status >= 200 && status <= 299)
        return 1;
    if (status != 400 || !contains(s, n, "partial write") || dropped_count(s, n, rejected) != 0)
        return 0;
    if (*rejected > records)
        *rejected = records;
    return 1;
}

static int influx_accepted(long status, const struct core_buf *resp, uint64_t n, uint64_t *rejected,
                           char *msg, size_t msglen)
{
    int ok = export_influx_answer(status, resp->p, resp->len, n, rejected);
    if (ok && *rejected && msglen) {
        size_t m = resp->len < msglen - 1 ? resp->len : msglen - 1;
        for (size_t i = 0; i < m; i++) /* the server's words, without control characters */
            msg[i] = resp->p[i] < 0x20 || resp->p[i] == 0x7f ? ' ' : (char)resp->p[i];
        msg[m] = 0;
    }
    return ok;
}

static const struct export__http_fmt influx_fmt = {"Content-Type: text/plain; charset=utf-8",
                                                   influx_encode, influx_accepted, 1};

static const struct export_output_ops influx_ops = {
    .kind = "influx",
    .start = export__http_start,
    .wake = export__http_wake,
    .join = export__http_join,
    .destroy = export__http_destroy,
};

/* ---- URLs ----------------------------------------------------------------------------------- */

/* The value of query parameter `name` in url ("" when absent) into out. */
static void query_param(const char *url, const char *name, char *out, size_t n)
{
    const char *q = strchr(url, '?');
    size_t k = strlen(name);
    out[0] = 0;
    for (const char *p = q; p && *p; p = strchr(p + 1, '&')) {
        if (strncmp(p + 1, name, k) == 0 && p[1 + k] == '=') {
            snprintf(out, n, "%.*s", (int)strcspn(p + 2 + k, "&#"), p + 2 + k);
            return;
        }
    }
}

int export_influx_url_check(const char *url, char *err, size_t errlen)
{
    char prec[16], shown[1024];
    export_url_mask(url, shown, sizeof shown); /* messages never show a password */
    if (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0) {
        snprintf(err, errlen, "--influx: \"%s\" must start with http:// or https://", shown);
        return DIO_EINVAL;
    }
    /* host, port, no spaces: checked on the masked URL, which keeps the URL's shape */
    int rc = export_otlp_url_check(shown, "--influx", err, errlen);
    if (rc != 0)
        return rc;
    query_param(url, "precision", prec, sizeof prec);
    if (prec[0] && strcmp(prec, "ns") && strcmp(prec, "n")) {
        snprintf(err, errlen,
                 "--influx: \"%s\": precision=%s, but diorama writes nanosecond timestamps "
                 "(leave precision out, or precision=ns)",
                 shown, prec);
        return DIO_EINVAL;
    }
    return 0;
}

/* Masks the password of user:password@ and the values of p=, password= and token= (and
 * u= stays: a user name is not a secret, and helps reading a message). */
void export_url_mask(const char *url, char *out, size_t n)
{
    static const char *const secret[] = {"p", "password", "token", "access_token"};
    size_t len = 0;
    const char *host = strstr(url, "://");
    host = host ? host + 3 : url;
    size_t auth = strcspn(host, "/?#");
    const char *at = memchr(host, '@', auth), *colon = memchr(host, ':', auth);
    out[0] = 0;
    if (at && colon && colon < at) /* user:****@host */
        len = (size_t)snprintf(out, n, "%.*s:****", (int)(colon - url), url), url = at;
    for (const char *p = url; *p && len + 1 < n;) {
        out[len++] = *p;
        if (*p == '?' || *p == '&') {
            int hide = 0;
            for (size_t i = 0; i < sizeof secret / sizeof *secret; i++) {
                size_t k = strlen(secret[i]);
                hide |= !strncmp(p + 1, secret[i], k) && p[1 + k] == '=';
            }
            if (hide) {
                size_t name = strcspn(p + 1, "=") + 1;
                len += (size_t)snprintf(out + len, n - len, "%.*s****", (int)name, p + 1);
                p += 1 + name + strcspn(p + 1 + name, "&#");
                continue;
            }
        }
        p++;
    }
    out[len < n ? len : n - 1] = 0;
}

/* The write URL: a bare http://host:port gets /write (InfluxDB 1.x and VictoriaMetrics). */
static char *write_url(const char *url)
{
    const char *host = strstr(url, "://") + 3;
    const char *path = host + strcspn(host, "/?#");
    if (*path && strcmp(path, "/") != 0)
        return core_strdup(url);
    size_t n = (size_t)(path - url) + sizeof "/write";
    char *u = core_malloc(n);
    snprintf(u, n, "%.*s/write", (int)(path - url), url);
    return u;
}

/* Standard base64 (RFC 4648, padded) of s[0..n) appended to b, for basic auth. */
static void base64(struct core_buf *b, const char *s, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const uint8_t *p = (const uint8_t *)s;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        char q[4] = {tab[v >> 18], tab[(v >> 12) & 63], i + 1 < n ? tab[(v >> 6) & 63] : '=',
                     i + 2 < n ? tab[v & 63] : '='};
        core_buf_append(b, q, 4);
    }
}

/* "Authorization: ..." from the environment, or NULL. */
static char *env_auth(void)
{
    const char *tok = getenv("INFLUX_TOKEN"), *user = getenv("INFLUX_USERNAME");
    const char *pass = getenv("INFLUX_PASSWORD");
    struct core_buf b;
    if (tok && *tok) {
        core_buf_init(&b, 8192);
        core_buf_printf(&b, "Authorization: Token %s", tok);
    } else if (user && *user) {
        char raw[1024];
        int n = snprintf(raw, sizeof raw, "%s:%s", user, pass ? pass : "");
        core_buf_init(&b, 8192);
        core_buf_puts(&b, "Authorization: Basic ");
        base64(&b, raw, n > 0 && (size_t)n < sizeof raw ? (size_t)n : 0);
    } else {
        return NULL;
    }
    core_buf_putc(&b, 0);
    char *h = core_strdup((const char *)b.p);
    core_buf_free(&b);
    return h;
}

struct export_output *export_influx_new(const struct export_influx_cfg *cfg, char *err,
                                        size_t errlen)
{
    if (export_influx_url_check(cfg->url, err, errlen) != 0)
        return NULL;
    struct export_otlp_http_cfg h;
    memset(&h, 0, sizeof h);
    h.url[REC_METRICS] = write_url(cfg->url);
    char *auth = env_auth();
    char *hdrs[2] = {auth, NULL};
    h.headers = auth ? hdrs : NULL;
    h.gzip = cfg->gzip;
    h.timeout_ns = cfg->timeout_ns ? cfg->timeout_ns : 10ULL * 1000000000ULL;
    h.retry_initial_ns = cfg->retry_initial_ns ? cfg->retry_initial_ns : 1000000000ULL;
    h.retry_max_ns = cfg->retry_max_ns ? cfg->retry_max_ns : 5ULL * 1000000000ULL;
    h.retry_budget_ns = cfg->retry_budget_ns ? cfg->retry_budget_ns : 30ULL * 1000000000ULL;
    h.max_concurrent = 2; /* InfluxDB 1.x serialises writes to a shard; more only queue */
    h.seed = cfg->seed;
    const struct export__http_fmt *fmt[REC_NSIGNALS] = {&influx_fmt, &influx_fmt, &influx_fmt};
    struct export_output *o = export__http_new(&h, fmt, &influx_ops);
    core_free(h.url[REC_METRICS]);
    core_free(auth);
    return o;
}
