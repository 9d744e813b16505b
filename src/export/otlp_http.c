/* HTTP push outputs: OTLP/HTTP (protobuf or JSON bodies) and, through the same machinery,
 * InfluxDB line protocol (influx.c). One thread per output drives a libcurl multi handle; a
 * format (struct export__http_fmt) says how a batch becomes a body and how an answer is read,
 * everything else (slots, retries, accounting, logging) is shared.
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
 * (dropped(retries)); anything else dropped(rejected).
 *
 * A request whose body was sent in full but that got no answer (timeout, connection lost, cut
 * at the shutdown deadline) may have been processed by the peer. A batch with such an attempt
 * that is finally given up on is counted timed_out, not dropped: the receiver may hold it, and
 * saying "dropped" would be a wrong account. (One that later succeeds is delivered; the peer
 * may then hold it twice, which is OTLP's at-least-once delivery.) */
#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/internal.h"
#include "wire/wire.h"

#define RESP_MAX 65536 /* response bytes kept for partial_success and error messages */
#define DIGEST_NS (5ULL * 1000000000ULL) /* at most one problem line per output this often */
#define DIGEST_CAUSES 6
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
    int maybe_sent;      /* an attempt sent the whole body and got no answer */
    uint64_t first_ns;   /* first attempt: the retry budget counts from here */
    uint64_t attempt_ns; /* this attempt */
    uint64_t due_ns;     /* waiting: when to try again */
    char errbuf[CURL_ERROR_SIZE];
};

/* Problems seen in the current log interval (see note()). */
struct digest {
    uint64_t open_ns; /* 0: quiet; else when the current interval began */
    uint64_t events, dropped, timed_out;
    struct {
        char what[40];
        uint64_t n;
    } cause[DIGEST_CAUSES];
    uint64_t other_causes;
    char last[400]; /* the latest problem in full */
};

