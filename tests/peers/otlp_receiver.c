/* otlp_receiver: a scriptable OTLP/HTTP test peer for the export tests.
 *
 * Listens on 127.0.0.1, speaks enough HTTP/1.1 (keep-alive, Content-Length, gzip request
 * bodies), counts what arrives and answers as scripted. Requests are numbered in arrival
 * order; the first --drop-connection N are read and then the connection is closed without a
 * response; the next --fail-first N get --status S (with --retry-after V); the rest get 200,
 * with a partial_success rejecting --partial-reject K items when given. --status without
 * --fail-first fails every request. --delay-ms D holds each response back for D ms.
 *
 * Items (spans, metric data points, log records) are counted by walking the protobuf, so a
 * test can compare what the exporter says it delivered with what actually arrived. On
 * SIGTERM or SIGINT it writes a JSON stats file (--stats) and exits 0.
 *
 *   otlp_receiver --port-file F --stats F [--port P] [--fail-first N] [--status S]
 *                 [--retry-after V] [--drop-connection N] [--partial-reject K]
 *                 [--delay-ms D] [--expect-header "name: value"]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define MAX_CONNS 64
#define MAX_HEAD 65536
#define MAX_BODY ((size_t)64 << 20)

static volatile sig_atomic_t stop;

static struct {
    int port;
    const char *port_file, *stats_file, *retry_after, *expect_header;
    long fail_first, status, drop_first, partial_reject, delay_ms;
} opt = {.fail_first = -1};

static struct {
    uint64_t requests, connections, dropped_connections, bytes, gzip, content_type_ok;
    uint64_t user_agent_ok, header_hits, bad_requests;
    uint64_t items_ok, items_rejected, items_failed;
    uint64_t by_status[600];
    uint64_t signal_items[3]; /* accepted: traces, metrics, logs */
} st;

struct conn {
    int fd;
    char *buf;
    size_t len, cap;
    int responding;  /* a response is scheduled */
    uint64_t due_ms; /* when to send it */
    char *out;       /* the response */
    size_t out_len;
    int close_after;
};

static struct conn conns[MAX_CONNS];

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/* ---- protobuf walking ---------------------------------------------------------------------- */

struct pb {
    const uint8_t *p, *end;
};

static int varint(struct pb *r, uint64_t *v)
{
    *v = 0;
    for (int s = 0; s < 64 && r->p < r->end; s += 7) {
        uint8_t b = *r->p++;
        *v |= (uint64_t)(b & 0x7f) << s;
        if (!(b & 0x80))
            return 0;
    }
    return -1;
}

/* Calls fn for every LEN field of the message in r whose number is `want` (0: any). -1 on
 * malformed input. */
static int each(struct pb r, uint32_t want, int (*fn)(struct pb, uint32_t, void *), void *ctx)
{
    while (r.p < r.end) {
        uint64_t tag, v;
        if (varint(&r, &tag) != 0)
            return -1;
        switch (tag & 7) {
        case 0:
            if (varint(&r, &v) != 0)
                return -1;
            break;
        case 1:
            if (r.end - r.p < 8)
                return -1;
            r.p += 8;
            break;
        case 5:
            if (r.end - r.p < 4)
                return -1;
            r.p += 4;
            break;
        case 2: {
            if (varint(&r, &v) != 0 || v > (uint64_t)(r.end - r.p))
                return -1;
            struct pb sub = {r.p, r.p + v};
            r.p += v;
            uint32_t f = (uint32_t)(tag >> 3);
            if ((want == 0 || f == want) && fn(sub, f, ctx) != 0)
                return -1;
            break;
        }
        default:
            return -1;
        }
    }
    return 0;
}

static int count_one(struct pb m, uint32_t f, void *ctx)
{
    (void)m;
    (void)f;
    (*(uint64_t *)ctx)++;
    return 0;
}

/* Metric: gauge 5, sum 7, histogram 9, exponential_histogram 10, summary 11, each holding
 * data_points 1. */
static int metric_data(struct pb m, uint32_t f, void *ctx)
{
    if (f == 5 || f == 7 || f == 9 || f == 10 || f == 11)
        return each(m, 1, count_one, ctx);
    return 0;
}

static int metric(struct pb m, uint32_t f, void *ctx)
{
    (void)f;
    return each(m, 0, metric_data, ctx);
}

struct level {
    int metrics;
    uint64_t n;
};

/* Scope{Spans,Metrics,Logs}: the items are field 2. */
static int scope(struct pb m, uint32_t f, void *ctx)
{
    struct level *l = ctx;
    (void)f;
    return each(m, 2, l->metrics ? metric : count_one, &l->n);
}

/* Resource{Spans,Metrics,Logs}: scope_* is field 2. */
static int resource(struct pb m, uint32_t f, void *ctx)
{
    (void)f;
    return each(m, 2, scope, ctx);
}

