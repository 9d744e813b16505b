/* diorama scenarios list | show NAME | validate FILE... */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/core.h"
#include "scenario/scenario.h"

static const char usage[] = "usage: diorama scenarios list\n"
                            "       diorama scenarios show NAME\n"
                            "       diorama scenarios validate FILE...\n";

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

static int validate(int n, char **files)
{
    int rc = CLI_OK;
    for (int i = 0; i < n; i++) {
        struct scenario *s = NULL;
        struct scn_error err;
        if (scenario_load(files[i], &s, &err)) {
            char msg[1024];
            scenario_format_error(&err, msg, sizeof msg);
            fprintf(stderr, "%s\n", msg);
            rc = CLI_ERR_SCENARIO;
            continue;
        }
        printf("%s: ok (%d services, %d hosts, %d models, %d faults)\n", files[i], s->nservices,
               s->nhosts, s->nmodels, s->nfaults);
        scenario_free(s);
    }
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
