/* Listen addresses: the one parser every listener uses, and the listening socket.
 *
 * Parsing is split in two so that the syntax can be fuzzed without name lookups:
 * httpd_addr_split checks the form and the port, httpd_addr_parse adds the address (numeric
 * hosts converted directly, names through getaddrinfo once, at option time). */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "httpd/internal.h"

#define WANT "want host:port, :port, [v6]:port or port"

static int bad(const char *s, const char *why, char *err, size_t errlen)
{
    snprintf(err, errlen, "bad listen address '%.200s': %s (%s)", s, why, WANT);
    return DIO_EINVAL;
}

/* Decimal 0..65535, no sign, no spaces; leading zeros allowed up to 5 digits. */
static int parse_port(const char *p, int *port)
{
    size_t n = strlen(p);
    if (n == 0 || n > 5 || strspn(p, "0123456789") != n)
        return -1;
    long v = strtol(p, NULL, 10);
    if (v > 65535)
        return -1;
    *port = (int)v;
    return 0;
}

/* Host characters: names, IPv4 and (inside brackets) IPv6 with a zone ("fe80::1%eth0"). */
static int host_ok(const char *h, size_t n, int bracketed)
{
    static const char name_chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                     "0123456789.-_";
    for (size_t i = 0; i < n; i++) {
        char c = h[i];
        if (!strchr(name_chars, c) && !(bracketed && (c == ':' || c == '%')))
            return 0;
    }
    return 1;
}

int httpd_addr_split(const char *s, char *host, size_t hostlen, int *port, char *err, size_t errlen)
{
    const char *colon = strrchr(s, ':');
    const char *h = s;
    size_t hl = colon ? (size_t)(colon - s) : 0;
    int bracketed = hl >= 1 && s[0] == '[';
    if (!*s)
        return bad(s, "empty", err, errlen);
    if (bracketed && (hl < 3 || s[hl - 1] != ']'))
        return bad(s, "an IPv6 address goes inside [ ] before :port", err, errlen);
    if (bracketed)
        h++, hl -= 2;
    if (!bracketed && colon && memchr(s, ':', hl))
        return bad(s, "an IPv6 address needs brackets, like [::1]:8000", err, errlen);
    if (hl >= HTTPD_HOST_MAX || (host && hl >= hostlen))
        return bad(s, "host name too long", err, errlen);
    if (!host_ok(h, hl, bracketed))
        return bad(s, "the host has characters a host name or address cannot have", err, errlen);
    const char *ps = colon ? colon + 1 : s;
    if (parse_port(ps, port))
        return bad(s, "the port must be a number 0..65535", err, errlen);
    if (host) {
        memcpy(host, h, hl);
        host[hl] = 0;
    }
    return 0;
}

static int resolve_name(const char *s, struct httpd_addr *a, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    int rc = getaddrinfo(a->host, NULL, &hints, &ai);
    if (rc != 0 || !ai || ai->ai_addrlen > sizeof a->sa) {
        snprintf(err, errlen, "bad listen address '%.200s': cannot resolve '%s': %s", s, a->host,
                 rc ? gai_strerror(rc) : "no address");
        if (ai)
            freeaddrinfo(ai);
        return DIO_EINVAL;
    }
    memcpy(&a->sa, ai->ai_addr, ai->ai_addrlen);
    a->len = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
}

int httpd_addr_parse(const char *s, struct httpd_addr *a, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    if (httpd_addr_split(s, a->host, sizeof a->host, &a->port, err, errlen))
        return DIO_EINVAL;
    int bare = !strchr(s, ':'); /* "8000": loopback, the one rule (httpd.h) */
    if (!a->host[0])
        snprintf(a->host, sizeof a->host, "%s", bare ? "127.0.0.1" : "0.0.0.0");
    struct sockaddr_in *v4 = (struct sockaddr_in *)&a->sa;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&a->sa;
    if (inet_pton(AF_INET, a->host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        a->len = sizeof *v4;
    } else if (inet_pton(AF_INET6, a->host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        a->len = sizeof *v6;
    } else if (resolve_name(s, a, err, errlen)) {
        return DIO_EINVAL;
    }
    httpd_addr_set_port(a, a->port);
    return 0;
}

void httpd_addr_set_port(struct httpd_addr *a, int port)
{
    a->port = port;
    if (a->sa.ss_family == AF_INET6)
        ((struct sockaddr_in6 *)&a->sa)->sin6_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in *)&a->sa)->sin_port = htons((uint16_t)port);
}

/* Our own socket, so that a busy port is reported with the reason (errno), not guessed. The
 * backlog is the cap: connections past it wait in the kernel, not in a refused SYN. */
int httpd__listen(const struct httpd_addr *a, unsigned backlog, int *fd_out, int *port, char *err,
                  size_t errlen)
{
    int fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
        bind(fd, (const struct sockaddr *)&a->sa, a->len) || listen(fd, (int)backlog)) {
        int e = errno;
        int v6 = a->sa.ss_family == AF_INET6;
        snprintf(err, errlen, "cannot listen on %s%s%s:%d: %s", v6 ? "[" : "", a->host,
                 v6 ? "]" : "", a->port, strerror(e));
        if (fd >= 0)
            close(fd);
        return DIO_EIO;
    }
    struct sockaddr_storage sa;
    socklen_t len = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &len);
    *port = ntohs(sa.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&sa)->sin6_port
                                           : ((struct sockaddr_in *)&sa)->sin_port);
    *fd_out = fd;
    return 0;
}
