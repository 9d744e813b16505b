#ifndef DIORAMA_CORE_H
#define DIORAMA_CORE_H
/* core: the pieces every other module stands on. libc only.
 *
 *   errors   int status codes (0 ok, negative DIO_E*), one table of messages
 *   alloc    one allocation funnel; out of memory aborts with a message (like redis zmalloc)
 *   buf      growable byte buffers with a hard cap: input never decides how much we allocate
 *   clock    monotonic ns for scheduling, wall ns for timestamps
 *   rng      counter-based, seeded RNG keyed by (seed, entity, stream): deterministic and
 *            independent of the order in which entities draw
 *   log      leveled messages to stderr
 *   parse    durations ("300", "300s", "5m", "250ms") and other small user-facing syntaxes
 *   hdr      HDR histogram (3 significant digits), bounded memory, mergeable
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* ---- errors ---------------------------------------------------------------------------- */
#define DIO_ERRNO_MAP(X)                                                                           \
    X(DIO_OK, 0, "ok")                                                                             \
    X(DIO_ENOMEM, -1, "out of memory")                                                             \
    X(DIO_EINVAL, -2, "invalid argument")                                                          \
    X(DIO_ERANGE, -3, "value out of range")                                                        \
    X(DIO_EPARSE, -4, "parse error")                                                               \
    X(DIO_EIO, -5, "input/output error")                                                           \
    X(DIO_EFULL, -6, "buffer or queue full")                                                       \
    X(DIO_ENOENT, -7, "not found")                                                                 \
    X(DIO_ECLOSED, -8, "closed")                                                                   \
    X(DIO_ETIMEDOUT, -9, "timed out")

enum {
#define DIO_X(name, val, msg) name = val,
    DIO_ERRNO_MAP(DIO_X)
#undef DIO_X
};

const char *core_strerror(int err);

/* ---- alloc ----------------------------------------------------------------------------- */
/* All heap memory goes through here. On failure these print a message and abort(): the
 * process has no sensible way to go on, and every caller is spared a check. Sizes that come
 * from input must be capped by the caller before they reach this funnel. */
void *core_malloc(size_t n);
void *core_calloc(size_t count, size_t size);
void *core_realloc(void *p, size_t n);
char *core_strdup(const char *s);
char *core_strndup(const char *s, size_t n);
void core_free(void *p);

/* ---- buf ------------------------------------------------------------------------------- */
/* A byte buffer that grows up to `max` bytes and refuses to grow further (DIO_EFULL).
 * The buffer owns `p`; core_buf_free releases it. `len` bytes are valid. */
struct core_buf {
    uint8_t *p;
    size_t len;
    size_t cap;
    size_t max;
};

