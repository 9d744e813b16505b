/* HTTP/1.1 request syntax, RFC 9112, with no I/O and no allocation (fuzzed:
 * fuzz/fuzz_httpd_h1.c): where a header block ends, the request line and fields, how the body
 * is delimited, and the chunked transfer coding.
 *
 * Strict on purpose. A request that two parsers could read two ways (request smuggling) is
 * refused, never guessed at: two different Content-Length values, Content-Length with
 * Transfer-Encoding, a length that is not 1*DIGIT or does not fit 64 bits, a coding after
 * chunked, obs-fold, whitespace between a field name and its colon, a bare LF or CR, a
 * chunk size that overflows. Each refusal names its reason for the answer's body. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "httpd/internal.h"

/* ---- framing fields ------------------------------------------------------------------- */

void httpd__framing_add(struct httpd__framing *f, const char *key, const char *value)
{
    if (!strcasecmp(key, "Content-Length")) {
        if (f->ncl++ == 0)
            snprintf(f->cl, sizeof f->cl, "%s", value);
        else if (strncmp(f->cl, value, sizeof f->cl - 1) || strlen(value) >= sizeof f->cl)
            f->cl_differ = 1;
    } else if (!strcasecmp(key, "Transfer-Encoding")) {
        size_t n = strlen(f->te);
        int w = snprintf(f->te + n, sizeof f->te - n, "%s%s", f->nte++ ? ", " : "", value);
        if (w < 0 || (size_t)w >= sizeof f->te - n)
            f->te_long = 1;
    }
}

/* The codings of te from the last: chunked must be last and only once; others are unknown. */
static unsigned check_codings(const char *te, const char **why)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", te);
    int n = 0, chunked_last = 0, chunked = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        t += strspn(t, " \t");
        size_t l = strlen(t);
        while (l && (t[l - 1] == ' ' || t[l - 1] == '\t'))
            t[--l] = 0;
        chunked_last = !strcasecmp(t, "chunked");
        chunked += chunked_last;
        n++;
    }
    if (!n || !chunked_last || chunked > 1) {
        *why = "Transfer-Encoding must end with chunked, once (RFC 9112 6.3)";
        return 400;
    }
    if (n > 1) {
        *why = "only the chunked transfer coding is implemented";
        return 501;
    }
    return 0;
}

unsigned httpd__framing_check(const struct httpd__framing *f, int http10, const char **why)
{
    if (f->cl_differ) {
        *why = "conflicting Content-Length fields";
        return 400;
    }
    if (f->nte && f->ncl) {
        *why = "both Content-Length and Transfer-Encoding (request smuggling?)";
        return 400;
    }
    if (f->nte && (http10 || f->te_long)) {
        *why = http10 ? "Transfer-Encoding in an HTTP/1.0 request" : "Transfer-Encoding too long";
        return 400;
    }
    return f->nte ? check_codings(f->te, why) : 0;
}

/* ---- the header block ----------------------------------------------------------------- */

long h1__head_end(const char *in, size_t len, size_t *skip)
{
    size_t s = 0;
    while (s + 1 < len && in[s] == '\r' && in[s + 1] == '\n' && s < 8)
        s += 2; /* empty lines before a request line (RFC 9112 2.2) */
    *skip = s;
    const char *p = in + s, *end = NULL;
    size_t n = len - s;
    const char *eol = memchr(p, '\n', n < HTTPD_H1_MAX_LINE ? n : HTTPD_H1_MAX_LINE);
    if (!eol)
        return n >= HTTPD_H1_MAX_LINE ? -414 : 0;
    for (const char *q = eol; q && !end; q = memchr(q + 1, '\n', (size_t)(p + n - q - 1)))
        if (q + 2 < p + n && q[1] == '\r' && q[2] == '\n')
            end = q + 3;
        else if (q + 1 < p + n && q[1] == '\n')
            end = q + 2; /* a bare LF: the parser refuses the block */
    if (!end)
        return n > HTTPD_H1_MAX_HEADER ? -431 : 0;
    if ((size_t)(end - p) > HTTPD_H1_MAX_HEADER)
        return -431;
    return (long)(end - p);
}

