#ifndef DIORAMA_SINK_INTERNAL_H
#define DIORAMA_SINK_INTERNAL_H
/* Shared between the sink/ sources; not API. */
#include <pthread.h>
#include <stdatomic.h>

#include "sink/sink.h"
#include "wire/wire.h"

/* ---- verify.c ------------------------------------------------------------------------------
 * A sequence window: which of the numbers [base, base + 2^log2) arrived, as a ring of 64-bit
 * words (bit i of word (seq / 64) mod nwords). When a number at or past the window's end
 * arrives the window slides forward; the words it leaves behind are counted (their zero bits
 * as missing) and cleared. An arrival below base can no longer be told apart from a
 * duplicate: it is counted in too_old and nowhere else. */
struct sink__seqwin {
    uint64_t *words;
    uint64_t nwords; /* power of two */
    uint64_t base;   /* first number covered; a multiple of 64 */
    uint64_t hi;     /* highest number seen + 1 (0: none yet) */
    uint64_t distinct, dups, reordered, too_old;
    uint64_t evicted_missing; /* zero bits of the words the window left behind */
};

void sink__seqwin_init(struct sink__seqwin *w, unsigned log2);
void sink__seqwin_free(struct sink__seqwin *w);
/* Marks [seq, seq + n). `floor` is the window's hi when the request carrying them started:
 * numbers below it arrived after a later request (reordered). Returns the duplicates. */
uint64_t sink__seqwin_mark(struct sink__seqwin *w, uint64_t seq, uint64_t n, uint64_t floor);
/* Distinct numbers seen at or above `from` (exact while from >= base; else counts the part
 * below base as fully seen). */
uint64_t sink__seqwin_seen_from(const struct sink__seqwin *w, uint64_t from);
/* Numbers in [0, end) never seen (end = hi when 0). */
uint64_t sink__seqwin_missing(const struct sink__seqwin *w, uint64_t end);

/* Counts per name, at most `max` distinct names; the rest go to "(other)". */
struct sink__name {
    uint64_t hash;
    uint64_t count;
    char name[88];
};
struct sink__names {
    struct sink__name *slots; /* 2 * max rounded up to a power of two; hash 0 = empty */
    uint32_t mask, used, max;
    uint64_t other;
};
void sink__names_init(struct sink__names *t, uint32_t max);
void sink__names_free(struct sink__names *t);
void sink__names_add(struct sink__names *t, const char *s, size_t n, uint64_t count);

#define SINK__E2E_MAX_US 3600000000LL /* e2e histogram ceiling: 1 hour; later are clamped */
#define SINK__NPROBLEMS 8
#define SINK__RUNID 64

struct sink__run {
    char id[SINK__RUNID];
    struct sink__seqwin w[REC_NSIGNALS];
    uint64_t received[REC_NSIGNALS];
};

struct sink__verify {
    pthread_mutex_t mu;
    uint64_t received[SINK_NSIGNALS], invalid[SINK_NSIGNALS];
    uint64_t untracked[SINK_NSIGNALS]; /* accepted without run id / seq, or past max_runs */
    struct sink__names services[SINK_NSIGNALS], names[SINK_NSIGNALS];
    struct sink__run *runs;
    uint32_t nruns, max_runs;
    unsigned wlog2;
    struct core_hdr e2e; /* microseconds */
    uint64_t e2e_future; /* generated "after" arrival (clock skew, --speed > 1) */
    char problems[SINK__NPROBLEMS][120];
    uint32_t nproblems;
};

void sink__verify_init(struct sink__verify *v, uint32_t max_names, uint32_t max_runs,
                       unsigned wlog2);
void sink__verify_free(struct sink__verify *v);
/* Per request: the stream it feeds and that stream's hi when the request's first item came. */
struct sink__reqsnap {
    const struct sink__run *run;
    uint64_t hi;
};
/* One decoded item (the decoder callback's view), arrived at wall time arrival_ns. Takes the
 * lock itself. snap starts zeroed for each request. */
void sink__verify_item(struct sink__verify *v, const struct wire_item *it, uint64_t arrival_ns,
                       struct sink__reqsnap *snap);
struct sink__run *sink__verify_run(struct sink__verify *v, const char *id);

/* ---- the sink ------------------------------------------------------------------------------ */
struct sink {
    struct sink_cfg cfg;
    struct sink__verify v;
    atomic_uint_fast64_t nreq; /* data requests, numbers the fault choices */
    atomic_uint_fast64_t requests, bytes, faults, refused, busy;
    atomic_size_t buffered; /* raw body bytes held by all connections */
    atomic_uint_fast64_t status[6];
    int port; /* once started */
    /* server.c */
    struct sink__server *srv;
};

/* server.c */
int sink__server_start(struct sink *s, char *err, size_t errlen);
void sink__server_poll(struct sink *s);
void sink__server_stop(struct sink *s);
int sink__server_port(const struct sink *s);
int sink__server_grpc_port(const struct sink *s);
/* 1 inside a --down-for window. */
int sink__server_down(const struct sink *s);

/* grpc.c: an OTLP/gRPC call (the h2 listener's handler; cls is the sink). */
void sink__grpc_request(void *cls, const struct httpd_h2_request *rq, struct httpd_h2_response *rs);

#endif
