/* --delay: data responses held for a while, as a slow collector would. A held response waits
 * on a condition variable, not in a sleep, so that stopping the sink releases every held
 * response at once (answered right away) instead of making shutdown wait out the delay.
 * The release then waits (bounded) for the released handlers to hand their answers over, and
 * a moment more for those to be written, since stopping the server cuts what is in progress. */
#include <time.h>

#include "sink/internal.h"

void sink__hold_init(struct sink__holds *h)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&h->mu, NULL);
    h->released = 0;
    h->held = 0;
}

void sink__hold_free(struct sink__holds *h)
{
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
}

void sink__hold(struct sink__holds *h, uint64_t delay_ns)
{
    if (!delay_ns)
        return;
    /* the same clock as core_mono_ns (CLOCK_MONOTONIC), which the condvar is set to */
    uint64_t until = core_mono_ns() + delay_ns;
    struct timespec ts = {(time_t)(until / 1000000000ULL), (long)(until % 1000000000ULL)};
    pthread_mutex_lock(&h->mu);
    h->held++;
    while (!h->released && core_mono_ns() < until)
        if (pthread_cond_timedwait(&h->cv, &h->mu, &ts) != 0 && core_mono_ns() >= until)
            break;
    h->held--;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

#define DRAIN_NS 1000000000ULL /* at most this for released handlers to answer */
#define WRITE_NS 100000000ULL  /* and this for their answers to go out (loopback: microseconds) */

void sink__hold_release(struct sink__holds *h)
{
    uint64_t until = core_mono_ns() + DRAIN_NS;
    struct timespec ts = {(time_t)(until / 1000000000ULL), (long)(until % 1000000000ULL)};
    pthread_mutex_lock(&h->mu);
    h->released = 1;
    pthread_cond_broadcast(&h->cv);
    int had = h->held > 0;
    while (h->held > 0 && core_mono_ns() < until)
        pthread_cond_timedwait(&h->cv, &h->mu, &ts);
    pthread_mutex_unlock(&h->mu);
    if (had)
        core_sleep_until_ns(core_mono_ns() + WRITE_NS);
}
