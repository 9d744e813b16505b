#ifndef DIORAMA_HTTPD_INTERNAL_H
#define DIORAMA_HTTPD_INTERNAL_H
/* httpd/ internals shared by its files (and its unit tests): not API. */
#include "httpd/httpd.h"

/* addr.c: a bound, listening, non-blocking socket for a (backlog connections queue in the
 * kernel). 0 with *fd_out and *port (the kernel's choice for port 0), or DIO_EIO with err. */
int httpd__listen(const struct httpd_addr *a, unsigned backlog, int *fd_out, int *port, char *err,
                  size_t errlen);

/* daemon.c, shared with h2.c: zero fields of c take the defaults, then the bounds are checked
 * (0 or DIO_EINVAL with err); the open-files limit raised to fit `connections`. */
int httpd__config_check(struct httpd_config *c, char *err, size_t errlen);
void httpd__raise_fd_limit(unsigned connections);

/* daemon.c: the framing checks of RFC 9112 section 6 that libmicrohttpd 0.9.75 does not do,
 * on a request's header fields (the values of every Content-Length, Transfer-Encoding and the
 * HTTP version). 0 = fine, else the status to answer (400, 501) with why. */
struct httpd__framing {
    int ncl, nte;  /* Content-Length / Transfer-Encoding fields seen */
    int cl_differ; /* two Content-Length values differ */
    char cl[32];   /* the first Content-Length value (cut) */
    char te[256];  /* every Transfer-Encoding value, joined with ", " */
    int te_long;   /* they did not fit in te */
};
void httpd__framing_add(struct httpd__framing *f, const char *key, const char *value);
unsigned httpd__framing_check(const struct httpd__framing *f, int http10, const char **why);

#endif
