/* A small Parquet writer for flat tables (the --dataset output). No Debian package writes
 * Parquet from C, so this writes the few parts of the format a flat table needs, from the
 * parquet-format spec (parquet.thrift, Encodings.md):
 *
 *   "PAR1" | row group 1: one column chunk per column | ... | FileMetaData | len (u32 LE) | "PAR1"
 *
 * Each column chunk is one DATA_PAGE (v1) compressed whole with snappy (raw block format, as
 * Parquet's SNAPPY codec is). The page body is, for an OPTIONAL column, the definition levels
 * (a u32 LE byte length, then RLE runs of bit width 1) followed by the PLAIN values of the
 * non-null rows: INT64 and DOUBLE as 8 bytes little endian, BYTE_ARRAY as a u32 LE length and
 * the bytes. No dictionary, no statistics, no repetition levels (the schema is flat).
 * Page headers and the footer are Thrift compact protocol structs written by the tw_ helpers.
 *
 * Memory: rows are buffered column by column until the caller flushes a row group; the
 * caller flushes when export_pq_full says the group reached its row or byte cap, so a group
 * holds at most group_rows rows and about EXPORT_PQ_GROUP_BYTES bytes (plus one row). The
 * footer keeps 40 bytes per column per row group written (a week of `fleet` at the default
 * cap: 19 groups). The writer never seeks: offsets are counted as bytes are written, so the
 * file can be a pipe. */
#include <snappy-c.h>
#include <stdio.h>
#include <string.h>

#include "export/export.h"

/* Parquet enums (parquet.thrift) */
enum { PQ_INT64 = 2, PQ_DOUBLE = 5, PQ_BYTE_ARRAY = 6 };
enum { PQ_REQUIRED = 0, PQ_OPTIONAL = 1 };
enum { PQ_CONV_UTF8 = 0, PQ_CONV_TIMESTAMP_MILLIS = 9 };
enum { PQ_ENC_PLAIN = 0, PQ_ENC_RLE = 3 };
enum { PQ_CODEC_SNAPPY = 1 };
enum { PQ_PAGE_DATA = 0 };

/* Thrift compact protocol type ids */
enum { T_TRUE = 1, T_FALSE = 2, T_I32 = 5, T_I64 = 6, T_BINARY = 8, T_LIST = 9, T_STRUCT = 12 };

#define TW_MAX_DEPTH 8

/* ---- Thrift compact protocol writer ---------------------------------------------------- */
struct tw {
    struct core_buf *b;
    int16_t last[TW_MAX_DEPTH]; /* last field id written, per open struct */
    int depth;
    int err;
};

static void tw_byte(struct tw *w, uint8_t c)
{
    if (core_buf_putc(w->b, (char)c))
        w->err = 1;
}

static void tw_varint(struct tw *w, uint64_t v)
{
    while (v >= 0x80) {
        tw_byte(w, (uint8_t)(v | 0x80));
        v >>= 7;
    }
    tw_byte(w, (uint8_t)v);
}

static uint64_t zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

/* Field header: a delta from the previous id in the high nibble when it fits, else the type
 * byte and the id as a zigzag varint. */
static void tw_field(struct tw *w, int id, int type)
{
    int d = id - w->last[w->depth];
    if (d > 0 && d <= 15) {
        tw_byte(w, (uint8_t)(d << 4 | type));
    } else {
        tw_byte(w, (uint8_t)type);
        tw_varint(w, zigzag(id));
    }
    w->last[w->depth] = (int16_t)id;
}

static void tw_i32(struct tw *w, int id, int32_t v)
{
    tw_field(w, id, T_I32);
    tw_varint(w, zigzag(v));
}

static void tw_i64(struct tw *w, int id, int64_t v)
{
    tw_field(w, id, T_I64);
    tw_varint(w, zigzag(v));
}

static void tw_raw_bin(struct tw *w, const char *s, size_t n)
{
    tw_varint(w, n);
    if (core_buf_append(w->b, s, n))
        w->err = 1;
}

static void tw_bin(struct tw *w, int id, const char *s)
{
    tw_field(w, id, T_BINARY);
    tw_raw_bin(w, s, strlen(s));
}