static int is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int all_tchar(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!is_tchar((unsigned char)*s))
            return 0;
    return 1;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* A query argument's key or value: + is a space, %XX decoded (a bad escape is kept). */
void h1__form_decode(char *s)
{
    char *o = s;
    for (; *s; s++) {
        int hi, lo;
        if (*s == '+')
            *o++ = ' ';
        else if (*s == '%' && (hi = hexval(s[1])) >= 0 && (lo = hexval(s[2])) >= 0) {
            *o++ = (char)(hi * 16 + lo);
            s += 2;
        } else
            *o++ = *s;
    }
    *o = 0;
}

/* %XX decoded in place (as libmicrohttpd did for the path); a bad escape is kept as it is.
 * 0, or -1 for an encoded NUL. */
static int unescape(char *s)
{
    char *o = s;
    for (; *s; s++) {
        int hi, lo;
        if (*s == '%' && (hi = hexval(s[1])) >= 0 && (lo = hexval(s[2])) >= 0) {
            if (!hi && !lo)
                return -1;
            *o++ = (char)(hi * 16 + lo);
            s += 2;
        } else {
            *o++ = *s;
        }
    }
    *o = 0;
    return 0;
}

#define FAIL(st, msg)                                                                              \
    do {                                                                                           \
        *why = (msg);                                                                              \
        return (st);                                                                               \
    } while (0)

/* "METHOD SP target SP HTTP/1.x" */
static unsigned request_line(char *line, struct h1__head *h, const char **why)
{
    char *sp1 = strchr(line, ' '), *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    if (!sp1 || !sp2 || strchr(sp2 + 1, ' '))
        FAIL(400, "malformed request line");
    *sp1 = *sp2 = 0;
    h->method = line;
    h->target = sp1 + 1;
    const char *v = sp2 + 1;
    if (!all_tchar(h->method))
        FAIL(400, "malformed method");
    for (const char *t = h->target; *t; t++)
        if ((unsigned char)*t <= 0x20 || (unsigned char)*t >= 0x7f)
            FAIL(400, "malformed request target");
    if (!*h->target)
        FAIL(400, "empty request target");
    if (!strcmp(v, "HTTP/1.1"))
        h->http10 = 0;
    else if (!strcmp(v, "HTTP/1.0"))
        h->http10 = 1;
    else if (!strncmp(v, "HTTP/", 5) && strlen(v) == 8 && v[5] >= '0' && v[5] <= '9' &&
             v[6] == '.' && v[7] >= '0' && v[7] <= '9')
        FAIL(505, "only HTTP/1.1 and HTTP/1.0 are served here");
    else
        FAIL(400, "malformed HTTP version");
    return 0;
}

/* origin-form, absolute-form ("http://host/p"), asterisk-form: path and query. */
static unsigned split_target(struct h1__head *h, const char **why)
{
    char *t = h->target;
    if (*t != '/' && strcmp(t, "*")) {
        size_t scheme =
            strspn(t, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.");
        if (!scheme || strncmp(t + scheme, "://", 3))
            FAIL(400, "request target must start with /");
        char *auth = t + scheme + 3, *end = auth + strcspn(auth, "/?");
        if (*end != '/') { /* "http://host" or "http://host?q": the path is "/" */
            h->path = "/";
            h->query = *end == '?' ? end + 1 : "";
            return 0;
        }
        t = end;
    }
    char *q = strchr(t, '?');
    h->query = q ? q + 1 : "";
    if (q)
        *q = 0;
    h->path = t;
    if (unescape(h->path))
        FAIL(400, "an encoded NUL in the path");
    return 0;
}

/* One "name: value" line: obs-fold, whitespace before the colon, control characters refused. */
static unsigned field_line(char *line, struct h1__head *h, const char **why)
{
    if (*line == ' ' || *line == '\t')
        FAIL(400, "obs-fold (a field line starting with whitespace) is not accepted");
    char *colon = strchr(line, ':');
    if (!colon)
        FAIL(400, "a header field line without a colon");
    *colon = 0;
    if (!all_tchar(line))
        FAIL(400, "malformed field name (whitespace before the colon?)");
    char *v = colon + 1;
    v += strspn(v, " \t");
    size_t l = strlen(v);
    while (l && (v[l - 1] == ' ' || v[l - 1] == '\t'))
        v[--l] = 0;
    for (const char *c = v; *c; c++)
        if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f)
            FAIL(400, "a control character in a field value");
    if (h->nfields >= HTTPD_H1_MAX_FIELDS)
        FAIL(431, "too many header fields");
    h->fields[h->nfields++] = (struct httpd_h1_field){line, v};
    return 0;
}

