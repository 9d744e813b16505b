#ifndef DIORAMA_SCN_INTERNAL_H
#define DIORAMA_SCN_INTERNAL_H
/* Internals shared by the files of scenario/ (prefix scn__). Not for other modules.
 *
 * Loading is three passes, one file each:
 *   tree.c      libyaml events -> a small read-only node tree that keeps every node's position
 *               (so any later error can name file:line:col) and enforces the input caps;
 *   decode.c    tree -> struct scenario, checking types, ranges and unknown keys;
 *   validate.c  resolves names to indices and checks the call graph (no cycles, model entries
 *               reach an inference operation);
 *   series.c    caps the metric series the world would have (what a run's memory grows with).
 * The first error stops everything; the partly built scenario is freed with scenario_free. */
#include <stdarg.h>

#include "core/core.h"
#include "scenario/scenario.h"

/* Caps: the file size caps memory already, these keep counts and work sane and errors clear. */
#define SCN_MAX_DEPTH 32      /* YAML nesting levels */
#define SCN_MAX_NODES 1000000 /* YAML nodes (scalars + collections) */
#define SCN_MAX_NAME 128      /* bytes in a name */
#define SCN_MAX_HOSTS 10000
#define SCN_MAX_SERVICES 10000
#define SCN_MAX_OPS 1000 /* per service */
#define SCN_MAX_TOTAL_OPS 100000
#define SCN_MAX_CALLS 100 /* per operation */
#define SCN_MAX_MODELS 1000
#define SCN_MAX_FAULTS 10000 /* world_span keeps fault indices in 16 bits */
#define SCN_MAX_VARIANTS 32  /* per fault */
#define SCN_MAX_TIMELINE 100000
#define SCN_MAX_ATTRS 128 /* per attribute map */
#define SCN_MAX_INSTANCES 10000
#define SCN_MAX_TOTAL_INSTANCES 50000 /* of all services: with hosts, under 65,536 resources */
#define SCN_MAX_RATE 1e6              /* arrivals per second of one entry */
#define SCN_MAX_POOL 10000            /* connections in one operation's pool */

/* ---- tree ------------------------------------------------------------------------------ */
enum scn_node_type { SCN_N_SCALAR, SCN_N_SEQ, SCN_N_MAP };

/* Nodes live in one array and refer to each other by index (-1 = none), which keeps the tree
 * one allocation plus one per scalar. A mapping's children are its key scalars; each key's
 * `val` is the value node. A sequence's children are its items. */
struct scn_node {
    int type;
    int plain; /* scalar written without quotes or tag: may be null, int, bool... */
    int line;  /* 1-based */
    int col;
    int first;  /* first child */
    int next;   /* next sibling */
    int val;    /* for mapping keys: the value */
    int n;      /* children count */
    char *s;    /* scalar text, NUL-terminated (never contains NUL), in the tree's arena */
    size_t off; /* offset of s in the arena (the arena moves while it grows) */
};

struct scn_tree {
    struct scn_node *v;
    int n;
    int cap;
    int root;             /* -1 for an empty document */
    struct core_buf strs; /* all scalar texts, back to back: two allocations per tree */
};

/* Parses text into t. 0, or DIO_EPARSE with err filled (file name already set by caller). */
int scn__tree_build(struct scn_tree *t, const char *text, size_t len, struct scn_error *err);
void scn__tree_free(struct scn_tree *t);
/* The value of `key` in mapping `map`, or -1 (also when map is -1 or not a mapping). */
int scn__map_get(const struct scn_tree *t, int map, const char *key);
/* Item i of sequence `seq`, or -1. */
int scn__seq_at(const struct scn_tree *t, int seq, int i);
/* Shorthand for the node of root.<list>[i].<key> (or of the item when key is NULL), -1 when
 * absent. Used to point errors found after decoding at the exact value. */
int scn__item_node(const struct scn_tree *t, const char *list, int i, const char *key);

/* ---- shared helpers -------------------------------------------------------------------- */
/* Fills err's position and message; returns DIO_EPARSE so callers can `return scn__fail(..)`. */
int scn__fail(struct scn_error *err, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int scn__vfail(struct scn_error *err, int line, int col, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));
/* The closest of n names to `s` (edit distance <= 2), or NULL. `names` is read with stride
 * `stride` bytes starting at `base` + `off` (a char * field of an array of structs). */
const char *scn__suggest(const char *s, const void *base, int n, size_t stride, size_t off);
/* Same over a NULL-terminated list of strings. */
const char *scn__suggest_list(const char *s, const char *const *names);

/* ---- values (value.c) ------------------------------------------------------------------ */
/* Typed readers used by decode.c. Each looks up `key` in mapping `map` and, when the key is
 * absent or null (empty, ~, null), leaves *out untouched (the caller has set the default) and
 * returns 0. Otherwise the value is checked and stored, or an error naming "<path>.<key>" and
 * the value's position is returned (DIO_EPARSE). `path` is "" at the top level. */
#define SCN_PATH_MAX 192

struct scn_dec {
    const struct scn_tree *t;
    struct scn_error *err;
};

