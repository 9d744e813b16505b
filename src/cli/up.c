/* diorama up: the world live. It is `run` with other defaults, so every run flag works and
 * nothing is written twice: real time, the built-in fleet, the control API on
 * 127.0.0.1:8080, /metrics on 127.0.0.1:9464 and the scenario's routes (--serve) on
 * 127.0.0.1:8000. Without an output flag or an
 * OTEL_EXPORTER_OTLP_*ENDPOINT, nothing is pushed anywhere (the telemetry is encoded and
 * dropped: --null), so `up` needs no collector; --otlp URL (and the rest) add one. The
 * defaults come first on the command line, so the user's flags override them. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const char *const push_flags[] = {
    "--otlp",         "--otlp-file", "--postgres",         "--null",
    "--remote-write", "--influx",    "--openmetrics-file", NULL};
static const char *const otel_env[] = {
    "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", NULL};

/* The user's args name `flag` (as "--flag" or "--flag=..."). */
static int has_flag(int argc, char **argv, const char *flag)
{
    size_t n = strlen(flag);
    for (int i = 1; i < argc; i++)
        if (!strncmp(argv[i], flag, n) && (argv[i][n] == 0 || argv[i][n] == '='))
            return 1;
    return 0;
}

static int pushes(int argc, char **argv)
{
    for (int i = 0; push_flags[i]; i++)
        if (has_flag(argc, argv, push_flags[i]))
            return 1;
    for (int i = 0; otel_env[i]; i++)
        if (getenv(otel_env[i]) && *getenv(otel_env[i]))
            return 1;
    return 0;
}

int cli_up(int argc, char **argv)
{
    char **av = calloc((size_t)argc + 10, sizeof *av);
    if (!av)
        return cli_fail(CLI_ERR_RUNTIME, "out of memory");
    int n = 0;
    av[n++] = argv[0];
    av[n++] = "--control";
    av[n++] = "127.0.0.1:8080";
    if (!has_flag(argc, argv, "--prom-listen")) {
        av[n++] = "--prom-listen";
        av[n++] = "127.0.0.1:9464";
    }
    if (!has_flag(argc, argv, "--serve")) {
        av[n++] = "--serve";
        av[n++] = "127.0.0.1:8000";
    }
    if (!pushes(argc, argv))
        av[n++] = "--null";
    for (int i = 1; i < argc; i++)
        av[n++] = argv[i];
    int rc = cli_run_default(n, av, "fleet");
    free(av);
    return rc;
}
