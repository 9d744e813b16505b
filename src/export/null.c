/* The null output: encodes each batch as OTLP protobuf on the submitting thread and throws
 * the bytes away. The benchmark uses it to measure generation + encoding on one core, so it
 * takes no reference on the batch and never queues. */
#include <pthread.h>

#include "export/internal.h"
#include "wire/wire.h"

struct null_out {
    struct export_output o; /* first: the hub sees this */
    pthread_mutex_t mu;     /* several engine threads may submit; uncontended in benchmarks */
    struct core_buf buf;    /* reused for every batch */
};

static void null_consume(struct export_output *o, const struct rec_batch *b)
{
    struct null_out *x = (struct null_out *)o;
    struct wire_otlp_opts opts = {o->verify_attrs};
    int s = b->signal;
    pthread_mutex_lock(&x->mu);
    core_buf_reset(&x->buf);
    int rc = wire_otlp_pb_encode(&x->buf, b, &opts);
    size_t len = x->buf.len;
    pthread_mutex_unlock(&x->mu);
    export__count(&o->c[s].requests, 1);
    if (rc != 0) {
        export__count(&o->c[s].failed_requests, 1);
        export__dropped(o, s, b->n, EXPORT_DROP_ENCODE);
        return;
    }
    export__count(&o->c[s].bytes, len);
    export__delivered(o, s, b->n);
}

static void null_destroy(struct export_output *o)
{
    struct null_out *x = (struct null_out *)o;
    core_buf_free(&x->buf);
    pthread_mutex_destroy(&x->mu);
    export__output_fini(o);
    core_free(x);
}

static const struct export_output_ops null_ops = {
    .kind = "null",
    .consume = null_consume,
    .destroy = null_destroy,
};

struct export_output *export_null_new(int verify_attrs)
{
    struct null_out *x = core_calloc(1, sizeof *x);
    export__output_init(&x->o, &null_ops, verify_attrs);
    pthread_mutex_init(&x->mu, NULL);
    core_buf_init(&x->buf, EXPORT__MAX_BODY);
    return &x->o;
}
