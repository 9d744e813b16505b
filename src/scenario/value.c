/* Typed readers for scenario values. Every error they report has the same shape,
 * "<path>.<key>: expected <what>, got '<value>'", at the value's position, so users learn the
 * accepted syntax from the message itself. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/core.h"
#include "scenario/scn_internal.h"

static const char *node_s(const struct scn_dec *d, int node)
{
    return d->t->v[node].s;
}

int scn__is_null(const struct scn_tree *t, int node)
{
    const struct scn_node *nd = &t->v[node];
    if (nd->type != SCN_N_SCALAR || !nd->plain)
        return 0;
    return !nd->s[0] || !strcmp(nd->s, "~") || !strcmp(nd->s, "null") || !strcmp(nd->s, "Null") ||
           !strcmp(nd->s, "NULL");
}

int scn__field(const struct scn_dec *d, int map, const char *key)
{
    int v = scn__map_get(d->t, map, key);
    return v >= 0 && !scn__is_null(d->t, v) ? v : -1;
}

const char *scn__path(char *out, const char *path, const char *key)
{
    snprintf(out, SCN_PATH_MAX, "%s%s%s", path, *path ? "." : "", key);
    return out;
}

const char *scn__path_idx(char *out, const char *path, int i)
{
    snprintf(out, SCN_PATH_MAX, "%s[%d]", path, i);
    return out;
}

const char *scn__got(const struct scn_tree *t, int node, char *buf, size_t n)
{
    const struct scn_node *nd = &t->v[node];
    if (nd->type == SCN_N_SEQ)
        return "a list";
    if (nd->type == SCN_N_MAP)
        return "a mapping";
    if (scn__is_null(t, node))
        return "nothing";
    /* Long values are cut: the message must stay readable and fit scn_error.msg. */
    if (strlen(nd->s) > 48)
        snprintf(buf, n, "'%.45s...'", nd->s);
    else
        snprintf(buf, n, "'%s'", nd->s);
    return buf;
}

int scn__fail_at(const struct scn_dec *d, int node, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const struct scn_node *nd = &d->t->v[node];
    int rc = scn__vfail(d->err, nd->line, nd->col, fmt, ap);
    va_end(ap);
    return rc;
}

/* "<path>.<key>: expected <what>, got <value>" at the value. */
static int expected(const struct scn_dec *d, int node, const char *path, const char *key,
                    const char *what)
{
    char p[SCN_PATH_MAX], g[64];
    return scn__fail_at(d, node, "%s: expected %s, got %s", scn__path(p, path, key), what,
                        scn__got(d->t, node, g, sizeof(g)));
}

static int key_index(const char *k, const char *const *allowed)
{
    for (int i = 0; allowed[i]; i++)
        if (!strcmp(k, allowed[i]))
            return i;
    return -1;
}

int scn__check_keys(const struct scn_dec *d, int map, const char *path, const char *const *allowed)
{
    uint32_t seen = 0;
    for (int k = d->t->v[map].first; k >= 0; k = d->t->v[k].next) {
        const char *key = node_s(d, k);
        int i = key_index(key, allowed);
        if (i >= 0 && !(seen & (1u << i))) {
            seen |= 1u << i;
            continue;
        }
        if (i >= 0)
            return *path ? scn__fail_at(d, k, "duplicate key '%s' in %s", key, path)
                         : scn__fail_at(d, k, "duplicate top-level key '%s'", key);
        const char *hint = scn__suggest_list(key, allowed);
        char h[SCN_MAX_NAME + 32] = "";
        if (hint)
            snprintf(h, sizeof(h), " (did you mean '%s'?)", hint);
        return *path ? scn__fail_at(d, k, "unknown key '%.64s' in %s%s", key, path, h)
                     : scn__fail_at(d, k, "unknown top-level key '%.64s'%s", key, h);
    }
    return 0;
}

int scn__require(const struct scn_dec *d, int map, const char *path, const char *key)
{
    if (scn__field(d, map, key) >= 0)
        return 0;
    if (*path)
        return scn__fail_at(d, map, "%s: '%s' is required", path, key);
    return scn__fail_at(d, map, "'%s' is required", key);
}

