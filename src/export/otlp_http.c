/* OTLP/HTTP protobuf output: one thread per output drives a libcurl multi handle.
 *
 * Per signal there are cfg.max_concurrent request slots. A slot takes a batch from the
 * output's queue, encodes it (and gzips it) into its own body buffer and gives the batch back
 * to the hub at once, so a slow collector holds bodies, not batches; the body is kept as is
 * for retries (never re-encoded). A slot is idle, active (a transfer in the multi handle) or
 * waiting (a retry timer). Waiting slots still count against max_concurrent: with a failing
 * collector the queue fills and back-pressure reaches the engine.
 *
 * The loop sleeps in curl_multi_poll with a timeout that ends at the earliest retry due time
 * (or the shutdown deadline); export_hub_submit wakes it with curl_multi_wakeup. It never
 * spins: with nothing to do it sleeps until woken. Connections are kept alive by the multi
 * handle's connection cache.
 *
 * Responses, as the OTLP spec says: 2xx delivered (minus partial_success rejected items,
 * counted dropped(rejected), never retried); 429/502/503/504 and transport failures retried
 * with export_retry_policy until cfg.retry_budget_ns from the first attempt is used up
 * (dropped(retries)); anything else dropped(rejected). */
#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/internal.h"
#include "wire/wire.h"

#define RESP_MAX 65536 /* response bytes kept for partial_success and error messages */
#define LOG_EVERY_NS (10ULL * 1000000000ULL)
#define GZIP_LEVEL 1 /* telemetry compresses well at level 1; higher levels cost engine CPU */

enum { SLOT_IDLE, SLOT_ACTIVE, SLOT_WAITING };

struct slot {
    struct http *x;
    int signal;
    int state;
    int attempt; /* retries made so far */
    CURL *easy;
    struct core_buf body;
    struct core_buf resp;
    uint64_t n;          /* records in the body */
    uint64_t first_ns;   /* first attempt: the retry budget counts from here */
    uint64_t attempt_ns; /* this attempt */
    uint64_t due_ns;     /* waiting: when to try again */
    char errbuf[CURL_ERROR_SIZE];
};

struct http {
    struct export_output o; /* first: the hub sees this */
    struct export_otlp_http_cfg cfg;
    CURLM *multi;
    struct curl_slist *hdrs[REC_NSIGNALS];
    struct slot *slots[REC_NSIGNALS]; /* [cfg.max_concurrent] each; none for unset urls */
    struct core_buf enc;              /* protobuf before gzip */
    struct core_rng rng;
    pthread_t thread;
    int started;
    /* Log throttling: a failing collector must not flood stderr. */
    int failing;
    uint64_t last_log_ns;
    uint64_t suppressed;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- logging ------------------------------------------------------------------------------ */

static void log_failure(struct http *x, uint64_t now, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void log_failure(struct http *x, uint64_t now, const char *fmt, ...)
{
    if (x->failing && now - x->last_log_ns < LOG_EVERY_NS) {
        x->suppressed++;
        return;
    }
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (x->suppressed)
        core_warn("%s: %s (%llu similar messages suppressed)", x->o.name, msg,
                  (unsigned long long)x->suppressed);
    else
        core_warn("%s: %s", x->o.name, msg);
    x->failing = 1;
    x->last_log_ns = now;
    x->suppressed = 0;
}

static void log_success(struct http *x)
{
    if (!x->failing)
        return;
    core_info("%s: the collector accepts requests again", x->o.name);
    x->failing = 0;
    x->suppressed = 0;
}

/* A printable prefix of a response body, for error messages. */
static void body_snippet(const struct core_buf *b, char *out, size_t n)
{
    size_t len = b->len < n - 1 ? b->len : n - 1;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = b->p[i];
        out[i] = (c < 0x20 || c >= 0x7f) ? '.' : (char)c;
    }
    out[len] = 0;
}

/* ---- slots -------------------------------------------------------------------------------- */

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    struct slot *sl = ud;
    size_t n = size * nmemb;
    size_t room = sl->resp.max - sl->resp.len;
    core_buf_append(&sl->resp, p, n < room ? n : room); /* the rest is not needed */
    return n;
}

