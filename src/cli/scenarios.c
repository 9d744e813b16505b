/* diorama scenarios list | show NAME | validate FILE... */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/core.h"
#include "export/export.h"
#include "scenario/scenario.h"

static const char usage[] =
    "usage: diorama scenarios list\n"
    "       diorama scenarios show NAME\n"
    "       diorama scenarios validate [--max-series N] FILE...\n"
    "\n"
    "validate checks each file (exit 3 and file:line:col: message when one is invalid), counts\n"
    "the metric series its world can have (refused over --max-series, default 1000000) and\n"
    "warns when /metrics (--prom-listen) could not carry them.\n";

/* "108 MiB", "43 KiB". */
static const char *bytes_text(uint64_t v, char *out, size_t n)
{
    if (v >= (1u << 20))
        snprintf(out, n, "%.0f MiB", (double)v / (1u << 20));
    else
        snprintf(out, n, "%.0f KiB", (double)v / 1024);
    return out;
}

int cli_warn_prom_size(const char *file, const struct scenario *s, uint64_t limit)
{
    struct scenario_series c;
    char est[32], lim[32];
    scenario_series_count(s, &c);
    if (c.prom_bytes <= limit)
        return 0;
    fprintf(stderr,
            "diorama: warning: %s: with --prom-listen, /metrics would be about %s (%llu "
            "samples of up to %llu series), over the %s a scrape may carry, so scrapes would "
            "fail (503); use fewer hosts, cpus or operations, raise --prom-max-bytes, or export "
            "metrics with --otlp or --otlp-file\n",
            file, bytes_text(c.prom_bytes, est, sizeof est), (unsigned long long)c.samples,
            (unsigned long long)c.total, bytes_text(limit, lim, sizeof lim));
    return 1;
}

static int list(void)
{
    for (const struct scenario_builtin *b = scenario_builtins; b->name; b++) {
        struct scenario *s = NULL;
        struct scn_error err;
        const char *desc = "";
        char path[300];
        snprintf(path, sizeof path, "builtin:%s", b->name);
        if (scenario_load_string(path, b->text, b->len, &s, &err) == 0 && s->description)
            desc = s->description;
        printf("%-12s %s\n", b->name, desc);
        scenario_free(s);
    }
    return CLI_OK;
}

static int show(const char *name)
{
    const struct scenario_builtin *b = scenario_builtin_find(name);
    if (!b)
        return cli_fail(CLI_ERR_USAGE, "no built-in scenario '%s' (see: diorama scenarios list)",
                        name);
    fwrite(b->text, 1, b->len, stdout);
    return CLI_OK;
}

static int validate_one(const char *file, uint64_t max_series)
{
    struct scenario *s = NULL;
    if (cli_load_scenario_max(file, max_series, &s))
        return CLI_ERR_SCENARIO;
    struct scenario_series c;
    scenario_series_count(s, &c);
    printf("%s: ok (%d services, %d hosts, %d models, %d faults; up to %llu metric series)\n", file,
           s->nservices, s->nhosts, s->nmodels, s->nfaults, (unsigned long long)c.total);
    cli_warn_prom_size(file, s, EXPORT_PROM_MAX_BYTES);
    scenario_free(s);
    return CLI_OK;
}

/* validate [--max-series N | --max-series=N] FILE... (options anywhere) */
static int validate(int n, char **args)
{
    uint64_t max_series = 0;
    const char **files = core_calloc((size_t)n + 1, sizeof *files);
    int nfiles = 0, rc = CLI_OK;
    for (int i = 0; i < n && rc == CLI_OK; i++) {
        const char *v = NULL;
        if (!strcmp(args[i], "--max-series"))
            v = i + 1 < n ? args[++i] : "";
        else if (!strncmp(args[i], "--max-series=", 13))
            v = args[i] + 13;
        else if (args[i][0] == '-' && args[i][1])
            rc = cli_fail(CLI_ERR_USAGE, "scenarios validate: unknown option '%s'", args[i]);
        else
            files[nfiles++] = args[i];
        if (v && cli_parse_max_series(v, &max_series))
            rc = CLI_ERR_USAGE;
    }
    if (rc == CLI_OK && !nfiles)
        rc = cli_fail(CLI_ERR_USAGE, "scenarios validate: no FILE given");
    for (int i = 0; rc != CLI_ERR_USAGE && i < nfiles; i++)
        if (validate_one(files[i], max_series))
            rc = CLI_ERR_SCENARIO;
    core_free((void *)files);
    return rc;
}

int cli_scenarios(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "list"))
        return list();
    if (argc == 3 && !strcmp(argv[1], "show"))
        return show(argv[2]);
    if (argc >= 3 && !strcmp(argv[1], "validate"))
        return validate(argc - 2, argv + 2);
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs(usage, stdout);
        return CLI_OK;
    }
    fputs(usage, stderr);
    return CLI_ERR_USAGE;
}
