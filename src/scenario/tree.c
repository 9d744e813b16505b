/* YAML text -> struct scn_tree, using libyaml's event API.
 *
 * Why a tree of our own and not libyaml's document API: we need every node's position after
 * parsing (errors found during validation still name file:line:col), we refuse aliases (a few
 * bytes of nested aliases can expand to gigabytes: the "billion laughs"), and we cap nesting
 * depth and node count while parsing, before anything is allocated for them. */
#include <stdio.h>
#include <string.h>
#include <yaml.h>

#include "core/core.h"
#include "scenario/scn_internal.h"

struct builder {
    struct scn_tree *t;
    struct scn_error *err;
    int depth;
    int docs;
    int open[SCN_MAX_DEPTH];    /* open collections, outermost first */
    int last[SCN_MAX_DEPTH];    /* last child linked into each open collection, -1 */
    int pending[SCN_MAX_DEPTH]; /* for open mappings: the key waiting for its value, -1 */
};

static int node_new(struct builder *b, int type, const yaml_mark_t *m)
{
    struct scn_tree *t = b->t;
    if (t->n >= SCN_MAX_NODES)
        return scn__fail(b->err, (int)m->line + 1, (int)m->column + 1,
                         "too many YAML nodes (the limit is %d)", SCN_MAX_NODES);
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->v = core_realloc(t->v, (size_t)t->cap * sizeof(*t->v));
    }
    struct scn_node *nd = &t->v[t->n];
    memset(nd, 0, sizeof(*nd));
    nd->type = type;
    nd->line = (int)m->line + 1; /* libyaml marks are 0-based */
    nd->col = (int)m->column + 1;
    nd->first = nd->next = nd->val = -1;
    return t->n++;
}

/* Links node `id` into the innermost open collection (or makes it the root). */
static int attach(struct builder *b, int id)
{
    struct scn_tree *t = b->t;
    if (b->depth == 0) {
        t->root = id;
        return 0;
    }
    int d = b->depth - 1, parent = b->open[d];
    struct scn_node *nd = &t->v[id];
    if (t->v[parent].type == SCN_N_MAP && b->pending[d] >= 0) {
        t->v[b->pending[d]].val = id;
        b->pending[d] = -1;
        return 0;
    }
    if (t->v[parent].type == SCN_N_MAP) {
        if (nd->type != SCN_N_SCALAR)
            return scn__fail(b->err, nd->line, nd->col, "mapping keys must be plain strings");
        b->pending[d] = id;
    }
    if (b->last[d] < 0)
        t->v[parent].first = id;
    else
        t->v[b->last[d]].next = id;
    b->last[d] = id;
    t->v[parent].n++;
    return 0;
}

static int on_scalar(struct builder *b, const yaml_event_t *ev)
{
    const char *val = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    if (memchr(val, '\0', len))
        return scn__fail(b->err, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1,
                         "NUL characters are not allowed in values");
    int id = node_new(b, SCN_N_SCALAR, &ev->start_mark);
    if (id < 0)
        return id;
    struct scn_node *nd = &b->t->v[id];
    /* The arena may move while it grows: keep the offset now, make pointers at the end. */
    nd->off = b->t->strs.len;
    if (core_buf_append(&b->t->strs, val, len) || core_buf_putc(&b->t->strs, '\0'))
        return scn__fail(b->err, nd->line, nd->col, "too much text in values");
    nd->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !ev->data.scalar.tag;
    return attach(b, id);
}

static int on_open(struct builder *b, int type, const yaml_mark_t *m)
{
    if (b->depth >= SCN_MAX_DEPTH)
        return scn__fail(b->err, (int)m->line + 1, (int)m->column + 1,
                         "nesting deeper than %d levels", SCN_MAX_DEPTH);
    int id = node_new(b, type, m);
    if (id < 0 || attach(b, id))
        return DIO_EPARSE;
    b->open[b->depth] = id;
    b->last[b->depth] = -1;
    b->pending[b->depth] = -1;
    b->depth++;
    return 0;
}

