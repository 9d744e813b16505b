#ifndef DIORAMA_HTTPD_H
#define DIORAMA_HTTPD_H
/* httpd: the one listener base every HTTP listener uses (sink, serve, run's /metrics, the
 * control API). Uses core and libmicrohttpd. docs/listeners.md is the user's view.
 *
 *   addr.c     listen addresses: one parser ("host:port", ":port", "[v6]:port", "port"), the
 *              listening socket (bind errors name the reason)
 *   daemon.c   the libmicrohttpd daemon with its caps: max connections, a header timeout (an
 *              absolute deadline, the slowloris defence), an idle timeout, strict framing
 *              checks (Content-Length / Transfer-Encoding, RFC 9112) before the listener's
 *              handler sees a request
 *
 * Why the base counts connections itself: libmicrohttpd 0.9.75 in epoll mode, once at its own
 * connection limit, stops noticing that clients closed their connections (they sit in
 * CLOSE-WAIT until the idle timeout: a flood kept the sink refusing for a minute after the
 * attacker left). So libmicrohttpd's limit is set above ours and never reached; a connection
 * over our cap is answered 503 and closed at once. */
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "core/core.h"

/* ---- listen addresses ------------------------------------------------------------------ */
/* The rule, the same for every listener:
 *   "host:port"     that host (a name is resolved once, the first address is used)
 *   "[v6addr]:port" an IPv6 address (brackets required)
 *   ":port"         every IPv4 interface (0.0.0.0)
 *   "port"          127.0.0.1, like every default: nothing is exposed unless asked for
 * port is decimal 0..65535; 0 = the kernel picks a free one (see httpd_port). */
#define HTTPD_HOST_MAX 256

struct httpd_addr {
    struct sockaddr_storage sa;
    socklen_t len;
    char host[HTTPD_HOST_MAX]; /* for messages and start lines: "127.0.0.1", "::1" ... */
    int port;                  /* as given (0 = any) */
};

/* Syntax only, no name lookup (fuzzed): host (brackets stripped; "" for ":port"; NULL-able
 * when the caller does not need it) and port. 0, or DIO_EINVAL with err naming the problem. */
int httpd_addr_split(const char *s, char *host, size_t hostlen, int *port, char *err,
                     size_t errlen);
/* Split + the address to bind. 0, or DIO_EINVAL with err ("bad listen address ..."). */
int httpd_addr_parse(const char *s, struct httpd_addr *a, char *err, size_t errlen);
/* The same address on another port (a restart keeps the port the kernel picked). */
void httpd_addr_set_port(struct httpd_addr *a, int port);

/* ---- caps and timeouts ----------------------------------------------------------------- */
#define HTTPD_DEFAULT_MAX_CONNECTIONS 4096
#define HTTPD_DEFAULT_HEADER_TIMEOUT_NS 10000000000ULL /* 10 s */
#define HTTPD_DEFAULT_IDLE_TIMEOUT_NS 60000000000ULL   /* 60 s */
#define HTTPD_MAX_CONNECTIONS 1000000                  /* the largest cap accepted */

/* Zero fields mean the defaults above. */
struct httpd_config {
    unsigned max_connections;   /* open connections; over it: 503 and closed at once */
    uint64_t header_timeout_ns; /* a request's header block must be complete this long
                                   after the connection opened or the previous answer went
                                   out (so also how long an idle keep-alive connection
                                   lives); checked as a deadline, not as inactivity */
    uint64_t idle_timeout_ns;   /* nothing received or sent for this long: closed (a
                                   stalled body or a client not reading); whole seconds */
    unsigned threads;           /* worker threads; 0 = number of CPUs */
    int thread_per_connection;  /* one thread per connection (a handler that sleeps) */
    int suspend_resume;         /* the handler uses MHD_suspend/resume_connection */
};

void httpd_config_default(struct httpd_config *c);

/* ---- the listener ---------------------------------------------------------------------- */
/* What a listener plugs in. on_request is libmicrohttpd's access handler and is called only
 * for requests that passed the base's checks; on_completed (may be NULL) as libmicrohttpd's
 * request-completed callback. name prefixes libmicrohttpd's log lines ("sink"). */