int scn__is_null(const struct scn_tree *t, int node);
/* The value node of `key`, or -1 when absent or null. */
int scn__field(const struct scn_dec *d, int map, const char *key);
/* "<path>.<key>" (or "<key>" at the top level) into out[SCN_PATH_MAX]. */
const char *scn__path(char *out, const char *path, const char *key);
/* "<path>[i]" into out[SCN_PATH_MAX]. */
const char *scn__path_idx(char *out, const char *path, int i);
/* Describes a node for "got ..." in messages: 'text', a list, a mapping. */
const char *scn__got(const struct scn_tree *t, int node, char *buf, size_t n);
int scn__fail_at(const struct scn_dec *d, int node, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Rejects keys not in `allowed` (NULL-terminated, at most 32) and repeated keys. */
int scn__check_keys(const struct scn_dec *d, int map, const char *path, const char *const *allowed);
int scn__require(const struct scn_dec *d, int map, const char *path, const char *key);
int scn__expect(const struct scn_dec *d, int node, const char *path, int type);
int scn__get_str(const struct scn_dec *d, int map, const char *path, const char *key, char **out);
/* A non-empty name of at most SCN_MAX_NAME bytes without control characters. */
int scn__get_name(const struct scn_dec *d, int map, const char *path, const char *key, char **out);
int scn__get_int(const struct scn_dec *d, int map, const char *path, const char *key, int64_t lo,
                 int64_t hi, int64_t *out);
int scn__get_u64(const struct scn_dec *d, int map, const char *path, const char *key,
                 uint64_t *out);
/* A finite number in [lo, hi], or (lo, hi] when lo_open. */
int scn__get_num(const struct scn_dec *d, int map, const char *path, const char *key, double lo,
                 int lo_open, double hi, double *out);
/* 0.2 or "20%", in [0, 1] ((0, 1] when positive). */
int scn__get_frac(const struct scn_dec *d, int map, const char *path, const char *key, int positive,
                  double *out);
int scn__get_bool(const struct scn_dec *d, int map, const char *path, const char *key, int *out);
/* A duration (core_parse_duration) of at least `min_ns`. */
int scn__get_dur(const struct scn_dec *d, int map, const char *path, const char *key,
                 uint64_t min_ns, uint64_t *out);
/* A positive rate (core_parse_rate) of at most SCN_MAX_RATE per second. */
int scn__get_rate(const struct scn_dec *d, int map, const char *path, const char *key, double *out);
/* One of `names` (NULL-terminated); *out is its index. */
int scn__get_enum(const struct scn_dec *d, int map, const char *path, const char *key,
                  const char *const *names, int *out);
/* A mapping of scalar attributes (typed as documented in scenario.h). */
int scn__get_attrs(const struct scn_dec *d, int map, const char *path, const char *key,
                   struct scn_attr **out, int *n);
/* A list of at most `max` items: *seq is its node (-1 when absent or null), *n its length. */
int scn__get_list(const struct scn_dec *d, int map, const char *path, const char *key, int max,
                  int *seq, int *n);

/* ---- fleets (profile.c) ---------------------------------------------------------------- */
#define SCN_MAX_COUNT 10000 /* entities one list item may expand to */
/* NULL-terminated names of the profiles, in enum scn_profile_id order. */
const char *const *scn__profile_names(void);
/* A name pattern for `count:`: exactly one %d, %Nd or %0Nd (N one digit); %% is a '%'.
 * 0, or -1 with *why saying what is wrong. */
int scn__pattern_check(const char *pat, const char **why);
/* The pattern with its placeholder replaced by num, into out[n] (truncated to fit). */
void scn__pattern_format(const char *pat, long num, char *out, size_t n);

/* ---- passes ---------------------------------------------------------------------------- */
/* `dflt_name` names the scenario when the file has no `name:`. */
int scn__decode(const struct scn_tree *t, struct scenario *s, const char *dflt_name,
                struct scn_error *err);
int scn__validate(const struct scn_tree *t, struct scenario *s, struct scn_error *err);
/* decode_state.c: the `states` mapping (after the built-ins) and the `timeline` list. */
int scn__decode_states(const struct scn_dec *d, int root, struct scenario *s);
int scn__decode_timeline(const struct scn_dec *d, int root, struct scenario *s);
/* The optional `shape` of an operation, model or host (absent: sh->set stays 0). */
int scn__decode_shape(const struct scn_dec *d, int map, const char *path, struct scn_shape *sh);
/* decode.c: a duration or {base, jitter, tail} at map.key (an operation's latency). */
int scn__decode_dist(const struct scn_dec *d, int map, const char *path, const char *key,
                     struct scn_latency *l);
/* business.c: the `business` list; its `per` references are resolved by validate.c. */
int scn__decode_business(const struct scn_dec *d, int root, struct scenario *s);
void scn__free_business(struct scenario *s);
/* series.c: DIO_EPARSE when the world could have more than max series (0: the default). */
int scn__check_series(const struct scn_tree *t, const struct scenario *s, uint64_t max,
                      struct scn_error *err);

#endif