/* -1 when the body is not a valid request of that signal. */
static int64_t count_items(const uint8_t *p, size_t n, int signal)
{
    struct level l = {signal == 1, 0};
    struct pb r = {p, p + n};
    if (each(r, 1, resource, &l) != 0)
        return -1;
    return (int64_t)l.n;
}

static int gunzip(const uint8_t *in, size_t n, uint8_t **out, size_t *outlen)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 16 + 15) != Z_OK)
        return -1;
    size_t cap = n * 4 + 1024;
    uint8_t *buf = malloc(cap);
    z.next_in = (uint8_t *)in;
    z.avail_in = (uInt)n;
    int rc;
    do {
        if (z.total_out == cap) {
            if (cap >= MAX_BODY * 4)
                break;
            cap *= 2;
            buf = realloc(buf, cap);
        }
        z.next_out = buf + z.total_out;
        z.avail_out = (uInt)(cap - z.total_out);
        rc = inflate(&z, Z_NO_FLUSH);
    } while (rc == Z_OK);
    *outlen = z.total_out;
    inflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(buf);
        return -1;
    }
    *out = buf;
    return 0;
}

/* ---- HTTP ---------------------------------------------------------------------------------- */

static void conn_close(struct conn *c)
{
    close(c->fd);
    free(c->buf);
    free(c->out);
    memset(c, 0, sizeof *c);
    c->fd = -1;
}