static void tw_bool(struct tw *w, int id, int v)
{
    tw_field(w, id, v ? T_TRUE : T_FALSE); /* the value is the type */
}

static void tw_push(struct tw *w)
{
    if (w->depth + 1 >= TW_MAX_DEPTH) {
        w->err = 1;
        return;
    }
    w->last[++w->depth] = 0;
}

/* A struct-valued field; close it with tw_end. */
static void tw_struct(struct tw *w, int id)
{
    tw_field(w, id, T_STRUCT);
    tw_push(w);
}

/* A list of n elements of elem_type; struct elements each open with tw_push, close with tw_end. */
static void tw_list(struct tw *w, int id, int elem_type, uint32_t n)
{
    tw_field(w, id, T_LIST);
    if (n < 15) {
        tw_byte(w, (uint8_t)(n << 4 | elem_type));
    } else {
        tw_byte(w, (uint8_t)(0xF0 | elem_type));
        tw_varint(w, n);
    }
}

static void tw_end(struct tw *w)
{
    tw_byte(w, 0); /* STOP */
    if (w->depth > 0)
        w->depth--;
}

/* ---- the writer ------------------------------------------------------------------------ */
struct pq_chunk { /* one column chunk of one row group, for the footer */
    int64_t offset, unc, comp, nvalues;
};

struct pq_column {
    struct export_pq_col def;
    char name[EXPORT_PQ_MAX_NAME + 1];
    struct core_buf values; /* PLAIN values of the non-null rows */
    struct core_buf levels; /* one byte per row: 1 value, 0 null (optional columns) */
    int set;                /* a value was given in the current row */
};

struct export_pq {
    FILE *f;
    struct pq_column *cols;
    int ncols;
    uint32_t group_rows, rows; /* cap; rows buffered */
    size_t bytes;              /* value bytes buffered */
    int64_t pos;               /* bytes written so far */
    int64_t total_rows;        /* rows in row groups written */
    struct pq_chunk *chunks;   /* ngroups x ncols */
    int64_t *group_rows_at;    /* rows per group */
    uint32_t ngroups, groups_cap;
    struct core_buf page, zbuf, hdr;
    int err; /* a write failed: the file is unusable, every later call fails */
};

static int pq_write(struct export_pq *p, const void *d, size_t n)
{
    if (p->err || (n && fwrite(d, 1, n, p->f) != n)) {
        p->err = 1;
        return DIO_EIO;
    }
    p->pos += (int64_t)n;
    return 0;
}

struct export_pq *export_pq_new(FILE *f, const struct export_pq_col *cols, int ncols,
                                uint32_t group_rows)
{
    if (!f || ncols <= 0 || ncols > EXPORT_PQ_MAX_COLS)
        return NULL;
    for (int i = 0; i < ncols; i++)
        if (!cols[i].name || !cols[i].name[0] || strlen(cols[i].name) > EXPORT_PQ_MAX_NAME ||
            cols[i].type < 0 || cols[i].type > EXPORT_PQ_STRING)
            return NULL;
    struct export_pq *p = core_calloc(1, sizeof *p);
    p->f = f;
    p->ncols = ncols;
    p->group_rows = group_rows ? group_rows : EXPORT_PQ_GROUP_ROWS;
    p->cols = core_calloc((size_t)ncols, sizeof *p->cols);
    for (int i = 0; i < ncols; i++) {
        struct pq_column *c = &p->cols[i];
        c->def = cols[i];
        snprintf(c->name, sizeof c->name, "%s", cols[i].name);
        c->def.name = c->name;
        core_buf_init(&c->values, EXPORT_PQ_GROUP_BYTES + EXPORT_PQ_MAX_VALUE + 8);
        core_buf_init(&c->levels, (size_t)p->group_rows + EXPORT_PQ_GROUP_SLACK);
    }
    /* a page is one column's values plus its levels; snappy may grow it a little */
    size_t page_max = EXPORT_PQ_GROUP_BYTES + EXPORT_PQ_MAX_VALUE + 8 +
                      ((size_t)p->group_rows + EXPORT_PQ_GROUP_SLACK) * 2 + 64;
    core_buf_init(&p->page, page_max);
    core_buf_init(&p->zbuf, snappy_max_compressed_length(page_max));
    core_buf_init(&p->hdr, 1 << 20);
    pq_write(p, "PAR1", 4);
    return p;
}

