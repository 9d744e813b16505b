#ifndef DIORAMA_TESTS_FAKE_BATCH_H
#define DIORAMA_TESTS_FAKE_BATCH_H
/* Small, valid record batches for the export tests and test drivers (header-only so a test
 * program and a peer can share it without a library). */
#include <string.h>

#include "core/core.h"

static const struct rec_attr fake_res_attrs[] = {
    {.key = "service.name", .key_len = 12, .type = REC_STR, .v.s = {"checkout", 8}},
};
static const struct rec_resource fake_resources[] = {
    {fake_res_attrs, 1, "diorama.test", "0.1", "shop/checkout", "checkout-1"},
};
static const double fake_bounds[] = {0.005, 0.01, 0.1, 1};
static const struct rec_metric fake_metrics[] = {
    {"http.server.request.duration", "Duration of requests.", "s", REC_HISTOGRAM, 0, 2, 0,
     fake_bounds, 4},
    {"app.requests", "Requests.", "{request}", REC_SUM, 1, 2, 1, NULL, 0},
};

/* Appends n records to b (b->signal decides which kind); seq continues from *seq. */
static inline void fake_fill(struct rec_batch *b, uint32_t n, uint64_t *seq)
{
    b->resources = fake_resources;
    b->nresources = 1;
    for (uint32_t i = 0; i < n && b->n < b->cap; i++) {
        uint64_t k = (*seq)++;
        uint64_t t = 1700000000000000000ULL + k * 1000000ULL;
        uint32_t off = 0;
        struct rec_attr *a = rec_batch_attrs(b, 1, &off);
        rec_attr_str(a, REC_KEY("http.route"), "/cart", 5);
        if (b->signal == REC_SPANS) {
            struct rec_span *s = &b->r.spans[b->n++];
            memset(s, 0, sizeof *s);
            memset(s->trace_id, 0, 16);
            memcpy(s->trace_id + 8, &k, 8);
            s->trace_id[0] = 1;
            memcpy(s->span_id, &k, 8);
            s->span_id[7] |= 0x80;
            s->start_ns = t;
            s->end_ns = t + 5000000;
            s->seq = k;
            s->gen_ns = t;
            s->name = rec_batch_str(b, "GET /cart", 9);
            s->attr_off = off;
            s->nattrs = 1;
            s->kind = 2;
        } else if (b->signal == REC_METRICS) {
            struct rec_point *p = &b->r.points[b->n++];
            memset(p, 0, sizeof *p);
            p->metric = &fake_metrics[k % 2];
            p->start_ns = 1700000000000000000ULL;
            p->time_ns = t;
            p->seq = k;
            p->gen_ns = t;
            p->attr_off = off;
            p->nattrs = 1;
            if (p->metric->type == REC_HISTOGRAM) {
                uint64_t *bk = rec_batch_buckets(b, 5, &p->bucket_off);
                for (int j = 0; j < 5; j++)
                    bk[j] = (uint64_t)j;
                p->count = 10;
                p->sum = 1.5;
                p->min = 0.001;
                p->max = 2;
            } else {
                p->value.i = (int64_t)k;
            }
        } else {
            struct rec_log *l = &b->r.logs[b->n++];
            memset(l, 0, sizeof *l);
            l->time_ns = t;
            l->observed_ns = t;
            l->seq = k;
            l->gen_ns = t;
            l->body = rec_batch_str(b, "cart updated", 12);
            l->attr_off = off;
            l->nattrs = 1;
            l->severity = 9;
        }
    }
}

#endif
