#ifndef DIORAMA_HTTPD_INTERNAL_H
#define DIORAMA_HTTPD_INTERNAL_H
/* httpd/ internals shared by its files (and its unit tests): not API. */
#include "httpd/httpd.h"

/* addr.c: a bound, listening, non-blocking socket for a (backlog connections queue in the
 * kernel). 0 with *fd_out and *port (the kernel's choice for port 0), or DIO_EIO with err. */
int httpd__listen(const struct httpd_addr *a, unsigned backlog, int *fd_out, int *port, char *err,
                  size_t errlen);

/* config.c, shared by h1.c and h2.c: zero fields of c take the defaults, then the bounds are
 * checked (0 or DIO_EINVAL with err); the open-files limit raised to fit `connections`. */
int httpd__config_check(struct httpd_config *c, char *err, size_t errlen);
void httpd__raise_fd_limit(unsigned connections);

/* h1_parse.c: the framing checks of RFC 9112 section 6, on a request's header fields (the values of
 * every Content-Length, Transfer-Encoding and the HTTP version). 0 = fine, else the status to
 * answer (400, 501) with why. */
struct httpd__framing {
    int ncl, nte;  /* Content-Length / Transfer-Encoding fields seen */
    int cl_differ; /* two Content-Length values differ */
    char cl[32];   /* the first Content-Length value (cut) */
    char te[256];  /* every Transfer-Encoding value, joined with ", " */
    int te_long;   /* they did not fit in te */
};
void httpd__framing_add(struct httpd__framing *f, const char *key, const char *value);
unsigned httpd__framing_check(const struct httpd__framing *f, int http10, const char **why);

/* ---- h1_parse.c: HTTP/1.1 request syntax (pure, fuzzed) -------------------------------- */

/* The end of the header block at in[0..len): its length counted from in + *skip (empty lines
 * before the request line are skipped), 0 = not complete yet, or -414 (request line over
 * HTTPD_H1_MAX_LINE) / -431 (block over HTTPD_H1_MAX_HEADER). */
long h1__head_end(const char *in, size_t len, size_t *skip);

struct h1__head {
    char *method, *target, *path, *query; /* point into the parsed block */
    int http10;
    struct httpd_h1_field fields[HTTPD_H1_MAX_FIELDS];
    int nfields;
    int chunked, has_length, keep_alive, expect_continue;
    uint64_t length;
};

/* Parses the header block b[0..len) in place (b must have room for a NUL at b[len]): 0, or
 * the status to refuse it with (400, 417, 431, 501, 505) and why. */
unsigned h1__parse_head(char *b, size_t len, struct h1__head *h, const char **why);

/* The chunked transfer coding, incrementally (zeroed to start). Consumes from in[0..len) and
 * returns how many bytes; in[*doff .. *doff + *dlen) among them is body data (one span per
 * call: call again while bytes are left and it is not done). -400 (malformed, a size over 64
 * bits) or -413 (a chunk over max_chunk) with why. */
struct h1__chunked {
    int st, digits;
    uint64_t left;
    unsigned line, trailer;
};
long h1__chunked(struct h1__chunked *d, const uint8_t *in, size_t len, uint64_t max_chunk,
                 size_t *doff, size_t *dlen, const char **why);
int h1__chunked_done(const struct h1__chunked *d);

#endif
