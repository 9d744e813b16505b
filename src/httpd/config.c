/* The caps and timeouts every listener of the base takes (HTTP/1.1 in h1.c, HTTP/2 in h2.c):
 * defaults, bounds, and room in the open-files limit for the connection cap. */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "httpd/internal.h"

void httpd_config_default(struct httpd_config *c)
{
    memset(c, 0, sizeof *c);
    c->max_connections = HTTPD_DEFAULT_MAX_CONNECTIONS;
    c->header_timeout_ns = HTTPD_DEFAULT_HEADER_TIMEOUT_NS;
    c->idle_timeout_ns = HTTPD_DEFAULT_IDLE_TIMEOUT_NS;
}

/* Room for every connection plus listening sockets, logs and files. */
void httpd__raise_fd_limit(unsigned connections)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)connections + 256;
    if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur >= want)
        return;
    rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
    setrlimit(RLIMIT_NOFILE, &rl);
}

/* Zero fields take the defaults, so a zeroed config is the default one. */
int httpd__config_check(struct httpd_config *c, char *err, size_t errlen)
{
    if (!c->max_connections)
        c->max_connections = HTTPD_DEFAULT_MAX_CONNECTIONS;
    if (!c->header_timeout_ns)
        c->header_timeout_ns = HTTPD_DEFAULT_HEADER_TIMEOUT_NS;
    if (!c->idle_timeout_ns)
        c->idle_timeout_ns = HTTPD_DEFAULT_IDLE_TIMEOUT_NS;
    if (c->max_connections > HTTPD_MAX_CONNECTIONS) {
        snprintf(err, errlen, "max connections must be 1..%u", HTTPD_MAX_CONNECTIONS);
        return DIO_EINVAL;
    }
    return 0;
}
