/* load_target: the HTTP/1.1 server the `diorama load` tests aim at. One thread, epoll,
 * keep-alive. It behaves like a well-written classify endpoint and counts what it saw so the
 * tests can check each failure mode without timing anything:
 *
 *   POST with Content-Type application/json and a JSON object holding "text" -> 200
 *   wrong content type -> 415, malformed body or missing "text" -> 400, no body -> 200
 *   X-Diorama-Delay: Nms -> answers after N ms (other connections go on meanwhile)
 *   --stall-after N      -> after the N-th request the whole server sleeps 1 s, once
 *   --chunked            -> answers with chunked bodies (exercises the client's parser)
 *   --close-every N      -> every N-th answer carries Connection: close
 *
 * usage: load_target --port-file F [--stats F] [--stall-after N] [--chunked] [--close-every N]
 * GET /__stats answers the counters as JSON; SIGTERM writes them to --stats and exits. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_REQ (1 << 20)

struct conn {
    int fd;
    char *buf;
    size_t len;
    long long due_ms; /* a delayed answer is pending: send at this time */
    int due_status;
};

static struct {
    unsigned long long requests, tagged, tag_match, delay_hdr, malformed, wrong_ct, ok, bodies;
    unsigned long long body_min, body_max, body_total, bloated, connections;
    char tag_value[128];
} st = {.body_min = ~0ULL};

static volatile sig_atomic_t quit;
#define MAX_PENDING 65536
static struct conn *pending[MAX_PENDING]; /* connections with a delayed answer */
static int npending;
static int chunked, close_every, stall_after = -1, ep;
static const char *expect_tag;

static void on_term(int s)
{
    (void)s;
    quit = 1;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static int stats_json(char *out, size_t n)
{
    return snprintf(out, n,
                    "{\"requests\":%llu,\"tagged\":%llu,\"tag_value\":\"%s\",\"tag_match\":%llu,"
                    "\"delay_header\":%llu,\"malformed\":%llu,\"wrong_content_type\":%llu,"
                    "\"ok\":%llu,\"bodies\":%llu,\"body_min\":%llu,\"body_max\":%llu,"
                    "\"body_total\":%llu,\"bloated\":%llu,\"connections\":%llu}\n",
                    st.requests, st.tagged, st.tag_value, st.tag_match, st.delay_hdr, st.malformed,
                    st.wrong_ct, st.ok, st.bodies, st.bodies ? st.body_min : 0, st.body_max,
                    st.body_total, st.bloated, st.connections);
}

static const char *hdr(const char *head, const char *name, size_t *vlen)
{
    size_t n = strlen(name);
    for (const char *p = strstr(head, "\r\n"); p && p[2] != '\r'; p = strstr(p + 2, "\r\n")) {
        if (!strncasecmp(p + 2, name, n) && p[2 + n] == ':') {
            const char *v = p + 3 + n;
            while (*v == ' ')
                v++;
            *vlen = strcspn(v, "\r");
            return v;
        }
    }
    return NULL;
}

static void respond(struct conn *c, int status, const char *body)
{
    char out[4096];
    const char *reason = status == 200 ? "OK" : status == 400 ? "Bad Request" : "Unsupported";
    int close_it = close_every > 0 && st.requests % (unsigned)close_every == 0;
    int n;
    if (chunked)
        n = snprintf(out, sizeof out,
                     "HTTP/1.1 %d %s\r\nTransfer-Encoding: chunked\r\n%s\r\n%zx\r\n%s\r\n0\r\n\r\n",
                     status, reason, close_it ? "Connection: close\r\n" : "", strlen(body), body);
    else
        n = snprintf(out, sizeof out, "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\n%s\r\n%s", status,
                     reason, strlen(body), close_it ? "Connection: close\r\n" : "", body);
    if (write(c->fd, out, (size_t)n) < 0 || close_it) {
        shutdown(c->fd, SHUT_WR);
    }
}

/* The body is a JSON object with a "text" field: the check a classify endpoint makes first.
 * Braces and quotes are counted, not parsed: enough to tell our malformed bodies apart. */
static int body_ok(const char *b, size_t n)
{
    if (n < 2 || b[0] != '{' || b[n - 1] != '}')
        return 0;
    int depth = 0, in_str = 0;
    for (size_t i = 0; i < n; i++) {
        if (in_str) {
            if (b[i] == '\\')
                i++;
            else if (b[i] == '"')
                in_str = 0;
        } else if (b[i] == '"') {
            in_str = 1;
        } else if (b[i] == '{') {
            depth++;
        } else if (b[i] == '}' && --depth == 0 && i != n - 1) {
            return 0;
        }
    }
    return depth == 0 && !in_str && memmem(b, n, "\"text\"", 6);
}

static void count_tag(const char *head)
{
    size_t vl;
    const char *v = hdr(head, "x-traffic-type", &vl);
    if (!v)
        return;
    st.tagged++;
    if (vl < sizeof st.tag_value) {
        memcpy(st.tag_value, v, vl);
        st.tag_value[vl] = '\0';
    }
    if (expect_tag && strlen(expect_tag) == vl && !memcmp(expect_tag, v, vl))
        st.tag_match++;
}

static int classify(const char *head, const char *body, size_t blen)
{
    size_t vl;
    count_tag(head);
    if (blen) {
        st.bodies++;
        st.body_total += blen;
        st.body_min = blen < st.body_min ? blen : st.body_min;
        st.body_max = blen > st.body_max ? blen : st.body_max;
        st.bloated += blen >= 10000;
        const char *ct = hdr(head, "content-type", &vl);
        if (!ct || vl < 16 || strncasecmp(ct, "application/json", 16)) {
            st.wrong_ct++;
            return 415;
        }
        if (!body_ok(body, blen)) {
            st.malformed++;
            return 400;
        }
    }
    st.ok++;
    return 200;
}

/* One complete request at the start of c->buf: answer (now or later); returns its length,
 * 0 if incomplete, -1 if unusable. */
static long handle(struct conn *c)
{
    char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
    if (!end)
        return c->len >= MAX_REQ ? -1 : 0;
    *end = '\0';
    size_t vl, head = (size_t)(end - c->buf) + 4, blen = 0;
    const char *cl = hdr(c->buf, "content-length", &vl);
    if (cl)
        blen = strtoul(cl, NULL, 10);
    if (head + blen > MAX_REQ)
        return -1;
    if (c->len < head + blen) {
        *end = '\r';
        return 0;
    }
    if (!strncmp(c->buf, "GET /__stats ", 13)) {
        char js[1024];
        stats_json(js, sizeof js);
        respond(c, 200, js);
        return (long)(head + blen);
    }
    st.requests++;
    int status = classify(c->buf, c->buf + head, blen);
    if (stall_after >= 0 && st.requests == (unsigned long long)stall_after + 1) {
        stall_after = -1;
        usleep(1000000); /* the whole server stops answering for a second, once */
    }
    const char *d = hdr(c->buf, "x-diorama-delay", &vl);
    if (d) {
        st.delay_hdr++;
        c->due_ms = now_ms() + strtol(d, NULL, 10);
        c->due_status = status;
        if (npending < MAX_PENDING)
            pending[npending++] = c;
    } else {
        respond(c, status, status == 200 ? "{\"label\":\"job_application\"}" : "{\"error\":1}");
    }
    return (long)(head + blen);
}

static void drop(struct conn *c)
{
    for (int i = 0; i < npending; i++)
        if (pending[i] == c)
            pending[i] = pending[--npending];
    close(c->fd);
    free(c->buf);
    free(c);
}

static void on_read(struct conn *c)
{
    if (c->len == MAX_REQ)
        return drop(c);
    ssize_t n = read(c->fd, c->buf + c->len, MAX_REQ - c->len);
    if (n <= 0) {
        if (n < 0 && errno == EAGAIN)
            return;
        return drop(c);
    }
    c->len += (size_t)n;
    long used = 0;
    while (c->due_ms == 0 && (used = handle(c)) > 0) {
        memmove(c->buf, c->buf + used, c->len - (size_t)used);
        c->len -= (size_t)used;
    }
    if (used < 0)
        drop(c);
}

static void on_accept(int lfd)
{
    int fd;
    while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct conn *c = calloc(1, sizeof *c);
        c->fd = fd;
        c->buf = malloc(MAX_REQ);
        st.connections++;
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
    }
}

