/* PostgreSQL output: one row per record, sent with COPY ... FROM STDIN (text format) by the
 * output's own thread over one libpq connection. Schema and behaviour: docs/postgres.md.
 *
 * A batch is one transaction (several queued batches of one signal may share one when the
 * server is behind): BEGIN; COPY the rows; INSERT its key into diorama_batches; COMMIT, in
 * three round trips. So a batch is either all in or not at all, and the key answers the one
 * question a lost connection leaves open (did the COMMIT we sent land?): before re-sending a batch
 * after a failure we look the key up, so a retry never duplicates rows. The key is (export_id,
 * signal, batch_seq), export_id being random per process: run ids repeat with the seed.
 *
 * Failures: a lost or refused connection (and the transient SQLSTATEs: 08*, 53*, 57P*,
 * 40001, 40P01) is retried with export_retry_policy's backoff, reconnecting, until the retry
 * budget is used (dropped(retries)) or the shutdown deadline passes (dropped(shutdown)); a
 * batch given up on while its COMMIT is still unaccounted for counts timed_out (it may be in
 * the table). Any other server error rolls back and counts the batch dropped(rejected). A
 * call blocked past the shutdown deadline (a lock wait) is cancelled with PQcancel from the
 * joining thread. The thread encodes batches into its own buffer and releases them before
 * sending, so a slow server holds one transaction's bytes, never pool slots.
 *
 * Secrets: the URL's password (userinfo or ?password=) is never printed; every message that
 * names the server uses the masked URL, and libpq's messages are scrubbed of the password. */
#include <libpq-fe.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "export/internal.h"
#include "wire/wire.h"

#define PG_CHUNK ((size_t)256 << 10)   /* bytes per PQputCopyData call */
#define PG_TX_ROWS 16384u              /* rows per transaction when batches are combined */
#define PG_TX_BYTES ((size_t)32 << 20) /* ... and COPY bytes */
#define PG_LABEL_CAP 4096u             /* labels queued before they are dropped */
#define PG_LABEL_TX 256u               /* labels per transaction */
#define PG_LABEL_POLL_NS (250ULL * 1000000ULL)
#define PG_LOG_EVERY_NS (10ULL * 1000000000ULL)
#define PG_SLEEP_SLICE_NS (50ULL * 1000000ULL)
#define PG_MASK "****"

enum { PG_OK, PG_RETRY, PG_REJECTED };
#define PG_IN_DOUBT EXPORT_DROP_NREASONS /* deliver(): neither delivered nor dropped */

/* ---- schema --------------------------------------------------------------------------------- */

/* The advisory lock keeps two diorama processes from racing on CREATE TABLE IF NOT EXISTS
 * (which is not atomic against itself). Keep the column lists in sync with copy_sql[]. */
static const char ddl[] =
    "BEGIN;"
    "SELECT pg_advisory_xact_lock(4207849484);"
    "CREATE TABLE IF NOT EXISTS diorama_spans (run_id text NOT NULL, service_name text,"
    " trace_id text NOT NULL, span_id text NOT NULL, parent_span_id text, name text NOT NULL,"
    " kind text NOT NULL, start_time timestamptz NOT NULL, end_time timestamptz NOT NULL,"
    " duration_ns bigint NOT NULL, status_code text NOT NULL, status_message text,"
    " attributes jsonb NOT NULL, resource jsonb NOT NULL, seq bigint, gen_time timestamptz);"
    "CREATE TABLE IF NOT EXISTS diorama_metric_points (run_id text NOT NULL, service_name text,"
    " metric text NOT NULL, type text NOT NULL, unit text, temporality text, monotonic boolean,"
    " start_time timestamptz, time timestamptz NOT NULL, value double precision,"
    " count bigint, sum double precision, min double precision, max double precision,"
    " bounds double precision[], bucket_counts bigint[], attributes jsonb NOT NULL,"
    " resource jsonb NOT NULL, seq bigint, gen_time timestamptz);"
    "CREATE TABLE IF NOT EXISTS diorama_logs (run_id text NOT NULL, service_name text,"
    " time timestamptz NOT NULL, observed_time timestamptz, severity_number smallint,"
    " severity_text text, body text, trace_id text, span_id text, attributes jsonb NOT NULL,"
    " resource jsonb NOT NULL, seq bigint, gen_time timestamptz);"
    "CREATE TABLE IF NOT EXISTS diorama_labels (run_id text NOT NULL,"
    " start_time timestamptz NOT NULL, end_time timestamptz NOT NULL, target text, kind text,"
    " fault text, trace_id text, label jsonb NOT NULL);"
    "CREATE TABLE IF NOT EXISTS diorama_batches (export_id text NOT NULL, signal text NOT NULL,"
    " batch_seq bigint NOT NULL, run_id text NOT NULL, rows integer NOT NULL,"
    " inserted_at timestamptz NOT NULL DEFAULT now(),"
    " PRIMARY KEY (export_id, signal, batch_seq));"
    "COMMIT";

/* One literal per table, parenthesised so the compiler knows the concatenation is meant. */
static const char *const copy_sql[REC_NSIGNALS] = {
    ("BEGIN; COPY diorama_spans (run_id, service_name, trace_id, span_id, parent_span_id, name,"
     " kind, start_time, end_time, duration_ns, status_code, status_message, attributes,"
     " resource, seq, gen_time) FROM STDIN"),
    ("BEGIN; COPY diorama_metric_points (run_id, service_name, metric, type, unit, temporality,"
     " monotonic, start_time, time, value, count, sum, min, max, bounds, bucket_counts,"
     " attributes, resource, seq, gen_time) FROM STDIN"),
    ("BEGIN; COPY diorama_logs (run_id, service_name, time, observed_time, severity_number,"
     " severity_text, body, trace_id, span_id, attributes, resource, seq, gen_time) FROM STDIN"),
};
static const char copy_labels_sql[] =
    "BEGIN; COPY diorama_labels (run_id, start_time, end_time, target,"
    " kind, fault, trace_id, label) FROM STDIN";

/* ---- state ---------------------------------------------------------------------------------- */

