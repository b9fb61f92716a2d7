/*
 * cairn — the Cairn command-line tool.
 */
#include <stdio.h>
#include <string.h>

#include "tools/cli_util.h"
#include "tools/commands.h"

static int usage(FILE *f, int rc)
{
    fprintf(
        f, "usage: cairn COMMAND ...\n"
           "  key new|show          key files (ed25519, secp256k1-schnorr, secp256k1-ecdsa, p256)\n"
           "  org id NAME           an organization's id\n"
           "  org rotate-keys      an organization replaces its admin keys\n"
           "  gov propose|approve  governance: add/remove organizations and validators, policy\n"
           "  device register|status|rotate|transfer|accept|show\n"
           "  firmware publish|revoke\n"
           "  attest                a device attests its measured firmware\n"
           "  anchor                a device anchors a data digest\n"
           "  tx status HASH        a transaction's status\n"
           "  checkpoint            the latest certified checkpoint\n"
           "  provenance DIGEST     fetch the provenance bundle of a data digest\n"
           "  verify BUNDLE --genesis FILE   verify a bundle offline\n"
           "  log                   Merkle log store: append, checkpoint, prove and verify proofs\n"
           "  sig                   one-off signature checks\n"
           "  version               print the version\n"
           "Node commands take --node URL (default $CAIRN_NODE or http://127.0.0.1:7750);\n"
           "transactions wait for their block unless --no-wait. README.md has the walkthrough.\n");
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) return usage(stderr, CLI_USAGE);
    if (strcmp(argv[1], "log") == 0) return cmd_log(argc - 2, argv + 2);
    if (strcmp(argv[1], "sig") == 0) return cmd_sig(argc - 2, argv + 2);
    static const char *const tx_groups[] = {"key",        "org",    "device", "firmware",
                                            "attest",     "anchor", "tx",     "checkpoint",
                                            "provenance", "verify", "gov"};
    for (size_t i = 0; i < sizeof tx_groups / sizeof tx_groups[0]; i++)
        if (strcmp(argv[1], tx_groups[i]) == 0) return cmd_tx(argv[1], argc - 2, argv + 2);
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("cairn 0.1.0\n");
        return CLI_OK;
    }
    if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0) return usage(stdout, 0);
    fprintf(stderr, "error: unknown command '%s'\n", argv[1]);
    return usage(stderr, CLI_USAGE);
}
