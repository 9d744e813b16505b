#ifndef DIORAMA_DRIVER_INTERNAL_H
#define DIORAMA_DRIVER_INTERNAL_H
/* driver internals shared between its files (drv__ prefix); not for other modules. */
#include "driver/driver.h"

/* The requests of a run, built once before the threads start and read-only afterwards:
 * sending a request is a write of bytes that already exist. */
struct drv__reqgroup { /* the requests for one route */
    struct driver_req *normal, *inj;
    size_t nnormal, ninj;
};

struct drv__reqset {
    struct drv__reqgroup *g; /* one per route (one for a plain URL) */
    double *cum;             /* cumulative route weights, cum[ng - 1] == 1 */
    size_t ng;
    double share; /* fraction of requests drawn from a group's inj */
};

int drv__reqs_build(const struct driver_opts *o, struct drv__reqset *rs, char *err, size_t errn);
void drv__reqs_free(struct drv__reqset *rs);
/* Request k of the run, the same whatever the thread count (keyed by seed and k). */
const struct driver_req *drv__reqs_pick(const struct drv__reqset *rs, uint64_t seed, uint64_t k);

#endif

/* ---- transports (net.c): one vtable per kind of socket, as in wrk's struct sock ---------- */
#include <netdb.h>
#include <openssl/ssl.h>

enum drv__io { DRV_IO_OK, DRV_IO_AGAIN_READ, DRV_IO_AGAIN_WRITE, DRV_IO_ERROR, DRV_IO_EOF };

struct drv__conn;
struct drv__sock {
    /* After the TCP connect completed: finish the transport's own handshake. */
    int (*handshake)(struct drv__conn *c);
    int (*read)(struct drv__conn *c, char *buf, size_t n, size_t *got);
    int (*write)(struct drv__conn *c, const char *buf, size_t n, size_t *wrote);
    /* Bytes the transport holds already decrypted (a read would not block). */
    size_t (*readable)(struct drv__conn *c);
    void (*close)(struct drv__conn *c);
};

extern const struct drv__sock drv__sock_plain, drv__sock_tls;

enum { C_CLOSED, C_CONNECTING, C_HANDSHAKE, C_IDLE, C_BUSY };

struct drv__thread;

/* One connection slot. Owned by its thread; a closed slot is reused for the next connect. */
struct drv__conn {
    int fd;
    int state;
    uint32_t events; /* current epoll interest */
    SSL *ssl;
    struct drv__thread *t;
    const struct driver_req *req; /* in flight (or waiting for the connect), NULL if none */
    size_t woff;                  /* bytes of req written */
    uint64_t k, intended, sent_at;
    uint64_t hold_ns; /* --client-delay: sent on purpose this late (not counted as late) */
    uint32_t served;  /* responses on this connection: a reused one may be closed under us */
    int retried;      /* the request was already re-sent once after such a close */
    size_t got;       /* response bytes so far */
    struct driver_http http;
};

/* Starts a non-blocking connect to the run's address; 0 or -1 (errno kept). */
int drv__connect(struct drv__conn *c, const struct addrinfo *ai);
SSL *drv__tls_new(SSL_CTX *ctx, int fd, const char *host);

/* ---- threads and the run (loop.c, run.c) ------------------------------------------------ */
#include <pthread.h>

/* Counters a thread owns; published under the run's mutex for the progress line. */
struct drv__stats {
    uint64_t sent, requests, errors, late, dropped, unfinished, injected;
    uint64_t conn_waits; /* open loop: requests that found all -c connections busy when due */
    uint64_t connect_errors, timeouts, read_errors, write_errors;
    uint64_t status[6];
    uint64_t status_codes[600];
    uint64_t bytes_read, bytes_written;
    int max_open;
};