struct pg_label {
    uint64_t start_ns, end_ns;
    char *target, *kind, *fault, *json;
    size_t json_len;
    uint8_t trace_id[16];
    int has_trace;
};

/* Per resource of the current table: its service.name and JSON, already COPY-escaped. */
struct pg_res {
    size_t svc_off, svc_len, json_off, json_len;
    int has_svc;
};

struct pg_out {
    struct export_output o; /* first: the hub sees this */
    PGconn *conn;           /* owned by the thread once started */
    char *url;
    char *secret; /* the URL's password, for scrubbing messages; may be NULL */
    char shown[512];
    char *run_id, *run_id_lit; /* run_id COPY-escaped / as an SQL literal */
    char export_id[17];
    struct export_pg_cfg cfg;
    struct core_rng rng;
    struct core_buf copy, json, tmp, rbuf;
    const struct rec_resource *rtab; /* the resource table rbuf/res describe */
    uint32_t rn;
    struct pg_res *res;
    uint64_t ts_sec;
    char ts_date[32];
    pthread_t thread;
    int started;
    uint64_t last_log_ns, suppressed;
    int down;         /* a connection failure was reported and not yet its recovery */
    int doubt;        /* the current batch's COMMIT was sent, its answer lost, not yet looked up */
    PGcancel *cancel; /* for pg_join to interrupt a blocked call; guarded by lmu */
    pthread_mutex_t lmu;     /* guards the label ring and cancel */
    struct pg_label *labels; /* ring of PG_LABEL_CAP */
    uint32_t lhead, llen;
    uint64_t labels_dropped, labels_written, label_batches;
    char sqlstate[8]; /* of the last failed step (pg_fail) */
};

/* ---- URL handling --------------------------------------------------------------------------- */

/* Where the password sits in url: userinfo "user:PASS@" or a "password=PASS" query value. */
static int url_secret(const char *url, size_t *off, size_t *len)
{
    const char *p = strstr(url, "://");
    if (p) {
        p += 3;
        size_t auth = strcspn(p, "/?#");
        const char *at = memrchr(p, '@', auth);
        const char *colon = at ? memchr(p, ':', (size_t)(at - p)) : NULL;
        if (colon) {
            *off = (size_t)(colon + 1 - url);
            *len = (size_t)(at - colon - 1);
            return 1;
        }
    }
    const char *q = strchr(url, '?');
    for (const char *k = q; k; k = strchr(k + 1, '&')) {
        if (!strncmp(k + 1, "password=", 9)) {
            *off = (size_t)(k + 10 - url);
            *len = strcspn(k + 10, "&#");
            return 1;
        }
    }
    return 0;
}

void export_pg_url_mask(const char *url, char *out, size_t n)
{
    size_t off, len;
    if (url_secret(url, &off, &len))
        snprintf(out, n, "%.*s%s%s", (int)off, url, PG_MASK, url + off + len);
    else
        snprintf(out, n, "%s", url);
}

/* Replaces every occurrence of secret in msg (NUL-terminated, size n) and drops the
 * trailing newline libpq leaves on its messages. */
static void scrub(char *msg, size_t n, const char *secret)
{
    size_t sl = secret ? strlen(secret) : 0;
    for (char *p = sl ? strstr(msg, secret) : NULL; p; p = strstr(p, secret)) {
        size_t rest = strlen(p + sl) + 1;
        size_t ml = strlen(PG_MASK);
        if ((size_t)(p - msg) + ml + rest > n)
            break;
        memmove(p + ml, p + sl, rest);
        memcpy(p, PG_MASK, ml);
        p += ml;
    }
    size_t l = strlen(msg);
    while (l && (msg[l - 1] == '\n' || msg[l - 1] == ' '))
        msg[--l] = '\0';
}

static void copy_scrubbed(char *dst, size_t n, const char *msg, const char *secret)
{
    snprintf(dst, n, "%s", msg ? msg : "");
    scrub(dst, n, secret);
}

/* libpq checks ports only when it connects; a typo should be a usage error at once. The
 * value may list one port per host ("5432,5433"). Returns the bad value or NULL. */
static const char *bad_port(const PQconninfoOption *opts)
{
    for (const PQconninfoOption *o = opts; o->keyword; o++) {
        if (strcmp(o->keyword, "port") || !o->val)
            continue;
        for (const char *p = o->val; *p;) {
            char *end;
            long v = strtol(p, &end, 10);
            if (end == p || v < 1 || v > 65535 || (*end && *end != ','))
                return o->val;
            p = *end ? end + 1 : end;
        }
    }
    return NULL;
}

int export_pg_url_check(const char *url, char *err, size_t errlen)
{
    char shown[512], secret[256] = "", msg[512];
    export_pg_url_mask(url, shown, sizeof shown);
    if (strncmp(url, "postgresql://", 13) && strncmp(url, "postgres://", 11)) {
        snprintf(err, errlen, "'%s' is not a postgresql:// or postgres:// URL", shown);
        return DIO_EPARSE;
    }
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &perr);
    if (!opts) {
        size_t off, len;
        if (url_secret(url, &off, &len) && len < sizeof secret)
            snprintf(secret, sizeof secret, "%.*s", (int)len, url + off);
        copy_scrubbed(msg, sizeof msg, perr ? perr : "out of memory", secret);
        PQfreemem(perr);
        snprintf(err, errlen, "'%s' is not a valid PostgreSQL URL: %s", shown, msg);
        return DIO_EPARSE;
    }
    const char *port = bad_port(opts);
    if (port)
        snprintf(err, errlen, "'%s' has an invalid port '%s' (want 1..65535)", shown, port);
    PQconninfoFree(opts);
    return port ? DIO_EPARSE : 0;
}

static char *parsed_password(const char *url)
{
    char *secret = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, NULL);
    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (!strcmp(o->keyword, "password") && o->val && *o->val)
            secret = core_strdup(o->val);
    PQconninfoFree(opts);
    return secret;
}

/* ---- COPY text encoding --------------------------------------------------------------------- */

static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */

