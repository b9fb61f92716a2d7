/*
 * test_util.h — small helpers shared by the unit tests: a seeded PRNG (xorshift64*, replayable
 * with CAIRN_TEST_SEED), temporary directories and file loading.
 */
#ifndef CAIRN_TESTS_TEST_UTIL_H
#define CAIRN_TESTS_TEST_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct test_rng {
    uint64_t s;
} test_rng;

static inline uint64_t test_rng_next(test_rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545F4914F6CDD1DULL;
}

/* Uniform in [0, n) (n > 0; the tiny modulo bias is irrelevant for tests). */
static inline uint64_t test_rng_below(test_rng *r, uint64_t n)
{
    return test_rng_next(r) % n;
}

/* Seed from CAIRN_TEST_SEED or a fixed default; prints it so a failure can be replayed. */
static inline test_rng test_rng_seeded(const char *what)
{
    const char *env = getenv("CAIRN_TEST_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 0) : 0x5eed2026ULL;
    if (seed == 0) seed = 1;
    printf("# %s: seed %llu (replay with CAIRN_TEST_SEED=%llu)\n", what, (unsigned long long)seed,
           (unsigned long long)seed);
    return (test_rng){seed};
}

/* Creates a fresh temporary directory; returns a heap path. */
static inline char *test_tmpdir(void)
{
    char tmpl[] = "/tmp/cairn-test-XXXXXX";
    char *d = mkdtemp(tmpl);
    return d ? strdup(d) : NULL;
}

/* Removes a directory tree created by the tests. */
static inline void test_rmtree(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", dir);
}

#endif
