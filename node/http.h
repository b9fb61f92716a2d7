/*
 * http.h — a small, generic HTTP/JSON API server on libmicrohttpd.
 *
 * The server knows nothing about the ledger: the application hands it a route table (method +
 * path pattern + handler) and an opaque app pointer; docs/http-api.md describes the behaviour a
 * client sees (error body, limits, status codes).
 *
 * Routing. A pattern is an absolute path whose segments are literals, except at most one segment
 * of the form "{name}", which matches exactly one non-empty path segment (no '/'); its value is
 * req->param. Matching is exact: no trailing-slash or case folding. The first matching route in
 * table order wins. A path that matches no pattern gets 404 (EHTTP_ROUTE); a path that matches a
 * pattern but not with the request's method gets 405 (EHTTP_METHOD) with an Allow header.
 *
 * Threading. The server runs MHD's internal polling mode (epoll/poll chosen by MHD) with a
 * pool of cfg.threads threads; handlers are called on those threads, concurrently when
 * threads > 1, so the app must make its handler state thread-safe. Sockets are non-blocking and
 * event-driven: a slow or stalled client occupies a connection slot (bounded by
 * max_connections and closed after timeout_s of inactivity) but never a thread. A handler that
 * blocks does block its thread, so handlers must stay short (hand work to queues instead).
 *
 * Limits. Request bodies larger than max_body_bytes are refused with 413 (EHTTP_BODY_TOO_BIG)
 * before they are read when Content-Length announces them; a chunked body that grows past the
 * limit closes the connection. Headers are bounded by MHD's per-connection memory pool
 * (CAIRN_HTTP_CONN_MEMORY); malformed HTTP is answered by MHD itself (400, 414, 431, ...).
 * Connections are capped in total (max_connections; beyond it new ones wait in the accept
 * backlog) and optionally per client IP (max_connections_per_ip; beyond it new ones are closed).
 * The idle timeout is per connection; MHD has no whole-request deadline, so a client trickling
 * bytes keeps its slot: the caps bound how many slots it can hold.
 */
#ifndef CAIRN_NODE_HTTP_H
#define CAIRN_NODE_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ledger/error.h"

/* Defaults used when a cairn_http_config field is 0. */
#define CAIRN_HTTP_DEFAULT_MAX_BODY_BYTES  (64u * 1024u)
#define CAIRN_HTTP_DEFAULT_MAX_CONNECTIONS 64u
#define CAIRN_HTTP_DEFAULT_TIMEOUT_S       10u
#define CAIRN_HTTP_DEFAULT_THREADS         2u
/* Memory MHD gives each connection for the request line and headers (and read buffering). */
#define CAIRN_HTTP_CONN_MEMORY (32u * 1024u)
/* Hard upper bound on max_body_bytes. */
#define CAIRN_HTTP_MAX_BODY_LIMIT (16u * 1024u * 1024u)

typedef struct cairn_http_server cairn_http_server;
typedef struct cairn_http_response cairn_http_response;

/*
 * One request as a handler sees it. Every pointer is owned by the server and valid only for the
 * duration of the handler call. Strings are NUL-terminated; body is not (body_len bytes; it is
 * NULL with body_len 0 when the request had no body). Percent-escapes in the path and the query
 * are decoded, except "%00" and malformed escapes, which stay literal; decoded strings can hold
 * any other byte, so they are not necessarily UTF-8 (validate before putting them in JSON).
 */
typedef struct cairn_http_request {
    const char *method;       /* "GET", "POST", ... as sent (case-sensitive) */
    const char *path;         /* percent-decoded path, without the query string */
    const char *param;        /* value of the route's {param} segment; NULL when it has none */
    const char *param_name;   /* name between the braces; NULL when the route has none */
    const char *content_type; /* Content-Type header as sent; NULL when absent */
    const uint8_t *body;
    size_t body_len;
    void *impl_;  /* private to http.c */
    void *state_; /* private to http.c */
} cairn_http_request;