int export_pg_copy_text(struct core_buf *out, const char *str, size_t n)
{
    if (core_buf_reserve(out, n * 3)) /* worst case: every byte becomes U+FFFD */
        return DIO_EFULL;
    const uint8_t *s = (const uint8_t *)str;
    uint8_t *d = out->p + out->len;
    for (size_t i = 0; i < n;) {
        uint8_t c = s[i];
        size_t len = c < 0x80 ? 1 : wire__utf8_len(s + i, n - i);
        if (c >= 0x80 && len > 0) {
            memcpy(d, s + i, len);
            d += len, i += len;
            continue;
        }
        i++;
        if (c == 0 || len == 0) {
            memcpy(d, replacement, 3);
            d += 3;
        } else if (c == '\\' || c == '\t' || c == '\n' || c == '\r') {
            *d++ = '\\';
            *d++ = c == '\\' ? '\\' : c == '\t' ? 't' : c == '\n' ? 'n' : 'r';
        } else {
            *d++ = c;
        }
    }
    out->len = (size_t)(d - out->p);
    return 0;
}

/* JSON string of s[0..n) via core's escaper: tmp gets a NUL-free, valid UTF-8 copy first. */
static int json_str(struct core_buf *out, struct core_buf *tmp, const char *str, size_t n)
{
    const uint8_t *s = (const uint8_t *)str;
    core_buf_reset(tmp);
    if (core_buf_reserve(tmp, n * 3 + 1))
        return DIO_EFULL;
    for (size_t i = 0; i < n;) {
        size_t len = s[i] == 0 ? 0 : s[i] < 0x80 ? 1 : wire__utf8_len(s + i, n - i);
        if (len == 0) {
            memcpy(tmp->p + tmp->len, replacement, 3);
            tmp->len += 3, i++;
        } else {
            memcpy(tmp->p + tmp->len, s + i, len);
            tmp->len += len, i += len;
        }
    }
    tmp->p[tmp->len] = '\0';
    return core_buf_put_json_str(out, (const char *)tmp->p);
}

int export_pg_json_str(struct core_buf *out, const char *s, size_t n)
{
    struct core_buf tmp;
    core_buf_init(&tmp, n * 3 + 16);
    int rc = json_str(out, &tmp, s, n);
    core_buf_free(&tmp);
    return rc;
}

static void put_tab(struct core_buf *b)
{
    core_buf_putc(b, '\t');
}

static void put_null(struct core_buf *b)
{
    core_buf_append(b, "\\N", 2);
}

static void put_hex(struct core_buf *b, const uint8_t *v, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (core_buf_reserve(b, n * 2))
        return;
    for (size_t i = 0; i < n; i++) {
        b->p[b->len++] = (uint8_t)hex[v[i] >> 4];
        b->p[b->len++] = (uint8_t)hex[v[i] & 15];
    }
}

static int all_zero(const uint8_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (v[i])
            return 0;
    return 1;
}

/* An id column: hex, or NULL when the id is all zero (no parent, not correlated). */
static void put_id(struct core_buf *b, const uint8_t *v, size_t n)
{
    if (all_zero(v, n))
        put_null(b);
    else
        put_hex(b, v, n);
}

/* float8 input: the shortest round-trip decimal, and PostgreSQL's spellings of the rest. */
static void put_dbl(struct core_buf *b, double v)
{
    char s[32];
    if (isnan(v))
        core_buf_puts(b, "NaN");
    else if (isinf(v))
        core_buf_puts(b, v > 0 ? "Infinity" : "-Infinity");
    else
        core_buf_append(b, s, wire__fmt_double(s, v));
}

/* timestamptz input, microseconds (PostgreSQL's resolution; the rest is truncated). The
 * date part is formatted once per second of timestamps. */
static void put_ts(struct pg_out *x, struct core_buf *b, uint64_t ns)
{
    uint64_t sec = ns / 1000000000ULL;
    if (sec != x->ts_sec || !x->ts_date[0]) {
        time_t t = (time_t)sec;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(x->ts_date, sizeof x->ts_date, "%Y-%m-%d %H:%M:%S", &tm);
        x->ts_sec = sec;
    }
    char frac[16];
    snprintf(frac, sizeof frac, ".%06u+00", (unsigned)(ns % 1000000000ULL / 1000));
    core_buf_puts(b, x->ts_date);
    core_buf_puts(b, frac);
}

static void put_ts_or_null(struct pg_out *x, struct core_buf *b, uint64_t ns)
{
    if (ns)
        put_ts(x, b, ns);
    else
        put_null(b);
}

static void put_text(struct core_buf *b, const char *s, size_t n)
{
    export_pg_copy_text(b, s, n);
}

static void put_cstr(struct core_buf *b, const char *s)
{
    if (s)
        put_text(b, s, strlen(s));
    else
        put_null(b);
}

/* {"key":value,...} into x->json (reset first). Non-finite doubles become null: JSON has no
 * spelling for them. */
static void attrs_json(struct pg_out *x, const struct rec_attr *a, uint32_t n)
{
    struct core_buf *j = &x->json;
    core_buf_reset(j);
    core_buf_putc(j, '{');
    for (uint32_t i = 0; i < n; i++) {
        if (i)
            core_buf_putc(j, ',');
        json_str(j, &x->tmp, a[i].key, a[i].key_len);
        core_buf_putc(j, ':');
        char s[32];
        switch (a[i].type) {
        case REC_STR:
            json_str(j, &x->tmp, a[i].v.s.p, a[i].v.s.len);
            break;
        case REC_INT:
            core_buf_put_i64(j, a[i].v.i);
            break;
        case REC_DBL:
            if (!isfinite(a[i].v.d))
                core_buf_puts(j, "null");
            else
                core_buf_append(j, s, wire__fmt_double(s, a[i].v.d));
            break;
        default:
            core_buf_puts(j, a[i].v.b ? "true" : "false");
        }
    }
    core_buf_putc(j, '}');
}

/* The resource table is world-owned and the same for every batch of a run: its service
 * names and JSON are encoded once, again only if a batch brings another table. */
