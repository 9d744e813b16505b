/* scenario: the public entry points (load, free, builtins, error formatting) and the small
 * helpers the passes share. See scn_internal.h for how loading is split into passes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "scenario/scn_internal.h"

/* ---- errors ---------------------------------------------------------------------------- */
int scn__vfail(struct scn_error *err, int line, int col, const char *fmt, va_list ap)
{
    err->line = line;
    err->col = col;
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    return DIO_EPARSE;
}

int scn__fail(struct scn_error *err, int line, int col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = scn__vfail(err, line, col, fmt, ap);
    va_end(ap);
    return rc;
}

void scenario_format_error(const struct scn_error *e, char *out, size_t n)
{
    if (e->line > 0)
        snprintf(out, n, "%s:%d:%d: %s", e->file, e->line, e->col, e->msg);
    else
        snprintf(out, n, "%s: %s", e->file, e->msg);
}

/* ---- suggestions ----------------------------------------------------------------------- */
/* Levenshtein distance, or 3 when it is surely more than 2 (names are short; longer ones are
 * not worth a suggestion and would make this quadratic cost add up over 10000 candidates). */
static int distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64 || (la > lb ? la - lb : lb - la) > 2)
        return 3;
    int row[65];
    for (size_t j = 0; j <= lb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            diag = up;
            row[j] = best;
        }
    }
    return row[lb];
}

const char *scn__suggest(const char *s, const void *base, int n, size_t stride, size_t off)
{
    const char *best = NULL;
    int best_d = 3;
    for (int i = 0; i < n; i++) {
        const char *cand = *(char *const *)((const char *)base + (size_t)i * stride + off);
        int d = cand ? distance(s, cand) : 3;
        /* A one-letter name is "close" to every other one-letter name: not a useful hint. */
        if (d < best_d && d < (int)strlen(cand)) {
            best = cand;
            best_d = d;
        }
    }
    return best;
}

const char *scenario_suggest(const char *s, const void *base, int n, size_t stride, size_t off)
{
    return scn__suggest(s, base, n, stride, off);
}

const char *scn__suggest_list(const char *s, const char *const *names)
{
    int n = 0;
    while (names[n])
        n++;
    return scn__suggest(s, names, n, sizeof(*names), 0);
}

/* ---- free ------------------------------------------------------------------------------ */
static void free_attrs(struct scn_attr *a, int n)
{
    for (int i = 0; i < n; i++) {
        core_free(a[i].key);
        core_free(a[i].str);
    }
    core_free(a);
}

static void free_service(struct scn_service *sv)
{
    for (int j = 0; j < sv->nops; j++) {
        struct scn_operation *op = &sv->ops[j];
        for (int k = 0; k < op->ncalls; k++) {
            core_free(op->calls[k].service);
            core_free(op->calls[k].operation);
        }
        core_free(op->calls);
        core_free(op->name);
        core_free(op->method);
        core_free(op->route);
    }
    core_free(sv->ops);
    core_free(sv->name);
    core_free(sv->version);
    core_free(sv->namespace_);
    core_free(sv->host);
    free_attrs(sv->attrs, sv->nattrs);
}

static void free_model(struct scn_model *m)
{
    core_free(m->name);
    core_free(m->provider);
    core_free(m->operation);
    core_free(m->gpu);
    core_free(m->entry);
}

void scenario_free(struct scenario *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->nhosts; i++) {
        core_free(s->hosts[i].name);
        core_free(s->hosts[i].profile);
        core_free(s->hosts[i].gpu_model);
        free_attrs(s->hosts[i].attrs, s->hosts[i].nattrs);
    }
    for (int i = 0; i < s->nservices; i++)
        free_service(&s->services[i]);
    for (int i = 0; i < s->nmodels; i++)
        free_model(&s->models[i]);
    for (int i = 0; i < s->nfaults; i++) {
        core_free(s->faults[i].name);
        core_free(s->faults[i].target);
        for (int v = 0; v < s->faults[i].nvariants; v++) {
            core_free(s->faults[i].variants[v].name);
            core_free(s->faults[i].variants[v].down);
            core_free(s->faults[i].variants[v].slow);
        }
        core_free(s->faults[i].variants);
    }
    core_free(s->hosts);
    core_free(s->services);
    core_free(s->models);
    core_free(s->faults);
    for (int i = 0; i < s->nstates; i++)
        core_free(s->states[i].name);
    core_free(s->states);
    for (int i = 0; i < s->ntimeline; i++) {
        core_free(s->timeline[i].target);
        core_free(s->timeline[i].state);
    }
    core_free(s->timeline);
    scn__free_business(s);
    core_free(s->kind);
    free_attrs(s->resource_attrs, s->nresource_attrs);
    core_free(s->name);
    core_free(s->description);
    core_free(s->file);
    core_free(s);
}