/*
 * Deferred answers, for handlers whose work is batched elsewhere (e.g. signature checks):
 * inside the handler, cairn_http_defer(req) suspends the request and returns a handle; the
 * handler then returns 0 without a response. Later, from any thread, the application fills
 * cairn_http_deferred_response(d) (cairn_http_json, cairn_http_error...) and calls
 * cairn_http_deferred_finish(d) exactly once; the response is sent and the handle is gone.
 * Every deferred request must be finished before cairn_http_stop. NULL if out of memory (answer
 * synchronously then).
 */
typedef struct cairn_http_deferred cairn_http_deferred;
cairn_http_deferred *cairn_http_defer(const cairn_http_request *req);
cairn_http_response *cairn_http_deferred_response(cairn_http_deferred *d);
void cairn_http_deferred_finish(cairn_http_deferred *d);

/* The client's address as 16 bytes (IPv4: the 4 address bytes then zeros; IPv6: the address),
 * for per-client accounting. Zeros if unknown. */
void cairn_http_client_addr(const cairn_http_request *req, uint8_t out[16]);

/*
 * A handler fills resp through cairn_http_respond / cairn_http_json / cairn_http_error and
 * returns 0. If it returns a negative code without having set a response, the client gets 500
 * with that code in the error body; if it set a response, that response is sent whatever the
 * return value (so helpers that set a 4xx can be propagated with `if (err) return err;`).
 */
typedef int (*cairn_http_handler)(void *app, const cairn_http_request *req,
                                  cairn_http_response *resp);

typedef struct cairn_http_route {
    const char *method;  /* exact, e.g. "GET" */
    const char *pattern; /* e.g. "/v1/txs/{tx_hash}" */
    cairn_http_handler handler;
} cairn_http_route;

typedef struct cairn_http_config {
    const char *bind_addr;    /* IPv4 literal, e.g. "127.0.0.1"; NULL = "127.0.0.1" */
    uint16_t port;            /* 0 = ephemeral (read it back with cairn_http_port) */
    size_t max_body_bytes;    /* 0 = default; at most CAIRN_HTTP_MAX_BODY_LIMIT */
    unsigned max_connections; /* 0 = default; concurrent connections (split evenly between the
                                 threads; must be >= threads); beyond it new connections wait in
                                 the kernel's accept backlog */
    unsigned max_connections_per_ip; /* 0 = no per-address limit; else concurrent connections
                                        from one IP address, beyond which MHD closes new ones */
    unsigned timeout_s;              /* 0 = default; a connection idle this long is closed */
    unsigned threads;                /* 0 = default; polling threads calling handlers */
    /* Optional sink for libmicrohttpd's own diagnostics (malformed requests, connection limit
     * reached, ...), one line without newline per call. Called from server threads,
     * concurrently; must not call back into the server. NULL = discarded. */
    void (*log)(void *log_ctx, const char *msg);
    void *log_ctx;
} cairn_http_config;

/*
 * Starts serving. routes (n_routes entries) and the strings they point to must outlive the
 * server; app is passed to every handler. Validates the table (patterns start with '/', at most
 * one {param} filling a whole segment, non-NULL handler) and the config (max_body_bytes <=
 * CAIRN_HTTP_MAX_BODY_LIMIT, threads <= 64, threads <= max_connections <= 100000). Returns 0 and
 * *out, CAIRN_EINVAL for a bad table or config, CAIRN_EIO when the socket cannot be bound (address
 * in use, ...).
 */
CAIRN_MUST_CHECK int cairn_http_start(cairn_http_server **out, const cairn_http_config *cfg,
                                      const cairn_http_route *routes, size_t n_routes, void *app);

/* The bound TCP port (useful after port 0). */
uint16_t cairn_http_port(const cairn_http_server *srv);

/* Stops accepting, closes every connection, joins the threads and frees srv. In-flight handler
 * calls finish first. Not callable from a handler. NULL is a no-op. */
void cairn_http_stop(cairn_http_server *srv);

/* ---- routing and decoding, as the server does them (pure; exposed for tests and fuzzing) ---- */

typedef struct cairn_http_route_match {
    size_t index;      /* the matched route */
    const char *param; /* the {param} segment inside path, not NUL-terminated; NULL if none */
    size_t param_len;
    char allow[256]; /* on CAIRN_EHTTP_METHOD: the path's methods, e.g. "GET, PUT" */
} cairn_http_route_match;

