#ifndef DIORAMA_HTTPD_INTERNAL_H
#define DIORAMA_HTTPD_INTERNAL_H
/* httpd/ internals shared by its files (and its unit tests): not API. */
#include <pthread.h>
#include <stdatomic.h>

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

/* A query argument's key or value decoded in place: + is a space, %XX a byte (a bad escape is
 * kept as it is). */
void h1__form_decode(char *s);

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

/* ---- loop.c: the connection machinery both protocols share ------------------------------
 * A listener is cfg.threads workers (0 = CPUs), each with its own epoll set and eventfd; the
 * listening socket is in every set with EPOLLEXCLUSIVE, so a connection is accepted, served and
 * closed by one worker and its state is that worker's alone. loop.c owns the accept loop, the
 * connection cap, the worker threads, the header deadline and idle timeout sweep, quiesce, stop
 * and the stats; h1.c and h2.c plug in through struct httpd__proto. Each embeds the base structs
 * below as its own structs' first member (loop.c allocates a protocol's workers and connections
 * at proto->worker_size / proto->conn_size). */
struct httpd__worker;

struct httpd__conn {
    struct httpd__conn *prev, *next; /* the worker's connections */
    struct httpd__worker *w;
    int fd;
    int gone;          /* not in the epoll set (taken out early; freed later by the protocol) */
    uint32_t events;   /* what epoll watches for now */
    uint64_t deadline; /* the header block is due then (mono ns); 0 = none */
    uint64_t last_io;  /* last byte read or written (mono ns): the idle timeout */
};

struct httpd__listener;

struct httpd__worker {
    struct httpd__listener *srv;
    pthread_t t;
    int running; /* t was started */
    int ep, ev;
    struct httpd__conn *conns;
    int nconns;
    pthread_mutex_t mu; /* for the protocol's cross-thread list */
};

/* What the sweep found for the base's two timers. */
enum { HTTPD__HEADER_LATE = 1, HTTPD__IDLE };
/* on_sweep's answer: the connection was dealt with (maybe freed), or the base checks both timers,
 * or only the idle timeout (the header deadline waits while an answer is going out). */
enum { HTTPD__SWEEP_DONE, HTTPD__SWEEP_TIMERS, HTTPD__SWEEP_IDLE };

struct httpd__proto {
    const char *what; /* "HTTP" / "HTTP/2": "cannot start the %s listener's threads" */
    size_t worker_size, conn_size;
    /* A connection was accepted (fd, w, last_io, deadline set): its state set up. The events to
     * watch, or 0 when it cannot be (it is closed). */
    uint32_t (*on_accept)(struct httpd__conn *c);
    /* Over max_connections: the protocol's refusal is written (the base then shuts the write side,
     * drains the input and closes). */
    void (*on_over_cap)(struct httpd__conn *c);
    void (*on_event)(struct httpd__conn *c, uint32_t events);
    /* The worker's eventfd fired (its counter already read): cross-thread work. */
    void (*on_wake)(struct httpd__worker *w, uint64_t now);
    /* After each turn's events; tick: the sweep follows (every HTTPD__TICK_MS). */
    void (*on_turn)(struct httpd__worker *w, uint64_t now, int tick);
    /* The earliest time the worker must wake for (mono ns), UINT64_MAX when none. */
    uint64_t (*next_due)(struct httpd__worker *w);
    /* The protocol's own timers on c (pull: a tick, not a wake): HTTPD__SWEEP_*. */
    int (*on_sweep)(struct httpd__conn *c, uint64_t now, int pull);
    /* A base timer ran out (HTTPD__HEADER_LATE / HTTPD__IDLE): the protocol counts it and
     * closes c. */
    void (*on_expire)(struct httpd__conn *c, int why);
    /* Stopping: the worker's last turn before every connection is closed (may be NULL). */
    void (*on_stop)(struct httpd__worker *w);
    /* Frees the protocol's state of c (the base then unlinks, closes and frees c). */
    void (*free)(struct httpd__conn *c);
};

#define HTTPD__TICK_MS 100 /* sweeps while connections are open */

struct httpd__listener {
    const struct httpd__proto *p;
    struct httpd_config cfg;
    int fd, port;
    unsigned nworkers;
    char *workers; /* nworkers of p->worker_size bytes */
    atomic_int stopping;
    _Atomic int64_t open;
    _Atomic uint64_t accepted, over_cap, header_timeouts, bad_framing;
};

/* The worker threads cfg.threads asks for (0 = CPUs). */
unsigned httpd__nworkers(const struct httpd_config *c);
/* Checks c (zero fields: the defaults), raises the open-files limit, binds a and starts the
 * workers. l is zeroed by its owner but for p. 0, DIO_EINVAL or DIO_EIO with err; on failure what
 * was started is stopped and closed (l itself is the owner's). */
int httpd__start(struct httpd__listener *l, const struct httpd_addr *a,
                 const struct httpd_config *c, char *err, size_t errlen);
struct httpd__worker *httpd__worker(const struct httpd__listener *l, unsigned i);
/* Wakes a worker (any thread): its on_wake runs soon. */
void httpd__wake(struct httpd__worker *w);
void httpd__wake_all(struct httpd__listener *l);
/* Watches for ev (one epoll_ctl per change, none while gone). */
void httpd__watch(struct httpd__conn *c, uint32_t ev);
/* Takes c out of the epoll set now (it stays open, gone, until httpd__close). */
void httpd__unwatch(struct httpd__conn *c);
/* The protocol's free, then c leaves its worker, its socket is closed and c freed. */
void httpd__close(struct httpd__conn *c);
/* The base's timers and the protocol's on_sweep over every connection of w. */
void httpd__sweep(struct httpd__worker *w, uint64_t now, int pull);
void httpd__quiesce(struct httpd__listener *l);
/* Stops and joins the workers (each closes its connections). */
void httpd__stop_workers(struct httpd__listener *l);
/* Closes what l holds (not l). */
void httpd__free(struct httpd__listener *l);
void httpd__stats(const struct httpd__listener *l, struct httpd_stats *out);

#endif