/* ---- load ------------------------------------------------------------------------------ */
/* "scenarios/shop.yaml" -> "shop"; "builtin:inference" -> "inference". */
static void default_name(const char *file, char *out, size_t n)
{
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    if (!strncmp(base, "builtin:", 8))
        base += 8;
    size_t len = strcspn(base, ".");
    if (len == 0 || len >= n) {
        snprintf(out, n, "scenario");
        return;
    }
    memcpy(out, base, len);
    out[len] = '\0';
}

static void err_init(struct scn_error *err, const char *file)
{
    memset(err, 0, sizeof(*err));
    snprintf(err->file, sizeof(err->file), "%s", file);
}

static int load_string(const char *file, const char *text, size_t len, uint64_t max_series,
                       struct scenario **out, struct scn_error *err)
{
    struct scn_error local;
    struct scn_tree t;
    char name[SCN_MAX_NAME + 1];
    err = err ? err : &local;
    file = file ? file : "<string>";
    text = text ? text : ""; /* libyaml asserts on a NULL input */
    err_init(err, file);
    *out = NULL;
    if (len > SCENARIO_MAX_BYTES) {
        scn__fail(err, 0, 0, "file is larger than %u bytes", SCENARIO_MAX_BYTES);
        return DIO_ERANGE;
    }
    struct scenario *s = core_calloc(1, sizeof(*s));
    s->file = core_strdup(file);
    s->hash = core_hash64(text, len);
    default_name(file, name, sizeof(name));
    int rc = scn__tree_build(&t, text, len, err);
    if (!rc)
        rc = scn__decode(&t, s, name, err);
    if (!rc)
        rc = scn__validate(&t, s, err);
    if (!rc) /* while the tree is here to point at the key to blame */
        rc = scn__check_series(&t, s, max_series, err);
    scn__tree_free(&t);
    if (rc) {
        scenario_free(s);
        return DIO_EPARSE;
    }
    *out = s;
    return 0;
}

int scenario_load_string(const char *file, const char *text, size_t len, struct scenario **out,
                         struct scn_error *err)
{
    return load_string(file, text, len, 0, out, err);
}

/* Reads at most SCENARIO_MAX_BYTES + 1 bytes: one more tells "too big" from "just fits". */
static int read_capped(FILE *f, struct core_buf *b)
{
    char chunk[16384];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (b->len + n > (size_t)SCENARIO_MAX_BYTES)
            return DIO_ERANGE;
        core_buf_append(b, chunk, n);
    }
    return ferror(f) ? DIO_EIO : 0; /* errno tells why */
}

static int load_file(const char *path, uint64_t max_series, struct scenario **out,
                     struct scn_error *err)
{
    struct scn_error local;
    err = err ? err : &local;
    err_init(err, path);
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        scn__fail(err, 0, 0, "cannot open: %s", strerror(errno));
        return DIO_EIO;
    }
    struct core_buf b;
    core_buf_init(&b, (size_t)SCENARIO_MAX_BYTES + 1);
    int rc = read_capped(f, &b), saved = errno;
    fclose(f);
    if (rc == DIO_ERANGE)
        scn__fail(err, 0, 0, "file is larger than %u bytes", SCENARIO_MAX_BYTES);
    else if (rc)
        scn__fail(err, 0, 0, "cannot read: %s", strerror(saved));
    else
        rc = load_string(path, b.p ? (const char *)b.p : "", b.len, max_series, out, err);
    core_buf_free(&b);
    return rc;
}

int scenario_load_file(const char *path, struct scenario **out, struct scn_error *err)
{
    return load_file(path, 0, out, err);
}

const struct scenario_builtin *scenario_builtin_find(const char *name)
{
    for (const struct scenario_builtin *b = scenario_builtins; name && b->name; b++)
        if (!strcmp(b->name, name))
            return b;
    return NULL;
}

int scenario_load_max(const char *name_or_path, uint64_t max_series, struct scenario **out,
                      struct scn_error *err)
{
    const struct scenario_builtin *b = scenario_builtin_find(name_or_path);
    if (!b)
        return load_file(name_or_path, max_series, out, err);
    char file[128];
    snprintf(file, sizeof(file), "builtin:%s", b->name);
    return load_string(file, b->text, b->len, max_series, out, err);
}

int scenario_load(const char *name_or_path, struct scenario **out, struct scn_error *err)
{
    return scenario_load_max(name_or_path, 0, out, err);
}
