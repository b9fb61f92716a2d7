/*
 * cairnd — the Cairn validator node.
 *
 * This build carries the storage layer and the Merkle log; the node's event loop, consensus
 * wiring and HTTP API arrive with the single-node and cluster milestones (docs/roadmap.md).
 */
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "ledger/error.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: cairnd --version\n"
               "The node's serving modes (--dev, --home DIR) are not part of this build yet;\n"
               "use the `cairn log` commands to work with a Merkle log store.\n");
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("cairnd 0.1.0 (libuv %s)\n", uv_version_string());
        return 0;
    }
    usage(argc == 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr);
    return argc == 2 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
}