/* Has the comma-separated list `v` the token `tok` (case-insensitive)? */
static int has_token(const char *v, const char *tok)
{
    size_t n = strlen(tok);
    for (const char *p = v; *p;) {
        p += strspn(p, " \t,");
        size_t l = strcspn(p, ",");
        size_t t = l;
        while (t && (p[t - 1] == ' ' || p[t - 1] == '\t'))
            t--;
        if (t == n && !strncasecmp(p, tok, n))
            return 1;
        p += l;
    }
    return 0;
}

static unsigned parse_length(const char *v, uint64_t *out, const char **why)
{
    uint64_t n = 0;
    if (!*v)
        FAIL(400, "empty Content-Length");
    for (; *v; v++) {
        if (*v < '0' || *v > '9')
            FAIL(400, "Content-Length must be digits only (RFC 9112 6.2)");
        if (n > (UINT64_MAX - 9) / 10)
            FAIL(400, "Content-Length does not fit 64 bits");
        n = n * 10 + (uint64_t)(*v - '0');
    }
    *out = n;
    return 0;
}

/* Framing, Host, Connection and Expect from the fields. */
static unsigned semantics(struct h1__head *h, const char **why)
{
    struct httpd__framing f;
    memset(&f, 0, sizeof f);
    int hosts = 0, close = 0, keep = 0;
    const char *cl = NULL;
    for (int i = 0; i < h->nfields; i++) {
        const char *n = h->fields[i].name, *v = h->fields[i].value;
        httpd__framing_add(&f, n, v);
        if (!strcasecmp(n, "Content-Length"))
            cl = v;
        else if (!strcasecmp(n, "Host"))
            hosts++;
        else if (!strcasecmp(n, "Connection")) {
            close |= has_token(v, "close");
            keep |= has_token(v, "keep-alive");
        } else if (!strcasecmp(n, "Expect")) {
            if (strcasecmp(v, "100-continue"))
                FAIL(417, "only Expect: 100-continue is understood");
            h->expect_continue = !h->http10;
        }
    }
    unsigned st = httpd__framing_check(&f, h->http10, why);
    if (st)
        return st;
    if (hosts > 1 || (!h->http10 && hosts == 0))
        FAIL(400, hosts ? "more than one Host field" : "an HTTP/1.1 request without Host");
    h->chunked = f.nte > 0;
    h->has_length = cl != NULL;
    if (cl && (st = parse_length(cl, &h->length, why)) != 0)
        return st;
    h->keep_alive = h->http10 ? keep && !close : !close;
    return 0;
}

unsigned h1__parse_head(char *b, size_t len, struct h1__head *h, const char **why)
{
    memset(h, 0, sizeof *h);
    b[len] = 0;
    if (memchr(b, 0, len))
        FAIL(400, "a NUL byte in the header block");
    char *line = b;
    for (int first = 1;; first = 0) {
        char *eol = strchr(line, '\n');
        if (!eol || eol == line || eol[-1] != '\r')
            FAIL(400, "a line not ended by CRLF");
        eol[-1] = 0;
        if (strchr(line, '\r'))
            FAIL(400, "a bare CR in the header block");
        if (!*line && first)
            FAIL(400, "empty request line");
        if (!*line)
            break;
        unsigned st = first ? request_line(line, h, why) : field_line(line, h, why);
        if (st)
            return st;
        line = eol + 1;
    }
    unsigned st = semantics(h, why);
    return st ? st : split_target(h, why);
}