void core_buf_init(struct core_buf *b, size_t max);
void core_buf_free(struct core_buf *b);
static inline void core_buf_reset(struct core_buf *b)
{
    b->len = 0;
}
/* Make room for n more bytes. 0 or DIO_EFULL. */
int core_buf_reserve(struct core_buf *b, size_t n);
int core_buf_append(struct core_buf *b, const void *data, size_t n);
int core_buf_puts(struct core_buf *b, const char *s);
int core_buf_putc(struct core_buf *b, char c);
int core_buf_printf(struct core_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int core_buf_vprintf(struct core_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* A JSON string literal (quotes included); control characters escaped, other bytes as they
 * are. For names and messages we made ourselves; wire/ has the UTF-8-repairing variant. */
int core_buf_put_json_str(struct core_buf *b, const char *s);
/* Fast decimal writers (no printf). */
int core_buf_put_u64(struct core_buf *b, uint64_t v);
int core_buf_put_i64(struct core_buf *b, int64_t v);

/* ---- clock ----------------------------------------------------------------------------- */
uint64_t core_mono_ns(void);
uint64_t core_wall_ns(void);
/* Sleep until the monotonic clock reaches `deadline_ns` (returns early on a signal). */
void core_sleep_until_ns(uint64_t deadline_ns);

/* ---- rng ------------------------------------------------------------------------------- */
/* Output i of stream (seed, entity, stream) is mix(key + i*golden): any entity's draws depend
 * only on the seed, its own identity and how many draws it has made. */
struct core_rng {
    uint64_t key;
    uint64_t ctr;
};

uint64_t core_hash64(const void *data, size_t len);
uint64_t core_mix64(uint64_t x);
void core_rng_init(struct core_rng *r, uint64_t seed, uint64_t entity, uint64_t stream);
static inline uint64_t core_rng_u64(struct core_rng *r)
{
    return core_mix64(r->key + (r->ctr++) * 0x9e3779b97f4a7c15ULL);
}
/* Uniform in [0, 1). */
static inline double core_rng_unit(struct core_rng *r)
{
    return (double)(core_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
}
/* Uniform integer in [0, n). n > 0. */
uint64_t core_rng_below(struct core_rng *r, uint64_t n);
/* Exponential with the given mean. */
double core_rng_exp(struct core_rng *r, double mean);
/* Standard normal (Box-Muller, one value per call). */
double core_rng_normal(struct core_rng *r);

/* ---- log ------------------------------------------------------------------------------- */
enum core_log_level { CORE_LOG_ERROR, CORE_LOG_WARN, CORE_LOG_INFO, CORE_LOG_DEBUG };
extern int core_log_level;
void core_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define core_error(...) core_log(CORE_LOG_ERROR, __VA_ARGS__)
#define core_warn(...) core_log(CORE_LOG_WARN, __VA_ARGS__)
#define core_info(...) core_log(CORE_LOG_INFO, __VA_ARGS__)
#define core_debug(...) core_log(CORE_LOG_DEBUG, __VA_ARGS__)
/* A message from a library's logger callback (libmicrohttpd): "who: message", a trailing
 * newline dropped. */
void core_vlog_from(int level, const char *who, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* ---- parse ----------------------------------------------------------------------------- */
/* Durations as users write them: "300" (seconds), "300s", "1.5s", "5m", "1h", "250ms",
 * "500us", "2h30m". Result in nanoseconds. 0 or DIO_EPARSE / DIO_ERANGE. */
int core_parse_duration(const char *s, uint64_t *ns);
/* Strict unsigned decimal: digits only (no sign, space or prefix), at most UINT64_MAX.
 * 0, DIO_EPARSE, or DIO_ERANGE for a larger number (never clamped). */
int core_parse_u64(const char *s, uint64_t *out);
/* A rate: "50", "50/s", "3000/m", "10/h" -> events per second. */
int core_parse_rate(const char *s, double *per_sec);
/* "k=v,k2=v2" (OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_HEADERS), values percent-decoded.
 * Calls fn for each pair; stops and returns its non-zero result. DIO_EPARSE on bad syntax. */
int core_parse_kv_list(const char *s, int (*fn)(void *ctx, const char *k, const char *v),
                       void *ctx);
/* Format ns as a short duration ("250ms", "1.5s", "5m0s") into out. */
void core_format_duration(uint64_t ns, char *out, size_t n);

/* ---- hdr ------------------------------------------------------------------------------- */
/* HDR histogram, values in [1, highest], 3 significant digits (relative error <= 1/1024).
 * Memory: about 17 k counters for 1 us .. 60 s; fixed at init, never grows. */
struct core_hdr {
    int64_t lowest;
    int64_t highest;
    int sub_bucket_half_count_magnitude;
    int unit_magnitude;
    int sub_bucket_count;
    int sub_bucket_half_count;
    int64_t sub_bucket_mask;
    int bucket_count;
    int counts_len;
    int64_t total;
    int64_t min;
    int64_t max;
    int64_t *counts;
};

/* lowest >= 1; highest >= 2*lowest; sigfigs 1..5. */
int core_hdr_init(struct core_hdr *h, int64_t lowest, int64_t highest, int sigfigs);
void core_hdr_free(struct core_hdr *h);
void core_hdr_reset(struct core_hdr *h);
/* Values above `highest` are clamped to it (and counted), below lowest to lowest. */
void core_hdr_record(struct core_hdr *h, int64_t v);
void core_hdr_record_n(struct core_hdr *h, int64_t v, int64_t n);
int64_t core_hdr_value_at(const struct core_hdr *h, double percentile);
double core_hdr_mean(const struct core_hdr *h);
/* Adds src's counts into dst; both must have the same configuration. 0 or DIO_EINVAL. */
int core_hdr_merge(struct core_hdr *dst, const struct core_hdr *src);
/* The value range one counter covers (for tests of bucket invariants). */
int64_t core_hdr_lowest_equiv(const struct core_hdr *h, int64_t v);
int64_t core_hdr_highest_equiv(const struct core_hdr *h, int64_t v);

#include "core/record.h"

#endif
