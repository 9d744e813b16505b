#ifndef DIORAMA_SCENARIO_BUILTIN_H
#define DIORAMA_SCENARIO_BUILTIN_H
#include <stddef.h>

/* The scenarios compiled into the binary (generated from the scenarios folder at build time).
 * The table ends with an entry whose name is NULL. */
struct scenario_builtin {
    const char *name;
    const char *text;
    size_t len;
};

extern const struct scenario_builtin scenario_builtins[];

#endif