/*
 * Finds the route for method and (decoded) path in a table accepted by cairn_http_start.
 * Returns 0 and fills m; CAIRN_EHTTP_METHOD when the path matches only with other methods
 * (m->allow lists them); CAIRN_EHTTP_ROUTE when no pattern matches the path.
 */
CAIRN_MUST_CHECK int cairn_http_route_find(const cairn_http_route *routes, size_t n,
                                           const char *method, const char *path,
                                           cairn_http_route_match *m);

/*
 * Percent-decodes s in place and returns the new length. "%XX" with two hex digits becomes that
 * byte, except "%00", which stays literal (a NUL would cut the string); malformed escapes stay
 * literal. ('+' in a query is turned into a space by libmicrohttpd before this.)
 */
size_t cairn_http_unescape(char *s);

/* ---- request helpers (call only from a handler, on the handler's thread) ---- */

/* Value of query parameter name (percent-decoded; the first one if repeated), or NULL when absent.
 * "?a" (no '=') gives "". Valid for the handler call. */
const char *cairn_http_query(const cairn_http_request *req, const char *name);

/*
 * Strict decimal u64 query parameter (digits only, no sign, no leading '+', no overflow).
 * Returns 0 and *out; when the parameter is absent or malformed it sets a 400 response with
 * EHTTP_QUERY naming the parameter and returns CAIRN_EHTTP_QUERY.
 */
CAIRN_MUST_CHECK int cairn_http_query_u64(const cairn_http_request *req, cairn_http_response *resp,
                                          const char *name, uint64_t *out);

/* Like cairn_http_query_u64, but an absent parameter gives *out = dflt and 0. */
CAIRN_MUST_CHECK int cairn_http_query_u64_opt(const cairn_http_request *req,
                                              cairn_http_response *resp, const char *name,
                                              uint64_t dflt, uint64_t *out);

/* The path parameter as strict decimal u64; on failure sets 400 with ENUMBER and returns it. */
CAIRN_MUST_CHECK int cairn_http_param_u64(const cairn_http_request *req, cairn_http_response *resp,
                                          uint64_t *out);

/* The path parameter as exactly n bytes of hex; on failure sets 400 with EHEX and returns it. */
CAIRN_MUST_CHECK int cairn_http_param_hex(const cairn_http_request *req, cairn_http_response *resp,
                                          uint8_t *out, size_t n);

/*
 * Checks that the media type of Content-Type is `type` (case-insensitive, parameters after ';'
 * ignored). On mismatch or absence sets 415 with EHTTP_CONTENT_TYPE and returns it.
 */
CAIRN_MUST_CHECK int cairn_http_require_content_type(const cairn_http_request *req,
                                                     cairn_http_response *resp, const char *type);

/* ---- response helpers ---- */

/* Sets status, Content-Type and a copy of body (len bytes). Replaces any earlier response.
 * Returns 0 or CAIRN_ENOMEM / CAIRN_EINVAL (status outside 100..599). */
CAIRN_MUST_CHECK int cairn_http_respond(cairn_http_response *resp, unsigned status,
                                        const char *content_type, const void *body, size_t len);

/* Serializes j (compact, ensure-ascii off, keys in insertion order) as application/json.
 * Takes ownership of j (one reference) in every case; j == NULL (a failed json_pack) is ENOMEM. */
CAIRN_MUST_CHECK int cairn_http_json(cairn_http_response *resp, unsigned status, json_t *j);

/*
 * Sets status and the error body
 *   {"error": {"code": <err>, "name": "<cairn_err_name(err)>", "message": "<message>"}}
 * message NULL means cairn_strerror(err). Returns 0 or CAIRN_ENOMEM.
 */
CAIRN_MUST_CHECK int cairn_http_error(cairn_http_response *resp, unsigned status, int err,
                                      const char *message);

/* cairn_http_error with a printf-style message (truncated to 512 bytes). */
CAIRN_MUST_CHECK int cairn_http_errorf(cairn_http_response *resp, unsigned status, int err,
                                       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
