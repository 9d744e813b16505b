/* diorama: a miniature production system for testing observability and inference pipelines. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const char usage[] =
    "usage: diorama <command> [options]\n"
    "\n"
    "Simulates a small production system (services, hosts, ML models) from a scenario and\n"
    "emits the traces, metrics and logs it would produce, with labelled faults.\n"
    "\n"
    "commands:\n"
    "  up [SCENARIO]         the world live: real time, control API on 127.0.0.1:8080, /metrics\n"
    "                        on 127.0.0.1:9464 (default: fleet; docs/control-api.md)\n"
    "  run [SCENARIO]        run a scenario (built-in name or YAML file; default: inference)\n"
    "  load URL              drive an HTTP API at a controlled rate, report latency (open loop)\n"
    "  serve [SCENARIO]      serve the scenario's services over HTTP (default: classify),\n"
    "                        the target for load; GET /metrics, X-Diorama-Delay\n"
    "  sink                  receive OTLP / remote write and verify what arrived\n"
    "  scenarios list        list the built-in scenarios\n"
    "  scenarios show NAME   print a built-in scenario's YAML (copy it to start your own)\n"
    "  scenarios validate FILE...  check scenario files, report file:line:col errors\n"
    "  version               print the version\n"
    "\n"
    "Run 'diorama run --help' for the run options. Exit codes: 0 ok, 1 runtime error,\n"
    "2 usage, 3 bad scenario, 4 nothing delivered, 5 some records dropped.\n";

int cli_fail(int code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "diorama: %s\n", msg);
    return code;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return CLI_ERR_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "run"))
        return cli_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "up"))
        return cli_up(argc - 1, argv + 1);
    if (!strcmp(cmd, "load"))
        return cli_load(argc - 1, argv + 1);
    if (!strcmp(cmd, "sink"))
        return cli_sink(argc - 1, argv + 1);
    if (!strcmp(cmd, "serve"))
        return cli_serve(argc - 1, argv + 1);
    if (!strcmp(cmd, "scenarios") || !strcmp(cmd, "scenario"))
        return cli_scenarios(argc - 1, argv + 1);
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
        printf("diorama %s\n", DIORAMA_VERSION);
        return CLI_OK;
    }
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        fputs(usage, stdout);
        return CLI_OK;
    }
    fprintf(stderr, "diorama: unknown command '%s'\n\n%s", cmd, usage);
    return CLI_ERR_USAGE;
}
