/*
 * clockpair - the cost of the payload's timing itself (benchmarks/timer_overhead.py).
 *
 * forkbench times a fork as now_ns() before fork() and now_ns() after it; a sample thus also
 * holds the part of the first call after its clock read and the part of the second before its
 * read: what two back-to-back calls measure. This times N such pairs with the payload's own
 * now_ns() (same code, same compiler and flags) and prints one JSON line.
 *
 * Usage: clockpair [PAIRS (1000000)]
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000, i, t0, total, sum = 0;
    uint64_t *d;
    if (n < 100 || !(d = malloc(n * sizeof *d))) {
        fputs("clockpair: PAIRS must be >= 100 (and fit in memory)\n", stderr);
        return 2;
    }
    for (i = 0; i < 10000; i++) /* warm the vDSO page and the caches */
        (void)now_ns();
    t0 = now_ns();
    for (i = 0; i < n; i++) {
        uint64_t a = now_ns();
        uint64_t b = now_ns();
        d[i] = b - a;
    }
    total = now_ns() - t0;
    for (i = 0; i < n; i++)
        sum += d[i];
    qsort(d, n, sizeof *d, cmp_u64);
    printf("{\"pairs\":%" PRIu64 ",\"median_ns\":%" PRIu64 ",\"mean_ns\":%.2f,\"p99_ns\":%" PRIu64
           ",\"min_ns\":%" PRIu64 ",\"max_ns\":%" PRIu64 ",\"per_call_ns\":%.2f}\n",
           n, d[n / 2], (double)sum / (double)n, d[n * 99 / 100], d[0], d[n - 1],
           (double)total / (double)(2 * n));
    free(d);
    return 0;
}