int scn__expect(const struct scn_dec *d, int node, const char *path, int type)
{
    if (d->t->v[node].type == type)
        return 0;
    char g[64];
    return scn__fail_at(d, node, "%s: expected %s, got %s", *path ? path : "top level",
                        type == SCN_N_MAP ? "a mapping" : "a list",
                        scn__got(d->t, node, g, sizeof(g)));
}

/* The scalar value of `key`: 1 found, 0 absent/null, DIO_EPARSE not a scalar. */
static int scalar(const struct scn_dec *d, int map, const char *path, const char *key,
                  const char *what, int *node)
{
    *node = scn__field(d, map, key);
    if (*node < 0)
        return 0;
    if (d->t->v[*node].type != SCN_N_SCALAR)
        return expected(d, *node, path, key, what);
    return 1;
}

int scn__get_str(const struct scn_dec *d, int map, const char *path, const char *key, char **out)
{
    int node, rc = scalar(d, map, path, key, "a string", &node);
    if (rc <= 0)
        return rc;
    core_free(*out);
    *out = core_strdup(node_s(d, node));
    return 0;
}

int scn__get_name(const struct scn_dec *d, int map, const char *path, const char *key, char **out)
{
    int node, rc = scalar(d, map, path, key, "a name", &node);
    if (rc <= 0)
        return rc;
    const char *s = node_s(d, node);
    char p[SCN_PATH_MAX];
    if (strlen(s) > SCN_MAX_NAME)
        return scn__fail_at(d, node, "%s: names are at most %d bytes long", scn__path(p, path, key),
                            SCN_MAX_NAME);
    for (const char *c = s; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            return scn__fail_at(d, node, "%s: names must not contain control characters",
                                scn__path(p, path, key));
    core_free(*out);
    *out = core_strdup(s);
    return 0;
}

/* Strict decimal integer: optional '-', digits, nothing else (no spaces, hex or '+'). */
static int parse_int(const char *s, int64_t *out)
{
    const char *c = s + (*s == '-');
    if (!*c)
        return -1;
    for (; *c; c++)
        if (!isdigit((unsigned char)*c))
            return -1;
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno == ERANGE)
        return -1;
    *out = v;
    return 0;
}

int scn__get_int(const struct scn_dec *d, int map, const char *path, const char *key, int64_t lo,
                 int64_t hi, int64_t *out)
{
    char what[96];
    if (lo == 1)
        snprintf(what, sizeof(what), "a positive integer");
    else if (lo == 0)
        snprintf(what, sizeof(what), "a non-negative integer");
    else
        snprintf(what, sizeof(what), "an integer");
    int node, rc = scalar(d, map, path, key, what, &node);
    if (rc <= 0)
        return rc;
    int64_t v;
    if (parse_int(node_s(d, node), &v) || v < lo)
        return expected(d, node, path, key, what);
    char p[SCN_PATH_MAX];
    if (v > hi)
        return scn__fail_at(d, node, "%s: must be at most %lld, got '%s'", scn__path(p, path, key),
                            (long long)hi, node_s(d, node));
    *out = v;
    return 0;
}

int scn__get_u64(const struct scn_dec *d, int map, const char *path, const char *key, uint64_t *out)
{
    const char *what = "a non-negative integer";
    int node, rc = scalar(d, map, path, key, what, &node);
    if (rc <= 0)
        return rc;
    const char *s = node_s(d, node);
    if (!*s || strspn(s, "0123456789") != strlen(s))
        return expected(d, node, path, key, what);
    errno = 0;
    unsigned long long v = strtoull(s, NULL, 10);
    if (errno == ERANGE)
        return expected(d, node, path, key, "an integer below 2^64");
    *out = v;
    return 0;
}

/* Strict decimal number: [-]digits[.digits][e[+-]digits]. No inf, nan, hex or spaces. */
static int parse_num(const char *s, double *out)
{
    const char *c = s + (*s == '-');
    size_t ip = strspn(c, "0123456789"), fp = 0;
    c += ip;
    if (*c == '.') {
        fp = strspn(c + 1, "0123456789");
        c += 1 + fp;
    }
    if (!ip && !fp)
        return -1;
    if (*c == 'e' || *c == 'E') {
        c += 1 + (c[1] == '+' || c[1] == '-');
        size_t ep = strspn(c, "0123456789");
        if (!ep)
            return -1;
        c += ep;
    }
    if (*c)
        return -1;
    double v = strtod(s, NULL);
    if (!isfinite(v))
        return -1;
    *out = v;
    return 0;
}