static struct pq_column *col_for(struct export_pq *p, int col, int type)
{
    if (p->err || col < 0 || col >= p->ncols || p->cols[col].set ||
        (type >= 0 && p->cols[col].def.type != type))
        return NULL;
    return &p->cols[col];
}

/* Appends one value (its PLAIN bytes in up to two pieces) to the current row of column c. */
static int put_value(struct export_pq *p, struct pq_column *c, const void *a, size_t na,
                     const void *b, size_t nb)
{
    if (core_buf_reserve(&c->values, na + nb) ||
        (c->def.optional && c->levels.len >= c->levels.max))
        return DIO_EFULL;
    core_buf_append(&c->values, a, na);
    core_buf_append(&c->values, b, nb);
    if (c->def.optional)
        core_buf_putc(&c->levels, 1);
    c->set = 1;
    p->bytes += na + nb;
    return 0;
}

static void le64(uint8_t out[8], uint64_t v)
{
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(v >> (8 * i));
}

static void le32(uint8_t out[4], uint32_t v)
{
    for (int i = 0; i < 4; i++)
        out[i] = (uint8_t)(v >> (8 * i));
}

int export_pq_put_i64(struct export_pq *p, int col, int64_t v)
{
    struct pq_column *c = col_for(p, col, EXPORT_PQ_TIMESTAMP_MS);
    uint8_t b[8];
    if (!c)
        return DIO_EINVAL;
    le64(b, (uint64_t)v);
    return put_value(p, c, b, 8, NULL, 0);
}

int export_pq_put_double(struct export_pq *p, int col, double v)
{
    struct pq_column *c = col_for(p, col, EXPORT_PQ_DOUBLE);
    uint64_t u;
    uint8_t b[8];
    if (!c)
        return DIO_EINVAL;
    memcpy(&u, &v, 8);
    le64(b, u);
    return put_value(p, c, b, 8, NULL, 0);
}

int export_pq_put_str(struct export_pq *p, int col, const char *s, size_t n)
{
    struct pq_column *c = col_for(p, col, EXPORT_PQ_STRING);
    uint8_t b[4];
    if (!c)
        return DIO_EINVAL;
    if (n > EXPORT_PQ_MAX_VALUE)
        return DIO_ERANGE;
    le32(b, (uint32_t)n);
    return put_value(p, c, b, 4, s, n);
}

int export_pq_put_null(struct export_pq *p, int col)
{
    struct pq_column *c = col_for(p, col, -1);
    if (!c || !c->def.optional)
        return DIO_EINVAL;
    if (core_buf_putc(&c->levels, 0))
        return DIO_EFULL;
    c->set = 1;
    return 0;
}

/* Every column must have had exactly one value (or null) since the last row. */
int export_pq_end_row(struct export_pq *p)
{
    if (p->err)
        return DIO_EIO;
    for (int i = 0; i < p->ncols; i++)
        if (!p->cols[i].set)
            return DIO_EINVAL;
    for (int i = 0; i < p->ncols; i++)
        p->cols[i].set = 0;
    p->rows++;
    return 0;
}

int export_pq_full(const struct export_pq *p)
{
    return p->rows >= p->group_rows || p->bytes >= EXPORT_PQ_GROUP_BYTES;
}

/* Definition levels as RLE runs (bit width 1: one value byte per run), after a u32 length. */
static int encode_levels(struct core_buf *out, const struct core_buf *lv)
{
    size_t at = out->len;
    uint8_t len[4] = {0};
    int rc = core_buf_append(out, len, 4);
    for (size_t i = 0; i < lv->len && !rc;) {
        size_t j = i;
        while (j < lv->len && lv->p[j] == lv->p[i])
            j++;
        uint64_t h = (uint64_t)(j - i) << 1; /* low bit 0: an RLE run */
        while (h >= 0x80 && !rc) {
            rc = core_buf_putc(out, (char)(h | 0x80));
            h >>= 7;
        }
        rc = rc ? rc : core_buf_putc(out, (char)h);
        rc = rc ? rc : core_buf_putc(out, lv->p[i]);
        i = j;
    }
    if (!rc)
        le32((uint8_t *)out->p + at, (uint32_t)(out->len - at - 4));
    return rc;
}

