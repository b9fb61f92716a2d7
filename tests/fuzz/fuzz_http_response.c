/* The CLI's HTTP response parser (tools/http_client.h), without sockets: never reads out of
 * bounds, returns only its documented codes, respects the body cap, and a response complete
 * before the close is the same response once the close is seen. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tools/http_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int known(int e)
{
    return e == 0 || e == CAIRN_EAGAIN || e == CAIRN_EHTTP_RESPONSE ||
           e == CAIRN_EHTTP_RESPONSE_TOO_BIG || e == CAIRN_ENOMEM;
}

/* The first byte picks a prefix, so short runs reach the header and body parsers quickly. */
static const char *const prefixes[] = {
    "",
    "HTTP/1.1 200 OK\r\n",
    "HTTP/1.1 200 OK\r\nContent-Length: ",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
    "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\n",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const size_t max_body = 1024;
    if (size == 0) return 0;
    const char *prefix = prefixes[data[0] % (sizeof prefixes / sizeof prefixes[0])];
    size_t pl = strlen(prefix);
    data++;
    size--;
    /* Exact-size copy so ASan catches any read past the end. */
    uint8_t *buf = malloc(pl + size ? pl + size : 1);
    if (!buf) return 0;
    memcpy(buf, prefix, pl);
    if (size) memcpy(buf + pl, data, size);
    size += pl;
    int s1 = 0, s2 = 0;
    uint8_t *b1 = NULL, *b2 = NULL;
    size_t n1 = 0, n2 = 0;
    int e1 = cairn_http_response_parse(buf, size, 0, max_body, &s1, &b1, &n1);
    int e2 = cairn_http_response_parse(buf, size, 1, max_body, &s2, &b2, &n2);
    if (!known(e1) || !known(e2) || e2 == CAIRN_EAGAIN) abort();
    if (e1 == 0) {
        if (s1 < 200 || s1 > 599 || n1 > max_body || !b1 || b1[n1] != '\0') abort();
        if (e2 != 0 || s2 != s1 || n2 != n1 || memcmp(b1, b2, n1) != 0) abort();
    } else if (b1) {
        abort();
    }
    if (e2 == 0 && (n2 > max_body || !b2 || b2[n2] != '\0')) abort();
    free(b1);
    free(b2);
    free(buf);
    return 0;
}