static int range_error(const struct scn_dec *d, int node, const char *path, const char *key,
                       double lo, int lo_open, double hi)
{
    char p[SCN_PATH_MAX];
    scn__path(p, path, key);
    const char *s = node_s(d, node);
    if (lo_open && hi >= 1e300)
        return scn__fail_at(d, node, "%s: must be greater than %g, got '%s'", p, lo, s);
    if (hi >= 1e300)
        return scn__fail_at(d, node, "%s: must be at least %g, got '%s'", p, lo, s);
    return scn__fail_at(d, node, "%s: must be %s %g and at most %g, got '%s'", p,
                        lo_open ? "greater than" : "at least", lo, hi, s);
}

int scn__get_num(const struct scn_dec *d, int map, const char *path, const char *key, double lo,
                 int lo_open, double hi, double *out)
{
    const char *what = lo_open && lo == 0 ? "a positive number" : "a number";
    int node, rc = scalar(d, map, path, key, what, &node);
    if (rc <= 0)
        return rc;
    double v;
    if (parse_num(node_s(d, node), &v))
        return expected(d, node, path, key, what);
    if (v < lo || (lo_open && v == lo) || v > hi)
        return range_error(d, node, path, key, lo, lo_open, hi);
    *out = v;
    return 0;
}

int scn__get_frac(const struct scn_dec *d, int map, const char *path, const char *key, int positive,
                  double *out)
{
    const char *what = "a fraction like 0.2 or a percentage like 20%";
    int node, rc = scalar(d, map, path, key, what, &node);
    if (rc <= 0)
        return rc;
    const char *s = node_s(d, node);
    size_t len = strlen(s);
    int pct = len > 1 && s[len - 1] == '%';
    char num[64];
    double v;
    if (len >= sizeof(num))
        return expected(d, node, path, key, what);
    memcpy(num, s, len + 1);
    if (pct)
        num[len - 1] = '\0';
    if (parse_num(num, &v))
        return expected(d, node, path, key, what);
    if (pct)
        v /= 100;
    char p[SCN_PATH_MAX];
    if (v < 0 || v > 1 || (positive && v == 0))
        return scn__fail_at(d, node, "%s: must be %s 0 and at most 1 (100%%), got '%s'",
                            scn__path(p, path, key), positive ? "greater than" : "at least", s);
    *out = v;
    return 0;
}

int scn__get_bool(const struct scn_dec *d, int map, const char *path, const char *key, int *out)
{
    static const char *const yes[] = {"true", "yes", "on", NULL};
    static const char *const no[] = {"false", "no", "off", NULL};
    const char *what = "true or false";
    int node, rc = scalar(d, map, path, key, what, &node);
    if (rc <= 0)
        return rc;
    const char *s = node_s(d, node);
    for (int i = 0; yes[i]; i++) {
        if (!strcasecmp(s, yes[i]) || !strcasecmp(s, no[i])) {
            *out = !strcasecmp(s, yes[i]);
            return 0;
        }
    }
    return expected(d, node, path, key, what);
}

int scn__get_dur(const struct scn_dec *d, int map, const char *path, const char *key,
                 uint64_t min_ns, uint64_t *out)
{
    const char *what = "a duration like 250ms, 1.5s, 5m or 300 (seconds)";
    int node, rc = scalar(d, map, path, key, what, &node);
    if (rc <= 0)
        return rc;
    uint64_t ns;
    if (core_parse_duration(node_s(d, node), &ns))
        return expected(d, node, path, key, what);
    if (ns < min_ns) {
        char p[SCN_PATH_MAX], m[32];
        core_format_duration(min_ns, m, sizeof(m));
        if (min_ns == 1)
            return scn__fail_at(d, node, "%s: must be greater than 0, got '%s'",
                                scn__path(p, path, key), node_s(d, node));
        return scn__fail_at(d, node, "%s: must be at least %s, got '%s'", scn__path(p, path, key),
                            m, node_s(d, node));
    }
    *out = ns;
    return 0;
}