static const char *header(const char *head, const char *name, char *val, size_t n)
{
    size_t nl = strlen(name);
    for (const char *p = strstr(head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
        const char *h = p + 2;
        if (strncasecmp(h, name, nl) == 0 && h[nl] == ':') {
            h += nl + 1;
            while (*h == ' ')
                h++;
            const char *e = strstr(h, "\r\n");
            size_t len = e ? (size_t)(e - h) : strlen(h);
            if (len >= n)
                len = n - 1;
            memcpy(val, h, len);
            val[len] = 0;
            return val;
        }
    }
    return NULL;
}

static void schedule(struct conn *c, int status, const uint8_t *body, size_t blen)
{
    char head[512];
    int hl = snprintf(head, sizeof head,
                      "HTTP/1.1 %d Scripted\r\nContent-Type: application/x-protobuf\r\n"
                      "Content-Length: %zu\r\n",
                      status, blen);
    if (status != 200 && opt.retry_after)
        hl += snprintf(head + hl, sizeof head - (size_t)hl, "Retry-After: %s\r\n", opt.retry_after);
    hl += snprintf(head + hl, sizeof head - (size_t)hl, "\r\n");
    c->out = malloc((size_t)hl + blen);
    memcpy(c->out, head, (size_t)hl);
    if (blen)
        memcpy(c->out + hl, body, blen);
    c->out_len = (size_t)hl + blen;
    c->responding = 1;
    c->due_ms = now_ms() + (uint64_t)opt.delay_ms;
}

static int signal_of(const char *path)
{
    if (strcmp(path, "/v1/traces") == 0)
        return 0;
    if (strcmp(path, "/v1/metrics") == 0)
        return 1;
    if (strcmp(path, "/v1/logs") == 0)
        return 2;
    return -1;
}

/* A whole request is in c->buf: [0, hlen) head, then clen body bytes. */
static void handle(struct conn *c, size_t hlen, size_t clen)
{
    char *head = c->buf;
    head[hlen - 2] = 0; /* keep one "\r\n" for header() */
    char method[16] = "", path[256] = "", val[512];
    sscanf(head, "%15s %255s", method, path);
    const uint8_t *body = (const uint8_t *)c->buf + hlen;
    uint64_t k = st.requests++;
    st.bytes += clen;
    if (header(head, "Content-Type", val, sizeof val) && !strcmp(val, "application/x-protobuf"))
        st.content_type_ok++;
    if (header(head, "User-Agent", val, sizeof val) && !strncmp(val, "diorama/", 8))
        st.user_agent_ok++;
    if (opt.expect_header) {
        const char *colon = strchr(opt.expect_header, ':');
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)(colon - opt.expect_header), opt.expect_header);
        const char *want = colon + 1;
        while (*want == ' ')
            want++;
        if (header(head, name, val, sizeof val) && !strcmp(val, want))
            st.header_hits++;
    }
    if (header(head, "Connection", val, sizeof val) && !strcasecmp(val, "close"))
        c->close_after = 1;
    uint8_t *plain = NULL;
    size_t plen = clen;
    int gz = header(head, "Content-Encoding", val, sizeof val) && !strcmp(val, "gzip");
    if (gz) {
        st.gzip++;
        if (gunzip(body, clen, &plain, &plen) != 0)
            plen = (size_t)-1;
    }
    int sig = signal_of(path);
    int64_t items = -1;
    if (sig >= 0 && plen != (size_t)-1)
        items = count_items(plain ? plain : body, plen, sig);
    free(plain);
    if (strcmp(method, "POST") != 0 || items < 0) {
        st.bad_requests++;
        st.by_status[400]++;
        schedule(c, 400, NULL, 0);
        return;
    }
    if ((long)k < opt.drop_first) {
        st.dropped_connections++;
        c->close_after = 2; /* close without answering */
        c->responding = 1;
        c->due_ms = now_ms();
        return;
    }
    long failing = opt.fail_first < 0 ? (opt.status ? -1 : 0) : opt.fail_first;
    if (failing < 0 || (long)k - opt.drop_first < failing) {
        st.items_failed += (uint64_t)items;
        st.by_status[opt.status]++;
        schedule(c, (int)opt.status, NULL, 0);
        return;
    }
    uint64_t rej = (uint64_t)opt.partial_reject < (uint64_t)items ? (uint64_t)opt.partial_reject
                                                                  : (uint64_t)items;
    st.items_ok += (uint64_t)items - rej;
    st.items_rejected += rej;
    st.signal_items[sig] += (uint64_t)items - rej;
    st.by_status[200]++;
    uint8_t resp[64];
    size_t n = 0;
    if (opt.partial_reject > 0) {
        static const char msg[] = "rejected by test";
        uint8_t inner[40];
        size_t m = 0;
        inner[m++] = 0x08;
        for (uint64_t v = rej;; v >>= 7) {
            inner[m++] = (uint8_t)((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
            if (v < 0x80)
                break;
        }
        inner[m++] = 0x12;
        inner[m++] = (uint8_t)(sizeof msg - 1);
        memcpy(inner + m, msg, sizeof msg - 1);
        m += sizeof msg - 1;
        resp[n++] = 0x0a;
        resp[n++] = (uint8_t)m;
        memcpy(resp + n, inner, m);
        n += m;
    }
    schedule(c, 200, resp, n);
}

/* Reads what is there; handles a complete request. -1: close the connection. */
static int on_readable(struct conn *c)
{
    if (c->cap - c->len < 65536) {
        size_t cap = c->cap ? c->cap * 2 : 131072;
        if (cap > MAX_HEAD + MAX_BODY)
            return -1;
        c->buf = realloc(c->buf, cap + 1);
        c->cap = cap;
    }
    ssize_t r = read(c->fd, c->buf + c->len, c->cap - c->len);
    if (r <= 0)
        return -1;
    c->len += (size_t)r;
    c->buf[c->len] = 0;
    return 0;
}

/* If a full request is buffered, handle it and drop it from the buffer. */
static int try_request(struct conn *c)
{
    if (c->responding)
        return 0;
    char *e = memmem(c->buf, c->len, "\r\n\r\n", 4);
    if (!e)
        return c->len > MAX_HEAD ? -1 : 0;
    size_t hlen = (size_t)(e - c->buf) + 4;
    char save = c->buf[hlen - 1];
    c->buf[hlen - 1] = 0;
    char val[64];
    size_t clen = 0;
    if (header(c->buf, "Content-Length", val, sizeof val))
        clen = strtoull(val, NULL, 10);
    c->buf[hlen - 1] = save;
    if (clen > MAX_BODY)
        return -1;
    if (c->len < hlen + clen)
        return 0;
    handle(c, hlen, clen);
    memmove(c->buf, c->buf + hlen + clen, c->len - hlen - clen);
    c->len -= hlen + clen;
    return 0;
}

static int send_due(struct conn *c, uint64_t now)
{
    if (!c->responding || c->due_ms > now)
        return 0;
    if (c->close_after == 2)
        return -1;
    size_t off = 0;
    while (off < c->out_len) {
        ssize_t w = write(c->fd, c->out + off, c->out_len - off);
        if (w <= 0)
            return -1;
        off += (size_t)w;
    }
    free(c->out);
    c->out = NULL;
    c->responding = 0;
    return c->close_after ? -1 : try_request(c);
}

static void write_stats(void)
{
    FILE *f = fopen(opt.stats_file, "w");
    if (!f)
        return;
    fprintf(f,
            "{\"requests\":%llu,\"connections\":%llu,\"dropped_connections\":%llu,"
            "\"bytes\":%llu,\"gzip\":%llu,\"content_type_ok\":%llu,\"user_agent_ok\":%llu,"
            "\"header_hits\":%llu,\"bad_requests\":%llu,\"items_ok\":%llu,"
            "\"items_rejected\":%llu,\"items_failed\":%llu,\"spans\":%llu,\"points\":%llu,"
            "\"logs\":%llu,\"status\":{",
            (unsigned long long)st.requests, (unsigned long long)st.connections,
            (unsigned long long)st.dropped_connections, (unsigned long long)st.bytes,
            (unsigned long long)st.gzip, (unsigned long long)st.content_type_ok,
            (unsigned long long)st.user_agent_ok, (unsigned long long)st.header_hits,
            (unsigned long long)st.bad_requests, (unsigned long long)st.items_ok,
            (unsigned long long)st.items_rejected, (unsigned long long)st.items_failed,
            (unsigned long long)st.signal_items[0], (unsigned long long)st.signal_items[1],
            (unsigned long long)st.signal_items[2]);
    const char *sep = "";
    for (int i = 0; i < 600; i++) {
        if (st.by_status[i]) {
            fprintf(f, "%s\"%d\":%llu", sep, i, (unsigned long long)st.by_status[i]);
            sep = ",";
        }
    }
    fprintf(f, "}}\n");
    fclose(f);
}

static int listen_on(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 128) != 0) {
        perror("otlp_receiver: bind/listen");
        exit(1);
    }
    socklen_t al = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &al);
    if (opt.port_file) {
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.tmp", opt.port_file);
        FILE *f = fopen(tmp, "w");
        fprintf(f, "%d\n", ntohs(a.sin_port));
        fclose(f);
        rename(tmp, opt.port_file); /* appears whole */
    }
    return fd;
}

