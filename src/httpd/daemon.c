/* The libmicrohttpd daemon every listener runs, with the caps decided once.
 *
 * Connections: libmicrohttpd tells us when one opens and closes (NOTIFY_CONNECTION); we keep
 * each in a list under `mu` with its header deadline. Counting them ourselves lets us hold
 * the cap below libmicrohttpd's own limit, which in 0.9.75 (epoll) must never be reached:
 * at that limit it stops noticing closed client connections until their idle timeout (600
 * slow connections against a cap of 256 kept the sink refusing for a minute after they
 * closed). A connection over our cap gets a 503 written straight to its socket and is shut
 * down; libmicrohttpd sees the end of stream and frees it at once.
 *
 * Header deadline (slowloris): libmicrohttpd's timeout is an inactivity timeout, which a
 * client sending one byte every few seconds never trips. A deadline is set when the
 * connection opens and again when an answer completed (the next request's header block is
 * due); the handler's first call for a request clears it. The sweeper thread shuts down every
 * connection past its deadline, under `mu`: libmicrohttpd reports the close (and we drop the
 * entry) before it closes the descriptor, so a shutdown never hits a reused descriptor.
 *
 * Framing: libmicrohttpd 0.9.75 takes the first of two Content-Length fields, lets
 * Transfer-Encoding override Content-Length silently and waits forever for a body in an
 * unknown transfer coding. The base answers those 400 or 501 with Connection: close before
 * the listener's handler sees the request (RFC 9112 sections 6.1 and 6.3). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "httpd/internal.h"

/* Room over our cap in libmicrohttpd's limit, per worker: connections accepted over the cap
 * stay until libmicrohttpd's next turn notices they were shut down (at most 10 accepts a turn
 * in 0.9.75). */
#define MHD_SLACK 64

struct conn {
    struct conn *prev, *next;
    int fd;
    atomic_int cut;            /* shut down by us (over the cap, or its deadline passed) */
    int in_request;            /* the handler saw this request's headers (connection thread) */
    unsigned rejected;         /* status of the framing checks' answer (connection thread) */
    const char *why;           /* its reason */
    int answered;              /* that answer is queued */
    _Atomic uint64_t deadline; /* the header block is due (mono ns); 0 = none */
};

struct httpd {
    struct MHD_Daemon *d;
    int fd, quiesced, port;
    struct httpd_config cfg;
    struct httpd_handlers hd;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    struct conn *conns; /* under mu */
    int stopping;       /* under mu */
    int sweeper_on;
    pthread_t sweeper;
    _Atomic int64_t open;
    _Atomic uint64_t accepted, over_cap, header_timeouts, bad_framing;
};

void httpd_config_default(struct httpd_config *c)
{
    memset(c, 0, sizeof *c);
    c->max_connections = HTTPD_DEFAULT_MAX_CONNECTIONS;
    c->header_timeout_ns = HTTPD_DEFAULT_HEADER_TIMEOUT_NS;
    c->idle_timeout_ns = HTTPD_DEFAULT_IDLE_TIMEOUT_NS;
}

/* ---- connections ----------------------------------------------------------------------- */

static const char over_cap_answer[] = "HTTP/1.1 503 Service Unavailable\r\n"
                                      "Content-Type: text/plain\r\n"
                                      "Retry-After: 1\r\n"
                                      "Connection: close\r\n"
                                      "Content-Length: 47\r\n\r\n"
                                      "too many open connections (--max-connections)\n";

static void conn_open(struct httpd *h, struct MHD_Connection *c, void **ctx)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    struct conn *k = core_calloc(1, sizeof *k);
    k->fd = ci ? ci->connect_fd : -1;
    atomic_init(&k->deadline, core_mono_ns() + h->cfg.header_timeout_ns);
    pthread_mutex_lock(&h->mu);
    k->next = h->conns;
    if (h->conns)
        h->conns->prev = k;
    h->conns = k;
    int64_t n = atomic_fetch_add(&h->open, 1) + 1;
    atomic_store(&k->cut, n > (int64_t)h->cfg.max_connections && k->fd >= 0);
    if (atomic_load(
            &k->cut)) { /* a best-effort answer: the client may have sent more than we read */
        atomic_fetch_add(&h->over_cap, 1);
        (void)send(k->fd, over_cap_answer, sizeof over_cap_answer - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        shutdown(k->fd, SHUT_RDWR);
    }
    pthread_mutex_unlock(&h->mu);
    atomic_fetch_add(&h->accepted, 1);
    *ctx = k;
}