static int on_event(struct builder *b, const yaml_event_t *ev)
{
    const yaml_mark_t *m = &ev->start_mark;
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (++b->docs > 1)
            return scn__fail(b->err, (int)m->line + 1, (int)m->column + 1,
                             "only one YAML document per file is supported");
        return 0;
    case YAML_ALIAS_EVENT:
        return scn__fail(b->err, (int)m->line + 1, (int)m->column + 1,
                         "YAML aliases (*%s) are not supported",
                         (const char *)ev->data.alias.anchor);
    case YAML_SCALAR_EVENT:
        return on_scalar(b, ev);
    case YAML_SEQUENCE_START_EVENT:
        return on_open(b, SCN_N_SEQ, m);
    case YAML_MAPPING_START_EVENT:
        return on_open(b, SCN_N_MAP, m);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        if (b->depth > 0)
            b->depth--;
        return 0;
    default:
        return 0;
    }
}

/* libyaml reports reader errors (bad encoding, control characters) as a byte offset only. */
static void offset_to_pos(const char *text, size_t len, size_t off, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off && i < len; i++) {
        if (text[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

static int syntax_error(const yaml_parser_t *p, const char *text, size_t len, struct scn_error *err)
{
    const char *problem = p->problem ? p->problem : "unknown error";
    int line = (int)p->problem_mark.line + 1, col = (int)p->problem_mark.column + 1;
    if (p->error == YAML_MEMORY_ERROR)
        return scn__fail(err, 0, 0, "YAML parser ran out of memory");
    if (p->error == YAML_READER_ERROR) {
        offset_to_pos(text, len, p->problem_offset, &line, &col);
        return scn__fail(err, line, col, "YAML syntax error: %s", problem);
    }
    if (p->context)
        return scn__fail(err, line, col, "YAML syntax error: %s (%s at line %d, column %d)",
                         problem, p->context, (int)p->context_mark.line + 1,
                         (int)p->context_mark.column + 1);
    return scn__fail(err, line, col, "YAML syntax error: %s", problem);
}

/* Scalars never grow beyond their source text, plus one NUL each. */
#define ARENA_MAX ((size_t)SCENARIO_MAX_BYTES + SCN_MAX_NODES)

static void fix_pointers(struct scn_tree *t)
{
    for (int i = 0; i < t->n; i++)
        if (t->v[i].type == SCN_N_SCALAR)
            t->v[i].s = (char *)t->strs.p + t->v[i].off;
}

int scn__tree_build(struct scn_tree *t, const char *text, size_t len, struct scn_error *err)
{
    memset(t, 0, sizeof(*t));
    t->root = -1;
    core_buf_init(&t->strs, ARENA_MAX);
    struct builder b = {.t = t, .err = err};
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p))
        return scn__fail(err, 0, 0, "YAML parser ran out of memory");
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    int rc = 0, done = 0;
    while (!rc && !done) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            rc = syntax_error(&p, text, len, err);
            break;
        }
        done = ev.type == YAML_STREAM_END_EVENT;
        rc = on_event(&b, &ev);
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    if (!rc)
        fix_pointers(t);
    return rc;
}

void scn__tree_free(struct scn_tree *t)
{
    core_buf_free(&t->strs);
    core_free(t->v);
    memset(t, 0, sizeof(*t));
    t->root = -1;
}

int scn__map_get(const struct scn_tree *t, int map, const char *key)
{
    if (map < 0 || t->v[map].type != SCN_N_MAP)
        return -1;
    for (int k = t->v[map].first; k >= 0; k = t->v[k].next)
        if (strcmp(t->v[k].s, key) == 0)
            return t->v[k].val;
    return -1;
}

int scn__seq_at(const struct scn_tree *t, int seq, int i)
{
    if (seq < 0 || t->v[seq].type != SCN_N_SEQ)
        return -1;
    int k = t->v[seq].first;
    while (k >= 0 && i-- > 0)
        k = t->v[k].next;
    return k;
}

int scn__item_node(const struct scn_tree *t, const char *list, int i, const char *key)
{
    int item = scn__seq_at(t, scn__map_get(t, t->root, list), i);
    return key ? scn__map_get(t, item, key) : item;
}
