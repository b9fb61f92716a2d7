/*
 * commands.h — the cairn CLI's command groups. Each takes the arguments after its name and
 * returns a CLI exit code (tools/cli_util.h).
 */
#ifndef CAIRN_TOOLS_COMMANDS_H
#define CAIRN_TOOLS_COMMANDS_H

int cmd_log(int argc, char **argv);
int cmd_sig(int argc, char **argv);
/* key, org, device, firmware, attest, anchor, tx, checkpoint, provenance, verify. */
int cmd_tx(const char *group, int argc, char **argv);

#endif
