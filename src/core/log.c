#include <stdio.h>
#include <string.h>

#include "core/core.h"

int core_log_level = CORE_LOG_WARN;

static const char *const level_names[] = {"error", "warning", "info", "debug"};

void core_log(int level, const char *fmt, ...)
{
    if (level > core_log_level)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    /* One write per message, so lines from several threads do not interleave. */
    fprintf(stderr, "diorama: %s: %s\n", level_names[level], line);
}

void core_vlog_from(int level, const char *who, const char *fmt, va_list ap)
{
    if (level > core_log_level)
        return;
    char msg[256];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    if (n > 0 && msg[n - 1] == '\n')
        msg[n - 1] = 0;
    core_log(level, "%s: %s", who, msg);
}
