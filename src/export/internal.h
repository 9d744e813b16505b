#ifndef DIORAMA_EXPORT_INTERNAL_H
#define DIORAMA_EXPORT_INTERNAL_H
/* export/ internals shared between hub.c and the outputs (export__ prefix). Not for other
 * modules: they use export.h.
 *
 * An output is a small vtable plus the state the hub keeps for it (queues, counters). The hub
 * owns the batch pool and every output queue; all queue and pool state is protected by the
 * hub's mutex, which is only ever held for a few pointer moves. Counters are atomics so the
 * engine, the output threads and the /metrics listener never wait on each other to count. */
#include <pthread.h>
#include <stdatomic.h>

#include "export/export.h"

/* A submitted batch as seen by one output. `seq` orders batches across signals (the file
 * output writes in submit order); `slot` is the batch's index in its signal's pool. */
struct export__item {
    struct rec_batch *b;
    uint64_t seq;
    uint32_t slot;
};

/* Bounded FIFO of items for one output and signal (capacity = the signal's pool size, so a
 * push can never fail: a batch is in at most one slot of one output's ring). */
struct export__ring {
    struct export__item *v;
    uint32_t cap, head, len;
};

struct export__counters {
    atomic_uint_fast64_t generated;
    atomic_uint_fast64_t delivered;
    atomic_uint_fast64_t dropped[EXPORT_DROP_NREASONS];
    atomic_uint_fast64_t timed_out;
    atomic_uint_fast64_t retried;
    atomic_uint_fast64_t requests;
    atomic_uint_fast64_t failed_requests;
    atomic_uint_fast64_t bytes;
};

struct export_output_ops {
    const char *kind; /* default name: "otlp_http", "otlp_file", "null" */
    /* Threaded outputs: start the thread (0 or DIO_E*). NULL for inline outputs. */
    int (*start)(struct export_output *o);
    /* A batch was queued, or the hub is stopping: wake the thread (any thread may call). */
    void (*wake)(struct export_output *o);
    /* Called after the hub asked to stop: returns when the thread has exited. Before it
     * exits, the thread has counted everything it held as delivered or dropped. */
    void (*join)(struct export_output *o);
    /* Inline outputs: handle b on the submitting thread (b stays the caller's). */
    void (*consume)(struct export_output *o, const struct rec_batch *b);
    void (*destroy)(struct export_output *o); /* frees the output-specific part and o */
};

struct export_output {
    const struct export_output_ops *ops;
    char name[48];
    int verify_attrs;
    unsigned signals;       /* bit s set: this output exports signal s (init: all) */
    struct export_hub *hub; /* set by export_hub_new */
    struct export__ring q[REC_NSIGNALS];
    struct export__counters c[REC_NSIGNALS];
    pthread_mutex_t lat_mu; /* guards lat[]: taken by the output thread and by stats readers */
    struct core_hdr lat[REC_NSIGNALS];
};

/* Every output constructor calls init first, every destroy calls fini last. */
void export__output_init(struct export_output *o, const struct export_output_ops *ops,
                         int verify_attrs);
void export__output_fini(struct export_output *o);

/* ---- called by output threads ---------------------------------------------------------- */
/* Pops the oldest queued batch of `signal` (or, with signal < 0, the oldest of any signal).
 * 1 and *it when there was one, else 0. Never blocks. */
int export__take(struct export_output *o, int signal, struct export__item *it);
/* Waits until this output has something queued or the hub is stopping, or until
 * until_ns (monotonic; 0 = no limit). For outputs without their own event loop. */
void export__wait(struct export_output *o, uint64_t until_ns);
/* This output is done with the batch (after encoding it, or after dropping it). */
void export__release(struct export_output *o, struct export__item *it);
/* 1 once export_hub_shutdown has started; *deadline_ns then holds its deadline. */
int export__stopping(struct export_output *o, uint64_t *deadline_ns);
/* Counts every batch still queued for this output as dropped(reason) and releases it. */
void export__drain_dropped(struct export_output *o, int reason);

static inline int export__wants(const struct export_output *o, int s)
{
    return (o->signals >> s) & 1u;
}

static inline void export__count(atomic_uint_fast64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}
/* Outcomes are release-ordered after `generated` was bumped so a reader that loads outcomes
 * first (acquire) and `generated` last never sees more outcomes than records. */
static inline void export__outcome(atomic_uint_fast64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_release);
}
static inline void export__delivered(struct export_output *o, int s, uint64_t n)
{
    export__outcome(&o->c[s].delivered, n);
}
static inline void export__dropped(struct export_output *o, int s, uint64_t n, int reason)
{
    export__outcome(&o->c[s].dropped[reason], n);
}
/* Given up on after a request with them was sent in full and not answered: may have arrived. */
static inline void export__timed_out(struct export_output *o, int s, uint64_t n)
{
    export__outcome(&o->c[s].timed_out, n);
}
/* Records one successful request's latency (exporter threads only). */
void export__latency(struct export_output *o, int s, uint64_t ns);

/* ---- HTTP push outputs (otlp_http.c drives the transfers, retries and accounting) ------- */
/* What differs between OTLP/HTTP protobuf, OTLP/HTTP JSON and InfluxDB line protocol: the
 * body and how an answer is read. */
struct export__http_fmt {
    const char *content_type; /* "Content-Type: ..." header line */
    /* Encodes b into out (reset by the caller). *skipped: records left out as unencodable
     * (counted dropped(encode)); the rest are the request's records. 0 or DIO_E*. */
    int (*encode)(struct core_buf *out, const struct rec_batch *b, int verify_attrs,
                  uint32_t *skipped);
    /* A complete answer with this status and body: 1 when the peer took the request (of its n
     * records *rejected were refused, msg says why), 0 to apply the retry policy. */
    int (*accepted)(long status, const struct core_buf *resp, uint64_t n, uint64_t *rejected,
                    char *msg, size_t msglen);
    int retry_5xx; /* every 5xx is retried (InfluxDB), not only 502/503/504 (OTLP) */
};
/* An HTTP push output for the signals with a url in cfg, fmt[s] for each (ops: the kind's
 * vtable, built from the export__http_* functions below; the hub tells kinds apart by it). */
struct export_output *export__http_new(const struct export_otlp_http_cfg *cfg,
                                       const struct export__http_fmt *const fmt[REC_NSIGNALS],
                                       const struct export_output_ops *ops);
int export__http_start(struct export_output *o);
void export__http_wake(struct export_output *o);
void export__http_join(struct export_output *o);
void export__http_destroy(struct export_output *o);

/* Bytes a single encoded request may take before the batch is dropped(encode). */
#define EXPORT__MAX_BODY ((size_t)256 << 20)

/* pthread_create with every signal blocked in the new thread, so that signal handlers run on
 * the engine's threads and a write to a closed pipe returns EPIPE instead of killing us. */
int export__thread_create(pthread_t *t, void *(*fn)(void *), void *arg);

#endif
