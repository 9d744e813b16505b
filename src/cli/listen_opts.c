/* The listener flags every subcommand shares (docs/listeners.md): the address is checked when
 * the flag is read, so a malformed one is a usage error (exit 2) before anything starts; a
 * port that cannot be bound is found at start and is a runtime error (exit 1). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/core.h"
#include "httpd/httpd.h"
#include "server/server.h"

int cli_parse_listen(const char *flag, const char *arg)
{
    struct httpd_addr a;
    char err[512];
    if (httpd_addr_parse(arg, &a, err, sizeof err))
        return cli_fail(CLI_ERR_USAGE, "%s: %s", flag, err);
    return 0;
}

/* Timeouts: at least 100 ms (header) or 1 s (idle), at most an hour. The base checks both every
 * 100 ms (httpd/loop.c) and does not round them; the idle bound of 1 s is kept from when the
 * server counted whole seconds, so existing command lines mean what they did. */
static int parse_timeout(const char *flag, const char *arg, uint64_t min_ns, uint64_t *out)
{
    uint64_t ns;
    if (core_parse_duration(arg, &ns) || ns < min_ns || ns > 3600000000000ULL)
        return cli_bad_value(flag, arg,
                             min_ns < 1000000000ULL ? "a duration from 100ms to 1h, like 10s"
                                                    : "a duration from 1s to 1h, like 60s");
    *out = ns;
    return 0;
}

int cli_listener_opt(int which, const char *flag, const char *arg, struct httpd_config *c)
{
    uint64_t u;
    switch (which) {
    case CLI_LISTEN_MAX_CONNECTIONS:
        if (cli_parse_u64(arg, HTTPD_MAX_CONNECTIONS, &u) || !u)
            return cli_bad_value(flag, arg, "an integer 1..1000000");
        c->max_connections = (unsigned)u;
        return 0;
    case CLI_LISTEN_HEADER_TIMEOUT:
        return parse_timeout(flag, arg, 100000000ULL, &c->header_timeout_ns);
    default:
        return parse_timeout(flag, arg, 1000000000ULL, &c->idle_timeout_ns);
    }
}

void cli_listen_url(const char *a, int port, const char *path, char *out, size_t n)
{
    const char *colon = strrchr(a, ':');
    int hl = colon ? (int)(colon - a) : 0;
    snprintf(out, n, "http://%.*s:%d%s", hl ? hl : 9, hl ? a : "localhost", port, path);
}

int cli_control_start(const char *addr, const char *token, double speed, uint64_t start_unix_ns,
                      struct world *w, struct world_agg *agg, struct server_control **out)
{
    char err[512];
    if (!token)
        token = getenv("DIORAMA_CONTROL_TOKEN");
    struct server_control_cfg cc = {
        .listen = addr, .token = token, .speed = speed, .agg = agg, .start_unix_ns = start_unix_ns};
    if (server_control_new(out, w, &cc, err, sizeof err))
        return cli_fail(CLI_ERR_USAGE, "--control %s: %s", addr, err);
    if (server_control_start(*out, err, sizeof err))
        return cli_fail(CLI_ERR_RUNTIME, "--control %s: %s", addr, err);
    return 0;
}
