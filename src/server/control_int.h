#ifndef DIORAMA_SERVER_CONTROL_INT_H
#define DIORAMA_SERVER_CONTROL_INT_H
/* The control API's own internals, shared by control.c (requests, the world's mirror) and
 * control_sse.c (the event stream). Not API. */
#include <pthread.h>
#include <stdatomic.h>

#include "server/internal.h"

#define CONTROL_LABELS_KEPT 1024 /* what GET /api/labels answers from */
/* The ring the streams read from: deeper than GET /api/labels' window, so a stream of every
 * label keeps up with a scenario that labels thousands of requests a second (inference at
 * --speed max) across a late pull of a second or so. Slots hold what was labelled: a few
 * hundred bytes each, filled only as labels come. */
#define CONTROL_LABEL_RING 16384
#define CONTROL_SSE_MAX 64                      /* event-stream clients at once; more get 503 */
#define CONTROL_SSE_KEEPALIVE_NS 15000000000ULL /* a comment line when nothing else was sent */
#define CONTROL_SSE_TIMEOUT_S 60 /* a client that took no byte for this long: dropped */
/* News this soon after a stream's send waits for a later pull; the world's thread wakes the
 * streams for a label at most this often. */
#define CONTROL_SSE_BATCH_NS 50000000ULL

struct control_mirror {
    int state;      /* index into scenario->states */
    uint64_t since; /* unix ns (simulated) */
    int source;
};

/* A label as its whole event-stream event, formatted once on the world's thread:
 *   "event: label\ndata: " DATA "\n\n"   with DATA = {"id":N,"label":{...}}
 * Every stream copies these bytes as they are; GET /api/labels copies DATA out of them. */
#define CONTROL_LABEL_DATA_OFF (sizeof "event: label\ndata: " - 1)
struct control_label {
    uint64_t id;
    char *ev;     /* owned; NULL: the slot was never filled */
    uint32_t len; /* of ev, without its NUL */
    int fault;    /* a one-request label (scope "request"): its fault's index; -1 otherwise */
};

/* A label on its way from the world's thread to the ring (control__sync). */
#define CONTROL_LABEL_QUEUE 4096
struct control_pending {
    struct control_label l; /* moved into the ring */
    int ent;                /* the entity whose state period began or ended, -1: none */
    int state, source;      /* its state as of now, and where the change came from */
    uint64_t since;         /* unix ns (simulated) */
};

struct server_control {
    struct world *w;
    struct server_control_cfg cfg;
    struct httpd_addr addr;
    int loopback;
    struct httpd_h1 *d;
    pthread_mutex_t mu; /* guards everything below but what is atomic */
    struct control_mirror *ents;
    struct control_label ring[CONTROL_LABEL_RING];
    uint64_t nlabels;   /* labels seen; ids are 1.. */
    uint64_t world_gen; /* changes that alter GET /api/world (streams send "world" again) */
    uint64_t commands, refused;
    atomic_int nsse; /* streams open (written under mu; the world's thread reads it) */
    int stopping;
    uint64_t sse_opened, sse_refused, sse_dropped;
    atomic_int ended; /* the world stopped: changes would never apply */
    struct core_buf lbuf;
    uint64_t woke_ns; /* the world's thread: when it last woke the streams for a label */
    /* The world's thread never takes mu (a reader holding it must not stall the world, nor a
     * world thread preempted while holding it stall a reader): it fills q[tail] and publishes
     * tail; readers move q[head..tail) into the ring under mu (control__sync). */
    struct control_pending q[CONTROL_LABEL_QUEUE];
    _Atomic uint64_t q_head, q_tail;
};

void control__answer(struct server__answer *a, int status, const char *json);
/* Moves the labels the world's thread queued into the ring and the entity mirror; c->mu held.
 * Every reader of the ring, the mirror or world_gen calls it first. */
void control__sync(struct server_control *c);
/* A JSON error answer: {"error": "..."}. */
void control__fail(struct server__answer *a, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The token rule: 1 when no token is set or auth carries it. */
int control__authorised(const struct server_control *c, const char *auth);
/* Queues cmd for the world's next tick: 0, or the error answered (503 ended or queue full). */
int control__command(struct server_control *c, const struct world_cmd *cmd,
                     struct server__answer *a);

/* ---- live changes (control_cmd.c) ---------------------------------------------------------- */
/* One of the change routes (PUT /api/rate ...), method and token already checked. */
void control__change(struct server_control *c, const struct server__control_req *rq,
                     struct server__answer *a);
/* 1 when path is one control__change answers. */
int control__is_change(const char *path, const char **method);
/* ---- faults (control_fault.c) ------------------------------------------------------------ */
struct json_t;
/* Start (start = 1) or stop fault f; j: the body ({"for", "variant"}). */
void control__fault_command(struct server_control *c, int f, int start, struct json_t *j,
                            struct server__answer *a);
/* ,"active":..,"until":..,"variant":.. of fault f. */
void control__put_fault_state(struct server_control *c, int f, struct core_buf *b);
/* "faults": [...] of GET /api/world. */
void control__put_faults(struct server_control *c, struct core_buf *b);

/* GET /api/world's object (and the stream's "world" event) into b; c->mu held. */
void control__put_world(struct server_control *c, struct core_buf *b);

/* ---- the event stream (control_sse.c) ---------------------------------------------------- */
/* GET /api/stream?labels=WHICH (NULL: all): a text/event-stream answer set up in rs (0), or
 * -1 with a answered (400 a bad WHICH, 503 over the cap). */
int control__sse_open(struct server_control *c, const char *which, struct server__answer *a,
                      struct httpd_h1_response *rs);

#endif