static void parse_args(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--port"))
            opt.port = atoi(v);
        else if (!strcmp(k, "--port-file"))
            opt.port_file = v;
        else if (!strcmp(k, "--stats"))
            opt.stats_file = v;
        else if (!strcmp(k, "--fail-first"))
            opt.fail_first = atol(v);
        else if (!strcmp(k, "--status"))
            opt.status = atol(v);
        else if (!strcmp(k, "--retry-after"))
            opt.retry_after = v;
        else if (!strcmp(k, "--drop-connection"))
            opt.drop_first = atol(v);
        else if (!strcmp(k, "--partial-reject"))
            opt.partial_reject = atol(v);
        else if (!strcmp(k, "--delay-ms"))
            opt.delay_ms = atol(v);
        else if (!strcmp(k, "--expect-header"))
            opt.expect_header = v;
        else {
            fprintf(stderr, "otlp_receiver: unknown option %s\n", k);
            exit(2);
        }
    }
    if (opt.status < 0 || opt.status >= 600 || (opt.fail_first >= 0 && !opt.status)) {
        fprintf(stderr, "otlp_receiver: --fail-first needs --status 100..599\n");
        exit(2);
    }
    if (opt.expect_header && !strchr(opt.expect_header, ':')) {
        fprintf(stderr, "otlp_receiver: --expect-header wants \"name: value\"\n");
        exit(2);
    }
}

static void accept_one(int lfd)
{
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        return;
    for (int i = 0; i < MAX_CONNS; i++) {
        if (conns[i].fd < 0) {
            conns[i].fd = fd;
            st.connections++;
            return;
        }
    }
    close(fd);
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    for (int i = 0; i < MAX_CONNS; i++)
        conns[i].fd = -1;
    int lfd = listen_on(opt.port);
    while (!stop) {
        struct pollfd pf[MAX_CONNS + 1];
        int idx[MAX_CONNS + 1], n = 0;
        uint64_t now = now_ms(), next = now + 1000;
        pf[n] = (struct pollfd){lfd, POLLIN, 0};
        idx[n++] = -1;
        for (int i = 0; i < MAX_CONNS; i++) {
            if (conns[i].fd < 0)
                continue;
            if (conns[i].responding && conns[i].due_ms < next)
                next = conns[i].due_ms;
            pf[n] = (struct pollfd){conns[i].fd, POLLIN, 0};
            idx[n++] = i;
        }
        int rc = poll(pf, (nfds_t)n, (int)(next > now ? next - now : 0));
        if (rc < 0 && errno != EINTR)
            break;
        now = now_ms();
        for (int j = 0; rc > 0 && j < n; j++) {
            if (!pf[j].revents)
                continue;
            if (idx[j] < 0) {
                accept_one(lfd);
                continue;
            }
            struct conn *c = &conns[idx[j]];
            if (on_readable(c) != 0 || try_request(c) != 0)
                conn_close(c);
        }
        for (int i = 0; i < MAX_CONNS; i++) {
            if (conns[i].fd >= 0 && send_due(&conns[i], now) != 0)
                conn_close(&conns[i]);
        }
    }
    if (opt.stats_file)
        write_stats();
    for (int i = 0; i < MAX_CONNS; i++) {
        if (conns[i].fd >= 0)
            conn_close(&conns[i]);
    }
    close(lfd);
    return 0;
}
