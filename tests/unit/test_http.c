/*
 * test_http.c — the generic HTTP server (node/http.h) and the blocking client
 * (tools/http_client.h) against each other on 127.0.0.1 with an ephemeral port.
 *
 * Exact status codes and bodies; raw sockets for what the client would never send (garbage,
 * half requests, oversize chunked bodies).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ledger/error.h"
#include "node/http.h"
#include "tools/http_client.h"

#define TIMEOUT_MS 5000

typedef struct test_app {
    atomic_int calls;
} test_app;

/* ---- handlers ---- */

static int h_health(void *app, const cairn_http_request *req, cairn_http_response *resp)
{
    test_app *a = app;
    atomic_fetch_add(&a->calls, 1);
    (void)req;
    return cairn_http_json(resp, 200, json_pack("{s:b}", "ok", 1));
}

static int h_item(void *app, const cairn_http_request *req, cairn_http_response *resp)
{
    (void)app;
    uint64_t id;
    int err = cairn_http_param_u64(req, resp, &id);
    if (err) return err;
    return cairn_http_json(resp, 200,
                           json_pack("{s:I,s:s}", "id", (json_int_t)id, "path", req->path));
}

static int h_hex(void *app, const cairn_http_request *req, cairn_http_response *resp)
{
    (void)app;
    uint8_t b[4];
    int err = cairn_http_param_hex(req, resp, b, sizeof b);
    if (err) return err;
    return cairn_http_json(resp, 200, json_pack("{s:i}", "first", b[0]));
}

static int h_sum(void *app, const cairn_http_request *req, cairn_http_response *resp)
{
    (void)app;
    uint64_t a, b, c;
    int err;
    if ((err = cairn_http_query_u64(req, resp, "a", &a)) != 0) return err;
    if ((err = cairn_http_query_u64(req, resp, "b", &b)) != 0) return err;
    if ((err = cairn_http_query_u64_opt(req, resp, "c", 7, &c)) != 0) return err;
    return cairn_http_json(resp, 200, json_pack("{s:I}", "sum", (json_int_t)(a + b + c)));
}

static int h_echo(void *app, const cairn_http_request *req, cairn_http_response *resp)
{
    (void)app;
    int err = cairn_http_require_content_type(req, resp, "application/x-protobuf");
    if (err) return err;
    return cairn_http_respond(resp, 202, "application/octet-stream", req->body, req->body_len);
}

static int h_fail(void *app, const cairn_http_request *req, cairn_http_response *resp)
{
    (void)app;
    (void)req;
    (void)resp;
    return CAIRN_EIO;
}

static int h_silent(void *app, const cairn_http_request *req, cairn_http_response *resp)
{
    (void)app;
    (void)req;
    (void)resp;
    return 0;
}

static int h_put_item(void *app, const cairn_http_request *req, cairn_http_response *resp)
{
    (void)app;
    (void)req;
    return cairn_http_respond(resp, 204, "text/plain", NULL, 0);
}

static int h_quote(void *app, const cairn_http_request *req, cairn_http_response *resp)
{
    (void)app;
    return cairn_http_errorf(resp, 400, CAIRN_EINVAL, "bad '%s'", req->param);
}

static const cairn_http_route routes[] = {
    {"GET", "/healthz", h_health},
    {"GET", "/v1/items/{id}", h_item},
    {"PUT", "/v1/items/{id}", h_put_item},
    {"GET", "/v1/hex/{h}", h_hex},
    {"GET", "/v1/sum", h_sum},
    {"POST", "/v1/echo", h_echo},
    {"GET", "/v1/fail", h_fail},
    {"GET", "/v1/silent", h_silent},
    {"GET", "/v1/quote/{x}", h_quote},
};

typedef struct fixture {
    test_app app;
    cairn_http_server *srv;
    uint16_t port;
    char base[64];
} fixture;

static fixture *start(const cairn_http_config *cfg)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(
        cairn_http_start(&f->srv, cfg, routes, sizeof routes / sizeof routes[0], &f->app), 0);
    f->port = cairn_http_port(f->srv);
    assert_true(f->port != 0);
    snprintf(f->base, sizeof f->base, "http://127.0.0.1:%u", (unsigned)f->port);
    return f;
}

static int setup(void **state)
{
    cairn_http_config cfg = {.bind_addr = "127.0.0.1", .port = 0};
    *state = start(&cfg);
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    cairn_http_stop(f->srv);
    free(f);
    return 0;
}

/* GET base+path; asserts the exchange worked and returns the status; *body is heap. */
static int get(fixture *f, const char *path, char **body)
{
    char url[4096];
    snprintf(url, sizeof url, "%s%s", f->base, path);
    int status = 0;
    uint8_t *b = NULL;
    size_t n = 0;
    assert_int_equal(cairn_http_get(url, TIMEOUT_MS, &status, &b, &n), 0);
    assert_int_equal(strlen((char *)b), n);
    *body = (char *)b;
    return status;
}

static void expect_get(fixture *f, const char *path, int status, const char *body)
{
    char *b;
    int s = get(f, path, &b);
    if (s != status || strcmp(b, body) != 0)
        fail_msg("GET %s: got %d %s, want %d %s", path, s, b, status, body);
    free(b);
}