static void slot_setup(struct http *x, struct slot *sl, int s)
{
    sl->x = x;
    sl->signal = s;
    core_buf_init(&sl->body, EXPORT__MAX_BODY);
    core_buf_init(&sl->resp, RESP_MAX);
    sl->easy = curl_easy_init();
    if (!sl->easy) {
        core_error("%s: curl_easy_init failed", x->o.name);
        abort();
    }
    CURL *e = sl->easy;
    curl_easy_setopt(e, CURLOPT_URL, x->cfg.url[s]);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->hdrs[s]);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "diorama/" DIORAMA_VERSION);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, sl);
    curl_easy_setopt(e, CURLOPT_PRIVATE, sl);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, sl->errbuf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
}

static void slot_free(struct slot *sl)
{
    if (sl->easy)
        curl_easy_cleanup(sl->easy);
    core_buf_free(&sl->body);
    core_buf_free(&sl->resp);
}

static int slot_gzip(const struct http *x, int s)
{
    return x->cfg.signal_gzip[s] ? x->cfg.signal_gzip[s] > 0 : x->cfg.gzip;
}

static struct curl_slist *build_headers(const struct export_otlp_http_cfg *cfg, int s, int gzip)
{
    struct curl_slist *l = NULL;
    l = curl_slist_append(l, "Content-Type: application/x-protobuf");
    if (gzip)
        l = curl_slist_append(l, "Content-Encoding: gzip");
    /* No "Expect: 100-continue" round trip for large bodies. */
    l = curl_slist_append(l, "Expect:");
    for (char **h = cfg->headers; h && *h; h++)
        l = curl_slist_append(l, *h);
    for (char **h = cfg->signal_headers[s]; h && *h; h++)
        l = curl_slist_append(l, *h);
    return l;
}

/* Starts one attempt of the slot's body. */
static void slot_send(struct http *x, struct slot *sl, uint64_t now, int stopping,
                      uint64_t deadline)
{
    uint64_t t = x->cfg.timeout_ns;
    if (stopping && deadline > now && deadline - now < t)
        t = deadline - now;
    long ms = (long)(t / 1000000ULL);
    curl_easy_setopt(sl->easy, CURLOPT_TIMEOUT_MS, ms > 0 ? ms : 1L);
    curl_easy_setopt(sl->easy, CURLOPT_POSTFIELDS, (const char *)sl->body.p);
    curl_easy_setopt(sl->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)sl->body.len);
    core_buf_reset(&sl->resp);
    sl->errbuf[0] = 0;
    sl->attempt_ns = now;
    sl->state = SLOT_ACTIVE;
    struct export__counters *c = &x->o.c[sl->signal];
    export__count(&c->requests, 1);
    export__count(&c->bytes, sl->body.len);
    if (sl->attempt > 0)
        export__count(&c->retried, sl->n);
    curl_multi_add_handle(x->multi, sl->easy);
}

/* Encodes the batch into the slot's body and gives the batch back. 0 or DIO_EFULL. */
static int slot_fill(struct http *x, struct slot *sl, struct export__item *it)
{
    struct wire_otlp_opts opts = {x->o.verify_attrs};
    int s = sl->signal;
    sl->n = it->b->n;
    struct core_buf *dst = slot_gzip(x, s) ? &x->enc : &sl->body;
    core_buf_reset(dst);
    core_buf_reset(&sl->body);
    int rc = wire_otlp_pb_encode(dst, it->b, &opts);
    export__release(&x->o, it);
    if (rc == 0 && dst == &x->enc)
        rc = wire_gzip(&sl->body, x->enc.p, x->enc.len, GZIP_LEVEL);
    if (x->enc.cap > (4u << 20) && x->enc.len < (1u << 20)) {
        core_buf_free(&x->enc); /* one huge batch should not pin its buffer for the run */
        core_buf_init(&x->enc, EXPORT__MAX_BODY);
    }
    return rc;
}