static void conn_close(struct httpd *h, void **ctx)
{
    struct conn *k = *ctx;
    if (!k)
        return;
    pthread_mutex_lock(&h->mu);
    if (k->prev)
        k->prev->next = k->next;
    else
        h->conns = k->next;
    if (k->next)
        k->next->prev = k->prev;
    atomic_fetch_sub(&h->open, 1);
    pthread_mutex_unlock(&h->mu);
    core_free(k);
    *ctx = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **ctx,
                          enum MHD_ConnectionNotificationCode code)
{
    if (code == MHD_CONNECTION_NOTIFY_STARTED)
        conn_open(cls, c, ctx);
    else
        conn_close(cls, ctx);
}

static struct conn *conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* Shuts down every connection whose header block is overdue; returns with mu held. */
static void sweep_once(struct httpd *h, uint64_t now)
{
    for (struct conn *k = h->conns; k; k = k->next) {
        uint64_t due = atomic_load(&k->deadline);
        if (due && now >= due && !atomic_load(&k->cut) && k->fd >= 0) {
            atomic_store(&k->cut, 1);
            atomic_fetch_add(&h->header_timeouts, 1); /* counted before the client can see it */
            shutdown(k->fd, SHUT_RDWR);
        }
    }
}

static void *sweeper(void *arg)
{
    struct httpd *h = arg;
    /* A quarter of the timeout (at most 1 s): a deadline is enforced within 25% of it. */
    uint64_t period = h->cfg.header_timeout_ns / 4;
    if (period > 1000000000ULL)
        period = 1000000000ULL;
    pthread_mutex_lock(&h->mu);
    while (!h->stopping) {
        sweep_once(h, core_mono_ns());
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t at = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec + period;
        ts.tv_sec = (time_t)(at / 1000000000ULL);
        ts.tv_nsec = (long)(at % 1000000000ULL);
        pthread_cond_timedwait(&h->wake, &h->mu, &ts);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

/* ---- framing checks -------------------------------------------------------------------- */

void httpd__framing_add(struct httpd__framing *f, const char *key, const char *value)
{
    if (!strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH)) {
        if (f->ncl++ == 0)
            snprintf(f->cl, sizeof f->cl, "%s", value);
        else if (strncmp(f->cl, value, sizeof f->cl - 1) || strlen(value) >= sizeof f->cl)
            f->cl_differ = 1;
    } else if (!strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING)) {
        size_t n = strlen(f->te);
        int w = snprintf(f->te + n, sizeof f->te - n, "%s%s", f->nte++ ? ", " : "", value);
        if (w < 0 || (size_t)w >= sizeof f->te - n)
            f->te_long = 1;
    }
}

/* The codings of te from the last: chunked must be last and only once; others are unknown. */
static unsigned check_codings(const char *te, const char **why)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", te);
    int n = 0, chunked_last = 0, chunked = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        t += strspn(t, " \t");
        size_t l = strlen(t);
        while (l && (t[l - 1] == ' ' || t[l - 1] == '\t'))
            t[--l] = 0;
        chunked_last = !strcasecmp(t, "chunked");
        chunked += chunked_last;
        n++;
    }
    if (!n || !chunked_last || chunked > 1) {
        *why = "Transfer-Encoding must end with chunked, once (RFC 9112 6.3)";
        return 400;
    }
    if (n > 1) {
        *why = "only the chunked transfer coding is implemented";
        return 501;
    }
    return 0;
}

unsigned httpd__framing_check(const struct httpd__framing *f, int http10, const char **why)
{
    if (f->cl_differ) {
        *why = "conflicting Content-Length fields";
        return 400;
    }
    if (f->nte && f->ncl) {
        *why = "both Content-Length and Transfer-Encoding (request smuggling?)";
        return 400;
    }
    if (f->nte && (http10 || f->te_long)) {
        *why = http10 ? "Transfer-Encoding in an HTTP/1.0 request" : "Transfer-Encoding too long";
        return 400;
    }
    return f->nte ? check_codings(f->te, why) : 0;
}

