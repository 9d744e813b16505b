/* Held answers: one thread sleeps until the earliest deadline in a binary min-heap and fires
 * what is due. A held request costs one heap entry (16 bytes) and a suspended connection, not
 * a thread, so thousands can wait at once. The heap's capacity is fixed at start (one entry
 * per connection the listener may hold open), so it never grows with the load.
 *
 * Locking: the heap is guarded by mu; fire() always runs without it (it hands the answer to
 * the listener, which takes its worker's lock), and before() runs with it held so that queueing
 * and deferring are one step as seen by the timer thread. */
#include <time.h>

#include "server/internal.h"

static void swap(struct server__timer_entry *a, struct server__timer_entry *b)
{
    struct server__timer_entry t = *a;
    *a = *b;
    *b = t;
}

static void sift_up(struct server__timer *t, size_t i)
{
    while (i > 0 && t->heap[(i - 1) / 2].at_ns > t->heap[i].at_ns) {
        swap(&t->heap[(i - 1) / 2], &t->heap[i]);
        i = (i - 1) / 2;
    }
}

static void sift_down(struct server__timer *t, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < t->n && t->heap[l].at_ns < t->heap[m].at_ns)
            m = l;
        if (r < t->n && t->heap[r].at_ns < t->heap[m].at_ns)
            m = r;
        if (m == i)
            return;
        swap(&t->heap[i], &t->heap[m]);
        i = m;
    }
}

static void *pop(struct server__timer *t)
{
    void *item = t->heap[0].item;
    t->heap[0] = t->heap[--t->n];
    sift_down(t, 0);
    return item;
}

static struct timespec abs_mono(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000ULL), (long)(ns % 1000000000ULL)};
    return ts;
}

static void *run(void *arg)
{
    struct server__timer *t = arg;
    pthread_mutex_lock(&t->mu);
    while (!t->stop) {
        if (t->n == 0) {
            pthread_cond_wait(&t->cv, &t->mu);
            continue;
        }
        uint64_t at = t->heap[0].at_ns;
        if (at > core_mono_ns()) {
            struct timespec ts = abs_mono(at);
            pthread_cond_timedwait(&t->cv, &t->mu, &ts);
            continue; /* woken early by a new earliest deadline, or due now */
        }
        void *item = pop(t);
        t->firing = 1;
        pthread_mutex_unlock(&t->mu);
        t->fire(item, 0);
        pthread_mutex_lock(&t->mu);
        t->firing = 0;
        if (t->draining)
            pthread_cond_broadcast(&t->cv); /* drain waits for this fire to be done */
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

int server__timer_start(struct server__timer *t, size_t cap, server__fire_fn fire)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* core_mono_ns is CLOCK_MONOTONIC */
    pthread_cond_init(&t->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&t->mu, NULL);
    t->heap = core_calloc(cap ? cap : 1, sizeof *t->heap);
    t->cap = cap;
    t->n = 0;
    t->stop = t->draining = t->firing = 0;
    t->fire = fire;
    t->running = pthread_create(&t->thread, NULL, run, t) == 0;
    return t->running ? 0 : DIO_EIO;
}

int server__timer_add(struct server__timer *t, uint64_t at_ns, void *item,
                      void (*before)(void *item))
{
    pthread_mutex_lock(&t->mu);
    int ok = !t->draining && t->n < t->cap;
    if (ok) {
        before(item);
        t->heap[t->n].at_ns = at_ns;
        t->heap[t->n].item = item;
        sift_up(t, t->n++);
        if (t->heap[0].item == item)
            pthread_cond_signal(&t->cv); /* a new earliest deadline */
    }
    pthread_mutex_unlock(&t->mu);
    return ok ? 0 : -1;
}

void server__timer_drain(struct server__timer *t)
{
    pthread_mutex_lock(&t->mu);
    t->draining = 1;
    while (t->n > 0) {
        void *item = pop(t);
        pthread_mutex_unlock(&t->mu);
        t->fire(item, 1);
        pthread_mutex_lock(&t->mu);
    }
    while (t->firing) /* an item the timer thread popped just before: resumed when this ends */
        pthread_cond_wait(&t->cv, &t->mu);
    pthread_mutex_unlock(&t->mu);
}

size_t server__timer_held(struct server__timer *t)
{
    pthread_mutex_lock(&t->mu);
    size_t n = t->n;
    pthread_mutex_unlock(&t->mu);
    return n;
}

void server__timer_stop(struct server__timer *t)
{
    if (!t->heap)
        return;
    if (t->running) {
        pthread_mutex_lock(&t->mu);
        t->stop = 1;
        pthread_cond_signal(&t->cv);
        pthread_mutex_unlock(&t->mu);
        pthread_join(t->thread, NULL);
    }
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
    core_free(t->heap);
    t->heap = NULL;
    t->running = 0;
}