struct http {
    struct export_output o; /* first: the hub sees this */
    struct export_otlp_http_cfg cfg;
    const struct export__http_fmt *fmt[REC_NSIGNALS];
    char shown[REC_NSIGNALS][512]; /* url[] with credentials masked, for messages */
    CURLM *multi;
    struct curl_slist *hdrs[REC_NSIGNALS];
    struct slot *slots[REC_NSIGNALS]; /* [cfg.max_concurrent] each; none for unset urls */
    struct core_buf enc;              /* protobuf before gzip */
    struct core_rng rng;
    pthread_t thread;
    int started;
    struct digest dg;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- logging ------------------------------------------------------------------------------ */

/* A flaky or failing collector must not flood stderr (with 20% of requests failing, one line
 * per failure is dozens a minute). The first problem after a quiet interval is logged at once,
 * in full; the ones after it are counted by cause and summed up in one line per DIGEST_NS
 * ("12 failures in the last 5s (HTTP 503 x11, timeout x1), 1024 records dropped; last: ..."),
 * so an output writes at most one line per interval however many requests fail. */
static void add_cause(struct digest *d, const char *what)
{
    for (int i = 0; i < DIGEST_CAUSES; i++) {
        if (!d->cause[i].n || !strcmp(d->cause[i].what, what)) {
            if (!d->cause[i].n)
                snprintf(d->cause[i].what, sizeof d->cause[i].what, "%s", what);
            d->cause[i].n++;
            return;
        }
    }
    d->other_causes++;
}

static void note(struct http *x, uint64_t now, const char *cause, uint64_t dropped,
                 uint64_t timed_out, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void note(struct http *x, uint64_t now, const char *cause, uint64_t dropped,
                 uint64_t timed_out, const char *fmt, ...)
{
    struct digest *d = &x->dg;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->last, sizeof d->last, fmt, ap);
    va_end(ap);
    if (!d->open_ns) {
        core_warn("%s: %s", x->o.name, d->last);
        d->open_ns = now ? now : 1;
        return;
    }
    d->events++;
    d->dropped += dropped;
    d->timed_out += timed_out;
    add_cause(d, cause);
}

static void digest_causes(const struct digest *d, char *out, size_t n)
{
    size_t len = 0;
    out[0] = 0;
    for (int i = 0; i < DIGEST_CAUSES && d->cause[i].n && len < n; i++)
        len += (size_t)snprintf(out + len, n - len, "%s%s x%llu", i ? ", " : "", d->cause[i].what,
                                (unsigned long long)d->cause[i].n);
    if (d->other_causes && len < n)
        snprintf(out + len, n - len, ", other x%llu", (unsigned long long)d->other_causes);
}

/* Ends the interval when it is over (or, with force, now): one line if anything happened. */
static void digest_tick(struct http *x, uint64_t now, int force)
{
    struct digest *d = &x->dg;
    if (!d->open_ns || (!force && now - d->open_ns < DIGEST_NS))
        return;
    if (d->events == 0) {
        d->open_ns = 0; /* quiet: the next problem is logged at once again */
        return;
    }
    char causes[300], span[32], extra[128] = "";
    digest_causes(d, causes, sizeof causes);
    core_format_duration(now - d->open_ns, span, sizeof span);
    int k = 0;
    if (d->dropped)
        k = snprintf(extra, sizeof extra, ", %llu records dropped", (unsigned long long)d->dropped);
    if (d->timed_out)
        snprintf(extra + k, sizeof extra - (size_t)k, ", %llu records timed out (may have arrived)",
                 (unsigned long long)d->timed_out);
    core_warn("%s: %llu failures in the last %s (%s)%s; last: %s", x->o.name,
              (unsigned long long)d->events, span, causes, extra, d->last);
    memset(d, 0, sizeof *d);
    d->open_ns = force ? 0 : now;
}

/* A short, stable name for what went wrong, to count by. */
static void cause_of(CURLcode res, long status, char *out, size_t n)
{
    if (res == CURLE_OK)
        snprintf(out, n, "HTTP %ld", status);
    else if (res == CURLE_OPERATION_TIMEDOUT)
        snprintf(out, n, "timeout");
    else if (res == CURLE_COULDNT_CONNECT)
        snprintf(out, n, "cannot connect");
    else
        snprintf(out, n, "%s", curl_easy_strerror(res));
}

/* A response body for an error message, never raw bytes: text as is (control characters as
 * spaces, cut with "..."); an OTLP error (a protobuf google.rpc.Status { int32 code = 1;
 * string message = 2; ... }) as its code and message; other binary as its length and first
 * bytes in hex. out is always NUL-terminated and at most n bytes. */
static int text_like(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((p[i] < 0x20 && p[i] != '\t' && p[i] != '\r' && p[i] != '\n') || p[i] == 0x7f)
            return 0;
    return 1;
}

static void put_text(const uint8_t *p, size_t len, char *out, size_t n)
{
    size_t room = n - 4, k = 0; /* room for "..." */
    for (size_t i = 0; i < len && k < room; i++)
        out[k++] = p[i] < 0x20 ? ' ' : (char)p[i];
    snprintf(out + k, n - k, "%s", len > k ? "..." : "");
}

static int varint(const uint8_t *p, size_t len, size_t *i, uint64_t *v)
{
    *v = 0;
    for (int sh = 0; *i < len && sh < 64; sh += 7) {
        uint8_t c = p[(*i)++];
        *v |= (uint64_t)(c & 0x7f) << sh;
        if (!(c & 0x80))
            return 0;
    }
    return -1;
}

/* google.rpc.Status: code and message, if that is what p holds (only fields 1-3, valid). */
static int rpc_status(const uint8_t *p, size_t len, uint64_t *code, const uint8_t **msg,
                      size_t *mlen)
{
    size_t i = 0;
    *code = 0, *msg = NULL, *mlen = 0;
    while (i < len) {
        uint8_t tag = p[i++];
        uint64_t v;
        if (varint(p, len, &i, &v))
            return -1;
        if (tag == 0x08)
            *code = v;
        else if ((tag == 0x12 || tag == 0x1a) && v <= len - i) {
            if (tag == 0x12)
                *msg = p + i, *mlen = (size_t)v;
            i += (size_t)v;
        } else
            return -1;
    }
    return *msg && text_like(*msg, *mlen) ? 0 : -1;
}

static void body_snippet(const struct core_buf *b, char *out, size_t n)
{
    uint64_t code;
    const uint8_t *msg;
    size_t mlen, k;
    out[0] = 0;
    if (b->len == 0 || n < 64)
        return;
    if (text_like(b->p, b->len)) {
        put_text(b->p, b->len, out, n);
    } else if (rpc_status(b->p, b->len, &code, &msg, &mlen) == 0) {
        k = (size_t)snprintf(out, n, "status %llu: ", (unsigned long long)code);
        put_text(msg, mlen, out + k, n - k);
    } else {
        k = (size_t)snprintf(out, n, "%zu bytes of binary:", b->len);
        for (size_t i = 0; i < b->len && i < 12 && k + 4 < n; i++)
            k += (size_t)snprintf(out + k, n - k, " %02x", b->p[i]);
        snprintf(out + k, n - k, "%s", b->len > 12 ? " ..." : "");
    }
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

static struct curl_slist *build_headers(const struct http *x, int s, int gzip)
{
    const struct export_otlp_http_cfg *cfg = &x->cfg;
    struct curl_slist *l = NULL;
    l = curl_slist_append(l, x->fmt[s]->content_type);
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

/* Encodes the batch into the slot's body and gives the batch back. 0 or DIO_EFULL. Records
 * the format left out are counted dropped(encode) here; sl->n is what the body holds. */
static int slot_fill(struct http *x, struct slot *sl, struct export__item *it)
{
    int s = sl->signal;
    uint32_t skipped = 0;
    sl->n = it->b->n;
    struct core_buf *dst = slot_gzip(x, s) ? &x->enc : &sl->body;
    core_buf_reset(dst);
    core_buf_reset(&sl->body);
    int rc = x->fmt[s]->encode(dst, it->b, x->o.verify_attrs, &skipped);
    export__release(&x->o, it);
    if (rc == 0 && skipped) {
        export__dropped(&x->o, s, skipped, EXPORT_DROP_ENCODE);
        sl->n -= skipped;
    }
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
                note(x, now, "too large", sl->n, 0,
                     "a batch of %llu %s is too large to encode; dropped",
                     (unsigned long long)sl->n, rec_signal_names[s]);
                continue;
            }
            sl->attempt = 0;
            sl->maybe_sent = 0;
            sl->first_ns = now;
            slot_send(x, sl, now, stopping, deadline);
        }
    }
    return progress;
}