static void resources_cache(struct pg_out *x, const struct rec_batch *b)
{
    if (x->rtab == b->resources && x->rn == b->nresources)
        return;
    core_buf_reset(&x->rbuf);
    x->res = core_realloc(x->res, (b->nresources ? b->nresources : 1) * sizeof *x->res);
    for (uint32_t i = 0; i < b->nresources; i++) {
        const struct rec_resource *r = &b->resources[i];
        struct pg_res *c = &x->res[i];
        c->has_svc = 0;
        for (uint32_t k = 0; k < r->nattrs; k++) {
            const struct rec_attr *a = &r->attrs[k];
            if (a->type == REC_STR && !strcmp(a->key, "service.name")) {
                c->svc_off = x->rbuf.len;
                put_text(&x->rbuf, a->v.s.p, a->v.s.len);
                c->svc_len = x->rbuf.len - c->svc_off;
                c->has_svc = 1;
            }
        }
        attrs_json(x, r->attrs, r->nattrs);
        c->json_off = x->rbuf.len;
        put_text(&x->rbuf, (const char *)x->json.p, x->json.len);
        c->json_len = x->rbuf.len - c->json_off;
    }
    x->rtab = b->resources;
    x->rn = b->nresources;
}

/* run_id \t service_name \t */
static void row_head(struct pg_out *x, uint16_t res)
{
    struct core_buf *o = &x->copy;
    core_buf_puts(o, x->run_id);
    put_tab(o);
    if (res < x->rn && x->res[res].has_svc)
        core_buf_append(o, x->rbuf.p + x->res[res].svc_off, x->res[res].svc_len);
    else
        put_null(o);
    put_tab(o);
}

/* attributes \t resource \t seq \t gen_time \n */
static void row_tail(struct pg_out *x, const struct rec_batch *b, uint32_t off, uint32_t n,
                     uint16_t res, uint64_t seq, uint64_t gen_ns)
{
    struct core_buf *o = &x->copy;
    attrs_json(x, off + n <= b->nattrs ? b->attrs + off : NULL, off + n <= b->nattrs ? n : 0);
    put_text(o, (const char *)x->json.p, x->json.len);
    put_tab(o);
    if (res < x->rn)
        core_buf_append(o, x->rbuf.p + x->res[res].json_off, x->res[res].json_len);
    else
        core_buf_puts(o, "{}");
    put_tab(o);
    if (x->o.verify_attrs) {
        core_buf_put_u64(o, seq);
        put_tab(o);
        put_ts(x, o, gen_ns);
    } else {
        core_buf_puts(o, "\\N\t\\N");
    }
    core_buf_putc(o, '\n');
}

static void span_row(struct pg_out *x, const struct rec_batch *b, const struct rec_span *sp)
{
    static const char *const kinds[] = {"unspecified", "internal", "server",
                                        "client",      "producer", "consumer"};
    static const char *const status[] = {"unset", "ok", "error"};
    struct core_buf *o = &x->copy;
    row_head(x, sp->res);
    put_hex(o, sp->trace_id, 16);
    put_tab(o);
    put_hex(o, sp->span_id, 8);
    put_tab(o);
    put_id(o, sp->parent_id, 8);
    put_tab(o);
    put_text(o, sp->name.p, sp->name.len);
    put_tab(o);
    core_buf_puts(o, sp->kind < 6 ? kinds[sp->kind] : "unspecified");
    put_tab(o);
    put_ts(x, o, sp->start_ns);
    put_tab(o);
    put_ts(x, o, sp->end_ns);
    put_tab(o);
    core_buf_put_u64(o, sp->end_ns > sp->start_ns ? sp->end_ns - sp->start_ns : 0);
    put_tab(o);
    core_buf_puts(o, sp->status < 3 ? status[sp->status] : "unset");
    put_tab(o);
    if (sp->status_msg.len)
        put_text(o, sp->status_msg.p, sp->status_msg.len);
    else
        put_null(o);
    put_tab(o);
    row_tail(x, b, sp->attr_off, sp->nattrs, sp->res, sp->seq, sp->gen_ns);
}

/* value \t count \t sum \t min \t max \t bounds \t bucket_counts */
static void point_values(struct core_buf *o, const struct rec_batch *b, const struct rec_point *p)
{
    const struct rec_metric *m = p->metric;
    if (m->type != REC_HISTOGRAM) {
        if (m->is_int)
            core_buf_put_i64(o, p->value.i);
        else
            put_dbl(o, p->value.d);
        core_buf_puts(o, "\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N");
        return;
    }
    core_buf_puts(o, "\\N\t");
    core_buf_put_u64(o, p->count);
    put_tab(o);
    put_dbl(o, p->sum);
    put_tab(o);
    if (p->count) {
        put_dbl(o, p->min);
        put_tab(o);
        put_dbl(o, p->max);
    } else {
        core_buf_puts(o, "\\N\t\\N");
    }
    core_buf_puts(o, "\t{");
    for (uint32_t i = 0; i < m->nbounds; i++) {
        if (i)
            core_buf_putc(o, ',');
        put_dbl(o, m->bounds[i]);
    }
    core_buf_puts(o, "}\t{");
    for (uint32_t i = 0; i <= m->nbounds && p->bucket_off + i < b->nbuckets; i++) {
        if (i)
            core_buf_putc(o, ',');
        core_buf_put_u64(o, b->buckets[p->bucket_off + i]);
    }
    core_buf_putc(o, '}');
}

static void point_row(struct pg_out *x, const struct rec_batch *b, const struct rec_point *p)
{
    static const char *const types[] = {"gauge", "sum", "histogram"};
    const struct rec_metric *m = p->metric;
    struct core_buf *o = &x->copy;
    row_head(x, p->res);
    put_cstr(o, m->name);
    put_tab(o);
    core_buf_puts(o, m->type < 3 ? types[m->type] : "gauge");
    put_tab(o);
    put_cstr(o, m->unit);
    put_tab(o);
    if (m->type == REC_GAUGE)
        core_buf_puts(o, "\\N\t\\N");
    else
        core_buf_printf(o, "%s\t%s", m->temporality == 1 ? "delta" : "cumulative",
                        m->type == REC_SUM ? (m->monotonic ? "t" : "f") : "\\N");
    put_tab(o);
    put_ts_or_null(x, o, p->start_ns);
    put_tab(o);
    put_ts(x, o, p->time_ns);
    put_tab(o);
    point_values(o, b, p);
    put_tab(o);
    row_tail(x, b, p->attr_off, p->nattrs, p->res, p->seq, p->gen_ns);
}

