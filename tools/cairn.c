/*
 * cairn — the Cairn command-line tool.
 */
#include <stdio.h>
#include <string.h>

#include "tools/cli_util.h"
#include "tools/commands.h"

static int usage(FILE *f, int rc)
{
    fprintf(f, "usage: cairn COMMAND ...\n"
               "  log      Merkle log store: append, checkpoint, prove and verify proofs\n"
               "  sig      verify a signature under Cairn's rules, check keys, test keys\n"
               "  version  print the version\n"
               "Run `cairn COMMAND` without arguments for its subcommands.\n");
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) return usage(stderr, CLI_USAGE);
    if (strcmp(argv[1], "log") == 0) return cmd_log(argc - 2, argv + 2);
    if (strcmp(argv[1], "sig") == 0) return cmd_sig(argc - 2, argv + 2);
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("cairn 0.1.0\n");
        return CLI_OK;
    }
    if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0) return usage(stdout, 0);
    fprintf(stderr, "error: unknown command '%s'\n", argv[1]);
    return usage(stderr, CLI_USAGE);
}