struct drv__thread {
    struct driver_run *run;
    int id;
    pthread_t th;
    int ep;
    struct drv__conn *conns;
    int cap, nopen, nbusy;
    int *idle, nidle; /* stack of idle connection indices */
    /* schedule: this thread sends requests k = id, id+T, id+2T ... (Poisson: its own draws) */
    uint64_t k;
    double u;               /* the schedule position of the next request (expected count) */
    uint64_t next_intended; /* absolute ns; UINT64_MAX when the schedule is done */
    struct core_rng rng;
    /* --client-delay: requests held back before sending, in intended-time order (the delay
     * is one value, so a FIFO keeps them sorted by send time) */
    struct drv__held {
        uint64_t k, intended;
        const struct driver_req *req;
    } * held;
    size_t held_head, held_n;
    uint64_t end_ns, next_tick, sec; /* sec: the oldest timeline second still open */
    int closing;                     /* past end + timeout: nothing more is sent */
    uint64_t last_send_ns;
    int starved; /* the schedule is behind because every connection is busy (cap reached) */
    struct drv__stats st;
    /* lat: latency; jit: scheduler jitter (handed to a connection - due, when one was free);
     * sdel: send delay (first byte written - due, every open-loop request); live: latencies
     * completed in the current wall second, merged into the run's progress figures */
    struct core_hdr lat, jit, sdel, live;
    uint64_t live_sec;
    struct driver_route_result *rst; /* --scenario: per route, else NULL */
    /* The timeline: a ring of run->nbuckets seconds by *intended* send time; bucket `sec` is
     * handed in once no request due in it can still finish (drv__bucket_closes) */
    struct drv__bucket *tb;
    uint64_t sec_max; /* highest bucket that holds anything */
    char rbuf[65536];
};

/* One second of the timeline: the requests due in it, whenever they finished. */
struct drv__bucket {
    struct core_hdr h; /* latency, 2 significant digits */
    uint64_t sent, done, errors, late;
};

/* One second of the timeline being assembled from every thread's share. */
struct drv__slot {
    uint64_t sec;
    int flushed; /* threads that handed this second in */
    struct drv__bucket b;
};

struct driver_run {
    struct driver_opts o;
    struct driver_corpus builtin;
    struct drv__reqset reqs;
    struct addrinfo *ai;
    SSL_CTX *ssl;
    struct drv__thread *threads;
    int nthreads;
    uint64_t start_ns;
    pthread_mutex_t mu;     /* guards everything below */
    struct drv__slot *ring; /* nring slots: a thread hands in up to nbuckets at its end */
    int nring, nbuckets;
    uint64_t hold_ns;            /* a request due in second s finishes by s + 1 s + hold_ns */
    struct drv__stats pub_total; /* sum of the threads' last published counters */
    struct drv__stats *pub;      /* per thread */
    int finished;                /* threads that have returned */
    uint64_t *tsec;              /* per thread: the next second it will hand in */
    int *tfin;                   /* per thread: returned */
    uint64_t send_end_ns;        /* latest end of a sending phase */
    struct core_hdr cum; /* progress: every latency completed so far (threads merge each second) */
    /* timeline: owned by the polling thread */
    struct core_hdr acc;
    struct driver_second *timeline;
    size_t ntimeline;
    uint64_t next_sec; /* next second to take from the ring */
    int width, acc_n;
    struct driver_second accs;
};

/* Histogram shape for every latency figure: 1 us .. 1 h, 3 significant digits. */
#define DRV_HDR_MAX_US 3600000000LL
void *drv__thread_main(void *arg);
/* Hands the thread's oldest open timeline second to the ring (called with nothing locked). */
void drv__flush_second(struct drv__thread *t);
/* The timeline bucket for a request due at `intended` (absolute ns). */
struct drv__bucket *drv__bucket_of(struct drv__thread *t, uint64_t intended);
/* Latency of one response: into the totals, the live figures and its due second's bucket. */
void drv__record_latency(struct drv__thread *t, uint64_t intended, int64_t us);
