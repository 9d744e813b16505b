#include <math.h>
#include <string.h>

#include "core/core.h"

/* Layout (as in HdrHistogram_c): bucket 0 holds sub_bucket_count linear sub-buckets of width
 * 2^unit_magnitude; every further bucket doubles the width and holds the upper half of its
 * sub-buckets (the lower half would overlap the previous bucket), so the counts array has
 * (bucket_count + 1) * sub_bucket_half_count entries and relative error stays 10^-sigfigs. */

static int bucket_index(const struct core_hdr *h, int64_t v)
{
    int pow2ceiling = 64 - __builtin_clzll((uint64_t)(v | h->sub_bucket_mask));
    return pow2ceiling - h->unit_magnitude - (h->sub_bucket_half_count_magnitude + 1);
}

static int counts_index(const struct core_hdr *h, int64_t v)
{
    int b = bucket_index(h, v);
    int sub = (int)(v >> (b + h->unit_magnitude));
    return ((b + 1) << h->sub_bucket_half_count_magnitude) + (sub - h->sub_bucket_half_count);
}

static int64_t value_from_index(const struct core_hdr *h, int i)
{
    int b = (i >> h->sub_bucket_half_count_magnitude) - 1;
    int sub = (i & (h->sub_bucket_half_count - 1)) + h->sub_bucket_half_count;
    if (b < 0) {
        sub -= h->sub_bucket_half_count;
        b = 0;
    }
    return (int64_t)sub << (b + h->unit_magnitude);
}

int core_hdr_init(struct core_hdr *h, int64_t lowest, int64_t highest, int sigfigs)
{
    if (lowest < 1 || highest < 2 * lowest || sigfigs < 1 || sigfigs > 5)
        return DIO_EINVAL;
    memset(h, 0, sizeof *h);
    h->lowest = lowest;
    h->highest = highest;
    int64_t single = 2 * (int64_t)pow(10, sigfigs);
    int count_mag = (int)ceil(log2((double)single));
    h->sub_bucket_half_count_magnitude = (count_mag > 1 ? count_mag : 1) - 1;
    h->unit_magnitude = 63 - __builtin_clzll((uint64_t)lowest);
    h->sub_bucket_count = 1 << (h->sub_bucket_half_count_magnitude + 1);
    h->sub_bucket_half_count = h->sub_bucket_count / 2;
    h->sub_bucket_mask = ((int64_t)h->sub_bucket_count - 1) << h->unit_magnitude;
    int64_t smallest_untrackable = (int64_t)h->sub_bucket_count << h->unit_magnitude;
    int buckets = 1;
    while (smallest_untrackable <= highest) {
        if (smallest_untrackable > INT64_MAX / 2) {
            buckets++;
            break;
        }
        smallest_untrackable <<= 1;
        buckets++;
    }
    h->bucket_count = buckets;
    h->counts_len = (buckets + 1) * h->sub_bucket_half_count;
    h->counts = core_calloc((size_t)h->counts_len, sizeof *h->counts);
    h->min = INT64_MAX;
    return 0;
}

void core_hdr_free(struct core_hdr *h)
{
    core_free(h->counts);
    h->counts = NULL;
}

void core_hdr_reset(struct core_hdr *h)
{
    memset(h->counts, 0, (size_t)h->counts_len * sizeof *h->counts);
    h->total = 0;
    h->min = INT64_MAX;
    h->max = 0;
}

void core_hdr_record_n(struct core_hdr *h, int64_t v, int64_t n)
{
    if (v < h->lowest)
        v = h->lowest;
    if (v > h->highest)
        v = h->highest;
    h->counts[counts_index(h, v)] += n;
    h->total += n;
    if (v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
}

void core_hdr_record(struct core_hdr *h, int64_t v)
{
    core_hdr_record_n(h, v, 1);
}

int64_t core_hdr_lowest_equiv(const struct core_hdr *h, int64_t v)
{
    return value_from_index(h, counts_index(h, v));
}

int64_t core_hdr_highest_equiv(const struct core_hdr *h, int64_t v)
{
    int b = bucket_index(h, v);
    int sub = (int)(v >> (b + h->unit_magnitude));
    int adjusted = sub >= h->sub_bucket_count ? b + 1 : b;
    return core_hdr_lowest_equiv(h, v) + ((int64_t)1 << (h->unit_magnitude + adjusted)) - 1;
}

int64_t core_hdr_value_at(const struct core_hdr *h, double percentile)
{
    if (h->total == 0)
        return 0;
    if (percentile > 100)
        percentile = 100;
    int64_t want = (int64_t)(percentile / 100.0 * (double)h->total + 0.5);
    if (want < 1)
        want = 1;
    int64_t seen = 0;
    for (int i = 0; i < h->counts_len; i++) {
        seen += h->counts[i];
        if (seen >= want) {
            int64_t v = core_hdr_highest_equiv(h, value_from_index(h, i));
            return v < h->max ? v : h->max;
        }
    }
    return h->max;
}

double core_hdr_mean(const struct core_hdr *h)
{
    if (h->total == 0)
        return 0;
    double sum = 0;
    for (int i = 0; i < h->counts_len; i++) {
        if (h->counts[i]) {
            int64_t lo = value_from_index(h, i);
            int64_t hi = core_hdr_highest_equiv(h, lo);
            sum += (double)h->counts[i] * ((double)lo + (double)hi) / 2.0;
        }
    }
    return sum / (double)h->total;
}

int core_hdr_merge(struct core_hdr *dst, const struct core_hdr *src)
{
    if (dst->counts_len != src->counts_len || dst->unit_magnitude != src->unit_magnitude ||
        dst->sub_bucket_count != src->sub_bucket_count)
        return DIO_EINVAL;
    for (int i = 0; i < dst->counts_len; i++)
        dst->counts[i] += src->counts[i];
    dst->total += src->total;
    if (src->total && src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
    return 0;
}
