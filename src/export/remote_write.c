/* Prometheus remote write output (1.0 and 2.0): one thread driving a libcurl multi handle.
 *
 * Order. Receivers reject a sample older than the newest one they hold for its series (1.0
 * spec: "samples of one series in timestamp order"; Prometheus answers 400 out of order). So
 * every series belongs to one shard (by a hash of its point identity), and a shard has at
 * most one request on the wire: the next one is built while it flies and goes when it is
 * answered, a retry blocks the shard. Shards run in parallel (--remote-write-shards).
 *
 * Batching by samples, not records: a shard fills a request (wire_rw_req) with the points of
 * hub batches until it holds max_samples samples (default 2000, Prometheus'
 * max_samples_per_send), or sends what it has at once when its link is idle. A hub batch is
 * given back as soon as all its points are in requests; a batch whose points do not fit yet
 * stays held (cur) and back-pressure reaches the engine through the pool.
 *
 * Responses (1.0 and 2.0 specs): 2xx delivered; 5xx and 429 retried with backoff (Retry-After
 * honoured) until the budget (60 s from the first attempt) is used up, then dropped(retries);
 * other 4xx dropped(rejected), never retried; a 415 to a 2.0 request switches the output to
 * 1.0 for the rest of the run (logged once) and re-sends the same samples as 1.0. Transport
 * failures retry; a request sent in full and never answered is timed_out when given up on
 * (may have arrived), as for OTLP/HTTP. Accounting is in metric points (the hub's records);
 * samples are counted beside them (export_rw_stats).
 *
 * Credentials: user:password@ in the URL is basic auth (curl takes it from the URL), the
 * bearer token comes from cfg; neither is ever logged (messages use the masked URL). */
#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/internal.h"
#include "wire/wire.h"

#define RW_DIGEST_NS (5ULL * 1000000000ULL)
#define RW_SERIES_CAP (1u << 20) /* distinct series remembered for the summary */
#define RW_RESP_MAX 4096

enum { SH_IDLE, SH_ACTIVE, SH_WAITING };

struct shard {
    struct rw *x;
    struct wire_rw_req *build, *fly;
    uint64_t build_pts, fly_pts; /* metric points (records) in each */
    int fly_version;
    int state, attempt, maybe_sent;
    uint64_t first_ns, attempt_ns, due_ns;
    CURL *easy;
    struct curl_slist *hdrs;
    struct core_buf body, resp;
    char errbuf[CURL_ERROR_SIZE];
};

struct rw {
    struct export_output o; /* first: the hub sees this */
    struct export_rw_cfg cfg;
    char *url, *shown, *auth;
    _Atomic int version; /* 2 until a 415 says otherwise */
    CURLM *multi;
    struct shard *sh;
    struct export__item cur; /* a batch whose points are being taken (cur.b NULL: none) */
    uint32_t cur_i;
    struct core_rng rng;
    pthread_t thread;
    int started, warned_unwritable, warned_fallback;
    uint64_t log_open_ns, log_events;
    char log_last[400];
    /* summary numbers (atomics: the CLI reads them after join, /metrics never) */
    _Atomic uint64_t samples_sent, samples_delivered, unwritable;
    _Atomic uint64_t w_samples, w_hist, w_exemplars, w_mismatch, w_missing;
    uint64_t *seen; /* open-addressing set of series hashes; 0 = empty */
    uint32_t nseen, seen_cap;
    int seen_full;
};

static pthread_once_t rw_curl_once = PTHREAD_ONCE_INIT;

static void rw_curl_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- logging: the first problem at once, then one line per 5 s at most ------------------ */

static void note(struct rw *x, uint64_t now, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void note(struct rw *x, uint64_t now, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->log_last, sizeof x->log_last, fmt, ap);
    va_end(ap);
    if (!x->log_open_ns) {
        core_warn("%s: %s", x->o.name, x->log_last);
        x->log_open_ns = now ? now : 1;
        return;
    }
    x->log_events++;
}

static void log_tick(struct rw *x, uint64_t now, int force)
{
    if (!x->log_open_ns || (!force && now - x->log_open_ns < RW_DIGEST_NS))
        return;
    if (x->log_events)
        core_warn("%s: %llu more problems in the last %.1fs; last: %s", x->o.name,
                  (unsigned long long)x->log_events, (double)(now - x->log_open_ns) / 1e9,
                  x->log_last);
    x->log_open_ns = x->log_events && !force ? now : 0;
    x->log_events = 0;
}

