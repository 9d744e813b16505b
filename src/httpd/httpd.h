#ifndef DIORAMA_HTTPD_H
#define DIORAMA_HTTPD_H
/* httpd: the one listener base every HTTP listener uses (sink, serve, run's /metrics, the
 * control API). Uses core and libnghttp2. docs/listeners.md is the user's view.
 *
 *   addr.c      listen addresses: one parser ("host:port", ":port", "[v6]:port", "port"), the
 *               listening socket (bind errors name the reason)
 *   config.c    caps and timeouts: defaults and bounds
 *   loop.c      the connection machinery both protocols share: epoll workers, accepting,
 *               max connections, the header deadline (the slowloris defence) and the idle
 *               timeout, quiesce, stop, stats
 *   h1.c        the HTTP/1.1 server (over the cap: 503 and closed at once): keep-alive,
 *               pipelining, 100-continue, whole/deferred/held/streamed answers
 *   h1_parse.c  HTTP/1.1 request syntax, strict RFC 9112 framing (pure, fuzzed)
 *   h2.c        HTTP/2 cleartext on libnghttp2 (gRPC; over the cap: GOAWAY)
 *
 * Why our own HTTP/1.1 server: libmicrohttpd 0.9.75 (Debian 12's only version) had framing
 * defects the base could not reach from outside (Content-Length: -1 answered with two header
 * blocks, a chunk size of 2^64-1 held until the idle timeout) and, at its own connection
 * limit, stopped noticing closed connections. See h1.c. */
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/core.h"

/* ---- listen addresses ------------------------------------------------------------------ */
/* The rule, the same for every listener:
 *   "host:port"     that host (a name is resolved once, the first address is used)
 *   "[v6addr]:port" an IPv6 address (brackets required)
 *   ":port"         every IPv4 interface (0.0.0.0)
 *   "port"          127.0.0.1, like every default: nothing is exposed unless asked for
 * port is decimal 0..65535; 0 = the kernel picks a free one (see httpd_h1_port). */
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
                                   stalled body or a client not reading); both timeouts are
                                   checked every 100 ms (loop.c) */
    unsigned threads;           /* worker threads; 0 = number of CPUs */
};

void httpd_config_default(struct httpd_config *c);

/* ---- what every listener counts --------------------------------------------------------- */
/* What the base did on its own, for self-metrics and tests. */
struct httpd_stats {
    int64_t open;             /* connections open now */
    uint64_t accepted;        /* connections accepted in all */
    uint64_t over_cap;        /* closed at once: max_connections reached */
    uint64_t header_timeouts; /* closed: header block not complete in time */
    uint64_t bad_framing;     /* answered 400/501 by the framing checks */
};

/* ---- HTTP/1.1 (h1.c, h1_parse.c) ------------------------------------------------------
 * The base's own HTTP/1.1 server: epoll workers as in h2.c, the caps and timeouts of
 * httpd_config, strict RFC 9112 framing (docs/listeners.md), a body cap per listener and a
 * budget for all connections. Requests are handed whole to the handler on a worker thread;
 * the answer is whole, deferred (completed later from any thread), held until a time, or a
 * stream (Server-Sent Events). */
#define HTTPD_H1_MAX_LINE 8192    /* request line; longer: 414 */
#define HTTPD_H1_MAX_HEADER 32768 /* request line and header fields; more: 431 */
#define HTTPD_H1_MAX_FIELDS 64    /* header fields; more: 431 */
#define HTTPD_H1_MAX_ANSWER_HEADERS 12

struct httpd_h1_field {
    const char *name, *value;
};

struct httpd_h1_request {
    const char *method;
    const char *path;  /* %XX decoded, without the query */
    const char *query; /* after '?', as sent; "" when none */
    int http10;
    uint64_t t_head_ns; /* when the header block was complete (core_mono_ns) */
    const void *body;
    size_t len;
    unsigned refused; /* 0, or 413: body over max_body, 503: over max_buffered (body empty) */
};

/* A streaming answer: pull appends what is ready to out and returns 0 (go on; nothing is
 * fine), 1 (the end) or -1 (cut the connection). It runs on the worker thread, must not
 * block, and is called when the previous bytes were written, after httpd_h1_wake and every
 * 100 ms. done is called once when the stream is over (why: ENDED by pull, GONE: the client
 * left, STALLED: it did not read for stream_stall_ns, CUT: pull returned -1); cls may be
 * freed then. */
enum { HTTPD_H1_STREAM_ENDED, HTTPD_H1_STREAM_GONE, HTTPD_H1_STREAM_STALLED, HTTPD_H1_STREAM_CUT };
struct httpd_h1_stream {
    int (*pull)(void *cls, struct core_buf *out);
    void (*done)(void *cls, int why); /* HTTPD_H1_STREAM_* */
};