/* ---- raw sockets ---- */

static int raw_connect(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

/* Reads until the peer closes or timeout_ms passes; returns bytes read into buf (NUL-ended). */
static size_t raw_read_all(int fd, char *buf, size_t cap, int timeout_ms)
{
    size_t n = 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        long el = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
        if (el >= timeout_ms) break;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)(timeout_ms - el)) <= 0) break;
        ssize_t r = recv(fd, buf + n, cap - 1 - n, 0);
        if (r <= 0) break;
        n += (size_t)r;
        if (n == cap - 1) break;
    }
    buf[n] = '\0';
    return n;
}

/* Sends data, optionally half-closes (so an incomplete request ends now instead of at the
 * server's idle timeout), and reads the answer until close. */
static size_t raw_exchange_t(uint16_t port, const void *data, size_t len, char *buf, size_t cap,
                             int half_close)
{
    int fd = raw_connect(port);
    size_t off = 0;
    while (off < len) {
        ssize_t w = send(fd, (const char *)data + off, len - off, MSG_NOSIGNAL);
        if (w <= 0) break; /* the server may close early: that is allowed */
        off += (size_t)w;
    }
    if (half_close) shutdown(fd, SHUT_WR);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    /* MHD answers malformed requests at once; bytes it skips (leading NULs, empty lines) leave
     * the connection waiting for a request line until its idle timeout, so garbage gets 1 s. */
    size_t n = raw_read_all(fd, buf, cap, half_close ? 1000 : TIMEOUT_MS);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (getenv("TEST_HTTP_VERBOSE"))
        fprintf(stderr, "raw %zu bytes -> %zu bytes in %ld ms\n", len, n,
                (long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000));
    close(fd);
    return n;
}

static size_t raw_exchange(uint16_t port, const void *data, size_t len, char *buf, size_t cap)
{
    return raw_exchange_t(port, data, len, buf, cap, 0);
}

/* ---- tests ---- */

static void test_json_200(void **state)
{
    fixture *f = *state;
    expect_get(f, "/healthz", 200, "{\"ok\":true}");
    assert_int_equal(atomic_load(&f->app.calls), 1);
    /* The response carries the JSON content type. */
    const char req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    char buf[4096];
    raw_exchange(f->port, req, sizeof req - 1, buf, sizeof buf);
    assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(buf, "Content-Type: application/json\r\n"));
}

static void test_path_params(void **state)
{
    fixture *f = *state;
    expect_get(f, "/v1/items/42", 200, "{\"id\":42,\"path\":\"/v1/items/42\"}");
    expect_get(f, "/v1/items/18446744073709551615", 200,
               "{\"id\":-1,\"path\":\"/v1/items/18446744073709551615\"}");
    expect_get(f, "/v1/items/abc", 400,
               "{\"error\":{\"code\":-105,\"name\":\"ENUMBER\",\"message\":\"path parameter 'id' "
               "must be a decimal integer below 2^64\"}}");
    expect_get(f, "/v1/items/18446744073709551616", 400,
               "{\"error\":{\"code\":-105,\"name\":\"ENUMBER\",\"message\":\"path parameter 'id' "
               "must be a decimal integer below 2^64\"}}");
    expect_get(f, "/v1/hex/0aFF0102", 200, "{\"first\":10}");
    const char *bad_hex =
        "{\"error\":{\"code\":-100,\"name\":\"EHEX\",\"message\":\"path parameter "
        "'h' must be 8 hex digits\"}}";
    expect_get(f, "/v1/hex/0aff01", 400, bad_hex);
    expect_get(f, "/v1/hex/0aff01zz", 400, bad_hex);
    expect_get(f, "/v1/hex/0aff010203", 400, bad_hex);
    /* {param} is exactly one non-empty segment. */
    const char *nf =
        "{\"error\":{\"code\":-702,\"name\":\"EHTTP_ROUTE\",\"message\":\"no such route\"}}";
    expect_get(f, "/v1/items/", 404, nf);
    expect_get(f, "/v1/items/1/2", 404, nf);
    expect_get(f, "/v1/items", 404, nf);
    /* Percent-decoding happens before routing: %2F becomes '/', so two segments. */
    expect_get(f, "/v1/items/1%2F2", 404, nf);
    expect_get(f, "/v1/items/%34%32", 200, "{\"id\":42,\"path\":\"/v1/items/42\"}");
    /* Error messages quoting request bytes stay valid JSON. */
    expect_get(f, "/v1/quote/%C3%A9", 400,
               "{\"error\":{\"code\":-1,\"name\":\"EINVAL\",\"message\":\"bad '\xc3\xa9'\"}}");
    expect_get(f, "/v1/quote/a%FFb", 400,
               "{\"error\":{\"code\":-1,\"name\":\"EINVAL\",\"message\":\"bad 'a?b'\"}}");
    /* "%00" is not decoded (it would cut the string): no route, no number. */
    expect_get(f, "/healthz%00junk", 404, nf);
    expect_get(f, "/v1/items/4%002", 400,
               "{\"error\":{\"code\":-105,\"name\":\"ENUMBER\",\"message\":\"path parameter 'id' "
               "must be a decimal integer below 2^64\"}}");
    expect_get(f, "/v1/items/%FF", 400,
               "{\"error\":{\"code\":-105,\"name\":\"ENUMBER\",\"message\":\"path parameter 'id' "
               "must be a decimal integer below 2^64\"}}");
}