static void log_row(struct pg_out *x, const struct rec_batch *b, const struct rec_log *l)
{
    struct core_buf *o = &x->copy;
    row_head(x, l->res);
    put_ts(x, o, l->time_ns);
    put_tab(o);
    put_ts_or_null(x, o, l->observed_ns);
    put_tab(o);
    core_buf_put_u64(o, l->severity);
    put_tab(o);
    const char *sev = wire__severity_text(l->severity);
    if (sev)
        core_buf_puts(o, sev);
    else
        put_null(o);
    put_tab(o);
    put_text(o, l->body.p, l->body.len);
    put_tab(o);
    put_id(o, l->trace_id, 16);
    put_tab(o);
    put_id(o, l->span_id, 8);
    put_tab(o);
    row_tail(x, b, l->attr_off, l->nattrs, l->res, l->seq, l->gen_ns);
}

/* Appends the batch's rows to x->copy. 0 or DIO_EFULL when they pass EXPORT__MAX_BODY. x->copy
 * may grow to twice that plus PG_TX_BYTES, more than any one row (its strings come from the
 * batch's bounded arena), so an append never fails silently before the check after each row
 * sees the size. */
static int encode_batch(struct pg_out *x, const struct rec_batch *b)
{
    size_t start = x->copy.len;
    resources_cache(x, b);
    for (uint32_t i = 0; i < b->n; i++) {
        if (b->signal == REC_SPANS)
            span_row(x, b, &b->r.spans[i]);
        else if (b->signal == REC_METRICS)
            point_row(x, b, &b->r.points[i]);
        else
            log_row(x, b, &b->r.logs[i]);
        if (x->copy.len - start > EXPORT__MAX_BODY)
            return DIO_EFULL;
    }
    return 0;
}

static void label_row(struct pg_out *x, const struct pg_label *l)
{
    struct core_buf *o = &x->copy;
    core_buf_puts(o, x->run_id);
    put_tab(o);
    put_ts(x, o, l->start_ns);
    put_tab(o);
    put_ts(x, o, l->end_ns);
    put_tab(o);
    put_cstr(o, l->target);
    put_tab(o);
    put_cstr(o, l->kind);
    put_tab(o);
    put_cstr(o, l->fault);
    put_tab(o);
    if (l->has_trace)
        put_hex(o, l->trace_id, 16);
    else
        put_null(o);
    put_tab(o);
    put_text(o, l->json, l->json_len);
    core_buf_putc(o, '\n');
}

/* ---- connection ----------------------------------------------------------------------------- */

static void log_rejected(struct pg_out *x, const char *what, const char *msg)
{
    uint64_t now = core_mono_ns();
    if (x->last_log_ns && now - x->last_log_ns < PG_LOG_EVERY_NS) {
        x->suppressed++;
        return;
    }
    core_error("%s: %s rejected by the server: %s (%llu similar errors not shown)", x->o.name, what,
               msg, (unsigned long long)x->suppressed);
    x->last_log_ns = now;
    x->suppressed = 0;
}

/* libpq's message for the connection, scrubbed, into msg. */
static void conn_error(struct pg_out *x, char *msg, size_t n)
{
    copy_scrubbed(msg, n, x->conn ? PQerrorMessage(x->conn) : "out of memory", x->secret);
}

/* Server notices ("relation ... already exists, skipping") are for -vv, not for stderr. */
static void notice(void *arg, const char *msg)
{
    (void)arg;
    core_debug("postgres: %.*s", (int)strcspn(msg, "\n"), msg);
}

/* Defaults go before the URL (which overrides them), client_encoding after it: the rows are
 * UTF-8 whatever the user's environment says. An environment variable beats our default. */
static int pg_connect(struct pg_out *x, char *msg, size_t n)
{
    const char *keys[8], *vals[8];
    int k = 0;
    if (!getenv("PGCONNECT_TIMEOUT"))
        keys[k] = "connect_timeout", vals[k++] = "5";
    if (!getenv("PGAPPNAME"))
        keys[k] = "application_name", vals[k++] = "diorama";
    keys[k] = "keepalives_idle", vals[k++] = "10";
    keys[k] = "tcp_user_timeout", vals[k++] = "15000";
    keys[k] = "dbname", vals[k++] = x->url;
    keys[k] = "client_encoding", vals[k++] = "UTF8";
    keys[k] = NULL, vals[k] = NULL;
    x->conn = PQconnectdbParams(keys, vals, 1);
    if (x->conn && PQstatus(x->conn) == CONNECTION_OK) {
        PQsetNoticeProcessor(x->conn, notice, NULL);
        pthread_mutex_lock(&x->lmu);
        x->cancel = PQgetCancel(x->conn);
        pthread_mutex_unlock(&x->lmu);
        return 0;
    }
    conn_error(x, msg, n);
    PQfinish(x->conn);
    x->conn = NULL;
    return DIO_EIO;
}

static void pg_disconnect(struct pg_out *x)
{
    pthread_mutex_lock(&x->lmu);
    PQfreeCancel(x->cancel);
    x->cancel = NULL;
    pthread_mutex_unlock(&x->lmu);
    PQfinish(x->conn);
    x->conn = NULL;
}

/* Classifies a failed step: PG_RETRY for a lost connection or a transient SQLSTATE, else
 * PG_REJECTED. Leaves no transaction open; drops the connection when it is broken. */
