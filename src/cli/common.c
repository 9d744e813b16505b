/* Pieces every subcommand shares: the stop flag and its signal handler, flag-value errors. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

volatile sig_atomic_t cli_stop;

/* Only sets a flag (the work of stopping happens in normal code); a second signal exits. */
static void on_signal(int sig)
{
    (void)sig;
    if (cli_stop)
        _exit(130);
    cli_stop = 1;
}

void cli_install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int cli_bad_value(const char *flag, const char *val, const char *want)
{
    return cli_fail(CLI_ERR_USAGE, "%s: expected %s, got '%s'", flag, want, val);
}

int cli_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    if (!s || !*s || *s == '-')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || v > max)
        return -1;
    *out = v;
    return 0;
}