struct httpd_handlers {
    MHD_AccessHandlerCallback on_request;
    MHD_RequestCompletedCallback on_completed;
    void *cls;
    const char *name;
};

/* What the base did on its own, for self-metrics and tests. */
struct httpd_stats {
    int64_t open;             /* connections open now */
    uint64_t accepted;        /* connections accepted in all */
    uint64_t over_cap;        /* closed at once: max_connections reached */
    uint64_t header_timeouts; /* closed: header block not complete in time */
    uint64_t bad_framing;     /* answered 400/501 by the framing checks */
};

struct httpd;

/* Binds a (socket options, backlog) and starts the daemon. 0, or DIO_EIO with err giving the
 * reason ("cannot listen on 127.0.0.1:80: Permission denied"); *out is NULL then. Raises the
 * process's open-files limit to room for max_connections when it can. */
int httpd_start(struct httpd **out, const struct httpd_addr *a, const struct httpd_config *c,
                const struct httpd_handlers *h, char *err, size_t errlen);
/* The port listened on (the kernel's choice for port 0). */
int httpd_port(const struct httpd *h);
/* Stops accepting: the listening socket is closed, so new connections are refused;
 * connections already open go on. */
void httpd_quiesce(struct httpd *h);
/* Stops the daemon (requests in progress are cut) and frees h. NULL is fine. */
void httpd_stop(struct httpd *h);
void httpd_stats(const struct httpd *h, struct httpd_stats *out);

/* ---- HTTP/2 (h2.c) ----------------------------------------------------------------------
 * The same base with a second protocol: HTTP/2 cleartext with prior knowledge (h2c, what
 * gRPC clients speak), on libnghttp2. Same addresses, httpd_config (cap, header deadline, idle
 * timeout, threads) and stats; plus a body cap per request and a budget for all of them.
 * Requests are answered whole: the handler sees a complete request and fills a complete
 * response (headers, body, trailers), on the listener's worker thread. */
#define HTTPD_H2_MAX_HEADERS 8
#define HTTPD_H2_MAX_TRAILERS 4

struct httpd_h2_field {
    const char *name, *value; /* names lower case (HTTP/2) */
};

struct httpd_h2_request {
    const char *method, *path, *content_type; /* "" / NULL when absent */
    const void *body;
    size_t len;
    unsigned refused; /* 0, or 413: body over max_body, 503: over max_buffered (body empty) */
};

struct httpd_h2_response {
    unsigned status;      /* :status, 200 unless set */
    struct core_buf body; /* initialised by the base */
    struct httpd_h2_field headers[HTTPD_H2_MAX_HEADERS];
    int nheaders;
    struct httpd_h2_field trailers[HTTPD_H2_MAX_TRAILERS];
    int ntrailers;
    /* Header and trailer names and values must outlive the call: static strings, or kept
     * here (the response lives until its stream ends). */
    char strings[1024];
};

struct httpd_h2_handlers {
    void (*on_request)(void *cls, const struct httpd_h2_request *rq, struct httpd_h2_response *rs);
    void *cls;
    size_t max_body;     /* per request; 0 = 64 MiB */
    size_t max_buffered; /* request bodies held at once by all streams; 0 = 4 x max_body */
};

struct httpd_h2;
/* A request header by its (lower-case) name, or NULL. Valid during on_request. */
const char *httpd_h2_header(const struct httpd_h2_request *rq, const char *name);
/* As httpd_start: 0, DIO_EINVAL (config) or DIO_EIO with err. */
int httpd_h2_start(struct httpd_h2 **out, const struct httpd_addr *a, const struct httpd_config *c,
                   const struct httpd_h2_handlers *h, char *err, size_t errlen);
int httpd_h2_port(const struct httpd_h2 *s);
void httpd_h2_quiesce(struct httpd_h2 *s);
void httpd_h2_stop(struct httpd_h2 *s);
void httpd_h2_stats(const struct httpd_h2 *s, struct httpd_stats *out);

#endif
