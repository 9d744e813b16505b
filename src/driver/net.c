/* driver: the transports. Plain TCP and TLS (OpenSSL) behind one vtable so the event loop
 * never asks which one it has; a non-blocking SSL_* call maps to the same "again" results as
 * read(2)/write(2) with EAGAIN. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include "driver/internal.h"

int drv__connect(struct drv__conn *c, const struct addrinfo *ai)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    c->fd = fd;
    return 0;
}

/* ---- plain ----------------------------------------------------------------------------- */

static int plain_handshake(struct drv__conn *c)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err)
        return DRV_IO_ERROR;
    return DRV_IO_OK;
}

static int plain_read(struct drv__conn *c, char *buf, size_t n, size_t *got)
{
    ssize_t r = read(c->fd, buf, n);
    if (r > 0) {
        *got = (size_t)r;
        return DRV_IO_OK;
    }
    if (r == 0)
        return DRV_IO_EOF;
    return errno == EAGAIN || errno == EINTR ? DRV_IO_AGAIN_READ : DRV_IO_ERROR;
}

static int plain_write(struct drv__conn *c, const char *buf, size_t n, size_t *wrote)
{
    ssize_t r = send(c->fd, buf, n, MSG_NOSIGNAL);
    if (r >= 0) {
        *wrote = (size_t)r;
        return DRV_IO_OK;
    }
    return errno == EAGAIN || errno == EINTR ? DRV_IO_AGAIN_WRITE : DRV_IO_ERROR;
}

static size_t plain_readable(struct drv__conn *c)
{
    (void)c;
    return 0;
}

static void plain_close(struct drv__conn *c)
{
    close(c->fd);
    c->fd = -1;
}

const struct drv__sock drv__sock_plain = {plain_handshake, plain_read, plain_write, plain_readable,
                                          plain_close};

/* ---- TLS ------------------------------------------------------------------------------- */

SSL *drv__tls_new(SSL_CTX *ctx, int fd, const char *host)
{
    SSL *ssl = SSL_new(ctx);
    if (!ssl)
        return NULL;
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, host);
    SSL_set_connect_state(ssl);
    return ssl;
}

static int tls_result(struct drv__conn *c, int r)
{
    switch (SSL_get_error(c->ssl, r)) {
    case SSL_ERROR_WANT_READ:
        return DRV_IO_AGAIN_READ;
    case SSL_ERROR_WANT_WRITE:
        return DRV_IO_AGAIN_WRITE;
    case SSL_ERROR_ZERO_RETURN:
        return DRV_IO_EOF;
    case SSL_ERROR_SYSCALL:
        ERR_clear_error();
        return r == 0 ? DRV_IO_EOF : DRV_IO_ERROR;
    default:
        ERR_clear_error();
        return DRV_IO_ERROR;
    }
}

static int tls_handshake(struct drv__conn *c)
{
    if (c->state == C_CONNECTING && plain_handshake(c) != DRV_IO_OK)
        return DRV_IO_ERROR;
    int r = SSL_do_handshake(c->ssl);
    return r == 1 ? DRV_IO_OK : tls_result(c, r);
}

static int tls_read(struct drv__conn *c, char *buf, size_t n, size_t *got)
{
    int r = SSL_read(c->ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n);
    if (r > 0) {
        *got = (size_t)r;
        return DRV_IO_OK;
    }
    return tls_result(c, r);
}

static int tls_write(struct drv__conn *c, const char *buf, size_t n, size_t *wrote)
{
    int r = SSL_write(c->ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n);
    if (r > 0) {
        *wrote = (size_t)r;
        return DRV_IO_OK;
    }
    return tls_result(c, r);
}

static size_t tls_readable(struct drv__conn *c)
{
    return (size_t)SSL_pending(c->ssl);
}

static void tls_close(struct drv__conn *c)
{
    if (c->ssl) {
        SSL_free(c->ssl); /* no close_notify: a load generator does not wait for it */
        c->ssl = NULL;
    }
    plain_close(c);
}

const struct drv__sock drv__sock_tls = {tls_handshake, tls_read, tls_write, tls_readable,
                                        tls_close};