static int pg_fail(struct pg_out *x, PGresult *r, char *msg, size_t n)
{
    const char *code = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    char *st = x->sqlstate; /* a copy: code dies with r */
    snprintf(st, sizeof x->sqlstate, "%s", code ? code : "");
    /* The primary message only: DETAIL would print a whole failing row. */
    const char *primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (primary) {
        char full[512];
        snprintf(full, sizeof full, "%s (SQLSTATE %s)", primary, st);
        copy_scrubbed(msg, n, full, x->secret);
    } else {
        copy_scrubbed(msg, n, r ? PQresultErrorMessage(r) : "", x->secret);
    }
    if (!msg[0])
        conn_error(x, msg, n);
    PQclear(r);
    if (!x->conn || PQstatus(x->conn) != CONNECTION_OK) {
        pg_disconnect(x);
        return PG_RETRY;
    }
    if (PQtransactionStatus(x->conn) != PQTRANS_IDLE)
        PQclear(PQexec(x->conn, "ROLLBACK"));
    int transient = !st[0] || !strncmp(st, "08", 2) || !strncmp(st, "53", 2) ||
                    !strncmp(st, "57P", 3) || !strcmp(st, "40001") || !strcmp(st, "40P01");
    return transient ? PG_RETRY : PG_REJECTED;
}

static int exec_ok(struct pg_out *x, const char *sql, char *msg, size_t n)
{
    PGresult *r = PQexec(x->conn, sql);
    if (PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK) {
        PQclear(r);
        return PG_OK;
    }
    return pg_fail(x, r, msg, n);
}

/* The COPY itself: statement, data in chunks, end, result. */
static int copy_rows(struct pg_out *x, const char *sql, const struct core_buf *data, char *msg,
                     size_t n)
{
    PGresult *r = PQexec(x->conn, sql);
    if (PQresultStatus(r) != PGRES_COPY_IN)
        return pg_fail(x, r, msg, n);
    PQclear(r);
    for (size_t off = 0; off < data->len; off += PG_CHUNK) {
        size_t len = data->len - off < PG_CHUNK ? data->len - off : PG_CHUNK;
        if (PQputCopyData(x->conn, (const char *)data->p + off, (int)len) != 1)
            return pg_fail(x, NULL, msg, n);
    }
    if (PQputCopyEnd(x->conn, NULL) != 1)
        return pg_fail(x, NULL, msg, n);
    PGresult *bad = NULL; /* the first failed result; the rest are read and dropped */
    while ((r = PQgetResult(x->conn)) != NULL) {
        if (!bad && PQresultStatus(r) != PGRES_COMMAND_OK)
            bad = r;
        else
            PQclear(r);
    }
    return bad ? pg_fail(x, bad, msg, n) : PG_OK;
}

/* One attempt at one transaction. */
static int attempt(struct pg_out *x, const char *sql, const char *sig, uint64_t key, uint32_t rows,
                   char *msg, size_t n)
{
    int rc = copy_rows(x, sql, &x->copy, msg, n); /* sql starts with BEGIN */
    if (rc != PG_OK)
        return rc;
    char q[512];
    snprintf(q, sizeof q,
             "INSERT INTO diorama_batches (export_id, signal, batch_seq, run_id, rows)"
             " VALUES ('%s', '%s', %llu, %s, %u); COMMIT",
             x->export_id, sig, (unsigned long long)key, x->run_id_lit, rows);
    rc = exec_ok(x, q, msg, n);
    if (rc == PG_RETRY && !x->conn)
        x->doubt = 1; /* the COMMIT may have landed before the connection died */
    /* This batch's key is already there: an earlier attempt's COMMIT was still running when
     * the check before this retry looked. This transaction rolled back, so nothing doubled. */
    if (rc == PG_REJECTED && !strcmp(x->sqlstate, "23505"))
        return PG_OK;
    return rc;
}

/* After a failure the COMMIT may have landed: 1 if the batch is in, 0 if not, -1 unknown. */
static int committed(struct pg_out *x, const char *sig, uint64_t key)
{
    char q[256];
    snprintf(q, sizeof q,
             "SELECT 1 FROM diorama_batches WHERE export_id = '%s' AND signal = '%s'"
             " AND batch_seq = %llu",
             x->export_id, sig, (unsigned long long)key);
    PGresult *r = PQexec(x->conn, q);
    int rc = PQresultStatus(r) == PGRES_TUPLES_OK ? PQntuples(r) > 0 : -1;
    PQclear(r);
    if (rc < 0 && PQstatus(x->conn) != CONNECTION_OK)
        pg_disconnect(x);
    return rc;
}

/* ---- delivery ------------------------------------------------------------------------------- */

/* Sleeps until `until`, or the shutdown deadline if that comes first. */
static void backoff_sleep(struct pg_out *x, uint64_t until)
{
    for (uint64_t now = core_mono_ns(); now < until; now = core_mono_ns()) {
        uint64_t dl;
        if (export__stopping(&x->o, &dl) && dl < until)
            until = dl;
        uint64_t step = now + PG_SLEEP_SLICE_NS;
        core_sleep_until_ns(step < until ? step : until);
    }
}

/* One try: connect if needed, check a possibly committed earlier try, send. */
static int try_once(struct pg_out *x, const char *sql, const char *sig, uint64_t key, uint32_t rows,
                    int retry, char *msg, size_t n)
{
    if (!x->conn && pg_connect(x, msg, n))
        return PG_RETRY;
    if (retry) {
        int c = committed(x, sig, key);
        if (c == 0)
            x->doubt = 0;
        if (c != 0) {
            if (c < 0)
                conn_error(x, msg, n);
            return c > 0 ? PG_OK : PG_RETRY;
        }
    }
    return attempt(x, sql, sig, key, rows, msg, n);
}

static void note_outcome(struct pg_out *x, int rc, const char *msg)
{
    if (rc == PG_OK && x->down) {
        core_warn("%s: %s is reachable again", x->o.name, x->shown);
        x->down = 0;
    } else if (rc == PG_RETRY && !x->down) {
        core_error("%s: %s: %s; retrying", x->o.name, x->shown, msg);
        x->down = 1;
    }
}

/* Sends x->copy as one transaction, retrying as the header says. s < 0: labels (not counted
 * in the hub's accounting). Returns -1 when delivered, PG_IN_DOUBT when we gave up on a batch
 * whose COMMIT may have landed (never looked up: the server did not come back in time), else
 * the drop reason. */
