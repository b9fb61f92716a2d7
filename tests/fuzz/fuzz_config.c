/* Config parser: never crashes on any bytes; an accepted config serializes to JSON that parses
 * back to the same serialization (the writer and the parser agree). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The first byte picks a prefix, so short runs reach each section's validation quickly. */
static const char *const prefixes[] = {
    "", "{\"api\": {", "{\"block\": {", "{\"p2p\": {\"peers\": [", "{\"p2p\": {\"listen\": ",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static cairn_config cfg, again; /* large: keep them off the stack */
    static char text[8192];
    cairn_config_error err;
    if (size == 0 || size > 4096) return 0;
    const char *prefix = prefixes[data[0] % (sizeof prefixes / sizeof prefixes[0])];
    size_t pl = strlen(prefix);
    memcpy(text, prefix, pl);
    memcpy(text + pl, data + 1, size - 1);
    size = pl + size - 1;
    int e = cairn_config_parse(&cfg, text, size, &err);
    if (e != 0) {
        if (e != CAIRN_EJSON && e != CAIRN_ECONFIG && e != CAIRN_ETOOBIG && e != CAIRN_ENOMEM)
            abort();
        if (e != CAIRN_ENOMEM && err.msg[0] == '\0') abort();
        return 0;
    }
    char *s = cairn_config_to_json(&cfg);
    if (!s) abort();
    if (cairn_config_parse(&again, s, strlen(s), &err) != 0) abort();
    char *t = cairn_config_to_json(&again);
    if (!t || strcmp(s, t) != 0) abort();
    free(s);
    free(t);
    return 0;
}