/* ---- chunked ------------------------------------------------------------------------- */

enum {
    CK_SIZE,
    CK_EXT,
    CK_SIZE_LF,
    CK_DATA,
    CK_DATA_CR,
    CK_DATA_LF,
    CK_TR,
    CK_TR_LINE,
    CK_TR_LF,
    CK_END_LF,
    CK_DONE
};

#define CK_LINE_MAX 4096     /* a chunk-size line with its extensions */
#define CK_TRAILER_MAX 16384 /* every trailer line together */

/* One byte of the framing around the data. 0, or the status of the refusal. */
static unsigned ck_byte(struct h1__chunked *d, unsigned char c, uint64_t max_chunk,
                        const char **why)
{
    int hv;
    switch (d->st) {
    case CK_SIZE:
        if ((hv = hexval(c)) >= 0) {
            if (d->left > (UINT64_MAX >> 4))
                FAIL(400, "chunk size does not fit 64 bits");
            d->left = d->left * 16 + (uint64_t)hv;
            d->digits++;
            break;
        }
        if (!d->digits)
            FAIL(400, "malformed chunk size");
        if (c == '\r')
            d->st = CK_SIZE_LF;
        else if (c == ';' || c == ' ' || c == '\t')
            d->st = CK_EXT;
        else
            FAIL(400, "malformed chunk size");
        break;
    case CK_EXT:
        if (c == '\r')
            d->st = CK_SIZE_LF;
        else if ((c < 0x20 && c != '\t') || c == 0x7f)
            FAIL(400, "a control character in a chunk extension");
        else if (++d->line > CK_LINE_MAX)
            FAIL(400, "chunk extensions too long");
        break;
    case CK_SIZE_LF:
        if (c != '\n')
            FAIL(400, "chunk size line not ended by CRLF");
        if (d->left > max_chunk)
            FAIL(413, "a chunk larger than the body limit");
        d->st = d->left ? CK_DATA : CK_TR;
        d->line = 0;
        break;
    case CK_DATA_CR:
        if (c != '\r')
            FAIL(400, "chunk data not followed by CRLF");
        d->st = CK_DATA_LF;
        break;
    case CK_DATA_LF:
        if (c != '\n')
            FAIL(400, "chunk data not followed by CRLF");
        d->st = CK_SIZE;
        d->digits = 0;
        break;
    case CK_TR:
        d->st = c == '\r' ? CK_END_LF : CK_TR_LINE;
        if (c == '\n')
            FAIL(400, "a bare LF in the trailer");
        break;
    case CK_TR_LINE:
        if (c == '\r')
            d->st = CK_TR_LF;
        else if (c == '\n')
            FAIL(400, "a bare LF in the trailer");
        break;
    case CK_TR_LF:
    case CK_END_LF:
        if (c != '\n')
            FAIL(400, "a trailer line not ended by CRLF");
        d->st = d->st == CK_END_LF ? CK_DONE : CK_TR;
        break;
    }
    if ((d->st == CK_TR_LINE || d->st == CK_TR_LF) && ++d->trailer > CK_TRAILER_MAX)
        FAIL(400, "trailer fields too long");
    return 0;
}

long h1__chunked(struct h1__chunked *d, const uint8_t *in, size_t len, uint64_t max_chunk,
                 size_t *doff, size_t *dlen, const char **why)
{
    size_t i = 0;
    *doff = *dlen = 0;
    while (i < len && d->st != CK_DONE) {
        if (d->st == CK_DATA) {
            size_t n = len - i < d->left ? len - i : (size_t)d->left;
            *doff = i;
            *dlen = n;
            d->left -= n;
            if (!d->left)
                d->st = CK_DATA_CR;
            return (long)(i + n);
        }
        unsigned st = ck_byte(d, in[i++], max_chunk, why);
        if (st)
            return -(long)st;
    }
    return (long)i;
}

int h1__chunked_done(const struct h1__chunked *d)
{
    return d->st == CK_DONE;
}
