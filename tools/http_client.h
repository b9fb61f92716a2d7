/*
 * http_client.h — a small blocking HTTP/1.1 client over POSIX sockets, for the CLI and tests.
 *
 * One request per connection ("Connection: close"). URLs are "http://HOST[:PORT][/PATH][?QUERY]"
 * with HOST an IPv4 literal or "localhost" (= 127.0.0.1); no DNS, no TLS, no redirects. The
 * whole exchange (connect, send, receive) is bounded by one timeout. Response bodies framed by
 * Content-Length, chunked transfer coding or connection close are accepted, up to a size cap.
 *
 * Reentrant and thread-safe: no state outside the call. SIGPIPE is never raised (MSG_NOSIGNAL).
 */
#ifndef CAIRN_TOOLS_HTTP_CLIENT_H
#define CAIRN_TOOLS_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/error.h"

#define CAIRN_HTTP_CLIENT_MAX_BODY   (16u * 1024u * 1024u) /* default response body cap */
#define CAIRN_HTTP_CLIENT_MAX_HEADER (64u * 1024u)         /* status line + headers */

typedef struct cairn_http_url {
    char host[64];     /* dotted IPv4 ("localhost" is stored as "127.0.0.1") */
    uint16_t port;     /* 80 when absent */
    char target[2048]; /* origin-form request target: path + optional "?query"; "/" when empty */
} cairn_http_url;

/*
 * Parses url. Returns 0 or CAIRN_EHTTP_URL (other scheme, userinfo, IPv6, fragment, port out of
 * 1..65535, control characters or spaces, too long).
 */
CAIRN_MUST_CHECK int cairn_http_url_parse(cairn_http_url *out, const char *url);

/*
 * Parses a response held in buf[0..len). eof says the peer has closed the connection (so a
 * response without Content-Length ends here). Returns:
 *   0                           complete: *status, and *body / *body_len (heap, NUL-terminated
 *                               one past body_len, caller frees; never NULL on success)
 *   CAIRN_EAGAIN                incomplete, more bytes are needed (only when !eof)
 *   CAIRN_EHTTP_RESPONSE        malformed (or truncated by eof)
 *   CAIRN_EHTTP_RESPONSE_TOO_BIG the body exceeds max_body or the headers exceed
 *                               CAIRN_HTTP_CLIENT_MAX_HEADER
 *   CAIRN_ENOMEM
 * Pure function: no I/O, no state; the fuzz target drives it directly. 1xx interim responses
 * (100 Continue) before the final one are skipped.
 */
CAIRN_MUST_CHECK int cairn_http_response_parse(const uint8_t *buf, size_t len, int eof,
                                               size_t max_body, int *status, uint8_t **body,
                                               size_t *body_len);

/*
 * One request. method "GET" or "POST" (any token works); content_type and body may be NULL/0 (a
 * body is sent with Content-Length). timeout_ms > 0 bounds the whole exchange; max_body 0 means
 * CAIRN_HTTP_CLIENT_MAX_BODY. Any HTTP status is a success of this function: check *status.
 * Returns 0, CAIRN_EHTTP_URL, CAIRN_ECONNECT (refused, unreachable), CAIRN_ETIMEOUT,
 * CAIRN_EHTTP_RESPONSE, CAIRN_EHTTP_RESPONSE_TOO_BIG, CAIRN_EIO (send/recv error),
 * CAIRN_ENOMEM. On success *resp_body is heap (NUL-terminated, caller frees); otherwise NULL.
 */
CAIRN_MUST_CHECK int cairn_http_request_do(const char *method, const char *url,
                                           const char *content_type, const void *body, size_t len,
                                           int timeout_ms, size_t max_body, int *status,
                                           uint8_t **resp_body, size_t *resp_len);

/* GET url. See cairn_http_request_do. */
CAIRN_MUST_CHECK int cairn_http_get(const char *url, int timeout_ms, int *status, uint8_t **body,
                                    size_t *len);

/* POST body (len bytes) with the given Content-Type. See cairn_http_request_do. */
CAIRN_MUST_CHECK int cairn_http_post(const char *url, const char *content_type, const void *body,
                                     size_t len, int timeout_ms, int *status, uint8_t **resp_body,
                                     size_t *resp_len);

/*
 * Reads a Cairn error body {"error": {"code": <negative int>, "name": ..., "message": ...}}
 * (docs/http-api.md). Returns 0 with *code and the message copied into msg (truncated to cap,
 * NUL-terminated); CAIRN_EJSON when body is not such an object (e.g. libmicrohttpd's HTML for
 * malformed requests) — then report the HTTP status instead.
 */
CAIRN_MUST_CHECK int cairn_http_error_body_parse(const uint8_t *body, size_t len, int *code,
                                                 char *msg, size_t cap);

#endif