static void page_header(struct tw *w, int32_t unc, int32_t comp, int32_t nvalues)
{
    tw_i32(w, 1, PQ_PAGE_DATA);
    tw_i32(w, 2, unc);
    tw_i32(w, 3, comp);
    tw_struct(w, 5); /* data_page_header */
    tw_i32(w, 1, nvalues);
    tw_i32(w, 2, PQ_ENC_PLAIN);
    tw_i32(w, 3, PQ_ENC_RLE); /* definition levels */
    tw_i32(w, 4, PQ_ENC_RLE); /* repetition levels (none: flat) */
    tw_end(w);
    tw_end(w);
}

/* One column chunk: page header + snappy page. */
static int write_chunk(struct export_pq *p, struct pq_column *c, struct pq_chunk *out)
{
    core_buf_reset(&p->page);
    if ((c->def.optional && encode_levels(&p->page, &c->levels)) ||
        core_buf_append(&p->page, c->values.p, c->values.len))
        return DIO_EFULL;
    size_t zlen = snappy_max_compressed_length(p->page.len);
    core_buf_reset(&p->zbuf);
    if (core_buf_reserve(&p->zbuf, zlen) || snappy_compress((const char *)p->page.p, p->page.len,
                                                            (char *)p->zbuf.p, &zlen) != SNAPPY_OK)
        return DIO_EFULL;
    core_buf_reset(&p->hdr);
    struct tw w = {.b = &p->hdr};
    page_header(&w, (int32_t)p->page.len, (int32_t)zlen, (int32_t)p->rows);
    if (w.err)
        return DIO_EFULL;
    out->offset = p->pos;
    out->unc = (int64_t)(p->hdr.len + p->page.len);
    out->comp = (int64_t)(p->hdr.len + zlen);
    out->nvalues = p->rows;
    if (pq_write(p, p->hdr.p, p->hdr.len) || pq_write(p, p->zbuf.p, zlen))
        return DIO_EIO;
    return 0;
}

int export_pq_flush(struct export_pq *p)
{
    if (p->err)
        return DIO_EIO;
    if (p->rows == 0)
        return 0;
    if (p->ngroups == p->groups_cap) {
        p->groups_cap = p->groups_cap ? p->groups_cap * 2 : 8;
        p->chunks =
            core_realloc(p->chunks, (size_t)p->groups_cap * (size_t)p->ncols * sizeof *p->chunks);
        p->group_rows_at = core_realloc(p->group_rows_at, p->groups_cap * sizeof(int64_t));
    }
    struct pq_chunk *ch = &p->chunks[(size_t)p->ngroups * (size_t)p->ncols];
    int rc = 0;
    for (int i = 0; i < p->ncols && !rc; i++)
        rc = write_chunk(p, &p->cols[i], &ch[i]);
    if (rc) {
        p->err = 1;
        return rc;
    }
    p->group_rows_at[p->ngroups++] = p->rows;
    p->total_rows += p->rows;
    for (int i = 0; i < p->ncols; i++) {
        core_buf_reset(&p->cols[i].values);
        core_buf_reset(&p->cols[i].levels);
    }
    p->rows = 0;
    p->bytes = 0;
    return 0;
}

static void schema_element(struct tw *w, const struct export_pq_col *c)
{
    static const int type[] = {PQ_INT64, PQ_DOUBLE, PQ_BYTE_ARRAY};
    tw_push(w);
    tw_i32(w, 1, type[c->type]);
    tw_i32(w, 3, c->optional ? PQ_OPTIONAL : PQ_REQUIRED);
    tw_bin(w, 4, c->name);
    if (c->type == EXPORT_PQ_STRING) {
        tw_i32(w, 6, PQ_CONV_UTF8);
        tw_struct(w, 10); /* logicalType: STRING */
        tw_struct(w, 1);
        tw_end(w);
        tw_end(w);
    } else if (c->type == EXPORT_PQ_TIMESTAMP_MS) {
        tw_i32(w, 6, PQ_CONV_TIMESTAMP_MILLIS);
        tw_struct(w, 10); /* logicalType: TIMESTAMP(isAdjustedToUTC, MILLIS) */
        tw_struct(w, 8);
        tw_bool(w, 1, 1);
        tw_struct(w, 2); /* unit */
        tw_struct(w, 1); /* MILLIS */
        tw_end(w);
        tw_end(w);
        tw_end(w);
        tw_end(w);
    }
    tw_end(w);
}