/* Takes queued batches into idle slots. 1 if it started anything. */
static int fill(struct http *x, uint64_t now, int stopping, uint64_t deadline)
{
    int progress = 0;
    for (int s = 0; s < REC_NSIGNALS; s++) {
        for (int i = 0; x->slots[s] && i < x->cfg.max_concurrent; i++) {
            struct slot *sl = &x->slots[s][i];
            struct export__item it;
            if (sl->state != SLOT_IDLE || !export__take(&x->o, s, &it))
                continue;
            progress = 1;
            if (slot_fill(x, sl, &it) != 0) {
                export__dropped(&x->o, s, sl->n, EXPORT_DROP_ENCODE);
                log_failure(x, now, "a batch of %llu %s is too large to encode; dropped",
                            (unsigned long long)sl->n, rec_signal_names[s]);
                continue;
            }
            sl->attempt = 0;
            sl->first_ns = now;
            slot_send(x, sl, now, stopping, deadline);
        }
    }
    return progress;
}

/* Waiting slots whose time has come are sent again; once stopping, a retry that would come
 * after the deadline is given up now, so shutdown ends as soon as nothing useful is left.
 * 1 if it gave anything up (a slot became free). */
static int kick_due(struct http *x, uint64_t now, int stopping, uint64_t deadline)
{
    int freed = 0;
    for (int s = 0; s < REC_NSIGNALS; s++) {
        for (int i = 0; x->slots[s] && i < x->cfg.max_concurrent; i++) {
            struct slot *sl = &x->slots[s][i];
            if (sl->state != SLOT_WAITING)
                continue;
            if (stopping && sl->due_ns >= deadline) {
                export__dropped(&x->o, s, sl->n, EXPORT_DROP_SHUTDOWN);
                sl->state = SLOT_IDLE;
                freed = 1;
            } else if (sl->due_ns <= now) {
                slot_send(x, sl, now, stopping, deadline);
            }
        }
    }
    return freed;
}

/* ---- responses ---------------------------------------------------------------------------- */

static void on_ok(struct http *x, struct slot *sl, uint64_t now)
{
    int s = sl->signal;
    int64_t rejected = 0;
    char msg[256];
    export__latency(&x->o, s, now - sl->attempt_ns);
    if (sl->resp.len > 0 &&
        export_otlp_partial_success(sl->resp.p, sl->resp.len, &rejected, msg, sizeof msg) != 0) {
        core_debug("%s: unreadable response body (%zu bytes) taken as full success", x->o.name,
                   sl->resp.len);
        rejected = 0;
    }
    if (rejected < 0)
        rejected = 0;
    if ((uint64_t)rejected > sl->n)
        rejected = (int64_t)sl->n;
    export__delivered(&x->o, s, sl->n - (uint64_t)rejected);
    if (rejected > 0) {
        export__dropped(&x->o, s, (uint64_t)rejected, EXPORT_DROP_REJECTED);
        log_failure(x, now, "collector rejected %lld of %llu %s (partial success): %s",
                    (long long)rejected, (unsigned long long)sl->n, rec_signal_names[s],
                    msg[0] ? msg : "(no message)");
    } else {
        log_success(x);
    }
    sl->state = SLOT_IDLE;
}