/* ---- URL ------------------------------------------------------------------------------------ */

int export_rw_url_check(const char *url, char *err, size_t errlen)
{
    char shown[512];
    export_rw_url_mask(url, shown, sizeof shown);
    int rc = export_otlp_url_check(url, "--remote-write", err, errlen);
    if (rc)
        snprintf(err, errlen,
                 "--remote-write: '%s' is not an http:// or https:// URL with a "
                 "host (and a port 1..65535 when given)",
                 shown);
    return rc;
}

void export_rw_url_mask(const char *url, char *out, size_t n)
{
    const char *host = strstr(url, "://");
    host = host ? host + 3 : url;
    const char *at = strchr(host, '@'), *slash = strchr(host, '/');
    if (at && (!slash || at < slash))
        snprintf(out, n, "%.*s****%s", (int)(host - url), url, at);
    else
        snprintf(out, n, "%s", url);
}

/* ---- series seen (for "N series" in the summary) ------------------------------------------ */

static void seen_add(void *ctx, uint64_t h)
{
    struct rw *x = ctx;
    h |= 1; /* 0 marks an empty slot */
    if (x->nseen * 2 >= x->seen_cap) {
        if (x->seen_cap >= 2 * RW_SERIES_CAP) {
            x->seen_full = 1;
            return;
        }
        uint32_t cap = x->seen_cap ? x->seen_cap * 2 : 4096;
        uint64_t *t = core_calloc(cap, sizeof *t);
        for (uint32_t i = 0; i < x->seen_cap; i++) {
            if (!x->seen[i])
                continue;
            uint32_t j = (uint32_t)core_mix64(x->seen[i]) & (cap - 1);
            while (t[j])
                j = (j + 1) & (cap - 1);
            t[j] = x->seen[i];
        }
        core_free(x->seen);
        x->seen = t, x->seen_cap = cap;
    }
    uint32_t j = (uint32_t)core_mix64(h) & (x->seen_cap - 1);
    for (; x->seen[j]; j = (j + 1) & (x->seen_cap - 1))
        if (x->seen[j] == h)
            return;
    x->seen[j] = h;
    x->nseen++;
}

/* ---- requests ------------------------------------------------------------------------------ */

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    struct shard *s = ud;
    size_t n = size * nmemb, room = s->resp.max - s->resp.len;
    core_buf_append(&s->resp, p, n < room ? n : room);
    return n;
}

static struct curl_slist *headers_for(const struct rw *x, int version)
{
    struct curl_slist *l = NULL;
    l = curl_slist_append(l, version == 2 ? "Content-Type: application/x-protobuf;proto="
                                            "io.prometheus.write.v2.Request"
                                          : "Content-Type: application/x-protobuf");
    l = curl_slist_append(l, "Content-Encoding: snappy");
    l = curl_slist_append(l, version == 2 ? "X-Prometheus-Remote-Write-Version: 2.0.0"
                                          : "X-Prometheus-Remote-Write-Version: 0.1.0");
    l = curl_slist_append(l, "Expect:");
    if (x->auth)
        l = curl_slist_append(l, x->auth);
    for (char **h = x->cfg.headers; h && *h; h++)
        l = curl_slist_append(l, *h);
    return l;
}

static void shard_setup(struct rw *x, struct shard *s)
{
    s->x = x;
    s->build = wire_rw_req_new(x->cfg.max_samples);
    s->fly = wire_rw_req_new(x->cfg.max_samples);
    core_buf_init(&s->body, EXPORT__MAX_BODY);
    core_buf_init(&s->resp, RW_RESP_MAX);
    if (!(s->easy = curl_easy_init())) {
        core_error("%s: curl_easy_init failed", x->o.name);
        abort();
    }
    CURL *e = s->easy;
    curl_easy_setopt(e, CURLOPT_URL, x->url);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "diorama/" DIORAMA_VERSION);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(e, CURLOPT_PRIVATE, s);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, s->errbuf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
}

static void shard_free(struct shard *s)
{
    if (s->easy)
        curl_easy_cleanup(s->easy);
    curl_slist_free_all(s->hdrs);
    wire_rw_req_free(s->build);
    wire_rw_req_free(s->fly);
    core_buf_free(&s->body);
    core_buf_free(&s->resp);
}