static void column_chunk(struct tw *w, const struct export_pq_col *c, const struct pq_chunk *ch)
{
    static const int type[] = {PQ_INT64, PQ_DOUBLE, PQ_BYTE_ARRAY};
    tw_push(w);
    tw_i64(w, 2, ch->offset);
    tw_struct(w, 3); /* meta_data */
    tw_i32(w, 1, type[c->type]);
    tw_list(w, 2, T_I32, 2);
    tw_varint(w, zigzag(PQ_ENC_PLAIN));
    tw_varint(w, zigzag(PQ_ENC_RLE));
    tw_list(w, 3, T_BINARY, 1);
    tw_raw_bin(w, c->name, strlen(c->name));
    tw_i32(w, 4, PQ_CODEC_SNAPPY);
    tw_i64(w, 5, ch->nvalues);
    tw_i64(w, 6, ch->unc);
    tw_i64(w, 7, ch->comp);
    tw_i64(w, 9, ch->offset);
    tw_end(w);
    tw_end(w);
}

static void row_group(struct tw *w, const struct export_pq *p, uint32_t g)
{
    const struct pq_chunk *ch = &p->chunks[(size_t)g * (size_t)p->ncols];
    int64_t unc = 0, comp = 0;
    tw_push(w);
    tw_list(w, 1, T_STRUCT, (uint32_t)p->ncols);
    for (int i = 0; i < p->ncols; i++) {
        column_chunk(w, &p->cols[i].def, &ch[i]);
        unc += ch[i].unc;
        comp += ch[i].comp;
    }
    tw_i64(w, 2, unc);
    tw_i64(w, 3, p->group_rows_at[g]);
    tw_i64(w, 5, ch[0].offset);
    tw_i64(w, 6, comp);
    tw_end(w);
}

static int footer(struct export_pq *p)
{
    core_buf_reset(&p->hdr);
    struct tw w = {.b = &p->hdr};
    tw_i32(&w, 1, 1); /* version */
    tw_list(&w, 2, T_STRUCT, (uint32_t)p->ncols + 1);
    tw_push(&w); /* the root: a group of ncols fields */
    tw_bin(&w, 4, "schema");
    tw_i32(&w, 5, p->ncols);
    tw_end(&w);
    for (int i = 0; i < p->ncols; i++)
        schema_element(&w, &p->cols[i].def);
    tw_i64(&w, 3, p->total_rows);
    tw_list(&w, 4, T_STRUCT, p->ngroups);
    for (uint32_t g = 0; g < p->ngroups; g++)
        row_group(&w, p, g);
    tw_bin(&w, 6, "diorama");
    tw_byte(&w, 0); /* STOP of FileMetaData */
    if (w.err)
        return DIO_EFULL;
    uint8_t len[4];
    le32(len, (uint32_t)p->hdr.len);
    if (pq_write(p, p->hdr.p, p->hdr.len) || pq_write(p, len, 4) || pq_write(p, "PAR1", 4))
        return DIO_EIO;
    return 0;
}

int export_pq_close(struct export_pq *p)
{
    int rc = export_pq_flush(p);
    if (!rc)
        rc = footer(p);
    if (!rc && fflush(p->f))
        rc = DIO_EIO;
    if (rc)
        p->err = 1;
    return rc;
}

uint64_t export_pq_rows_written(const struct export_pq *p)
{
    return (uint64_t)p->total_rows;
}

void export_pq_free(struct export_pq *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->ncols; i++) {
        core_buf_free(&p->cols[i].values);
        core_buf_free(&p->cols[i].levels);
    }
    core_free(p->cols);
    core_free(p->chunks);
    core_free(p->group_rows_at);
    core_buf_free(&p->page);
    core_buf_free(&p->zbuf);
    core_buf_free(&p->hdr);
    core_free(p);
}
