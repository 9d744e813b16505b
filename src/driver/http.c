/* driver: a streaming HTTP/1.1 response parser, just enough for a load generator: status code,
 * body framing (Content-Length, chunked, until close) and keep-alive. Lines go through a small
 * fixed buffer (only its first 127 bytes are kept: enough to recognise the headers we use);
 * body bytes are skipped in bulk. Memory is the struct itself whatever the server sends; the header
 * block is capped at 64 KiB. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "driver/driver.h"

enum { S_STATUS, S_HEADER, S_BODY, S_CHUNK_SIZE, S_CHUNK_DATA, S_CHUNK_END, S_TRAILER, S_EOF };

#define MAX_HEADER_BYTES 65536

void driver_http_reset(struct driver_http *p, int head)
{
    memset(p, 0, sizeof *p);
    p->head = head;
    p->remain = -1;
}

static int status_line(struct driver_http *p)
{
    const char *l = p->line;
    if (p->linelen < 12 || strncmp(l, "HTTP/1.", 7) || !isdigit((unsigned char)l[7]) || l[8] != ' ')
        return DIO_EPARSE;
    for (int i = 9; i < 12; i++)
        if (!isdigit((unsigned char)l[i]))
            return DIO_EPARSE;
    p->status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
    if (p->status < 100 || p->status > 599)
        return DIO_EPARSE;
    p->close = l[7] == '0'; /* HTTP/1.0 closes unless it says keep-alive */
    p->state = S_HEADER;
    return 0;
}

static const char *header_value(const char *line, const char *name)
{
    size_t n = strlen(name);
    if (strncasecmp(line, name, n) || line[n] != ':')
        return NULL;
    line += n + 1;
    while (*line == ' ' || *line == '\t')
        line++;
    return line;
}

static int header_line(struct driver_http *p)
{
    const char *v;
    if ((v = header_value(p->line, "content-length"))) {
        int64_t n = 0;
        if (!isdigit((unsigned char)*v))
            return DIO_EPARSE;
        for (; isdigit((unsigned char)*v); v++) {
            n = n * 10 + (*v - '0');
            if (n > (1LL << 40))
                return DIO_EPARSE;
        }
        p->remain = n;
    } else if ((v = header_value(p->line, "transfer-encoding"))) {
        p->chunked = strcasestr(v, "chunked") != NULL;
    } else if ((v = header_value(p->line, "connection"))) {
        if (strcasestr(v, "close"))
            p->close = 1;
        else if (strcasestr(v, "keep-alive"))
            p->close = 0;
    }
    return 0;
}

/* The empty line after the headers: decide how the body is framed. Returns 1 if the response
 * is complete already. */
static int headers_done(struct driver_http *p)
{
    if (p->status < 200 && p->status != 101) { /* interim response: the real one follows */
        int head = p->head;
        driver_http_reset(p, head);
        return 0;
    }
    if (p->head || p->status == 204 || p->status == 304 || p->status == 101)
        return 1;
    if (p->chunked) {
        p->state = S_CHUNK_SIZE;
        return 0;
    }
    if (p->remain >= 0) {
        p->state = S_BODY;
        return p->remain == 0;
    }
    p->until_eof = 1;
    p->close = 1;
    p->state = S_EOF;
    return 0;
}

static int chunk_size(struct driver_http *p)
{
    int64_t n = 0;
    int digits = 0;
    for (const char *c = p->line; isxdigit((unsigned char)*c); c++, digits++) {
        if (digits == 12)
            return DIO_EPARSE;
        n = n * 16 + (isdigit((unsigned char)*c) ? *c - '0' : (tolower(*c) - 'a' + 10));
    }
    if (!digits)
        return DIO_EPARSE;
    p->remain = n;
    p->state = n ? S_CHUNK_DATA : S_TRAILER;
    return 0;
}

/* A complete line is in p->line. Returns 1 when the response is complete, 0 or an error. */
static int line_done(struct driver_http *p)
{
    switch (p->state) {
    case S_STATUS:
        return status_line(p);
    case S_HEADER:
        return p->linelen == 0 ? headers_done(p) : header_line(p);
    case S_CHUNK_SIZE:
        return chunk_size(p);
    case S_CHUNK_END:
        if (p->linelen)
            return DIO_EPARSE;
        p->state = S_CHUNK_SIZE;
        return 0;
    case S_TRAILER:
        return p->linelen == 0;
    }
    return DIO_EPARSE;
}

/* Takes bytes of the current line up to and including its '\n' (*took says how many);
 * returns line_done's result when the line ended, 0 when more is needed, or an error. */
static int line_chunk(struct driver_http *p, const char *d, size_t n, size_t *took)
{
    const char *nl = memchr(d, '\n', n);
    size_t len = nl ? (size_t)(nl - d) : n;
    *took = len + (nl != NULL);
    if (p->state <= S_HEADER && (p->header_bytes += (uint32_t)*took) > MAX_HEADER_BYTES)
        return DIO_EPARSE;
    size_t room = sizeof p->line - 1 > p->linelen ? sizeof p->line - 1 - p->linelen : 0;
    if (room)
        memcpy(p->line + p->linelen, d, len < room ? len : room);
    p->linelen = (uint16_t)(p->linelen + len < UINT16_MAX ? p->linelen + len : UINT16_MAX);
    if (p->linelen >= sizeof p->line - 1 && p->state != S_HEADER && p->state != S_TRAILER)
        return DIO_EPARSE; /* status and chunk-size lines are short */
    if (!nl)
        return 0;
    size_t k = p->linelen; /* may exceed what the buffer kept */
    if (k && k < sizeof p->line && p->line[k - 1] == '\r')
        k--;
    p->line[k < sizeof p->line ? k : sizeof p->line - 1] = '\0';
    p->linelen = (uint16_t)k;
    int rc = line_done(p);
    p->linelen = 0;
    return rc;
}

int driver_http_feed(struct driver_http *p, const char *data, size_t n, size_t *used)
{
    size_t i = 0;
    while (i < n) {
        if (p->state == S_BODY || p->state == S_CHUNK_DATA) {
            size_t take = (uint64_t)p->remain < n - i ? (size_t)p->remain : n - i;
            p->remain -= (int64_t)take;
            i += take;
            if (p->remain == 0) {
                if (p->state == S_BODY) {
                    *used = i;
                    return 1;
                }
                p->state = S_CHUNK_END;
            }
            continue;
        }
        if (p->state == S_EOF) {
            i = n;
            break;
        }
        size_t took = 0;
        int rc = line_chunk(p, data + i, n - i, &took);
        i += took;
        if (rc < 0)
            return rc;
        if (rc == 1) {
            *used = i;
            return 1;
        }
    }
    *used = i;
    return 0;
}

int driver_http_eof(struct driver_http *p)
{
    return p->state == S_EOF;
}