static enum MHD_Result add_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
    httpd__framing_add(cls, key, value ? value : "");
    return MHD_YES;
}

static enum MHD_Result reject(struct httpd *h, struct MHD_Connection *c, unsigned status,
                              const char *why)
{
    char body[160];
    int n = snprintf(body, sizeof body, "%u: %s\n", status, why);
    struct MHD_Response *r =
        MHD_create_response_from_buffer((size_t)n, body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    atomic_fetch_add(&h->bad_framing, 1);
    return ret;
}

/* ---- the handlers around the listener's ------------------------------------------------ */

/* A refused request whose body libmicrohttpd can delimit (a length, or chunked as the first
 * Transfer-Encoding) is read to its end and dropped before the answer: closing with request
 * bytes unread makes the kernel send a reset, which can destroy the answer on its way. */
static enum MHD_Result refused_body(struct httpd *h, struct MHD_Connection *c, struct conn *k,
                                    size_t *upload_len)
{
    if (*upload_len || k->answered) {
        *upload_len = 0;
        return MHD_YES;
    }
    k->answered = 1;
    return reject(h, c, k->rejected, k->why);
}

/* The first call for a request: its header block is in (the deadline goes), framing checks.
 * 0 to go on to the listener, else the result to return. */
static int first_call(struct httpd *h, struct MHD_Connection *c, struct conn *k,
                      const char *version, enum MHD_Result *ret)
{
    k->in_request = 1;
    atomic_store(&k->deadline, 0);
    struct httpd__framing f;
    memset(&f, 0, sizeof f);
    MHD_get_connection_values(c, MHD_HEADER_KIND, add_field, &f);
    k->rejected = httpd__framing_check(&f, !strcmp(version, MHD_HTTP_VERSION_1_0), &k->why);
    if (!k->rejected)
        return 0;
    const char *te = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Transfer-Encoding");
    if (te && strcasecmp(te, "chunked")) { /* libmicrohttpd cannot find the body's end */
        k->answered = 1;
        *ret = reject(h, c, k->rejected, k->why);
    } else {
        *ret = MHD_YES;
    }
    return 1;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_len, void **state)
{
    struct httpd *h = cls;
    struct conn *k = conn_of(c);
    enum MHD_Result ret;
    /* A connection we shut down (over the cap, header deadline) may still have a whole request
     * in its receive buffer, which libmicrohttpd reads before it sees the end: it must not run,
     * or the client that was told 503 would find its request applied (and retry it). */
    if (k && atomic_load(&k->cut))
        return MHD_NO;
    if (k && k->rejected)
        return refused_body(h, c, k, upload_len);
    if (k && !k->in_request && first_call(h, c, k, version, &ret))
        return ret;
    return h->hd.on_request(h->hd.cls, c, url, method, version, upload, upload_len, state);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **state,
                         enum MHD_RequestTerminationCode toe)
{
    struct httpd *h = cls;
    struct conn *k = conn_of(c);
    if (k) { /* the next request's header block is due from now */
        k->in_request = k->answered = 0;
        k->rejected = 0;
        atomic_store(&k->deadline, core_mono_ns() + h->cfg.header_timeout_ns);
    }
    if (h->hd.on_completed)
        h->hd.on_completed(h->hd.cls, c, state, toe);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct httpd *h = cls;
    core_vlog_from(CORE_LOG_DEBUG, h->hd.name ? h->hd.name : "httpd", fmt, ap);
}

/* ---- life cycle ------------------------------------------------------------------------ */

static unsigned worker_threads(const struct httpd_config *c)
{
    if (c->thread_per_connection)
        return 1;
    if (c->threads)
        return c->threads;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 && n < 64 ? (unsigned)n : 2;
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

static struct MHD_Daemon *start_daemon(struct httpd *h)
{
    const struct httpd_config *c = &h->cfg;
    unsigned threads = worker_threads(c);
    unsigned flags = MHD_USE_ERROR_LOG | MHD_USE_ITC;
    if (c->thread_per_connection)
        flags |= MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION;
    else
        flags |= MHD_USE_EPOLL_INTERNAL_THREAD;
    if (c->suspend_resume)
        flags |= MHD_ALLOW_SUSPEND_RESUME;
    /* Each worker gets limit / threads of libmicrohttpd's limit; a worker may have to hold
     * all of our cap (connections are not spread evenly), so its share is the whole cap. */
    unsigned limit = (c->max_connections + MHD_SLACK) * threads;
    unsigned idle_s = (unsigned)((c->idle_timeout_ns + 999999999ULL) / 1000000000ULL);
    return MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h,
        MHD_OPTION_LISTEN_SOCKET, (MHD_socket)h->fd, MHD_OPTION_CONNECTION_LIMIT, limit,
        MHD_OPTION_CONNECTION_TIMEOUT, idle_s, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, h, MHD_OPTION_STRICT_FOR_CLIENT, (int)1,
        threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, threads, MHD_OPTION_END);
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

static struct httpd *alloc(const struct httpd_config *c, const struct httpd_handlers *hd)
{
    struct httpd *h = core_calloc(1, sizeof *h);
    h->cfg = *c;
    h->hd = *hd;
    h->fd = -1;
    pthread_mutex_init(&h->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->wake, &ca); /* the sweeper's timed waits use the monotonic clock */
    pthread_condattr_destroy(&ca);
    return h;
}

int httpd_start(struct httpd **out, const struct httpd_addr *a, const struct httpd_config *c,
                const struct httpd_handlers *hd, char *err, size_t errlen)
{
    *out = NULL;
    struct httpd_config cfg = *c;
    if (httpd__config_check(&cfg, err, errlen))
        return DIO_EINVAL;
    httpd__raise_fd_limit(cfg.max_connections);
    struct httpd *h = alloc(&cfg, hd);
    int rc = httpd__listen(a, cfg.max_connections, &h->fd, &h->port, err, errlen);
    if (!rc && !(h->d = start_daemon(h))) {
        snprintf(err, errlen, "cannot start the HTTP server on %s:%d", a->host, a->port);
        rc = DIO_EIO;
    }
    if (!rc && pthread_create(&h->sweeper, NULL, sweeper, h) == 0)
        h->sweeper_on = 1;
    else if (!rc) {
        snprintf(err, errlen, "cannot start the listener's timer thread");
        rc = DIO_EIO;
    }
    if (rc) {
        httpd_stop(h);
        return rc;
    }
    *out = h;
    return 0;
}

int httpd_port(const struct httpd *h)
{
    return h->port;
}

void httpd_quiesce(struct httpd *h)
{
    if (!h || h->quiesced || !h->d)
        return;
    h->quiesced = 1;
    if (MHD_quiesce_daemon(h->d) != MHD_INVALID_SOCKET) {
        close(h->fd); /* refuse new connections now, not at stop */
        h->fd = -1;
    }
}

void httpd_stop(struct httpd *h)
{
    if (!h)
        return;
    if (h->sweeper_on) {
        pthread_mutex_lock(&h->mu);
        h->stopping = 1;
        pthread_cond_signal(&h->wake);
        pthread_mutex_unlock(&h->mu);
        pthread_join(h->sweeper, NULL);
    }
    if (h->d) {
        MHD_stop_daemon(h->d); /* closes every connection: the list ends up empty */
        if (!h->quiesced)
            h->fd = -1; /* libmicrohttpd closed the listening socket it was given */
    }
    if (h->fd >= 0)
        close(h->fd);
    pthread_cond_destroy(&h->wake);
    pthread_mutex_destroy(&h->mu);
    core_free(h);
}

void httpd_stats(const struct httpd *h, struct httpd_stats *o)
{
    memset(o, 0, sizeof *o);
    if (!h)
        return;
    o->open = atomic_load(&h->open);
    o->accepted = atomic_load(&h->accepted);
    o->over_cap = atomic_load(&h->over_cap);
    o->header_timeouts = atomic_load(&h->header_timeouts);
    o->bad_framing = atomic_load(&h->bad_framing);
}