static void shard_send(struct rw *x, struct shard *s, uint64_t now, int stopping, uint64_t deadline)
{
    uint64_t t = x->cfg.timeout_ns;
    if (stopping && deadline > now && deadline - now < t)
        t = deadline - now;
    long ms = (long)(t / 1000000ULL);
    curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS, ms > 0 ? ms : 1L);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, (const char *)s->body.p);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)s->body.len);
    curl_slist_free_all(s->hdrs);
    s->hdrs = headers_for(x, s->fly_version);
    curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->hdrs);
    core_buf_reset(&s->resp);
    s->errbuf[0] = 0;
    s->attempt_ns = now;
    s->state = SH_ACTIVE;
    struct export__counters *c = &x->o.c[REC_METRICS];
    export__count(&c->requests, 1);
    export__count(&c->bytes, s->body.len);
    if (s->attempt > 0)
        export__count(&c->retried, s->fly_pts);
    atomic_fetch_add(&x->samples_sent, wire_rw_req_samples(s->fly));
    curl_multi_add_handle(x->multi, s->easy);
}

/* Encodes fly as version v into body. 0, or the points are dropped(encode). */
static int shard_encode(struct rw *x, struct shard *s, int v, uint64_t now)
{
    core_buf_reset(&s->body);
    s->fly_version = v;
    if (wire_rw_req_encode(s->fly, v, &s->body) == 0)
        return 0;
    export__dropped(&x->o, REC_METRICS, s->fly_pts, EXPORT_DROP_ENCODE);
    note(x, now, "a request of %llu samples is too large to encode; dropped",
         (unsigned long long)wire_rw_req_samples(s->fly));
    wire_rw_req_reset(s->fly);
    s->fly_pts = 0;
    return -1;
}

/* The shard's built request goes on the wire (its link is idle). */
static void shard_flush(struct rw *x, struct shard *s, uint64_t now, int stopping,
                        uint64_t deadline)
{
    struct wire_rw_req *t = s->fly;
    s->fly = s->build, s->build = t;
    s->fly_pts = s->build_pts, s->build_pts = 0;
    wire_rw_req_reset(s->build);
    if (shard_encode(x, s, atomic_load(&x->version), now))
        return;
    s->attempt = 0;
    s->maybe_sent = 0;
    s->first_ns = now;
    shard_send(x, s, now, stopping, deadline);
}

/* Which shard a point's series belong to: all samples of a point go to one shard, so a
 * point is delivered or not as a whole. */
static uint32_t shard_of(const struct rw *x, const struct rec_batch *b, const struct rec_point *pt)
{
    if (x->cfg.shards <= 1)
        return 0;
    uint64_t h = core_mix64((uint64_t)(uintptr_t)pt->metric ^ ((uint64_t)pt->res << 48));
    const struct rec_attr *a = wire__attrs(b, pt->attr_off);
    for (uint32_t i = 0; a && i < pt->nattrs && (uint64_t)pt->attr_off + i < b->nattrs; i++)
        if (a[i].type == REC_STR)
            h = core_mix64(h ^ core_hash64(a[i].v.s.p, a[i].v.s.len));
        else
            h = core_mix64(h ^ (uint64_t)a[i].v.i);
    return (uint32_t)(h % (uint64_t)x->cfg.shards);
}

/* Moves points of the current batch into the shards' requests. Returns 1 when it moved any;
 * stops at a point whose shard is full and busy (the batch stays held). */
static int take_points(struct rw *x, uint64_t now, int stopping, uint64_t deadline)
{
    const struct rec_batch *b = x->cur.b;
    int progress = 0;
    while (x->cur_i < b->n) {
        const struct rec_point *pt = &b->r.points[x->cur_i];
        struct shard *s = &x->sh[shard_of(x, b, pt)];
        if (wire_rw_req_full(s->build)) {
            if (s->state != SH_IDLE)
                return progress;
            shard_flush(x, s, now, stopping, deadline);
        }
        int n = wire_rw_req_add(s->build, b, pt);
        x->cur_i++;
        progress = 1;
        if (n > 0) {
            s->build_pts++;
            continue;
        }
        export__dropped(&x->o, REC_METRICS, 1, EXPORT_DROP_ENCODE);
        atomic_fetch_add(&x->unwritable, 1);
        if (!x->warned_unwritable++)
            core_warn("%s: a point of '%s' cannot be written as a Prometheus series (%s); such "
                      "points are counted dropped(encode)",
                      x->o.name, pt->metric ? pt->metric->name : "?",
                      n == 0 ? "delta temporality" : "malformed");
    }
    export__release(&x->o, &x->cur);
    x->cur.b = NULL;
    return progress;
}

