/*
 * cli_util.h — argument parsing and output helpers shared by the cairn CLI and cairn-bench.
 */
#ifndef CAIRN_TOOLS_CLI_UTIL_H
#define CAIRN_TOOLS_CLI_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ledger/error.h"
#include "ledger/hash.h"

/* CLI exit codes. */
enum {
    CLI_OK = 0,      /* success; for verify commands: the proof is valid */
    CLI_INVALID = 1, /* a verification ran and failed */
    CLI_USAGE = 2,   /* bad arguments or malformed input */
    CLI_FAILURE = 3, /* storage or system failure */
};

/* Strict decimal u64: digits only, no sign, no spaces, no overflow. CAIRN_ENUMBER otherwise. */
CAIRN_MUST_CHECK int cli_parse_u64(const char *s, uint64_t *out);

/* Exactly 32 bytes of hex. */
CAIRN_MUST_CHECK int cli_parse_hash(const char *s, uint8_t out[CAIRN_HASH_LEN]);

/* Comma-separated list of 32-byte hex hashes ("" = empty list); at most cap entries. */
CAIRN_MUST_CHECK int cli_parse_hash_list(const char *s, uint8_t (*out)[CAIRN_HASH_LEN], size_t cap,
                                         size_t *n);

/* Reads a whole file ("-" = stdin) into a NUL-terminated heap buffer; max bytes limit. */
CAIRN_MUST_CHECK int cli_read_file(const char *path, size_t max, char **buf, size_t *len);

/* Prints "error: NAME: message[: detail]" to stderr and returns the exit code for err. */
int cli_fail(int err, const char *detail);

/* Exit code for a Cairn error: verification failures -> CLI_INVALID, storage -> CLI_FAILURE. */
int cli_exit_code(int err);

/* Prints a 32-byte hash as hex followed by suffix. */
void cli_print_hash(FILE *f, const uint8_t h[CAIRN_HASH_LEN], const char *suffix);

/* Finds "--name value" in argv; returns value or NULL. Marks consumed args in used[]. */
const char *cli_opt(int argc, char **argv, const char *name, int *used);

/* Returns 1 if the flag "--name" is present (and marks it used). */
int cli_flag(int argc, char **argv, const char *name, int *used);

/* Returns the first unused, non-option argument at or after index 0, or NULL; marks it used. */
const char *cli_positional(int argc, char **argv, int *used);

/* Returns the first unused argument, if any (an unknown option). */
const char *cli_leftover(int argc, char **argv, const int *used);

#endif
