#include <string.h>

#include "core/core.h"

const char *const rec_signal_names[REC_NSIGNALS] = {"spans", "metric_points", "logs"};

struct rec_batch *rec_batch_new(int signal, uint32_t cap, uint32_t attrs_per_rec,
                                uint32_t buckets_per_rec, uint32_t str_bytes_per_rec)
{
    struct rec_batch *b = core_calloc(1, sizeof *b);
    size_t rec_size = signal == REC_SPANS     ? sizeof(struct rec_span)
                      : signal == REC_METRICS ? sizeof(struct rec_point)
                                              : sizeof(struct rec_log);
    b->signal = signal;
    b->cap = cap;
    b->r.spans = core_malloc(cap * rec_size);
    b->attrs_cap = cap * attrs_per_rec;
    b->attrs = core_malloc((size_t)b->attrs_cap * sizeof *b->attrs);
    b->buckets_cap = cap * buckets_per_rec;
    b->buckets = core_malloc((size_t)b->buckets_cap * sizeof *b->buckets);
    b->strs_cap = cap * str_bytes_per_rec;
    b->strs = core_malloc(b->strs_cap);
    return b;
}

void rec_batch_free(struct rec_batch *b)
{
    if (!b)
        return;
    core_free(b->r.spans);
    core_free(b->attrs);
    core_free(b->buckets);
    core_free(b->strs);
    core_free(b);
}

void rec_batch_reset(struct rec_batch *b)
{
    b->n = 0;
    b->nattrs = 0;
    b->nbuckets = 0;
    b->strs_len = 0;
    b->created_ns = 0;
}

int rec_batch_fits(const struct rec_batch *b, uint32_t nattrs, uint32_t nbuckets, uint32_t nstr)
{
    return b->n < b->cap && nattrs <= b->attrs_cap - b->nattrs &&
           nbuckets <= b->buckets_cap - b->nbuckets && nstr <= b->strs_cap - b->strs_len;
}

struct rec_attr *rec_batch_attrs(struct rec_batch *b, uint32_t n, uint32_t *off)
{
    if (n > b->attrs_cap - b->nattrs)
        return NULL;
    *off = b->nattrs;
    b->nattrs += n;
    return b->attrs + *off;
}

uint64_t *rec_batch_buckets(struct rec_batch *b, uint32_t n, uint32_t *off)
{
    if (n > b->buckets_cap - b->nbuckets)
        return NULL;
    *off = b->nbuckets;
    b->nbuckets += n;
    return b->buckets + *off;
}

struct rec_str rec_batch_str(struct rec_batch *b, const char *s, uint32_t len)
{
    struct rec_str r = {NULL, 0};
    if (len > b->strs_cap - b->strs_len)
        return r;
    r.p = b->strs + b->strs_len;
    r.len = len;
    memcpy(b->strs + b->strs_len, s, len);
    b->strs_len += len;
    return r;
}