static int deliver(struct pg_out *x, int s, const char *sql, const char *sig, uint64_t key,
                   uint32_t rows)
{
    uint64_t t_first = core_mono_ns();
    x->doubt = 0;
    for (int n = 0;; n++) {
        char msg[512] = "";
        uint64_t t0 = core_mono_ns();
        int rc = try_once(x, sql, sig, key, rows, n > 0, msg, sizeof msg);
        note_outcome(x, rc, msg);
        if (s >= 0) {
            export__count(&x->o.c[s].requests, 1);
            if (rc != PG_OK)
                export__count(&x->o.c[s].failed_requests, 1);
        }
        if (rc == PG_OK) {
            if (s >= 0) {
                export__count(&x->o.c[s].bytes, x->copy.len);
                export__latency(&x->o, s, core_mono_ns() - t0);
            }
            return -1;
        }
        uint64_t now = core_mono_ns(), dl, delay = 0;
        if (export__stopping(&x->o, &dl) && now >= dl) /* also: cancelled by pg_join */
            return x->doubt ? PG_IN_DOUBT : EXPORT_DROP_SHUTDOWN;
        if (rc == PG_REJECTED) {
            log_rejected(x, sig, msg);
            return EXPORT_DROP_REJECTED;
        }
        if (now - t_first >= x->cfg.retry_budget_ns)
            return x->doubt ? PG_IN_DOUBT : EXPORT_DROP_RETRIES;
        export_retry_policy(0, NULL, n + 1, x->cfg.retry_initial_ns, x->cfg.retry_max_ns,
                            core_wall_ns(), &x->rng, &delay);
        backoff_sleep(x, now + delay);
        if (export__stopping(&x->o, &dl) && core_mono_ns() >= dl)
            return x->doubt ? PG_IN_DOUBT : EXPORT_DROP_SHUTDOWN;
        if (s >= 0)
            export__count(&x->o.c[s].retried, rows);
    }
}

/* Encodes it and, while the server is behind, the batches of the same signal queued after it
 * (up to PG_TX_ROWS rows / PG_TX_BYTES): fewer, larger transactions when round trips are
 * what limits us. Then delivers them as one transaction, keyed by the first batch's seq. */
static void send_batch(struct pg_out *x, struct export__item *it)
{
    int s = it->b->signal;
    uint64_t key = it->seq;
    uint32_t n = 0;
    core_buf_reset(&x->copy);
    do {
        uint32_t bn = it->b->n;
        size_t mark = x->copy.len;
        int rc = encode_batch(x, it->b);
        export__release(&x->o, it);
        if (rc) {
            x->copy.len = mark;
            export__count(&x->o.c[s].failed_requests, 1);
            export__dropped(&x->o, s, bn, EXPORT_DROP_ENCODE);
        } else {
            n += bn;
        }
    } while (n < PG_TX_ROWS && x->copy.len < PG_TX_BYTES && export__take(&x->o, s, it));
    if (n == 0)
        return;
    int reason = deliver(x, s, copy_sql[s], rec_signal_names[s], key, n);
    if (reason < 0)
        export__delivered(&x->o, s, n);
    else if (reason == PG_IN_DOUBT)
        export__timed_out(&x->o, s, n); /* may be in the table: see export.h */
    else
        export__dropped(&x->o, s, n, reason);
}

/* ---- labels --------------------------------------------------------------------------------- */

static void label_free(struct pg_label *l)
{
    core_free(l->target);
    core_free(l->kind);
    core_free(l->fault);
    core_free(l->json);
}

void export_pg_label(struct export_output *o, const struct export_label *l)
{
    struct pg_out *x = (struct pg_out *)o;
    pthread_mutex_lock(&x->lmu);
    if (x->llen == PG_LABEL_CAP) {
        x->labels_dropped++;
        pthread_mutex_unlock(&x->lmu);
        return;
    }
    struct pg_label *d = &x->labels[(x->lhead + x->llen++) % PG_LABEL_CAP];
    d->start_ns = l->start_ns;
    d->end_ns = l->end_ns;
    d->target = l->target ? core_strdup(l->target) : NULL;
    d->kind = l->kind ? core_strdup(l->kind) : NULL;
    d->fault = l->fault ? core_strdup(l->fault) : NULL;
    d->json = core_strndup(l->json, l->json_len);
    d->json_len = l->json_len;
    d->has_trace = l->trace_id != NULL;
    if (l->trace_id)
        memcpy(d->trace_id, l->trace_id, 16);
    pthread_mutex_unlock(&x->lmu);
}

/* Writes up to PG_LABEL_TX queued labels as one transaction (labels are few: one per fault). */
static void flush_labels(struct pg_out *x)
{
    struct pg_label batch[PG_LABEL_TX];
    uint32_t n = 0;
    pthread_mutex_lock(&x->lmu);
    while (x->llen > 0 && n < PG_LABEL_TX) {
        batch[n++] = x->labels[x->lhead];
        x->lhead = (x->lhead + 1) % PG_LABEL_CAP;
        x->llen--;
    }
    pthread_mutex_unlock(&x->lmu);
    if (n == 0)
        return;
    core_buf_reset(&x->copy);
    for (uint32_t i = 0; i < n; i++)
        label_row(x, &batch[i]);
    int reason = deliver(x, -1, copy_labels_sql, "labels", ++x->label_batches, n);
    pthread_mutex_lock(&x->lmu); /* export_pg_label counts drops too, on the engine's thread */
    if (reason < 0)
        x->labels_written += n;
    else
        x->labels_dropped += n;
    pthread_mutex_unlock(&x->lmu);
    for (uint32_t i = 0; i < n; i++)
        label_free(&batch[i]);
}

static uint32_t labels_queued(struct pg_out *x)
{
    pthread_mutex_lock(&x->lmu);
    uint32_t n = x->llen;
    pthread_mutex_unlock(&x->lmu);
    return n;
}

/* ---- thread and vtable ---------------------------------------------------------------------- */

static void *pg_main(void *arg)
{
    struct pg_out *x = arg;
    for (;;) {
        uint64_t deadline = 0;
        int stopping = export__stopping(&x->o, &deadline);
        if (stopping && core_mono_ns() >= deadline)
            break;
        if (labels_queued(x)) /* then one batch: neither starves the other */
            flush_labels(x);
        struct export__item it;
        if (export__take(&x->o, -1, &it)) {
            send_batch(x, &it);
            continue;
        }
        if (stopping)
            break;
        /* Labels do not wake us (they do not go through the hub): poll for them. */
        export__wait(&x->o, core_mono_ns() + PG_LABEL_POLL_NS);
    }
    export__drain_dropped(&x->o, EXPORT_DROP_SHUTDOWN);
    pg_disconnect(x);
    return NULL;
}