/* Takes queued batches while the shards have room, then sends what idle shards hold. */
static int fill(struct rw *x, uint64_t now, int stopping, uint64_t deadline)
{
    int progress = 0;
    for (;;) {
        if (!x->cur.b) {
            if (!export__take(&x->o, REC_METRICS, &x->cur))
                break;
            x->cur_i = 0;
            progress = 1;
        }
        progress |= take_points(x, now, stopping, deadline);
        if (x->cur.b)
            break; /* blocked on a busy shard */
    }
    for (int i = 0; i < x->cfg.shards; i++) {
        struct shard *s = &x->sh[i];
        if (s->state == SH_IDLE && s->build_pts) {
            shard_flush(x, s, now, stopping, deadline);
            progress = 1;
        }
    }
    return progress;
}

/* ---- responses ------------------------------------------------------------------------------ */

static void shard_done(struct shard *s)
{
    wire_rw_req_reset(s->fly);
    s->fly_pts = 0;
    s->state = SH_IDLE;
}

static int give_up(struct rw *x, struct shard *s, int reason)
{
    int t = s->maybe_sent;
    if (t)
        export__timed_out(&x->o, REC_METRICS, s->fly_pts);
    else
        export__dropped(&x->o, REC_METRICS, s->fly_pts, reason);
    shard_done(s);
    return t;
}

/* What a response said, read before the handle leaves the multi handle (curl may drop its
 * headers with the transfer). */
struct answer {
    CURLcode res;
    long status;
    int have_ra, have_written;
    char ra[128];
    uint64_t written[3]; /* samples, histograms, exemplars */
};

static void header_u64(CURL *e, const char *name, uint64_t *v, int *have)
{
    struct curl_header *h = NULL;
    if (curl_easy_header(e, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK || !h->value)
        return;
    char *end;
    unsigned long long u = strtoull(h->value, &end, 10);
    if (end == h->value)
        return;
    *v = u;
    if (have)
        *have = 1;
}

static void read_answer(CURL *e, struct answer *a)
{
    struct curl_header *h = NULL;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &a->status);
    if (curl_easy_header(e, "Retry-After", 0, CURLH_HEADER, -1, &h) == CURLHE_OK && h->value)
        a->have_ra = snprintf(a->ra, sizeof a->ra, "%s", h->value) > 0;
    header_u64(e, "X-Prometheus-Remote-Write-Samples-Written", &a->written[0], &a->have_written);
    header_u64(e, "X-Prometheus-Remote-Write-Histograms-Written", &a->written[1], NULL);
    header_u64(e, "X-Prometheus-Remote-Write-Exemplars-Written", &a->written[2], NULL);
}

/* 2.0: what the receiver says it wrote, against what was sent. */
static void check_written(struct rw *x, struct shard *s, const struct answer *a, uint64_t now)
{
    uint64_t sent = wire_rw_req_samples(s->fly);
    if (!a->have_written)
        return; /* an empty request (no samples): nothing to confirm */
    atomic_fetch_add(&x->w_samples, a->written[0]);
    atomic_fetch_add(&x->w_hist, a->written[1]);
    atomic_fetch_add(&x->w_exemplars, a->written[2]);
    if (a->written[0] != sent || a->written[1] != 0) {
        atomic_fetch_add(&x->w_mismatch, 1);
        note(x, now, "receiver wrote %llu samples and %llu histograms of %llu samples sent",
             (unsigned long long)a->written[0], (unsigned long long)a->written[1],
             (unsigned long long)sent);
    }
}

static void on_ok(struct rw *x, struct shard *s, const struct answer *a, uint64_t now)
{
    export__latency(&x->o, REC_METRICS, now - s->attempt_ns);
    if (s->fly_version == 2)
        check_written(x, s, a, now);
    atomic_fetch_add(&x->samples_delivered, wire_rw_req_samples(s->fly));
    wire_rw_req_each_new_series(s->fly, seen_add, x);
    export__delivered(&x->o, REC_METRICS, s->fly_pts);
    shard_done(s);
}