struct httpd_h1_response {
    unsigned status;          /* 200 unless set; 0: close the connection without an answer */
    const char *content_type; /* static, or kept with httpd_h1_add_header's strings */
    struct core_buf body;     /* initialised empty by the base, max max_answer; the handler may
                                 replace it with a core_buf of its own (the base frees it) */
    const void *static_body;  /* instead of body: bytes that outlive the answer */
    size_t static_len;
    struct httpd_h1_field headers[HTTPD_H1_MAX_ANSWER_HEADERS];
    int nheaders;
    int close;              /* Connection: close after this answer */
    uint64_t hold_until_ns; /* not before then (core_mono_ns); httpd_h1_release sends early */
    const struct httpd_h1_stream *stream; /* a streaming answer instead of a body */
    void *stream_cls;
    uint64_t stream_stall_ns; /* bytes pending and none written for this long: STALLED */
    char strings[1024];
    size_t slen;
};

struct httpd_h1_handlers {
    void (*on_request)(void *cls, struct httpd_h1_request *rq, struct httpd_h1_response *rs);
    void *cls;
    const char *name;    /* for log lines ("sink") */
    size_t max_body;     /* per request; 0 = 64 MiB. Content-Length over it: 413 unread */
    size_t max_buffered; /* bodies held at once by all connections; 0 = no budget */
    size_t max_answer;   /* rs->body's max; 0 = 64 MiB */
};

struct httpd_h1;
struct httpd_h1_pending;

/* A request header (case-insensitive name) or NULL; a query argument (%XX and + decoded) or
 * NULL. Valid until the answer is complete. */
const char *httpd_h1_header(const struct httpd_h1_request *rq, const char *name);
const char *httpd_h1_arg(struct httpd_h1_request *rq, const char *key);
/* Adds an answer header, copying name and value into rs->strings; -1 when full. */
int httpd_h1_add_header(struct httpd_h1_response *rs, const char *name, const char *value);
/* In on_request: the answer comes later. rq and rs stay valid until httpd_h1_resume(p), which
 * any thread calls once, after filling rs (hold_until_ns and stream are not honoured then).
 * Every deferred answer must be resumed before httpd_h1_stop. */
struct httpd_h1_pending *httpd_h1_defer(struct httpd_h1_request *rq);
void httpd_h1_resume(struct httpd_h1_pending *p);
/* Held answers (hold_until_ns) go out now, and later ones at once: for a stop that must not
 * wait. Returns when they were written or after 1 s. */
void httpd_h1_release(struct httpd_h1 *s);
/* Every worker pulls its streams now (from any thread). */
void httpd_h1_wake(struct httpd_h1 *s);

/* Binds a (socket options, backlog) and starts the workers. 0, DIO_EINVAL (config) or DIO_EIO
 * with err giving the reason ("cannot listen on 127.0.0.1:80: Permission denied"); *out is
 * NULL then. Raises the process's open-files limit to room for max_connections when it can. */
int httpd_h1_start(struct httpd_h1 **out, const struct httpd_addr *a, const struct httpd_config *c,
                   const struct httpd_h1_handlers *h, char *err, size_t errlen);
/* The port listened on (the kernel's choice for port 0). */
int httpd_h1_port(const struct httpd_h1 *s);
/* Stops accepting (the listening socket is closed: new connections are refused); connections
 * already open go on. */
void httpd_h1_quiesce(struct httpd_h1 *s);
/* Stops the workers (requests in progress are cut) and frees s. NULL is fine. */
void httpd_h1_stop(struct httpd_h1 *s);
void httpd_h1_stats(const struct httpd_h1 *s, struct httpd_stats *out);

/* ---- HTTP/2 (h2.c) ----------------------------------------------------------------------
 * The same base with a second protocol: HTTP/2 cleartext with prior knowledge (h2c, what
 * gRPC clients speak), on libnghttp2. Same addresses, httpd_config (cap, header deadline, idle
 * timeout, threads) and stats; plus a body cap per request and a budget for all of them.
 * Requests are answered whole: the handler sees a complete request and fills a complete
 * response (headers, body, trailers), on one of the listener's handler threads (as many as
 * I/O threads; not the connection's I/O thread, so one busy connection uses every core). */
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
    uint64_t delay_ns; /* hold the answer this long (no thread waits); stopping the listener
                          sends held answers at once */
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
/* As httpd_h1_start: 0, DIO_EINVAL (config) or DIO_EIO with err. */
int httpd_h2_start(struct httpd_h2 **out, const struct httpd_addr *a, const struct httpd_config *c,
                   const struct httpd_h2_handlers *h, char *err, size_t errlen);
int httpd_h2_port(const struct httpd_h2 *s);
void httpd_h2_quiesce(struct httpd_h2 *s);
void httpd_h2_stop(struct httpd_h2 *s);
void httpd_h2_stats(const struct httpd_h2 *s, struct httpd_stats *out);

#endif
