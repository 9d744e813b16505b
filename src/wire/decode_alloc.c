/* Decoder plumbing: the per-request arena with a byte budget, the nesting-depth check run
 * before protobuf-c, and error text. See decode_int.h for why each exists. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

#include "wire/decode_int.h"

/* Chunks start small (most requests are a few KiB) and double up to CHUNK_MAX; a request
 * bigger than a quarter of the current chunk size gets a chunk of its own. */
#define CHUNK_MIN (16u << 10)
#define CHUNK_MAX (1u << 20)
#define ALIGN 8 /* protobuf-c stores at most 8-byte scalars and pointers */

struct wire__chunk {
    struct wire__chunk *next;
    size_t size, used; /* of data[] */
    _Alignas(ALIGN) uint8_t data[];
};

/* Freed chunks stay with their thread, up to CACHE_MAX bytes, for the next request: fresh
 * chunks would be fresh pages, and page faults were a fifth of decode time. A thread's cache is
 * released when the thread exits (pthread key destructor). */
#define CACHE_MAX ((size_t)8 << 20)

struct chunk_cache {
    struct wire__chunk *head;
    size_t bytes;
};

static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static void cache_destroy(void *p)
{
    struct chunk_cache *c = p;
    for (struct wire__chunk *k = c->head, *next; k; k = next) {
        next = k->next;
        core_free(k);
    }
    core_free(c);
}

static void cache_key_init(void)
{
    (void)pthread_key_create(&cache_key, cache_destroy);
}

static struct chunk_cache *cache_get(void)
{
    pthread_once(&cache_once, cache_key_init);
    struct chunk_cache *c = pthread_getspecific(cache_key);
    if (!c) {
        c = core_calloc(1, sizeof *c);
        if (pthread_setspecific(cache_key, c)) {
            core_free(c);
            return NULL;
        }
    }
    return c;
}

/* A cached chunk of at least size bytes (first fit; the cache holds a handful), or NULL. */
static struct wire__chunk *cache_take(size_t size)
{
    struct chunk_cache *c = cache_get();
    for (struct wire__chunk **pp = c ? &c->head : NULL; pp && *pp; pp = &(*pp)->next) {
        if ((*pp)->size >= size && (*pp)->size <= 2 * size) {
            struct wire__chunk *k = *pp;
            *pp = k->next;
            c->bytes -= sizeof *k + k->size;
            return k;
        }
    }
    return NULL;
}

static void cache_put(struct wire__chunk *k)
{
    struct chunk_cache *c = cache_get();
    if (!c || c->bytes + sizeof *k + k->size > CACHE_MAX) {
        core_free(k);
        return;
    }
    k->next = c->head;
    c->head = k;
    c->bytes += sizeof *k + k->size;
}

size_t wire__budget_for(size_t n)
{
    if (n > (WIRE__BUDGET_MAX - WIRE__BUDGET_FLOOR) / WIRE__BUDGET_FACTOR)
        return WIRE__BUDGET_MAX;
    return n * WIRE__BUDGET_FACTOR + WIRE__BUDGET_FLOOR;
}

static void *pa_alloc(void *data, size_t n)
{
    return wire__arena_alloc(data, n);
}

static void pa_free(void *data, void *p)
{
    (void)data, (void)p; /* everything goes at once in wire__arena_free */
}

void wire__arena_init(struct wire__arena *a, size_t budget)
{
    *a = (struct wire__arena){.pa = {pa_alloc, pa_free, a}, .budget = budget};
}

static struct wire__chunk *new_chunk(struct wire__arena *a, size_t n)
{
    size_t size = a->head ? a->head->size * 2 : CHUNK_MIN;
    if (size > CHUNK_MAX)
        size = CHUNK_MAX;
    if (n > size / 4)
        size = n; /* a big array: its own chunk, the current one stays in use */
    size_t total = sizeof(struct wire__chunk) + size;
    if (size > a->budget || total > a->budget - a->used) {
        a->refused = 1;
        return NULL;
    }
    struct wire__chunk *c = cache_take(size);
    if (c) {
        size = c->size;
        total = sizeof *c + size;
        if (total > a->budget - a->used) {
            cache_put(c);
            a->refused = 1;
            return NULL;
        }
    } else {
        c = core_malloc(total);
    }
    c->size = size;
    c->used = 0;
    a->used += total;
    if (n > size / 4 && a->head) { /* keep bumping in the current chunk */
        c->next = a->head->next;
        a->head->next = c;
    } else {
        c->next = a->head;
        a->head = c;
    }
    return c;
}

void *wire__arena_alloc(struct wire__arena *a, size_t n)
{
    if (n > SIZE_MAX - ALIGN)
        return NULL;
    n = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    struct wire__chunk *c = a->head;
    if (!c || c->size - c->used < n) {
        c = new_chunk(a, n);
        if (!c)
            return NULL;
    }
    void *p = c->data + c->used;
    c->used += n;
    return p;
}

void wire__arena_free(struct wire__arena *a)
{
    for (struct wire__chunk *c = a->head, *next; c; c = next) {
        next = c->next;
        cache_put(c);
    }
    a->head = NULL;
    a->used = 0;
}

/* ---- nesting depth ----------------------------------------------------------------------- */

static int get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t c = *(*p)++;
        x |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *v = x;
            return 1;
        }
    }
    return 0;
}

/* Skips one field's value; for a LEN field of message type, checks the message inside. */
static int scan(const ProtobufCMessageDescriptor *d, const uint8_t *p, const uint8_t *end,
                int depth);

static int scan_field(const ProtobufCMessageDescriptor *d, const uint8_t **p, const uint8_t *end,
                      uint64_t tag, int depth)
{
    uint64_t v;
    switch (tag & 7) {
    case WIRE_PB_VARINT:
        return get_varint(p, end, &v);
    case WIRE_PB_I64:
    case WIRE_PB_I32: {
        size_t k = (tag & 7) == WIRE_PB_I64 ? 8 : 4;
        if ((size_t)(end - *p) < k)
            return 0;
        *p += k;
        return 1;
    }
    case WIRE_PB_LEN: {
        if (!get_varint(p, end, &v) || v > (uint64_t)(end - *p))
            return 0;
        const uint8_t *body = *p;
        *p += v;
        const ProtobufCFieldDescriptor *f =
            d ? protobuf_c_message_descriptor_get_field(d, (unsigned)(tag >> 3)) : NULL;
        if (!f || f->type != PROTOBUF_C_TYPE_MESSAGE)
            return 1;
        return scan(f->descriptor, body, *p, depth + 1);
    }
    default: /* groups (3, 4) and 6, 7: protobuf-c refuses them too */
        return 0;
    }
}

static int scan(const ProtobufCMessageDescriptor *d, const uint8_t *p, const uint8_t *end,
                int depth)
{
    if (depth > WIRE__MAX_DEPTH)
        return 0;
    /* Every nested message costs at least two bytes (tag, length), so a body this short
     * cannot reach the limit: most messages are never looked into. */
    if ((size_t)(end - p) / 2 + (size_t)depth <= WIRE__MAX_DEPTH)
        return 1;
    while (p < end) {
        uint64_t tag;
        if (!get_varint(&p, end, &tag) || tag >> 3 == 0 || tag >> 3 > 0x1fffffff)
            return 0;
        if (!scan_field(d, &p, end, tag, depth))
            return 0;
    }
    return 1;
}

int wire__pb_depth_ok(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t n)
{
    if (n == 0)
        return 1; /* p may be NULL (an empty bytes field): no arithmetic on it */
    return scan(d, p, p + n, 0);
}

int wire__fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}