/* The receiver speaks 1.0 only: it answered 415 to 2.0, or 2xx without the Written headers
 * (what a 1.0 receiver such as Prometheus 2.42 does: it reads the 2.0 body as an empty 1.0
 * request and stores nothing). The same samples go again as 1.0, at once. */
static void fall_back(struct rw *x, struct shard *s, const char *why, uint64_t now, int stopping,
                      uint64_t deadline)
{
    atomic_store(&x->version, 1);
    if (!x->warned_fallback++)
        core_warn("%s: %s %s to remote write 2.0; using 1.0 for the rest of the run", x->o.name,
                  x->shown, why);
    if (shard_encode(x, s, 1, now)) {
        s->state = SH_IDLE;
        return;
    }
    shard_send(x, s, now, stopping, deadline);
}

static int rw_retryable(long status)
{
    return status == 0 || status == 429 || status >= 500;
}

static void on_failure(struct rw *x, struct shard *s, CURLcode res, long status,
                       const char *retry_after, uint64_t now, int stopping, uint64_t deadline)
{
    char what[CURL_ERROR_SIZE + 32];
    export__count(&x->o.c[REC_METRICS].failed_requests, 1);
    if (res != CURLE_OK)
        snprintf(what, sizeof what, "%s", s->errbuf[0] ? s->errbuf : curl_easy_strerror(res));
    else
        snprintf(what, sizeof what, "HTTP %ld", status);
    if (!rw_retryable(status)) {
        char body[160];
        size_t k = s->resp.len < sizeof body - 1 ? s->resp.len : sizeof body - 1;
        for (size_t i = 0; i < k; i++)
            body[i] = s->resp.p[i] < 0x20 || s->resp.p[i] >= 0x7f ? ' ' : (char)s->resp.p[i];
        body[k] = 0;
        note(x, now, "POST %s: %s%s%s; %llu points dropped (not retryable)", x->shown, what,
             k ? ": " : "", body, (unsigned long long)s->fly_pts);
        export__dropped(&x->o, REC_METRICS, s->fly_pts, EXPORT_DROP_REJECTED);
        shard_done(s);
        return;
    }
    uint64_t delay = 0;
    if (!retry_after || export_retry_after_parse(retry_after, core_wall_ns(), &delay))
        delay = export_retry_backoff(s->attempt + 1, x->cfg.retry_initial_ns, x->cfg.retry_max_ns,
                                     &x->rng);
    if (now + delay > s->first_ns + x->cfg.retry_budget_ns) {
        int t = give_up(x, s, EXPORT_DROP_RETRIES);
        note(x, now, "POST %s: %s; retry budget used up, points %s", x->shown, what,
             t ? "timed out (may have arrived)" : "dropped");
    } else if (stopping && now + delay >= deadline) {
        give_up(x, s, EXPORT_DROP_SHUTDOWN);
    } else {
        note(x, now, "POST %s: %s; retrying in %.3fs", x->shown, what, (double)delay / 1e9);
        s->attempt++;
        s->due_ns = now + delay;
        s->state = SH_WAITING;
    }
}

static void note_unanswered(struct shard *s)
{
    curl_off_t up = 0;
    if (curl_easy_getinfo(s->easy, CURLINFO_SIZE_UPLOAD_T, &up) == CURLE_OK && up >= 0 &&
        (size_t)up >= s->body.len)
        s->maybe_sent = 1;
}

static void on_response(struct rw *x, struct shard *s, const struct answer *a)
{
    uint64_t now = core_mono_ns(), deadline = 0;
    int stopping = export__stopping(&x->o, &deadline);
    int ok = a->res == CURLE_OK;
    int v2 = s->fly_version == 2;
    if (ok && a->status >= 200 && a->status <= 299 && v2 && !a->have_written &&
        wire_rw_req_samples(s->fly)) {
        atomic_fetch_add(&x->w_missing, 1);
        fall_back(x, s, "answered 2xx without X-Prometheus-Remote-Write-Samples-Written", now,
                  stopping, deadline);
    } else if (ok && a->status >= 200 && a->status <= 299) {
        on_ok(x, s, a, now);
    } else if (ok && a->status == 415 && v2) {
        fall_back(x, s, "answered 415", now, stopping, deadline);
    } else {
        on_failure(x, s, a->res, ok ? a->status : 0, a->have_ra ? a->ra : NULL, now, stopping,
                   deadline);
    }
}