static void on_response(struct http *x, struct slot *sl, CURLcode res, long status,
                        const char *retry_after)
{
    uint64_t now = core_mono_ns();
    uint64_t deadline;
    int stopping = export__stopping(&x->o, &deadline);
    int s = sl->signal;
    uint64_t delay = 0;
    int v = export_retry_policy(res == CURLE_OK ? (int)status : 0, retry_after, sl->attempt + 1,
                                x->cfg.retry_initial_ns, x->cfg.retry_max_ns, core_wall_ns(),
                                &x->rng, &delay);
    if (v == EXPORT_OK) {
        on_ok(x, sl, now);
        return;
    }
    export__count(&x->o.c[s].failed_requests, 1);
    char what[CURL_ERROR_SIZE + 32];
    if (res != CURLE_OK)
        snprintf(what, sizeof what, "%s", sl->errbuf[0] ? sl->errbuf : curl_easy_strerror(res));
    else
        snprintf(what, sizeof what, "HTTP %ld", status);
    sl->state = SLOT_IDLE;
    if (v == EXPORT_FAIL) {
        char body[128];
        body_snippet(&sl->resp, body, sizeof body);
        export__dropped(&x->o, s, sl->n, EXPORT_DROP_REJECTED);
        log_failure(x, now, "POST %s: %s%s%s; %llu %s dropped (not retryable)", x->cfg.url[s], what,
                    body[0] ? ": " : "", body, (unsigned long long)sl->n, rec_signal_names[s]);
    } else if (now + delay > sl->first_ns + x->cfg.retry_budget_ns) {
        export__dropped(&x->o, s, sl->n, EXPORT_DROP_RETRIES);
        log_failure(x, now, "POST %s: %s; retry budget used up, %llu %s dropped", x->cfg.url[s],
                    what, (unsigned long long)sl->n, rec_signal_names[s]);
    } else if (stopping && now + delay >= deadline) {
        export__dropped(&x->o, s, sl->n, EXPORT_DROP_SHUTDOWN);
    } else {
        char d[32];
        core_format_duration(delay, d, sizeof d);
        log_failure(x, now, "POST %s: %s; retrying in %s", x->cfg.url[s], what, d);
        sl->attempt++;
        sl->due_ns = now + delay;
        sl->state = SLOT_WAITING;
    }
}

