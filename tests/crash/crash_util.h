/*
 * crash_util.h — one round of a kill -9 crash test: run this program as `SELF --child STORE`
 * with its stdout on a pipe, let it work for 5-80 ms, kill it with SIGKILL wherever it is, and
 * collect the u64 acknowledgements it wrote (each written only after a durable commit).
 */
#ifndef CAIRN_TESTS_CRASH_UTIL_H
#define CAIRN_TESTS_CRASH_UTIL_H

#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ledger/bytes.h"
#include "ledger/hash.h"
#include "test_util.h"

/* A 64-bit finalizer (splitmix64's): the crash tests derive every record from (round, index). */
static inline uint64_t crash_mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

/* Key i of a test's key pool: SHA-256 of i as u64be. */
static inline void crash_pool_key(unsigned i, uint8_t key[32])
{
    uint8_t b[8];
    cairn_put_u64be(b, i);
    cairn_sha256_oneshot(key, b, 8);
}

/* Returns 0 and updates *acked to the last acknowledgement read (unchanged if none); -1 if the
 * pipe could not be made or the child did not die by SIGKILL (it exited early: a failure). */
static inline int crash_round(const char *self, const char *store, test_rng *rng, uint64_t *acked)
{
    int fds[2];
    if (pipe(fds) != 0) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execl("/proc/self/exe", self, "--child", store, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    struct timespec d = {0, (long)(5 + test_rng_below(rng, 75)) * 1000000L};
    nanosleep(&d, NULL);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    uint64_t v;
    while (read(fds[0], &v, sizeof v) == sizeof v) *acked = v;
    close(fds[0]);
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL ? 0 : -1;
}

#endif