int scn__get_rate(const struct scn_dec *d, int map, const char *path, const char *key, double *out)
{
    const char *what = "a positive rate like 50, 50/s or 3000/m";
    int node, rc = scalar(d, map, path, key, what, &node);
    if (rc <= 0)
        return rc;
    double v;
    if (core_parse_rate(node_s(d, node), &v) || !(v > 0))
        return expected(d, node, path, key, what);
    char p[SCN_PATH_MAX];
    if (v > SCN_MAX_RATE)
        return scn__fail_at(d, node, "%s: at most %g per second, got '%s'", scn__path(p, path, key),
                            SCN_MAX_RATE, node_s(d, node));
    *out = v;
    return 0;
}

int scn__get_enum(const struct scn_dec *d, int map, const char *path, const char *key,
                  const char *const *names, int *out)
{
    char what[160] = "one of ";
    for (int i = 0; names[i]; i++) {
        strncat(what, names[i], sizeof(what) - strlen(what) - 3);
        if (names[i + 1])
            strncat(what, ", ", sizeof(what) - strlen(what) - 1);
    }
    int node, rc = scalar(d, map, path, key, what, &node);
    if (rc <= 0)
        return rc;
    for (int i = 0; names[i]; i++) {
        if (!strcmp(node_s(d, node), names[i])) {
            *out = i;
            return 0;
        }
    }
    return expected(d, node, path, key, what);
}

int scn__get_list(const struct scn_dec *d, int map, const char *path, const char *key, int max,
                  int *seq, int *n)
{
    char p[SCN_PATH_MAX];
    *seq = scn__field(d, map, key);
    *n = 0;
    if (*seq < 0)
        return 0;
    if (scn__expect(d, *seq, scn__path(p, path, key), SCN_N_SEQ))
        return DIO_EPARSE;
    if (d->t->v[*seq].n > max)
        return scn__fail_at(d, *seq, "%s: too many items (%d, the limit is %d)", p, d->t->v[*seq].n,
                            max);
    *n = d->t->v[*seq].n;
    return 0;
}

/* The YAML type of a plain scalar picks the OTLP type; quoting forces a string. */
static void attr_type(struct scn_attr *a, int plain)
{
    a->type = SCN_STR;
    if (!plain)
        return;
    if (!parse_int(a->str, &a->i)) {
        a->type = SCN_INT;
        a->d = (double)a->i;
    } else if (!parse_num(a->str, &a->d)) {
        a->type = SCN_DBL;
    } else if (!strcasecmp(a->str, "true") || !strcasecmp(a->str, "false")) {
        a->type = SCN_BOOL;
        a->i = !strcasecmp(a->str, "true");
    }
}

static int attr_one(const struct scn_dec *d, int k, const char *path, struct scn_attr *all, int n)
{
    const struct scn_node *key = &d->t->v[k];
    char g[64];
    if (!key->s[0] || strlen(key->s) > SCN_MAX_NAME)
        return scn__fail_at(d, k, "%s: attribute names are 1 to %d bytes long", path, SCN_MAX_NAME);
    for (int i = 0; i < n; i++)
        if (!strcmp(all[i].key, key->s))
            return scn__fail_at(d, k, "duplicate key '%s' in %s", key->s, path);
    if (d->t->v[key->val].type != SCN_N_SCALAR || scn__is_null(d->t, key->val))
        return scn__fail_at(d, key->val, "%s.%s: expected a string, number or bool, got %s", path,
                            key->s, scn__got(d->t, key->val, g, sizeof(g)));
    struct scn_attr *a = &all[n];
    a->key = core_strdup(key->s);
    a->str = core_strdup(d->t->v[key->val].s);
    attr_type(a, d->t->v[key->val].plain);
    return 0;
}

int scn__get_attrs(const struct scn_dec *d, int map, const char *path, const char *key,
                   struct scn_attr **out, int *n)
{
    char p[SCN_PATH_MAX];
    int node = scn__field(d, map, key);
    if (node < 0)
        return 0;
    if (scn__expect(d, node, scn__path(p, path, key), SCN_N_MAP))
        return DIO_EPARSE;
    int count = d->t->v[node].n;
    if (count > SCN_MAX_ATTRS)
        return scn__fail_at(d, node, "%s: too many attributes (%d, the limit is %d)", p, count,
                            SCN_MAX_ATTRS);
    *out = core_calloc((size_t)count + 1, sizeof(**out));
    for (int k = d->t->v[node].first; k >= 0; k = d->t->v[k].next) {
        if (attr_one(d, k, p, *out, *n))
            return DIO_EPARSE;
        (*n)++;
    }
    return 0;
}