/* Handles finished transfers. 1 if there were any. */
static int collect(struct http *x)
{
    int progress = 0, left;
    CURLMsg *m;
    while ((m = curl_multi_info_read(x->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURL *e = m->easy_handle;
        CURLcode res = m->data.result;
        char *priv = NULL;
        long status = 0;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv);
        struct slot *sl = (struct slot *)priv;
        if (res == CURLE_OK)
            curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        struct curl_header *h = NULL;
        const char *ra = NULL;
        if (res == CURLE_OK &&
            curl_easy_header(e, "Retry-After", 0, CURLH_HEADER, -1, &h) == CURLHE_OK)
            ra = h->value;
        /* Read the header before remove_handle: curl may drop it with the transfer. */
        char ra_copy[128];
        if (ra)
            snprintf(ra_copy, sizeof ra_copy, "%s", ra);
        curl_multi_remove_handle(x->multi, e);
        on_response(x, sl, res, status, ra ? ra_copy : NULL);
        progress = 1;
    }
    return progress;
}

/* ---- the thread --------------------------------------------------------------------------- */

static int all_idle(const struct http *x)
{
    for (int s = 0; s < REC_NSIGNALS; s++) {
        for (int i = 0; x->slots[s] && i < x->cfg.max_concurrent; i++) {
            if (x->slots[s][i].state != SLOT_IDLE)
                return 0;
        }
    }
    return 1;
}

/* How long curl_multi_poll may sleep: until the next retry, or the deadline, at most 1 s. */
static int poll_ms(const struct http *x, uint64_t now, int stopping, uint64_t deadline)
{
    uint64_t until = now + 1000000000ULL;
    if (stopping && deadline < until)
        until = deadline;
    for (int s = 0; s < REC_NSIGNALS; s++) {
        for (int i = 0; x->slots[s] && i < x->cfg.max_concurrent; i++) {
            const struct slot *sl = &x->slots[s][i];
            if (sl->state == SLOT_WAITING && sl->due_ns < until)
                until = sl->due_ns;
        }
    }
    if (until <= now)
        return 0;
    return (int)((until - now + 999999) / 1000000); /* round up: never wake early and spin */
}

/* At the deadline: whatever is still held is dropped(shutdown). */
static void abandon(struct http *x)
{
    for (int s = 0; s < REC_NSIGNALS; s++) {
        for (int i = 0; x->slots[s] && i < x->cfg.max_concurrent; i++) {
            struct slot *sl = &x->slots[s][i];
            if (sl->state == SLOT_IDLE)
                continue;
            if (sl->state == SLOT_ACTIVE)
                curl_multi_remove_handle(x->multi, sl->easy);
            export__dropped(&x->o, s, sl->n, EXPORT_DROP_SHUTDOWN);
            sl->state = SLOT_IDLE;
        }
    }
    export__drain_dropped(&x->o, EXPORT_DROP_SHUTDOWN);
}

static void *http_main(void *arg)
{
    struct http *x = arg;
    for (;;) {
        uint64_t deadline = 0;
        int stopping = export__stopping(&x->o, &deadline);
        uint64_t now = core_mono_ns();
        if (stopping && now >= deadline)
            break;
        int progress = fill(x, now, stopping, deadline);
        progress |= kick_due(x, now, stopping, deadline);
        int running = 0;
        curl_multi_perform(x->multi, &running);
        progress |= collect(x);
        if (stopping && all_idle(x) && !progress)
            break; /* fill found nothing queued, nothing is in flight: drained */
        if (progress)
            continue;
        curl_multi_poll(x->multi, NULL, 0, poll_ms(x, core_mono_ns(), stopping, deadline), NULL);
    }
    abandon(x);
    return NULL;
}

static int http_start(struct export_output *o)
{
    struct http *x = (struct http *)o;
    if (export__thread_create(&x->thread, http_main, x) != 0)
        return DIO_ENOMEM;
    x->started = 1;
    return 0;
}

static void http_wake(struct export_output *o)
{
    curl_multi_wakeup(((struct http *)o)->multi);
}

static void http_join(struct export_output *o)
{
    struct http *x = (struct http *)o;
    if (x->started) {
        curl_multi_wakeup(x->multi);
        pthread_join(x->thread, NULL);
        x->started = 0;
    }
}

static void http_destroy(struct export_output *o)
{
    struct http *x = (struct http *)o;
    http_join(o);
    for (int s = 0; s < REC_NSIGNALS; s++) {
        for (int i = 0; x->slots[s] && i < x->cfg.max_concurrent; i++)
            slot_free(&x->slots[s][i]);
        core_free(x->slots[s]);
        curl_slist_free_all(x->hdrs[s]);
    }
    curl_multi_cleanup(x->multi);
    core_buf_free(&x->enc);
    export_otlp_http_cfg_free(&x->cfg);
    export__output_fini(o);
    core_free(x);
}

static const struct export_output_ops http_ops = {
    .kind = "otlp_http",
    .start = http_start,
    .wake = http_wake,
    .join = http_join,
    .destroy = http_destroy,
};

static char **dup_headers(char **h)
{
    size_t n = 0;
    while (h && h[n])
        n++;
    if (n == 0)
        return NULL;
    char **d = core_calloc(n + 1, sizeof *d);
    for (size_t i = 0; i < n; i++)
        d[i] = core_strdup(h[i]);
    return d;
}

struct export_output *export_otlp_http_new(const struct export_otlp_http_cfg *cfg)
{
    pthread_once(&curl_once, curl_init_once);
    struct http *x = core_calloc(1, sizeof *x);
    export__output_init(&x->o, &http_ops, cfg->verify_attrs);
    x->cfg = *cfg;
    x->cfg.headers = dup_headers(cfg->headers);
    if (x->cfg.max_concurrent <= 0)
        x->cfg.max_concurrent = 4;
    if (x->cfg.timeout_ns == 0)
        x->cfg.timeout_ns = 10ULL * 1000000000ULL;
    x->multi = curl_multi_init();
    if (!x->multi) {
        core_error("export: curl_multi_init failed");
        abort();
    }
    core_buf_init(&x->enc, EXPORT__MAX_BODY);
    core_rng_init(&x->rng, cfg->seed, 0x6f746c70 /* "otlp" */, 1);
    for (int s = 0; s < REC_NSIGNALS; s++) {
        x->cfg.url[s] = cfg->url[s] ? core_strdup(cfg->url[s]) : NULL;
        x->cfg.signal_headers[s] = dup_headers(cfg->signal_headers[s]);
        if (!x->cfg.url[s]) {
            x->o.signals &= ~(1u << s);
            continue;
        }
        x->hdrs[s] = build_headers(&x->cfg, s, slot_gzip(x, s));
        x->slots[s] = core_calloc((size_t)x->cfg.max_concurrent, sizeof *x->slots[s]);
        for (int i = 0; i < x->cfg.max_concurrent; i++)
            slot_setup(x, &x->slots[s][i], s);
    }
    return &x->o;
}
