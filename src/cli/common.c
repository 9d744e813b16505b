/* Pieces every subcommand shares: the stop flag and its signal handler, flag-value errors. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/core.h"
#include "scenario/scenario.h"

volatile sig_atomic_t cli_stop;

/* Only sets a flag (the work of stopping happens in normal code); a second signal exits. */
static void on_signal(int sig)
{
    (void)sig;
    if (cli_stop)
        _exit(130);
    cli_stop = 1;
}

/* SIGHUP too: a closed terminal or ssh session (or `kill -HUP`) must not lose the summary
 * and the records in the queues, so it stops a run the way SIGTERM does. */
void cli_install_signals(void)
{
    static const int stops[] = {SIGINT, SIGTERM, SIGHUP};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof stops / sizeof stops[0]; i++)
        sigaction(stops[i], &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int cli_bad_value(const char *flag, const char *val, const char *want)
{
    return cli_fail(CLI_ERR_USAGE, "%s: expected %s, got '%s'", flag, want, val);
}

int cli_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    uint64_t v;
    if (core_parse_u64(s, &v) || v > max) /* 2^64 and above: refused, not clamped */
        return -1;
    *out = v;
    return 0;
}

int cli_parse_bytes(const char *s, uint64_t *out)
{
    static const struct {
        const char *suffix;
        uint64_t mul;
    } units[] = {{"", 1},
                 {"B", 1},
                 {"k", 1024},
                 {"K", 1024},
                 {"kB", 1024},
                 {"KB", 1024},
                 {"KiB", 1024},
                 {"M", 1ULL << 20},
                 {"MB", 1ULL << 20},
                 {"MiB", 1ULL << 20},
                 {"G", 1ULL << 30},
                 {"GB", 1ULL << 30},
                 {"GiB", 1ULL << 30}};
    size_t digits = s ? strspn(s, "0123456789") : 0;
    char num[24];
    if (!digits || digits >= sizeof num)
        return -1;
    memcpy(num, s, digits);
    num[digits] = 0;
    uint64_t v;
    if (cli_parse_u64(num, 1ULL << 40, &v) || v == 0)
        return -1;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (!strcmp(s + digits, units[i].suffix)) {
            *out = v * units[i].mul;
            return *out <= (1ULL << 40) ? 0 : -1;
        }
    return -1;
}

int cli_load_scenario(const char *name_or_path, struct scenario **out)
{
    return cli_load_scenario_max(name_or_path, 0, out);
}

int cli_load_scenario_max(const char *name_or_path, uint64_t max_series, struct scenario **out)
{
    struct scn_error err;
    if (scenario_load_max(name_or_path, max_series, out, &err) == 0)
        return 0;
    char msg[1024];
    scenario_format_error(&err, msg, sizeof msg);
    fprintf(stderr, "%s\n", msg);
    return CLI_ERR_SCENARIO;
}

int cli_parse_max_series(const char *arg, uint64_t *out)
{
    if (cli_parse_u64(arg, 10000000000ULL, out) || !*out)
        return cli_bad_value("--max-series", arg, "an integer 1..10000000000");
    return 0;
}

int cli_write_port_file(const char *path, int port)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    int ok = fprintf(f, "%d\n", port) > 0;
    if (fclose(f) || !ok || rename(tmp, path))
        return -1;
    return 0;
}

int cli_getopt(int argc, char **argv, const char *cmd, const char *shortopts,
               const struct option *longopts, const char *help,
               int (*apply)(void *ctx, int c, const char *arg), void *ctx)
{
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        if (c == 'h') {
            fputs(help, stdout);
            return CLI_OK;
        }
        if (c == '?' || c == ':')
            return cli_fail(CLI_ERR_USAGE, "%s: %s option '%s' (see diorama %s --help)", cmd,
                            c == ':' ? "missing value for" : "unknown", argv[optind - 1], cmd);
        int rc = apply(ctx, c, optarg);
        if (rc)
            return rc;
    }
    return -1;
}
