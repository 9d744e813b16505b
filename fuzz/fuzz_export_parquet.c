/* libFuzzer: the Parquet writer and the CSV field encoder fed odd rows (empty, long, UTF-8 or
 * invalid bytes, commas, quotes, newlines, NaN and infinities, nulls). Properties checked by an
 * independent reader written here from the spec (not the writer's code): the file is
 * PAR1 ... PAR1, every page header parses as a Thrift compact struct, the pages tile the file
 * up to the footer, each page's snappy block inflates to its stated size, the footer parses
 * to its stated end and says how many rows were written; a CSV field reads back (RFC 4180) as
 * the bytes it was given. */
#include <snappy-c.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/export.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct rd {
    const uint8_t *p;
    size_t n, i;
};

static uint64_t varint(struct rd *r)
{
    uint64_t v = 0;
    for (int s = 0; s < 64 && r->i < r->n; s += 7) {
        uint8_t b = r->p[r->i++];
        v |= (uint64_t)(b & 0x7f) << s;
        if (!(b & 0x80))
            return v;
    }
    abort(); /* truncated or overlong */
}

static int64_t unzz(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static void skip(struct rd *r, int type, int depth);

/* Reads a struct; records i32/i64 fields with ids 1..15 of this level into f[] (if given). */
static void rstruct(struct rd *r, int64_t *f, int depth)
{
    int last = 0;
    if (depth > 16)
        abort();
    for (;;) {
        if (r->i >= r->n)
            abort();
        uint8_t h = r->p[r->i++];
        if (h == 0)
            return;
        int type = h & 0x0f, d = h >> 4;
        int id = d ? last + d : (int)unzz(varint(r));
        last = id;
        if ((type == 5 || type == 6) && f && id > 0 && id < 16) {
            f[id] = unzz(varint(r));
            continue;
        }
        skip(r, type, depth);
    }
}

static void skip(struct rd *r, int type, int depth)
{
    switch (type) {
    case 1:
    case 2:
        return;
    case 3:
        r->i++;
        return;
    case 4:
    case 5:
    case 6:
        varint(r);
        return;
    case 7:
        r->i += 8;
        return;
    case 8: {
        uint64_t n = varint(r);
        if (n > r->n - r->i)
            abort();
        r->i += n;
        return;
    }
    case 9: {
        if (r->i >= r->n)
            abort();
        uint8_t h = r->p[r->i++];
        uint64_t n = h >> 4 == 15 ? varint(r) : h >> 4;
        for (uint64_t k = 0; k < n; k++)
            skip(r, h & 0x0f, depth + 1);
        return;
    }
    case 12:
        rstruct(r, NULL, depth + 1);
        return;
    default:
        abort();
    }
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void check_file(const uint8_t *f, size_t n, uint64_t rows, int ncols)
{
    if (n < 12 || memcmp(f, "PAR1", 4) || memcmp(f + n - 4, "PAR1", 4))
        abort();
    uint32_t flen = rd32(f + n - 8);
    if (flen > n - 12)
        abort();
    size_t fstart = n - 8 - flen;
    struct rd r = {f, fstart, 4};
    uint64_t pages = 0;
    while (r.i < fstart) { /* page header, then its compressed bytes */
        int64_t h[16] = {0};
        rstruct(&r, h, 0);
        if (h[1] != 0 || h[3] < 0 || (uint64_t)h[3] > fstart - r.i)
            abort();
        size_t unc;
        if (snappy_uncompressed_length((const char *)f + r.i, (size_t)h[3], &unc) != SNAPPY_OK ||
            (int64_t)unc != h[2])
            abort();
        r.i += (size_t)h[3];
        pages++;
    }
    if (r.i != fstart || pages % (uint64_t)ncols)
        abort();
    struct rd m = {f + fstart, flen, 0};
    int64_t fm[16] = {0};
    rstruct(&m, fm, 0);
    if (m.i != flen || fm[1] != 1 || (uint64_t)fm[3] != rows)
        abort();
}

/* RFC 4180 read-back of one field. */
static void check_csv(const uint8_t *s, size_t n)
{
    struct core_buf b;
    core_buf_init(&b, 4 * n + 16);
    if (export_csv_field(&b, (const char *)s, n))
        abort();
    const uint8_t *q = b.p;
    size_t len = b.len, o = 0;
    uint8_t *back = malloc(n + 1);
    if (len && q[0] == '"') {
        for (size_t i = 1; i < len - 1; i++) {
            if (q[i] == '"' && q[++i] != '"')
                abort();
            back[o++] = q[i];
        }
        if (len < 2 || q[len - 1] != '"')
            abort();
    } else {
        for (size_t i = 0; i < len; i++) {
            if (q[i] == ',' || q[i] == '"' || q[i] == '\n' || q[i] == '\r')
                abort();
            back[o++] = q[i];
        }
    }
    if (o != n || (n && memcmp(back, s, n)))
        abort();
    free(back);
    core_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    int ncols = data[0] % 6 + 1;
    struct export_pq_col cols[6];
    static const char *const names[6] = {"a", "b,c", "\"q\"", "é", "x\ny", "t"};
    for (int c = 0; c < ncols; c++)
        cols[c] = (struct export_pq_col){names[c], (data[1] >> c) % 3, (data[1] >> (c + 2)) & 1};
    char *buf = NULL;
    size_t blen = 0;
    FILE *f = open_memstream(&buf, &blen);
    struct export_pq *p = export_pq_new(f, cols, ncols, 1 + data[0] % 7);
    size_t i = 2;
    uint64_t rows = 0;
    while (i < size) {
        for (int c = 0; c < ncols; c++) {
            uint8_t k = i < size ? data[i++] : 0;
            size_t n = k % 32 < size - i ? k % 32 : size - i;
            double d = 0;
            if (cols[c].optional && (k & 0x80))
                export_pq_put_null(p, c);
            else if (cols[c].type == EXPORT_PQ_STRING) {
                export_pq_put_str(p, c, (const char *)data + i, n);
                check_csv(data + i, n);
                i += n;
            } else if (cols[c].type == EXPORT_PQ_DOUBLE) {
                memcpy(&d, data + i, n < 8 ? n : 8);
                export_pq_put_double(p, c, d);
            } else
                export_pq_put_i64(p, c, (int64_t)k * 1000);
        }
        if (export_pq_end_row(p))
            abort();
        rows++;
        if (export_pq_full(p) && export_pq_flush(p))
            abort();
    }
    if (export_pq_close(p))
        abort();
    export_pq_free(p);
    fclose(f);
    check_file((const uint8_t *)buf, blen, rows, ncols);
    free(buf);
    return 0;
}
