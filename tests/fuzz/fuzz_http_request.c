/* The API server's own request parsing (node/http.h), without sockets: percent-decoding of the
 * path and route lookup against the node's route table shape. libmicrohttpd parses the HTTP
 * framing itself; this covers what Cairn adds on top. Checks: decoding never grows the string or
 * leaves a NUL inside it; a match is consistent with its pattern (the pattern with the parameter
 * substituted gives back the path). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int dummy(void *app, const cairn_http_request *req, cairn_http_response *resp)
{
    (void)app;
    (void)req;
    (void)resp;
    return 0;
}

static const cairn_http_route routes[] = {
    {"POST", "/v1/txs", dummy},
    {"GET", "/v1/txs/{tx_hash}", dummy},
    {"GET", "/v1/checkpoint", dummy},
    {"GET", "/v1/log/entries/{index}", dummy},
    {"GET", "/v1/proofs/inclusion", dummy},
    {"GET", "/v1/proofs/consistency", dummy},
    {"GET", "/v1/devices/{device_id}", dummy},
    {"DELETE", "/v1/devices/{device_id}", dummy},
    {"GET", "/v1/provenance/{digest}", dummy},
    {"GET", "/healthz", dummy},
};

static const char *const methods[] = {"GET", "POST", "PUT", "DELETE", "HEAD", "get"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    const char *method = methods[data[0] % (sizeof methods / sizeof methods[0])];
    char *path = malloc(size);
    if (!path) return 0;
    memcpy(path, data + 1, size - 1);
    path[size - 1] = '\0';
    size_t before = strlen(path);
    size_t after = cairn_http_unescape(path);
    if (after > before || strlen(path) != after) abort();

    cairn_http_route_match m;
    int err = cairn_http_route_find(routes, sizeof routes / sizeof routes[0], method, path, &m);
    if (err == 0) {
        const cairn_http_route *r = &routes[m.index];
        if (m.index >= sizeof routes / sizeof routes[0] || strcmp(r->method, method) != 0) abort();
        const char *open = strchr(r->pattern, '{');
        if (!open) {
            if (m.param || strcmp(r->pattern, path) != 0) abort();
        } else {
            if (!m.param || m.param_len == 0 || m.param < path ||
                m.param + m.param_len > path + after || memchr(m.param, '/', m.param_len))
                abort();
            const char *close = strchr(open, '}');
            size_t pre = (size_t)(open - r->pattern);
            if (strncmp(path, r->pattern, pre) != 0 || m.param != path + pre ||
                strcmp(m.param + m.param_len, close + 1) != 0)
                abort();
        }
    } else if (err == CAIRN_EHTTP_METHOD) {
        if (m.allow[0] == '\0') abort();
    } else if (err != CAIRN_EHTTP_ROUTE) {
        abort();
    }
    free(path);
    return 0;
}