static int pg_start(struct export_output *o)
{
    struct pg_out *x = (struct pg_out *)o;
    if (export__thread_create(&x->thread, pg_main, x) != 0)
        return DIO_ENOMEM;
    x->started = 1;
    return 0;
}

static void pg_wake(struct export_output *o)
{
    (void)o; /* export_hub_submit broadcasts the hub's condition variable */
}

/* The thread checks the deadline between libpq calls, but a call can block for long: a COPY
 * waiting for a lock another session holds, say. A second past the deadline we cancel what
 * the server is doing (the batch then counts dropped(shutdown)) so that stopping never hangs. */
static void pg_join(struct export_output *o)
{
    struct pg_out *x = (struct pg_out *)o;
    if (!x->started)
        return;
    uint64_t dl = 0, now = core_mono_ns();
    export__stopping(o, &dl);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t wait = (dl > now ? dl - now : 0) + 1000000000ULL;
    uint64_t abs = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec + wait;
    ts.tv_sec = (time_t)(abs / 1000000000ULL);
    ts.tv_nsec = (long)(abs % 1000000000ULL);
    if (pthread_timedjoin_np(x->thread, NULL, &ts) != 0) {
        char buf[256];
        pthread_mutex_lock(&x->lmu);
        if (x->cancel && !PQcancel(x->cancel, buf, sizeof buf))
            core_warn("%s: cancelling the running statement at shutdown: %s", o->name, buf);
        pthread_mutex_unlock(&x->lmu);
        pthread_join(x->thread, NULL);
    }
    x->started = 0;
}

static void pg_destroy(struct export_output *o)
{
    struct pg_out *x = (struct pg_out *)o;
    pg_join(o);
    pg_disconnect(x);
    while (x->llen > 0) {
        label_free(&x->labels[x->lhead]);
        x->lhead = (x->lhead + 1) % PG_LABEL_CAP;
        x->llen--;
        x->labels_dropped++;
    }
    if (x->labels_dropped)
        core_error("%s: %llu fault labels were not written to diorama_labels (%llu were)", o->name,
                   (unsigned long long)x->labels_dropped, (unsigned long long)x->labels_written);
    core_buf_free(&x->copy);
    core_buf_free(&x->json);
    core_buf_free(&x->tmp);
    core_buf_free(&x->rbuf);
    core_free(x->res);
    core_free(x->labels);
    core_free(x->url);
    core_free(x->secret);
    core_free(x->run_id);
    core_free(x->run_id_lit);
    pthread_mutex_destroy(&x->lmu);
    export__output_fini(o);
    core_free(x);
}

static const struct export_output_ops pg_ops = {
    .kind = "postgres",
    .start = pg_start,
    .wake = pg_wake,
    .join = pg_join,
    .destroy = pg_destroy,
};

static void set_ids(struct pg_out *x, const char *run_id)
{
    struct core_buf b;
    core_buf_init(&b, 4096);
    put_text(&b, run_id, strlen(run_id));
    core_buf_putc(&b, '\0');
    x->run_id = core_strdup((const char *)b.p);
    core_buf_free(&b);
    char *lit = PQescapeLiteral(x->conn, run_id, strlen(run_id));
    x->run_id_lit = core_strdup(lit ? lit : "''");
    PQfreemem(lit);
    uint64_t seed[3] = {core_wall_ns(), core_mono_ns(), (uint64_t)getpid()};
    snprintf(x->export_id, sizeof x->export_id, "%016llx",
             (unsigned long long)core_hash64(seed, sizeof seed));
}

static struct pg_out *pg_alloc(const struct export_pg_cfg *cfg)
{
    struct pg_out *x = core_calloc(1, sizeof *x);
    export__output_init(&x->o, &pg_ops, cfg->verify_attrs);
    x->cfg = *cfg;
    x->cfg.retry_initial_ns = cfg->retry_initial_ns ? cfg->retry_initial_ns : 500000000ULL;
    x->cfg.retry_max_ns = cfg->retry_max_ns ? cfg->retry_max_ns : 5000000000ULL;
    x->cfg.retry_budget_ns = cfg->retry_budget_ns ? cfg->retry_budget_ns : 60000000000ULL;
    x->url = core_strdup(cfg->url);
    x->secret = parsed_password(cfg->url);
    export_pg_url_mask(cfg->url, x->shown, sizeof x->shown);
    core_rng_init(&x->rng, cfg->seed, 0x7067 /* "pg" */, 1);
    core_buf_init(&x->copy, 2 * EXPORT__MAX_BODY + PG_TX_BYTES);
    core_buf_init(&x->json, EXPORT__MAX_BODY);
    core_buf_init(&x->tmp, EXPORT__MAX_BODY);
    core_buf_init(&x->rbuf, EXPORT__MAX_BODY);
    pthread_mutex_init(&x->lmu, NULL);
    x->labels = core_calloc(PG_LABEL_CAP, sizeof *x->labels);
    return x;
}

struct export_output *export_pg_new(const struct export_pg_cfg *cfg, char *err, size_t errlen)
{
    if (export_pg_url_check(cfg->url, err, errlen))
        return NULL;
    struct pg_out *x = pg_alloc(cfg);
    char msg[512];
    if (pg_connect(x, msg, sizeof msg)) {
        snprintf(err, errlen, "cannot connect to %s: %s", x->shown, msg);
        goto fail;
    }
    if (exec_ok(x, ddl, msg, sizeof msg) != PG_OK) {
        snprintf(err, errlen, "cannot create the diorama_* tables in %s: %s", x->shown, msg);
        goto fail;
    }
    set_ids(x, cfg->run_id ? cfg->run_id : "");
    core_info("%s: connected to %s (export id %s)", x->o.name, x->shown, x->export_id);
    return &x->o;
fail:
    pg_destroy(&x->o);
    return NULL;
}