/* Answers delayed requests that are due; returns ms until the next one (or 100). */
static int run_pending(void)
{
    long long now = now_ms(), next = now + 100;
    for (int i = 0; i < npending;) {
        struct conn *c = pending[i];
        if (c->due_ms > now) {
            next = c->due_ms < next ? c->due_ms : next;
            i++;
            continue;
        }
        pending[i] = pending[--npending];
        c->due_ms = 0;
        respond(c, c->due_status, "{\"label\":\"job_application\",\"slow\":true}");
        long used;
        while (c->due_ms == 0 && (used = handle(c)) > 0) {
            memmove(c->buf, c->buf + used, c->len - (size_t)used);
            c->len -= (size_t)used;
        }
    }
    return (int)(next - now);
}

static int listen_any(const char *port_file, int port)
{
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (bind(lfd, (struct sockaddr *)&a, sizeof a) || listen(lfd, 4096) ||
        getsockname(lfd, (struct sockaddr *)&a, &al)) {
        perror("load_target: listen");
        exit(1);
    }
    if (port_file) {
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.tmp", port_file);
        FILE *f = fopen(tmp, "w");
        if (!f || fprintf(f, "%d\n", ntohs(a.sin_port)) < 0 || fclose(f) || rename(tmp, port_file))
            exit(1);
    }
    return lfd;
}

int main(int argc, char **argv)
{
    const char *port_file = NULL, *stats = NULL;
    int port = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(a, "--chunked"))
            chunked = 1;
        else if (!strcmp(a, "--port-file") && ++i)
            port_file = v;
        else if (!strcmp(a, "--port") && ++i)
            port = atoi(v);
        else if (!strcmp(a, "--stats") && ++i)
            stats = v;
        else if (!strcmp(a, "--stall-after") && ++i)
            stall_after = atoi(v);
        else if (!strcmp(a, "--close-every") && ++i)
            close_every = atoi(v);
        else if (!strcmp(a, "--expect-tag") && ++i)
            expect_tag = v;
        else {
            fprintf(stderr, "load_target: unknown option %s\n", a);
            return 2;
        }
    }
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    signal(SIGPIPE, SIG_IGN);
    int lfd = listen_any(port_file, port);
    ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event e = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &e);
    struct epoll_event ev[256];
    while (!quit) {
        int n = epoll_wait(ep, ev, 256, run_pending());
        for (int i = 0; i < n; i++) {
            if (!ev[i].data.ptr)
                on_accept(lfd);
            else
                on_read(ev[i].data.ptr);
        }
    }
    if (stats) {
        char js[1024];
        FILE *f = fopen(stats, "w");
        if (f) {
            stats_json(js, sizeof js);
            fputs(js, f);
            fclose(f);
        }
    }
    return 0;
}