/* The slot's batch is given up on: timed_out when an attempt may have arrived (see the top),
 * else dropped(reason). Returns which of the two it counted, for the log. */
static int give_up(struct http *x, struct slot *sl, int reason)
{
    if (sl->maybe_sent)
        export__timed_out(&x->o, sl->signal, sl->n);
    else
        export__dropped(&x->o, sl->signal, sl->n, reason);
    sl->state = SLOT_IDLE;
    return sl->maybe_sent;
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
                give_up(x, sl, EXPORT_DROP_SHUTDOWN);
                freed = 1;
            } else if (sl->due_ns <= now) {
                slot_send(x, sl, now, stopping, deadline);
            }
        }
    }
    return freed;
}

/* ---- responses ---------------------------------------------------------------------------- */

/* The peer took the request; `rejected` of its records it refused (partial success). */
static void on_ok(struct http *x, struct slot *sl, uint64_t now, uint64_t rejected, const char *msg)
{
    int s = sl->signal;
    export__latency(&x->o, s, now - sl->attempt_ns);
    if (rejected > sl->n)
        rejected = sl->n;
    export__delivered(&x->o, s, sl->n - rejected);
    if (rejected > 0) {
        export__dropped(&x->o, s, rejected, EXPORT_DROP_REJECTED);
        note(x, now, "partial success", rejected, 0,
             "peer rejected %llu of %llu %s (partial success): %s", (unsigned long long)rejected,
             (unsigned long long)sl->n, rec_signal_names[s], msg[0] ? msg : "(no message)");
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
    uint64_t delay = 0, rejected = 0;
    char msg[256] = "";
    if (res == CURLE_OK &&
        x->fmt[s]->accepted(status, &sl->resp, sl->n, &rejected, msg, sizeof msg)) {
        on_ok(x, sl, now, rejected, msg);
        return;
    }
    int st = res == CURLE_OK ? (int)status : 0;
    if (x->fmt[s]->retry_5xx && st >= 500 && st <= 599)
        st = 503; /* the policy retries 503 (and honours Retry-After) */
    int v = export_retry_policy(st, retry_after, sl->attempt + 1, x->cfg.retry_initial_ns,
                                x->cfg.retry_max_ns, core_wall_ns(), &x->rng, &delay);
    if (v == EXPORT_OK) { /* a 2xx the format did not take: nothing to read, all delivered */
        on_ok(x, sl, now, 0, "");
        return;
    }
    export__count(&x->o.c[s].failed_requests, 1);
    char what[CURL_ERROR_SIZE + 32], cause[64];
    if (res != CURLE_OK)
        snprintf(what, sizeof what, "%s", sl->errbuf[0] ? sl->errbuf : curl_easy_strerror(res));
    else
        snprintf(what, sizeof what, "HTTP %ld", status);
    cause_of(res, status, cause, sizeof cause);
    sl->state = SLOT_IDLE;
    if (v == EXPORT_FAIL) {
        char body[128];
        body_snippet(&sl->resp, body, sizeof body);
        export__dropped(&x->o, s, sl->n, EXPORT_DROP_REJECTED);
        note(x, now, cause, sl->n, 0, "POST %s: %s%s%s; %llu %s dropped (not retryable)",
             x->shown[s], what, body[0] ? ": " : "", body, (unsigned long long)sl->n,
             rec_signal_names[s]);
    } else if (now + delay > sl->first_ns + x->cfg.retry_budget_ns) {
        int t = give_up(x, sl, EXPORT_DROP_RETRIES);
        note(x, now, cause, t ? 0 : sl->n, t ? sl->n : 0,
             "POST %s: %s; retry budget used up, %llu %s %s", x->shown[s], what,
             (unsigned long long)sl->n, rec_signal_names[s],
             t ? "timed out (may have arrived)" : "dropped");
    } else if (stopping && now + delay >= deadline) {
        give_up(x, sl, EXPORT_DROP_SHUTDOWN);
    } else {
        char d[32];
        core_format_duration(delay, d, sizeof d);
        note(x, now, cause, 0, 0, "POST %s: %s; retrying in %s", x->shown[s], what, d);
        sl->attempt++;
        sl->due_ns = now + delay;
        sl->state = SLOT_WAITING;
    }
}

/* A transfer ended without an answer: if the whole body went out, the peer may have it. */
static void note_unanswered(struct slot *sl)
{
    curl_off_t up = 0;
    if (curl_easy_getinfo(sl->easy, CURLINFO_SIZE_UPLOAD_T, &up) == CURLE_OK && up >= 0 &&
        (size_t)up >= sl->body.len)
        sl->maybe_sent = 1;
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
        else
            note_unanswered(sl);
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

/* At the deadline: whatever is still held is dropped(shutdown), or timed_out when a request
 * with it was sent in full (the one cut now, or an earlier one). */
static void abandon(struct http *x)
{
    uint64_t timed_out = 0;
    for (int s = 0; s < REC_NSIGNALS; s++) {
        for (int i = 0; x->slots[s] && i < x->cfg.max_concurrent; i++) {
            struct slot *sl = &x->slots[s][i];
            if (sl->state == SLOT_IDLE)
                continue;
            if (sl->state == SLOT_ACTIVE) {
                note_unanswered(sl);
                curl_multi_remove_handle(x->multi, sl->easy);
            }
            if (give_up(x, sl, EXPORT_DROP_SHUTDOWN))
                timed_out += sl->n;
        }
    }
    export__drain_dropped(&x->o, EXPORT_DROP_SHUTDOWN);
    digest_tick(x, core_mono_ns(), 1);
    if (timed_out)
        core_warn("%s: shutdown deadline: %llu records were sent but not answered in time "
                  "(timed out, may have arrived)",
                  x->o.name, (unsigned long long)timed_out);
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
        digest_tick(x, now, 0);
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

int export__http_start(struct export_output *o)
{
    struct http *x = (struct http *)o;
    if (export__thread_create(&x->thread, http_main, x) != 0)
        return DIO_ENOMEM;
    x->started = 1;
    return 0;
}

void export__http_wake(struct export_output *o)
{
    curl_multi_wakeup(((struct http *)o)->multi);
}

void export__http_join(struct export_output *o)
{
    struct http *x = (struct http *)o;
    if (x->started) {
        curl_multi_wakeup(x->multi);
        pthread_join(x->thread, NULL);
        x->started = 0;
    }
}

void export__http_destroy(struct export_output *o)
{
    struct http *x = (struct http *)o;
    export__http_join(o);
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
    .start = export__http_start,
    .wake = export__http_wake,
    .join = export__http_join,
    .destroy = export__http_destroy,
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

struct export_output *export__http_new(const struct export_otlp_http_cfg *cfg,
                                       const struct export__http_fmt *const fmt[REC_NSIGNALS],
                                       const struct export_output_ops *ops)
{
    pthread_once(&curl_once, curl_init_once);
    struct http *x = core_calloc(1, sizeof *x);
    export__output_init(&x->o, ops, cfg->verify_attrs);
    memcpy(x->fmt, fmt, sizeof x->fmt);
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
        if (x->cfg.url[s])
            export_url_mask(x->cfg.url[s], x->shown[s], sizeof x->shown[s]);
        x->cfg.signal_headers[s] = dup_headers(cfg->signal_headers[s]);
        if (!x->cfg.url[s]) {
            x->o.signals &= ~(1u << s);
            continue;
        }
        x->hdrs[s] = build_headers(x, s, slot_gzip(x, s));
        x->slots[s] = core_calloc((size_t)x->cfg.max_concurrent, sizeof *x->slots[s]);
        for (int i = 0; i < x->cfg.max_concurrent; i++)
            slot_setup(x, &x->slots[s][i], s);
    }
    return &x->o;
}

/* ---- OTLP formats ------------------------------------------------------------------------- */

static int otlp_pb_encode(struct core_buf *out, const struct rec_batch *b, int verify,
                          uint32_t *skipped)
{
    struct wire_otlp_opts opts = {verify};
    *skipped = 0;
    return wire_otlp_pb_encode(out, b, &opts);
}

/* The body is one OTLP/JSON request; the encoder ends it with a newline, which JSON ignores. */
static int otlp_json_encode(struct core_buf *out, const struct rec_batch *b, int verify,
                            uint32_t *skipped)
{
    struct wire_otlp_opts opts = {verify};
    *skipped = 0;
    return wire_otlp_json_encode(out, b, &opts);
}

/* 2xx: taken, minus partial_success rejections. An unreadable body is taken as full success
 * (the spec's answer to a collector that sends something else). */
static int otlp_accepted(long status, const struct core_buf *resp, int json, uint64_t *rejected,
                         char *msg, size_t msglen)
{
    int64_t r = 0;
    if (status < 200 || status > 299)
        return 0;
    int rc = 0;
    if (resp->len > 0)
        rc = json ? export_otlp_partial_success_json(resp->p, resp->len, &r, msg, msglen)
                  : export_otlp_partial_success(resp->p, resp->len, &r, msg, msglen);
    if (rc != 0) {
        core_debug("otlp_http: unreadable response body (%zu bytes) taken as full success",
                   resp->len);
        r = 0;
    }
    *rejected = r > 0 ? (uint64_t)r : 0;
    return 1;
}

static int otlp_pb_accepted(long status, const struct core_buf *resp, uint64_t n,
                            uint64_t *rejected, char *msg, size_t msglen)
{
    (void)n;
    return otlp_accepted(status, resp, 0, rejected, msg, msglen);
}

static int otlp_json_accepted(long status, const struct core_buf *resp, uint64_t n,
                              uint64_t *rejected, char *msg, size_t msglen)
{
    (void)n;
    return otlp_accepted(status, resp, 1, rejected, msg, msglen);
}

static const struct export__http_fmt otlp_pb = {"Content-Type: application/x-protobuf",
                                                otlp_pb_encode, otlp_pb_accepted, 0};
static const struct export__http_fmt otlp_json = {"Content-Type: application/json",
                                                  otlp_json_encode, otlp_json_accepted, 0};

struct export_output *export_otlp_http_new(const struct export_otlp_http_cfg *cfg)
{
    const struct export__http_fmt *fmt[REC_NSIGNALS];
    for (int s = 0; s < REC_NSIGNALS; s++)
        fmt[s] = cfg->protocol[s] == EXPORT_OTLP_HTTP_JSON ? &otlp_json : &otlp_pb;
    return export__http_new(cfg, fmt, &http_ops);
}
