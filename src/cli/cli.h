#ifndef DIORAMA_CLI_H
#define DIORAMA_CLI_H
#include <signal.h>
#include <stdint.h>

/* cli: one file per subcommand; argument parsing and wiring of the modules. The only place
 * that prints to stdout or decides the exit code. Exit codes (docs/cli.md): */
enum {
    CLI_OK = 0,
    CLI_ERR_RUNTIME = 1,   /* an output could not be opened, a port bound, ... */
    CLI_ERR_USAGE = 2,     /* unknown flag, bad value */
    CLI_ERR_SCENARIO = 3,  /* the scenario file is unreadable or invalid */
    CLI_ERR_NOTHING = 4,   /* records were generated but none was delivered */
    CLI_ERR_DROPPED = 5,   /* some records were dropped (see the summary) */
    CLI_ERR_VERDICT = 6,   /* sink --expect: the verdict is fail */
    CLI_ERR_THRESHOLD = 7, /* load: a --threshold failed */
};

int cli_run(int argc, char **argv);
/* run with another default scenario (for up) */
int cli_run_default(int argc, char **argv, const char *scenario);
/* up: run in real time with the control API and local outputs (up.c) */
int cli_up(int argc, char **argv);
int cli_load(int argc, char **argv);
int cli_sink(int argc, char **argv);
int cli_serve(int argc, char **argv);
int cli_scenarios(int argc, char **argv);

/* Set by SIGINT/SIGTERM/SIGHUP once cli_install_signals ran; a second signal ends the process at
 * once with 130 (the user chose to skip the flush). SIGPIPE is ignored. */
extern volatile sig_atomic_t cli_stop;
void cli_install_signals(void);
/* A usage error for a flag value: "FLAG: expected WANT, got 'VAL'"; returns CLI_ERR_USAGE. */
int cli_bad_value(const char *flag, const char *val, const char *want);
/* A plain decimal in [0, max]. 0 or -1. */
int cli_parse_u64(const char *s, uint64_t max, uint64_t *out);
/* A byte size: "1048576", "64k", "1M", "2MiB", "1GB" (binary units), 1 .. 2^40. 0 or -1. */
int cli_parse_bytes(const char *s, uint64_t *out);

/* Loads a built-in scenario or file; on failure prints "file:line:col: message" to stderr and
 * returns CLI_ERR_SCENARIO, else 0. */
struct scenario;
int cli_load_scenario(const char *name_or_path, struct scenario **out);
/* The same with --max-series (0: the default cap, SCENARIO_MAX_SERIES). */
int cli_load_scenario_max(const char *name_or_path, uint64_t max_series, struct scenario **out);
/* --max-series N: an integer 1 .. 10^10. 0, or CLI_ERR_USAGE with the message printed. */
int cli_parse_max_series(const char *arg, uint64_t *out);
/* Warns on stderr when the world of s could make a /metrics answer larger than limit bytes
 * (scrapes would then fail). file names the scenario in the message. 1 if it warned, else 0. */
int cli_warn_prom_size(const char *file, const struct scenario *s, uint64_t limit);
/* Writes "PORT\n" to FILE.tmp and renames it to path (a reader never sees half a number). */
int cli_write_port_file(const char *path, int port);

/* Listener flags (listen_opts.c, docs/listeners.md). cli_parse_listen checks an address
 * (httpd_addr_parse): 0, or CLI_ERR_USAGE with "FLAG: bad listen address ..." printed.
 * cli_listener_opt reads --max-connections / --header-timeout / --idle-timeout (or run's
 * --prom-* spelling, given as flag) into c: 0 or CLI_ERR_USAGE. */
enum { CLI_LISTEN_MAX_CONNECTIONS, CLI_LISTEN_HEADER_TIMEOUT, CLI_LISTEN_IDLE_TIMEOUT };
struct httpd_config;
int cli_parse_listen(const char *flag, const char *arg);
/* "http://HOST:PORT/path" for a listen address as given and the port bound (a bare port or
 * ":port" shows as localhost). */
void cli_listen_url(const char *addr, int port, const char *path, char *out, size_t n);
struct world;
struct server_control;
/* --control ADDR for run and serve: the control API for w, token from --control-token (NULL:
 * $DIORAMA_CONTROL_TOKEN). 0, or the exit code after printing why. */
struct world_agg;
int cli_control_start(const char *addr, const char *token, double speed, uint64_t start_unix_ns,
                      struct world *w, struct world_agg *agg, struct server_control **out);
int cli_listener_opt(int which, const char *flag, const char *arg, struct httpd_config *c);

/* The getopt_long loop of a subcommand: -h prints help and returns CLI_OK; unknown options
 * and missing values are usage errors naming cmd; every other option goes to apply(ctx, c,
 * optarg), whose non-zero result ends the loop. Returns -1 when all options were applied
 * (optind is then the first operand). */
struct option;
int cli_getopt(int argc, char **argv, const char *cmd, const char *shortopts,
               const struct option *longopts, const char *help,
               int (*apply)(void *ctx, int c, const char *arg), void *ctx);

/* Prints "diorama: <msg>" to stderr; returns code (for `return cli_fail(...)`). */
int cli_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