static int collect(struct rw *x)
{
    int progress = 0, left;
    CURLMsg *m;
    while ((m = curl_multi_info_read(x->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURL *e = m->easy_handle;
        struct answer a = {.res = m->data.result};
        char *priv = NULL;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv);
        struct shard *s = (struct shard *)priv;
        if (a.res == CURLE_OK)
            read_answer(e, &a);
        else
            note_unanswered(s);
        curl_multi_remove_handle(x->multi, e); /* a retry or a fallback adds it again */
        on_response(x, s, &a);
        progress = 1;
    }
    return progress;
}

/* ---- the thread ---------------------------------------------------------------------------- */

static int kick_due(struct rw *x, uint64_t now, int stopping, uint64_t deadline)
{
    int freed = 0;
    for (int i = 0; i < x->cfg.shards; i++) {
        struct shard *s = &x->sh[i];
        if (s->state != SH_WAITING)
            continue;
        if (stopping && s->due_ns >= deadline) {
            give_up(x, s, EXPORT_DROP_SHUTDOWN);
            freed = 1;
        } else if (s->due_ns <= now) {
            shard_send(x, s, now, stopping, deadline);
        }
    }
    return freed;
}

static int all_idle(const struct rw *x)
{
    for (int i = 0; i < x->cfg.shards; i++)
        if (x->sh[i].state != SH_IDLE || x->sh[i].build_pts)
            return 0;
    return !x->cur.b;
}

static int poll_ms(const struct rw *x, uint64_t now, int stopping, uint64_t deadline)
{
    uint64_t until = now + 1000000000ULL;
    if (stopping && deadline < until)
        until = deadline;
    for (int i = 0; i < x->cfg.shards; i++)
        if (x->sh[i].state == SH_WAITING && x->sh[i].due_ns < until)
            until = x->sh[i].due_ns;
    return until <= now ? 0 : (int)((until - now + 999999) / 1000000);
}

/* At the deadline: whatever is still held is dropped(shutdown), or timed_out when a request
 * with it was sent in full. */
static void abandon(struct rw *x)
{
    for (int i = 0; i < x->cfg.shards; i++) {
        struct shard *s = &x->sh[i];
        if (s->state == SH_ACTIVE) {
            note_unanswered(s);
            curl_multi_remove_handle(x->multi, s->easy);
        }
        if (s->state != SH_IDLE)
            give_up(x, s, EXPORT_DROP_SHUTDOWN);
        if (s->build_pts)
            export__dropped(&x->o, REC_METRICS, s->build_pts, EXPORT_DROP_SHUTDOWN);
        s->build_pts = 0;
    }
    if (x->cur.b) {
        export__dropped(&x->o, REC_METRICS, x->cur.b->n - x->cur_i, EXPORT_DROP_SHUTDOWN);
        export__release(&x->o, &x->cur);
        x->cur.b = NULL;
    }
    export__drain_dropped(&x->o, EXPORT_DROP_SHUTDOWN);
    log_tick(x, core_mono_ns(), 1);
}

static void *rw_main(void *arg)
{
    struct rw *x = arg;
    for (;;) {
        uint64_t deadline = 0, now = core_mono_ns();
        int stopping = export__stopping(&x->o, &deadline);
        if (stopping && now >= deadline)
            break;
        log_tick(x, now, 0);
        int progress = kick_due(x, now, stopping, deadline);
        int running = 0;
        curl_multi_perform(x->multi, &running);
        progress |= collect(x);
        progress |= fill(x, now, stopping, deadline);
        if (stopping && all_idle(x) && !progress)
            break;
        if (progress)
            continue;
        curl_multi_poll(x->multi, NULL, 0, poll_ms(x, core_mono_ns(), stopping, deadline), NULL);
    }
    abandon(x);
    return NULL;
}

static int rw_start(struct export_output *o)
{
    struct rw *x = (struct rw *)o;
    if (export__thread_create(&x->thread, rw_main, x) != 0)
        return DIO_ENOMEM;
    x->started = 1;
    return 0;
}

static void rw_wake(struct export_output *o)
{
    curl_multi_wakeup(((struct rw *)o)->multi);
}

static void rw_join(struct export_output *o)
{
    struct rw *x = (struct rw *)o;
    if (x->started) {
        curl_multi_wakeup(x->multi);
        pthread_join(x->thread, NULL);
        x->started = 0;
    }
}

static void rw_destroy(struct export_output *o)
{
    struct rw *x = (struct rw *)o;
    rw_join(o);
    for (int i = 0; x->sh && i < x->cfg.shards; i++)
        shard_free(&x->sh[i]);
    core_free(x->sh);
    curl_multi_cleanup(x->multi);
    core_free(x->url);
    core_free(x->shown);
    core_free(x->auth);
    core_free(x->seen);
    export_headers_free(x->cfg.headers);
    export__output_fini(o);
    core_free(x);
}

static const struct export_output_ops rw_ops = {
    .kind = "remote_write",
    .start = rw_start,
    .wake = rw_wake,
    .join = rw_join,
    .destroy = rw_destroy,
};

static char **copy_headers(char **h)
{
    size_t n = 0;
    while (h && h[n])
        n++;
    if (!n)
        return NULL;
    char **d = core_calloc(n + 1, sizeof *d);
    for (size_t i = 0; i < n; i++)
        d[i] = core_strdup(h[i]);
    return d;
}

static void cfg_defaults(struct export_rw_cfg *c)
{
    if (c->version != 2)
        c->version = 1;
    if (!c->max_samples)
        c->max_samples = WIRE_RW_DEFAULT_SAMPLES;
    if (c->shards <= 0)
        c->shards = 1;
    if (!c->timeout_ns)
        c->timeout_ns = 30ULL * 1000000000ULL; /* Prometheus' remote_timeout */
    if (!c->retry_initial_ns)
        c->retry_initial_ns = 30ULL * 1000000ULL; /* Prometheus' min_backoff */
    if (!c->retry_max_ns)
        c->retry_max_ns = 5ULL * 1000000000ULL; /* max_backoff */
    if (!c->retry_budget_ns)
        c->retry_budget_ns = 60ULL * 1000000000ULL;
}

struct export_output *export_rw_new(const struct export_rw_cfg *cfg)
{
    pthread_once(&rw_curl_once, rw_curl_init);
    struct rw *x = core_calloc(1, sizeof *x);
    export__output_init(&x->o, &rw_ops, 0);
    x->o.signals = 1u << REC_METRICS;
    x->cfg = *cfg;
    cfg_defaults(&x->cfg);
    x->cfg.headers = copy_headers(cfg->headers);
    x->cfg.url = x->cfg.bearer = NULL; /* kept in x, not in cfg */
    x->url = core_strdup(cfg->url);
    char shown[512];
    export_rw_url_mask(cfg->url, shown, sizeof shown);
    x->shown = core_strdup(shown);
    if (cfg->bearer && *cfg->bearer) {
        size_t n = strlen(cfg->bearer) + 32;
        x->auth = core_malloc(n);
        snprintf(x->auth, n, "Authorization: Bearer %s", cfg->bearer);
    }
    atomic_store(&x->version, x->cfg.version);
    if (!(x->multi = curl_multi_init())) {
        core_error("export: curl_multi_init failed");
        abort();
    }
    core_rng_init(&x->rng, cfg->seed, 0x72770000 /* "rw" */, 1);
    x->sh = core_calloc((size_t)x->cfg.shards, sizeof *x->sh);
    for (int i = 0; i < x->cfg.shards; i++)
        shard_setup(x, &x->sh[i]);
    return &x->o;
}

int export_rw_stats(const struct export_output *o, struct export_rw_stats *st)
{
    memset(st, 0, sizeof *st);
    if (!o || o->ops != &rw_ops)
        return DIO_EINVAL;
    struct rw *x = (struct rw *)o;
    st->version = atomic_load(&x->version);
    st->requested_version = x->cfg.version;
    st->samples_sent = atomic_load(&x->samples_sent);
    st->samples_delivered = atomic_load(&x->samples_delivered);
    st->unwritable_points = atomic_load(&x->unwritable);
    st->written_samples = atomic_load(&x->w_samples);
    st->written_histograms = atomic_load(&x->w_hist);
    st->written_exemplars = atomic_load(&x->w_exemplars);
    st->written_mismatch = atomic_load(&x->w_mismatch);
    st->written_missing = atomic_load(&x->w_missing);
    st->series = x->started ? 0 : x->nseen; /* read after the thread ended */
    st->series_capped = x->seen_full;
    return 0;
}