static void test_query(void **state)
{
    fixture *f = *state;
    expect_get(f, "/v1/sum?a=1&b=2", 200, "{\"sum\":10}");
    expect_get(f, "/v1/sum?b=2&a=1&c=0", 200, "{\"sum\":3}");
    expect_get(f, "/v1/sum?a=%31&b=2&c=0", 200, "{\"sum\":3}");
    const char *missing_b = "{\"error\":{\"code\":-705,\"name\":\"EHTTP_QUERY\",\"message\":"
                            "\"missing query parameter 'b'\"}}";
    expect_get(f, "/v1/sum?a=1", 400, missing_b);
    expect_get(f, "/v1/sum?a=1&B=2", 400, missing_b);
    const char *bad_a = "{\"error\":{\"code\":-705,\"name\":\"EHTTP_QUERY\",\"message\":\"query "
                        "parameter 'a' must be a decimal integer below 2^64\"}}";
    const char *bad[] = {"/v1/sum?a=-1&b=2",
                         "/v1/sum?a=%2B1&b=2",
                         "/v1/sum?a=1x&b=2",
                         "/v1/sum?a=&b=2",
                         "/v1/sum?a&b=2",
                         "/v1/sum?a=0x10&b=2",
                         "/v1/sum?a=18446744073709551616&b=2",
                         "/v1/sum?a=%201&b=2",
                         "/v1/sum?a=1.0&b=2",
                         "/v1/sum?a=99999999999999999999999&b=2",
                         "/v1/sum?a=1%00&b=2",
                         "/v1/sum?a=1+&b=2",
                         "/v1/sum?a=%FF&b=2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) expect_get(f, bad[i], 400, bad_a);
    const char *bad_c = "{\"error\":{\"code\":-705,\"name\":\"EHTTP_QUERY\",\"message\":\"query "
                        "parameter 'c' must be a decimal integer below 2^64\"}}";
    expect_get(f, "/v1/sum?a=1&b=2&c=x", 400, bad_c);
}

static void test_not_found_and_method(void **state)
{
    fixture *f = *state;
    const char *nf =
        "{\"error\":{\"code\":-702,\"name\":\"EHTTP_ROUTE\",\"message\":\"no such route\"}}";
    expect_get(f, "/", 404, nf);
    expect_get(f, "/nope", 404, nf);
    expect_get(f, "/healthz/", 404, nf);
    expect_get(f, "/HEALTHZ", 404, nf);
    expect_get(f, "/healthz?x=1", 200, "{\"ok\":true}");

    char url[128];
    int status;
    uint8_t *b;
    size_t n;
    const char *na = "{\"error\":{\"code\":-701,\"name\":\"EHTTP_METHOD\",\"message\":\"method not "
                     "allowed for this path\"}}";
    snprintf(url, sizeof url, "%s/healthz", f->base);
    assert_int_equal(cairn_http_post(url, "application/json", "{}", 2, TIMEOUT_MS, &status, &b, &n),
                     0);
    assert_int_equal(status, 405);
    assert_string_equal((char *)b, na);
    free(b);
    snprintf(url, sizeof url, "%s/nope", f->base);
    assert_int_equal(cairn_http_post(url, "application/json", "{}", 2, TIMEOUT_MS, &status, &b, &n),
                     0);
    assert_int_equal(status, 404);
    free(b);

    /* 405 lists the allowed methods. */
    char buf[4096];
    const char del[] = "DELETE /v1/items/7 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    raw_exchange(f->port, del, sizeof del - 1, buf, sizeof buf);
    assert_non_null(strstr(buf, "HTTP/1.1 405 "));
    assert_non_null(strstr(buf, "Allow: GET, PUT\r\n"));
    assert_non_null(strstr(buf, na));

    /* Handler failures: a code without a response is a 500 carrying that code. */
    expect_get(f, "/v1/fail", 500,
               "{\"error\":{\"code\":-3,\"name\":\"EIO\",\"message\":\"input/output error\"}}");
    expect_get(f, "/v1/silent", 500,
               "{\"error\":{\"code\":-9,\"name\":\"EINTERNAL\",\"message\":\"handler produced no "
               "response\"}}");
}

static void test_body_limits(void **state)
{
    fixture *f = *state;
    char url[128];
    snprintf(url, sizeof url, "%s/v1/echo", f->base);
    size_t max = CAIRN_HTTP_DEFAULT_MAX_BODY_BYTES;
    uint8_t *big = malloc(max + 1);
    assert_non_null(big);
    for (size_t i = 0; i <= max; i++) big[i] = (uint8_t)(i * 7);
    int status;
    uint8_t *b;
    size_t n;

    /* Exactly the limit is accepted and echoed byte for byte. */
    assert_int_equal(
        cairn_http_post(url, "application/x-protobuf", big, max, TIMEOUT_MS, &status, &b, &n), 0);
    assert_int_equal(status, 202);
    assert_int_equal(n, max);
    assert_memory_equal(b, big, max);
    free(b);

    /* Empty body. */
    assert_int_equal(
        cairn_http_post(url, "application/x-protobuf", NULL, 0, TIMEOUT_MS, &status, &b, &n), 0);
    assert_int_equal(status, 202);
    assert_int_equal(n, 0);
    free(b);

    /* One byte more is refused before the body is read. */
    assert_int_equal(
        cairn_http_post(url, "application/x-protobuf", big, max + 1, TIMEOUT_MS, &status, &b, &n),
        0);
    assert_int_equal(status, 413);
    assert_string_equal((char *)b,
                        "{\"error\":{\"code\":-703,\"name\":\"EHTTP_BODY_TOO_BIG\","
                        "\"message\":\"request body exceeds the limit of 65536 bytes\"}}");
    free(b);

    /* An absurd Content-Length, without sending the body. */
    char buf[4096];
    const char huge[] =
        "POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
        "Content-Length: 99999999999999\r\n\r\n";
    raw_exchange(f->port, huge, sizeof huge - 1, buf, sizeof buf);
    assert_non_null(strstr(buf, "HTTP/1.1 413 "));

    /* A chunked body that outgrows the limit closes the connection without a 2xx. */
    size_t cl = 0, cap = 3 * max;
    char *chunked = malloc(cap);
    assert_non_null(chunked);
    cl += (size_t)snprintf(
        chunked, cap,
        "POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
        "Transfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 20; i++) {
        cl += (size_t)snprintf(chunked + cl, cap - cl, "1000\r\n");
        memset(chunked + cl, 'a', 4096);
        cl += 4096;
        cl += (size_t)snprintf(chunked + cl, cap - cl, "\r\n");
    }
    cl += (size_t)snprintf(chunked + cl, cap - cl, "0\r\n\r\n");
    raw_exchange(f->port, chunked, cl, buf, sizeof buf);
    assert_null(strstr(buf, "HTTP/1.1 202"));
    free(chunked);

    /* Wrong or missing content type: 415. */
    const char *ct = "{\"error\":{\"code\":-704,\"name\":\"EHTTP_CONTENT_TYPE\",\"message\":"
                     "\"Content-Type must be application/x-protobuf\"}}";
    assert_int_equal(cairn_http_post(url, "application/json", "x", 1, TIMEOUT_MS, &status, &b, &n),
                     0);
    assert_int_equal(status, 415);
    assert_string_equal((char *)b, ct);
    free(b);
    assert_int_equal(cairn_http_post(url, NULL, "x", 1, TIMEOUT_MS, &status, &b, &n), 0);
    assert_int_equal(status, 415);
    free(b);
    assert_int_equal(cairn_http_post(url, "Application/X-Protobuf; foo=bar", "xy", 2, TIMEOUT_MS,
                                     &status, &b, &n),
                     0);
    assert_int_equal(status, 202);
    assert_int_equal(n, 2);
    free(b);
    free(big);
    expect_get(f, "/healthz", 200, "{\"ok\":true}");
}

static void test_garbage(void **state)
{
    fixture *f = *state;
    static const char *const garbage[] = {
        "\x00\x01\x02\x03\r\n\r\n",
        "GARBAGE\r\n\r\n",
        "GET /healthz HTTP/9.9\r\n\r\n",
        "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "GET /healthz HTTP/1.1\r\nHost x\r\n\r\n",
        "POST /v1/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "\r\n\r\n\r\n\r\n",
        "GET healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    };
    char buf[8192];
    for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++) {
        size_t len = i == 0 ? 8 : strlen(garbage[i]);
        size_t n = raw_exchange_t(f->port, garbage[i], len, buf, sizeof buf, 1);
        /* Either a 4xx/5xx answer or a closed connection; never a 2xx. */
        if (n > 0 && !(strncmp(buf, "HTTP/1.1 4", 10) == 0 || strncmp(buf, "HTTP/1.1 5", 10) == 0 ||
                       strncmp(buf, "HTTP/1.0 4", 10) == 0))
            fail_msg("garbage %zu got: %.80s", i, buf);
    }
    /* Random bytes. */
    uint64_t s = 0x9e3779b97f4a7c15ULL;
    for (int round = 0; round < 20; round++) {
        uint8_t junk[700];
        for (size_t i = 0; i < sizeof junk; i++) {
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            junk[i] = (uint8_t)s;
        }
        size_t n = raw_exchange_t(f->port, junk, sizeof junk, buf, sizeof buf, 1);
        assert_true(n == 0 || strncmp(buf, "HTTP/1.1 2", 10) != 0);
    }
    /* A request line longer than the connection memory. */
    size_t biglen = CAIRN_HTTP_CONN_MEMORY + 100;
    char *big = malloc(biglen + 64);
    assert_non_null(big);
    memcpy(big, "GET /", 5);
    memset(big + 5, 'a', biglen);
    memcpy(big + 5 + biglen, " HTTP/1.1\r\nHost: x\r\n\r\n", 23);
    size_t n = raw_exchange(f->port, big, biglen + 28, buf, sizeof buf);
    assert_true(n == 0 || strncmp(buf, "HTTP/1.1 4", 10) == 0);
    free(big);
    /* Still serving. */
    expect_get(f, "/healthz", 200, "{\"ok\":true}");
}

static void test_slow_client(void **state)
{
    (void)state;
    cairn_http_config cfg = {.port = 0, .threads = 1, .timeout_s = 1};
    fixture *f = start(&cfg);
    /* Half a request, then silence: with a single thread, other requests still get through. */
    int slow = raw_connect(f->port);
    const char half[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
    assert_int_equal(send(slow, half, sizeof half - 1, MSG_NOSIGNAL), (ssize_t)(sizeof half - 1));
    int slow_body = raw_connect(f->port);
    const char part[] = "POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc";
    assert_int_equal(send(slow_body, part, sizeof part - 1, MSG_NOSIGNAL),
                     (ssize_t)(sizeof part - 1));
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 10; i++) expect_get(f, "/healthz", 200, "{\"ok\":true}");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_true(t1.tv_sec - t0.tv_sec < 2);
    /* The idle connections are closed after the timeout (1 s): recv sees EOF, no response. */
    char buf[256];
    size_t n = raw_read_all(slow, buf, sizeof buf, 4000);
    assert_int_equal(n, 0);
    n = raw_read_all(slow_body, buf, sizeof buf, 4000);
    assert_true(n == 0 || strncmp(buf, "HTTP/1.1 2", 10) != 0);
    close(slow);
    close(slow_body);
    expect_get(f, "/healthz", 200, "{\"ok\":true}");
    teardown((void **)&f);
}

static void test_connection_limit(void **state)
{
    (void)state;
    cairn_http_config cfg = {.port = 0, .max_connections = 2, .timeout_s = 5};
    fixture *f = start(&cfg);
    int a = raw_connect(f->port), b = raw_connect(f->port);
    const char half[] = "GET /healthz HTTP/1.1\r\n";
    assert_true(send(a, half, sizeof half - 1, MSG_NOSIGNAL) > 0);
    assert_true(send(b, half, sizeof half - 1, MSG_NOSIGNAL) > 0);
    usleep(100 * 1000);
    /* Over the limit: the connection is closed without a response. */
    char url[128];
    snprintf(url, sizeof url, "%s/healthz", f->base);
    int status;
    uint8_t *body;
    size_t len;
    int err = cairn_http_get(url, 500, &status, &body, &len);
    /* Over the limit MHD stops accepting: the connection waits in the kernel's backlog. */
    if (!(err == CAIRN_ETIMEOUT || err == CAIRN_EHTTP_RESPONSE || err == CAIRN_EIO))
        fail_msg("over the limit: %s status %d", cairn_err_name(err), status);
    assert_null(body);
    close(a);
    close(b);
    /* Slots free again once the idle clients leave. */
    int ok = 0;
    for (int i = 0; i < 50 && !ok; i++) {
        err = cairn_http_get(url, 2000, &status, &body, &len);
        if (err == 0) {
            ok = status == 200;
            free(body);
        } else {
            usleep(20 * 1000);
        }
    }
    assert_true(ok);
    teardown((void **)&f);
}

static void test_per_ip_limit(void **state)
{
    (void)state;
    cairn_http_config cfg = {.port = 0, .max_connections_per_ip = 1};
    fixture *f = start(&cfg);
    int idle = raw_connect(f->port);
    const char half[] = "GET /healthz HTTP/1.1\r\n";
    assert_true(send(idle, half, sizeof half - 1, MSG_NOSIGNAL) > 0);
    usleep(50 * 1000);
    /* A second connection from 127.0.0.1 is accepted and closed at once. */
    char url[128];
    snprintf(url, sizeof url, "%s/healthz", f->base);
    int status;
    uint8_t *body;
    size_t len;
    int err = cairn_http_get(url, 2000, &status, &body, &len);
    if (!(err == CAIRN_EHTTP_RESPONSE || err == CAIRN_EIO))
        fail_msg("over the per-IP limit: %s status %d", cairn_err_name(err), status);
    close(idle);
    int ok = 0;
    for (int i = 0; i < 50 && !ok; i++) {
        err = cairn_http_get(url, 2000, &status, &body, &len);
        if (err == 0) {
            ok = status == 200;
            free(body);
        } else {
            usleep(20 * 1000);
        }
    }
    assert_true(ok);
    teardown((void **)&f);
}

static void count_log(void *ctx, const char *msg)
{
    atomic_int *n = ctx;
    /* One line, no trailing newline. */
    assert_null(strchr(msg, '\n'));
    if (getenv("TEST_HTTP_VERBOSE")) fprintf(stderr, "mhd: %s\n", msg);
    atomic_fetch_add(n, 1);
}

static void test_log_sink(void **state)
{
    (void)state;
    atomic_int logged = 0;
    cairn_http_config cfg = {.port = 0, .log = count_log, .log_ctx = &logged};
    fixture *f = start(&cfg);
    char buf[1024];
    const char junk[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n";
    raw_exchange_t(f->port, junk, sizeof junk - 1, buf, sizeof buf, 1);
    assert_non_null(strstr(buf, "HTTP/1.1 400 "));
    expect_get(f, "/healthz", 200, "{\"ok\":true}");
    teardown((void **)&f);
    assert_true(atomic_load(&logged) > 0);
}

static void test_concurrent_pool(void **state)
{
    (void)state;
    cairn_http_config cfg = {.port = 0, .threads = 4};
    fixture *f = start(&cfg);
    for (int i = 0; i < 50; i++)
        expect_get(f, "/v1/items/9", 200, "{\"id\":9,\"path\":\"/v1/items/9\"}");
    teardown((void **)&f);
}

static int h_dummy(void *app, const cairn_http_request *req, cairn_http_response *resp)
{
    (void)app;
    (void)req;
    (void)resp;
    return 0;
}

static void test_start_validation(void **state)
{
    fixture *f = *state;
    cairn_http_server *s;
    cairn_http_config cfg = {.port = 0};
    const cairn_http_route bad[][1] = {
        {{"GET", "nope", h_dummy}},    {{"GET", "/a/{x}/{y}", h_dummy}},
        {{"GET", "/a/{}", h_dummy}},   {{"GET", "/a/x{y}", h_dummy}},
        {{"GET", "/a/{y}z", h_dummy}}, {{"GET", "/a/{y", h_dummy}},
        {{"GET", "/a/y}", h_dummy}},   {{"GET", "/a", NULL}},
        {{NULL, "/a", h_dummy}},       {{"", "/a", h_dummy}},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(cairn_http_start(&s, &cfg, bad[i], 1, NULL), CAIRN_EINVAL);
        assert_null(s);
    }
    cairn_http_config bad_addr = {.bind_addr = "localhost"};
    assert_int_equal(cairn_http_start(&s, &bad_addr, routes, 1, NULL), CAIRN_EINVAL);
    cairn_http_config too_big = {.max_body_bytes = CAIRN_HTTP_MAX_BODY_LIMIT + 1};
    assert_int_equal(cairn_http_start(&s, &too_big, routes, 1, NULL), CAIRN_EINVAL);
    cairn_http_config few_conns = {.max_connections = 3, .threads = 4};
    assert_int_equal(cairn_http_start(&s, &few_conns, routes, 1, NULL), CAIRN_EINVAL);
    /* The port is taken. */
    cairn_http_config taken = {.bind_addr = "127.0.0.1", .port = f->port};
    assert_int_equal(cairn_http_start(&s, &taken, routes, 1, NULL), CAIRN_EIO);
    assert_null(s);
    cairn_http_stop(NULL);
}

static void test_route_find_and_unescape(void **state)
{
    (void)state;
    const size_t n = sizeof routes / sizeof routes[0];
    cairn_http_route_match m;
    assert_int_equal(cairn_http_route_find(routes, n, "GET", "/v1/items/77", &m), 0);
    assert_int_equal(m.index, 1);
    assert_int_equal(m.param_len, 2);
    assert_memory_equal(m.param, "77", 2);
    assert_int_equal(cairn_http_route_find(routes, n, "PUT", "/v1/items/77", &m), 0);
    assert_int_equal(m.index, 2);
    assert_int_equal(cairn_http_route_find(routes, n, "GET", "/healthz", &m), 0);
    assert_int_equal(m.index, 0);
    assert_null(m.param);
    assert_int_equal(cairn_http_route_find(routes, n, "POST", "/v1/items/77", &m),
                     CAIRN_EHTTP_METHOD);
    assert_string_equal(m.allow, "GET, PUT");
    assert_int_equal(cairn_http_route_find(routes, n, "get", "/healthz", &m), CAIRN_EHTTP_METHOD);
    assert_string_equal(m.allow, "GET");
    assert_int_equal(cairn_http_route_find(routes, n, "GET", "/v1/items/", &m), CAIRN_EHTTP_ROUTE);
    assert_int_equal(cairn_http_route_find(routes, 0, "GET", "/healthz", &m), CAIRN_EHTTP_ROUTE);

    static const struct {
        const char *in, *out;
    } cases[] = {
        {"/a%20b", "/a b"},
        {"%41%62", "Ab"},
        {"%00", "%00"},
        {"a%0", "a%0"},
        {"%zz%4", "%zz%4"},
        {"%%41", "%A"},
        {"%e2%82%ac", "\xe2\x82\xac"},
        {"%2F%2f", "//"},
        {"", ""},
        {"100%", "100%"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[64];
        strcpy(buf, cases[i].in);
        assert_int_equal(cairn_http_unescape(buf), strlen(cases[i].out));
        assert_string_equal(buf, cases[i].out);
    }
}

/* ---- client ---- */

static void test_client_url(void **state)
{
    (void)state;
    cairn_http_url u;
    assert_int_equal(cairn_http_url_parse(&u, "http://127.0.0.1:7750/v1/x?a=1&b=2"), 0);
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 7750);
    assert_string_equal(u.target, "/v1/x?a=1&b=2");
    assert_int_equal(cairn_http_url_parse(&u, "http://localhost"), 0);
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 80);
    assert_string_equal(u.target, "/");
    assert_int_equal(cairn_http_url_parse(&u, "http://10.1.2.3:8?q"), 0);
    assert_string_equal(u.target, "/?q");
    static const char *const bad[] = {
        "https://127.0.0.1/",
        "http://",
        "http://:80/",
        "http://example.com/",
        "http://[::1]:80/",
        "http://u@127.0.0.1/",
        "http://127.0.0.1:0/",
        "http://127.0.0.1:65536/",
        "http://127.0.0.1:/",
        "http://127.0.0.1:80x/",
        "http://127.0.0.1/a b",
        "http://127.0.0.1/#frag",
        "ftp://x",
        "http://127.0.0.1/\r\nX: y",
        "http://256.0.0.1/",
        "127.0.0.1:80",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (cairn_http_url_parse(&u, bad[i]) != CAIRN_EHTTP_URL) fail_msg("accepted %s", bad[i]);
}

static void test_client_errors(void **state)
{
    (void)state;
    int status;
    uint8_t *body = (uint8_t *)"x";
    size_t len;
    /* Connection refused: a port that was just free. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t sl = sizeof sa;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/x", (unsigned)ntohs(sa.sin_port));
    close(fd);
    assert_int_equal(cairn_http_get(url, 2000, &status, &body, &len), CAIRN_ECONNECT);
    assert_null(body);

    /* A listener that never answers: timeout. */
    fd = socket(AF_INET, SOCK_STREAM, 0);
    sa.sin_port = 0;
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(fd, 4), 0);
    sl = sizeof sa;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%u/x", (unsigned)ntohs(sa.sin_port));
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(cairn_http_get(url, 300, &status, &body, &len), CAIRN_ETIMEOUT);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    assert_true(ms >= 290 && ms < 2000);
    close(fd);

    assert_int_equal(cairn_http_get("http://example.com/", 100, &status, &body, &len),
                     CAIRN_EHTTP_URL);
    assert_int_equal(cairn_http_request_do("G T", "http://127.0.0.1/", NULL, NULL, 0, 100, 0,
                                           &status, &body, &len),
                     CAIRN_EINVAL);
    assert_int_equal(cairn_http_request_do("POST", "http://127.0.0.1/", "a\r\nb: c", "x", 1, 100, 0,
                                           &status, &body, &len),
                     CAIRN_EINVAL);
}

static void test_error_body_parse(void **state)
{
    fixture *f = *state;
    char *b;
    assert_int_equal(get(f, "/v1/sum?a=x&b=1", &b), 400);
    int code = 0;
    char msg[16];
    assert_int_equal(cairn_http_error_body_parse((uint8_t *)b, strlen(b), &code, msg, sizeof msg),
                     0);
    assert_int_equal(code, CAIRN_EHTTP_QUERY);
    assert_string_equal(msg, "query parameter");
    free(b);
    static const char *const not_errors[] = {
        "",
        "{}",
        "[]",
        "<html></html>",
        "{\"error\": 1}",
        "{\"error\": {\"code\": 5, \"message\": \"x\"}}",
        "{\"error\": {\"code\": -1}}",
        "{\"error\": {\"code\": \"-1\", \"message\": \"x\"}}",
    };
    for (size_t i = 0; i < sizeof not_errors / sizeof not_errors[0]; i++)
        assert_int_equal(cairn_http_error_body_parse((const uint8_t *)not_errors[i],
                                                     strlen(not_errors[i]), &code, msg, sizeof msg),
                         CAIRN_EJSON);
}

static void test_client_response_cap(void **state)
{
    fixture *f = *state;
    char url[128];
    snprintf(url, sizeof url, "%s/v1/echo", f->base);
    uint8_t data[1000];
    memset(data, 'z', sizeof data);
    int status;
    uint8_t *b;
    size_t n;
    assert_int_equal(cairn_http_request_do("POST", url, "application/x-protobuf", data, sizeof data,
                                           TIMEOUT_MS, 999, &status, &b, &n),
                     CAIRN_EHTTP_RESPONSE_TOO_BIG);
    assert_null(b);
    assert_int_equal(cairn_http_request_do("POST", url, "application/x-protobuf", data, sizeof data,
                                           TIMEOUT_MS, 1000, &status, &b, &n),
                     0);
    assert_int_equal(n, 1000);
    free(b);
}

static void parse_ok(const char *raw, int eof, int status, const char *body)
{
    int st = 0;
    uint8_t *b;
    size_t n;
    int err = cairn_http_response_parse((const uint8_t *)raw, strlen(raw), eof, 1024, &st, &b, &n);
    if (err != 0) fail_msg("parse of %s: %s", raw, cairn_err_name(err));
    assert_int_equal(st, status);
    assert_int_equal(n, strlen(body));
    assert_string_equal((char *)b, body);
    free(b);
}

static void parse_err(const char *raw, int eof, int want)
{
    int st = 0;
    uint8_t *b = (uint8_t *)"x";
    size_t n;
    int err = cairn_http_response_parse((const uint8_t *)raw, strlen(raw), eof, 16, &st, &b, &n);
    if (err != want)
        fail_msg("parse of %s: got %s want %s", raw, cairn_err_name(err), cairn_err_name(want));
    assert_null(b);
}

static void test_response_parser(void **state)
{
    (void)state;
    parse_ok("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 0, 200, "hello");
    parse_ok("HTTP/1.1 200 OK\r\ncontent-length:5 \r\n\r\nhelloEXTRA", 0, 200, "hello");
    parse_ok("HTTP/1.0 404\r\n\r\nbody until close", 1, 404, "body until close");
    parse_ok("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok", 0,
             201, "ok");
    parse_ok(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nA;x=y\r\n0123456789\r\n"
        "0\r\nTrailer: t\r\n\r\n",
        0, 200, "abc0123456789");
    parse_ok("HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n", 0, 204, "");
    parse_ok("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0, 200, "");
    parse_ok("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab", 0, 200, "ab");

    parse_err("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel", 0, CAIRN_EAGAIN);
    parse_err("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel", 1, CAIRN_EHTTP_RESPONSE);
    parse_err("HTTP/1.1 200 OK\r\nContent-Le", 0, CAIRN_EAGAIN);
    parse_err("HTTP/1.1 200 OK\r\nContent-Le", 1, CAIRN_EHTTP_RESPONSE);
    parse_err("", 1, CAIRN_EHTTP_RESPONSE);
    parse_err("HTTP/1.1 200 OK\r\n\r\nmore", 0, CAIRN_EAGAIN);
    parse_err("HTTP/2 200 OK\r\n\r\n", 1, CAIRN_EHTTP_RESPONSE);
    parse_err("HTTP/1.1 20 OK\r\n\r\n", 1, CAIRN_EHTTP_RESPONSE);
    parse_err("HTTP/1.1 600 OK\r\n\r\n", 1, CAIRN_EHTTP_RESPONSE);
    parse_err("HTTP/1.1 200 OK\nContent-Length: 0\n\n", 1, CAIRN_EHTTP_RESPONSE);
    parse_err("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 1, CAIRN_EHTTP_RESPONSE);
    parse_err("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 1,
              CAIRN_EHTTP_RESPONSE);
    parse_err("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n", 1,
              CAIRN_EHTTP_RESPONSE);
    parse_err("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", 1, CAIRN_EHTTP_RESPONSE);
    parse_err("HTTP/1.1 200 OK\r\n Folded: x\r\n\r\n", 1, CAIRN_EHTTP_RESPONSE);
    parse_err("HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", 1, CAIRN_EHTTP_RESPONSE);
    parse_err("HTTP/1.1 200 OK\r\nContent-Length: 17\r\n\r\n", 0, CAIRN_EHTTP_RESPONSE_TOO_BIG);
    parse_err("HTTP/1.1 200 OK\r\n\r\n01234567890123456", 0, CAIRN_EHTTP_RESPONSE_TOO_BIG);
    parse_err("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n11\r\n", 0,
              CAIRN_EHTTP_RESPONSE_TOO_BIG);
    parse_err("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", 0, CAIRN_EAGAIN);
    parse_err("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n", 1,
              CAIRN_EHTTP_RESPONSE);
    parse_err("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n", 1,
              CAIRN_EHTTP_RESPONSE);
    parse_err("HTTP/1.1 100 Continue\r\nContent-Length: 1\r\n\r\nx", 1, CAIRN_EHTTP_RESPONSE);
    parse_err("HTTP/1.1 100 Continue\r\n\r\n", 1, CAIRN_EHTTP_RESPONSE);
    /* Headers beyond the cap. */
    size_t hl = CAIRN_HTTP_CLIENT_MAX_HEADER + 10;
    char *h = malloc(hl + 1);
    assert_non_null(h);
    memset(h, 'a', hl);
    memcpy(h, "HTTP/1.1 200 OK\r\nX: ", 20);
    h[hl] = '\0';
    parse_err(h, 0, CAIRN_EHTTP_RESPONSE_TOO_BIG);
    free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_json_200, setup, teardown),
        cmocka_unit_test_setup_teardown(test_path_params, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_found_and_method, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
        cmocka_unit_test(test_slow_client),
        cmocka_unit_test(test_connection_limit),
        cmocka_unit_test(test_concurrent_pool),
        cmocka_unit_test(test_log_sink),
        cmocka_unit_test(test_per_ip_limit),
        cmocka_unit_test_setup_teardown(test_start_validation, setup, teardown),
        cmocka_unit_test(test_route_find_and_unescape),
        cmocka_unit_test(test_client_url),
        cmocka_unit_test(test_client_errors),
        cmocka_unit_test_setup_teardown(test_client_response_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_body_parse, setup, teardown),
        cmocka_unit_test(test_response_parser),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
