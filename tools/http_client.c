/*
 * http_client.c — blocking HTTP/1.1 client (see http_client.h).
 *
 * The response parser is split in two: parse_head finds the final (non-1xx) response head and
 * its body framing, and cairn_http_response_parse extracts the body. The socket loop calls only
 * parse_head while receiving (so a large body is not re-scanned on every read) and the full parser
 * once the framing says the response is complete.
 */
#include "tools/http_client.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- URL ---- */

int cairn_http_url_parse(cairn_http_url *out, const char *url)
{
    static const char scheme[] = "http://";
    if (!url || strncmp(url, scheme, sizeof scheme - 1) != 0) return CAIRN_EHTTP_URL;
    const char *p = url + sizeof scheme - 1;
    for (const char *q = url; *q; q++)
        if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f || *q == '#')
            return CAIRN_EHTTP_URL;
    size_t hl = strcspn(p, ":/?");
    if (hl == 0 || hl >= sizeof out->host) return CAIRN_EHTTP_URL;
    char host[sizeof out->host];
    memcpy(host, p, hl);
    host[hl] = '\0';
    if (strchr(host, '@')) return CAIRN_EHTTP_URL;
    if (strcmp(host, "localhost") == 0) snprintf(host, sizeof host, "127.0.0.1");
    struct in_addr ia;
    if (inet_pton(AF_INET, host, &ia) != 1) return CAIRN_EHTTP_URL;
    p += hl;
    unsigned long port = 80;
    if (*p == ':') {
        p++;
        size_t pl = strspn(p, "0123456789");
        if (pl == 0 || pl > 5 || (p[pl] && p[pl] != '/' && p[pl] != '?')) return CAIRN_EHTTP_URL;
        port = 0;
        for (size_t i = 0; i < pl; i++) port = port * 10 + (unsigned long)(p[i] - '0');
        if (port == 0 || port > 65535) return CAIRN_EHTTP_URL;
        p += pl;
    }
    int n = snprintf(out->target, sizeof out->target, "%s%s", *p == '/' ? "" : "/", p);
    if (n < 0 || (size_t)n >= sizeof out->target) return CAIRN_EHTTP_URL;
    memcpy(out->host, host, strlen(host) + 1);
    out->port = (uint16_t)port;
    return 0;
}

/* ---- response parsing ---- */

typedef struct http_head {
    int status;
    size_t body_off; /* offset of the body in the buffer */
    int chunked;     /* Transfer-Encoding: chunked */
    int has_length;  /* Content-Length present */
    uint64_t length; /* its value */
    int no_body;     /* 204 / 304: no body whatever the headers say */
} http_head;

static int is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Finds "\r\n\r\n" at or after from; returns the offset just past it, or 0. */
static size_t find_head_end(const uint8_t *b, size_t len, size_t from)
{
    for (size_t i = from; i + 4 <= len; i++)
        if (b[i] == '\r' && b[i + 1] == '\n' && b[i + 2] == '\r' && b[i + 3] == '\n') return i + 4;
    return 0;
}

/* Parses one head occupying b[0..end) (end points past the blank line). */
static int parse_one_head(const uint8_t *b, size_t end, http_head *h)
{
    memset(h, 0, sizeof *h);
    /* Status line: HTTP/1.x SP 3DIGIT [SP reason] CRLF */
    if (end < 14 || memcmp(b, "HTTP/1.", 7) != 0 || (b[7] != '0' && b[7] != '1') || b[8] != ' ')
        return CAIRN_EHTTP_RESPONSE;
    for (int i = 9; i < 12; i++)
        if (b[i] < '0' || b[i] > '9') return CAIRN_EHTTP_RESPONSE;
    h->status = (b[9] - '0') * 100 + (b[10] - '0') * 10 + (b[11] - '0');
    if (h->status < 100 || h->status > 599) return CAIRN_EHTTP_RESPONSE;
    size_t i = 12;
    if (b[i] == ' ') {
        for (i++; b[i] != '\r'; i++)
            if (b[i] != '\t' && (b[i] < 0x20 || b[i] == 0x7f)) return CAIRN_EHTTP_RESPONSE;
    }
    if (b[i] != '\r' || b[i + 1] != '\n') return CAIRN_EHTTP_RESPONSE;
    i += 2;
    /* Header fields until the blank line. */
    while (i + 2 < end) {
        size_t name = i;
        while (i < end && is_tchar(b[i])) i++;
        size_t name_len = i - name;
        if (name_len == 0 || b[i] != ':') return CAIRN_EHTTP_RESPONSE;
        i++;
        while (b[i] == ' ' || b[i] == '\t') i++;
        size_t val = i;
        while (b[i] != '\r') {
            if (b[i] != '\t' && (b[i] < 0x20 || b[i] == 0x7f)) return CAIRN_EHTTP_RESPONSE;
            i++;
        }
        size_t val_end = i;
        while (val_end > val && (b[val_end - 1] == ' ' || b[val_end - 1] == '\t')) val_end--;
        size_t val_len = val_end - val;
        if (b[i + 1] != '\n') return CAIRN_EHTTP_RESPONSE;
        i += 2;
        const char *nm = (const char *)b + name;
        const char *vl = (const char *)b + val;
        if (name_len == 14 && strncasecmp(nm, "Content-Length", 14) == 0) {
            if (val_len == 0 || val_len > 19) return CAIRN_EHTTP_RESPONSE;
            uint64_t n = 0;
            for (size_t k = 0; k < val_len; k++) {
                if (vl[k] < '0' || vl[k] > '9') return CAIRN_EHTTP_RESPONSE;
                n = n * 10 + (uint64_t)(vl[k] - '0');
            }
            if (h->has_length && h->length != n) return CAIRN_EHTTP_RESPONSE;
            h->has_length = 1;
            h->length = n;
        } else if (name_len == 17 && strncasecmp(nm, "Transfer-Encoding", 17) == 0) {
            /* Only "chunked" alone is understood; anything else cannot be framed safely. */
            if (h->chunked || val_len != 7 || strncasecmp(vl, "chunked", 7) != 0)
                return CAIRN_EHTTP_RESPONSE;
            h->chunked = 1;
        }
    }
    if (i + 2 != end) return CAIRN_EHTTP_RESPONSE;
    if (h->chunked && h->has_length) return CAIRN_EHTTP_RESPONSE;
    h->no_body = h->status == 204 || h->status == 304;
    h->body_off = end;
    return 0;
}

/* Finds the final response head, skipping 1xx interim responses. */
static int parse_head(const uint8_t *b, size_t len, int eof, http_head *h)
{
    size_t start = 0;
    for (;;) {
        size_t end = find_head_end(b, len, start);
        if (end && end - start > CAIRN_HTTP_CLIENT_MAX_HEADER) return CAIRN_EHTTP_RESPONSE_TOO_BIG;
        if (!end) {
            if (len - start > CAIRN_HTTP_CLIENT_MAX_HEADER) return CAIRN_EHTTP_RESPONSE_TOO_BIG;
            return eof ? CAIRN_EHTTP_RESPONSE : CAIRN_EAGAIN;
        }
        int e = parse_one_head(b + start, end - start, h);
        if (e) return e;
        h->body_off = end;
        if (h->status >= 200) return 0;
        if (h->has_length || h->chunked) return CAIRN_EHTTP_RESPONSE; /* 1xx has no body */
        start = end;
    }
}

/*
 * Walks a chunked body starting at b[off]. When out is NULL only validates and sums; otherwise
 * copies the data into out. Returns 0 with *total, or EAGAIN / EHTTP_RESPONSE / TOO_BIG.
 */
static int walk_chunks(const uint8_t *b, size_t len, size_t off, size_t max_body, uint8_t *out,
                       size_t *total)
{
    size_t sum = 0;
    for (;;) {
        /* chunk-size [; ext] CRLF */
        uint64_t size = 0;
        size_t digits = 0;
        for (; off < len; off++, digits++) {
            uint8_t c = b[off];
            unsigned v;
            if (c >= '0' && c <= '9')
                v = c - '0';
            else if (c >= 'a' && c <= 'f')
                v = c - 'a' + 10u;
            else if (c >= 'A' && c <= 'F')
                v = c - 'A' + 10u;
            else
                break;
            if (digits >= 15) return CAIRN_EHTTP_RESPONSE;
            size = size * 16 + v;
        }
        if (off >= len) return CAIRN_EAGAIN;
        if (digits == 0) return CAIRN_EHTTP_RESPONSE;
        if (b[off] == ';') {
            for (; off < len && b[off] != '\r'; off++)
                if (b[off] != '\t' && (b[off] < 0x20 || b[off] == 0x7f))
                    return CAIRN_EHTTP_RESPONSE;
        }
        if (off + 2 > len) return CAIRN_EAGAIN;
        if (b[off] != '\r' || b[off + 1] != '\n') return CAIRN_EHTTP_RESPONSE;
        off += 2;
        if (size > max_body - sum) return CAIRN_EHTTP_RESPONSE_TOO_BIG;
        if (size == 0) break;
        if (len - off < size + 2) return CAIRN_EAGAIN;
        if (out) memcpy(out + sum, b + off, (size_t)size);
        sum += (size_t)size;
        off += (size_t)size;
        if (b[off] != '\r' || b[off + 1] != '\n') return CAIRN_EHTTP_RESPONSE;
        off += 2;
    }
    /* Trailer fields (ignored) until an empty line. */
    for (;;) {
        size_t line = off;
        while (off < len && b[off] != '\r') {
            if (b[off] != '\t' && (b[off] < 0x20 || b[off] == 0x7f)) return CAIRN_EHTTP_RESPONSE;
            off++;
        }
        if (off + 2 > len) return CAIRN_EAGAIN;
        if (b[off + 1] != '\n') return CAIRN_EHTTP_RESPONSE;
        off += 2;
        if (off - line == 2) break;
    }
    *total = sum;
    return 0;
}

int cairn_http_response_parse(const uint8_t *buf, size_t len, int eof, size_t max_body, int *status,
                              uint8_t **body, size_t *body_len)
{
    *body = NULL;
    *body_len = 0;
    http_head h;
    int e = parse_head(buf, len, eof, &h);
    if (e) return e;
    const uint8_t *src = buf + h.body_off;
    size_t avail = len - h.body_off, n = 0;
    if (h.no_body) {
        n = 0;
    } else if (h.chunked) {
        e = walk_chunks(buf, len, h.body_off, max_body, NULL, &n);
    } else if (h.has_length) {
        if (h.length > max_body)
            e = CAIRN_EHTTP_RESPONSE_TOO_BIG;
        else if (avail < h.length)
            e = CAIRN_EAGAIN;
        else
            n = (size_t)h.length;
    } else {
        if (avail > max_body)
            e = CAIRN_EHTTP_RESPONSE_TOO_BIG;
        else if (!eof)
            e = CAIRN_EAGAIN;
        else
            n = avail;
    }
    if (e == CAIRN_EAGAIN && eof) e = CAIRN_EHTTP_RESPONSE;
    if (e) return e;
    uint8_t *out = malloc(n + 1);
    if (!out) return CAIRN_ENOMEM;
    if (h.chunked) {
        size_t again;
        e = walk_chunks(buf, len, h.body_off, max_body, out, &again);
        if (e) {
            free(out);
            return e;
        }
    } else if (n) {
        memcpy(out, src, n);
    }
    out[n] = '\0';
    *status = h.status;
    *body = out;
    *body_len = n;
    return 0;
}

/* ---- sockets ---- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events on fd until the deadline; returns 0, ETIMEOUT or EIO. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0) return CAIRN_ETIMEOUT;
        struct pollfd pfd = {.fd = fd, .events = events};
        int r = poll(&pfd, 1, (int)(left > 60000 ? 60000 : left));
        if (r > 0) return 0;
        if (r < 0 && errno != EINTR) return CAIRN_EIO;
    }
}

static int connect_to(const cairn_http_url *u, int64_t deadline, int *out_fd)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return cairn_err_from_errno(errno);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(u->port);
    if (inet_pton(AF_INET, u->host, &sa.sin_addr) != 1) {
        close(fd);
        return CAIRN_EHTTP_URL;
    }
    int e = 0;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        if (errno != EINPROGRESS) {
            e = CAIRN_ECONNECT;
        } else if ((e = wait_fd(fd, POLLOUT, deadline)) == 0) {
            int soerr = 0;
            socklen_t sl = sizeof soerr;
            if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0)
                e = CAIRN_ECONNECT;
        }
    }
    if (e) {
        close(fd);
        return e;
    }
    *out_fd = fd;
    return 0;
}

static int send_all(int fd, const void *data, size_t len, int64_t deadline)
{
    const uint8_t *p = data;
    while (len) {
        ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            len -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int e = wait_fd(fd, POLLOUT, deadline);
            if (e) return e;
            continue;
        }
        return CAIRN_EIO;
    }
    return 0;
}

static int valid_token(const char *s)
{
    if (!s || !*s) return 0;
    for (; *s; s++)
        if (!is_tchar((unsigned char)*s)) return 0;
    return 1;
}

static int valid_field_value(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f) return 0;
    return 1;
}

int cairn_http_request_do(const char *method, const char *url, const char *content_type,
                          const void *body, size_t len, int timeout_ms, size_t max_body,
                          int *status, uint8_t **resp_body, size_t *resp_len)
{
    *resp_body = NULL;
    *resp_len = 0;
    if (!valid_token(method) || timeout_ms <= 0 || (len && !body) ||
        (content_type && !valid_field_value(content_type)))
        return CAIRN_EINVAL;
    if (max_body == 0) max_body = CAIRN_HTTP_CLIENT_MAX_BODY;
    cairn_http_url u;
    int e = cairn_http_url_parse(&u, url);
    if (e) return e;

    char head[2048 + 512];
    int hn = snprintf(head, sizeof head,
                      "%s %s HTTP/1.1\r\nHost: %s:%u\r\nUser-Agent: cairn\r\n"
                      "Accept: application/json\r\nConnection: close\r\n",
                      method, u.target, u.host, (unsigned)u.port);
    if (hn < 0 || (size_t)hn >= sizeof head) return CAIRN_EHTTP_URL;
    size_t hl = (size_t)hn;
    if (content_type) {
        hn = snprintf(head + hl, sizeof head - hl, "Content-Type: %.200s\r\n", content_type);
        hl += (size_t)hn;
    }
    if (body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
        hn = snprintf(head + hl, sizeof head - hl, "Content-Length: %zu\r\n", len);
        hl += (size_t)hn;
    }
    hn = snprintf(head + hl, sizeof head - hl, "\r\n");
    hl += (size_t)hn;
    if (hl >= sizeof head) return CAIRN_EHTTP_URL;

    int64_t deadline = now_ms() + timeout_ms;
    int fd = -1;
    if ((e = connect_to(&u, deadline, &fd)) != 0) return e;
    uint8_t *buf = NULL;
    /* A server may answer early and close (413 for an announced oversize body): when sending
     * fails with a reset, the response may still be waiting in the receive queue. */
    e = send_all(fd, head, hl, deadline);
    if (e == 0 && len) e = send_all(fd, body, len, deadline);
    if (e && e != CAIRN_EIO) goto out;
    int send_failed = e != 0;

    /* Receive. The raw cap leaves room for the head and for chunk framing overhead. */
    size_t cap = 16384, n = 0;
    size_t raw_max = CAIRN_HTTP_CLIENT_MAX_HEADER + 2 * max_body + 65536;
    buf = malloc(cap);
    if (!buf) {
        e = CAIRN_ENOMEM;
        goto out;
    }
    http_head h = {0};
    int have_head = 0, eof = 0;
    for (;;) {
        if (n == cap) {
            if (cap >= raw_max) {
                e = CAIRN_EHTTP_RESPONSE_TOO_BIG;
                goto out;
            }
            size_t nc = cap * 2 > raw_max ? raw_max : cap * 2;
            uint8_t *nb = realloc(buf, nc);
            if (!nb) {
                e = CAIRN_ENOMEM;
                goto out;
            }
            buf = nb;
            cap = nc;
        }
        ssize_t r = recv(fd, buf + n, cap - n, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if ((e = wait_fd(fd, POLLIN, deadline)) != 0) goto out;
                continue;
            }
            /* A reset after a complete response is still a response. */
            eof = 1;
        } else if (r == 0) {
            eof = 1;
        } else {
            n += (size_t)r;
        }
        if (eof) break;
        if (!have_head) {
            e = parse_head(buf, n, 0, &h);
            if (e == CAIRN_EAGAIN) continue;
            if (e) goto out;
            have_head = 1;
        }
        /* With a known length (or no body) the response can be complete before the close. */
        if (h.no_body || (h.has_length && !h.chunked && n - h.body_off >= h.length)) break;
        if (h.has_length && h.length > max_body) {
            e = CAIRN_EHTTP_RESPONSE_TOO_BIG;
            goto out;
        }
    }
    e = cairn_http_response_parse(buf, n, eof, max_body, status, resp_body, resp_len);
    if (e && send_failed) e = CAIRN_EIO;
out:
    free(buf);
    close(fd);
    return e;
}

int cairn_http_get(const char *url, int timeout_ms, int *status, uint8_t **body, size_t *len)
{
    return cairn_http_request_do("GET", url, NULL, NULL, 0, timeout_ms, 0, status, body, len);
}

int cairn_http_post(const char *url, const char *content_type, const void *body, size_t len,
                    int timeout_ms, int *status, uint8_t **resp_body, size_t *resp_len)
{
    return cairn_http_request_do("POST", url, content_type, body, len, timeout_ms, 0, status,
                                 resp_body, resp_len);
}

int cairn_http_error_body_parse(const uint8_t *body, size_t len, int *code, char *msg, size_t cap)
{
    json_t *root = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *err = json_object_get(root, "error");
    json_t *c = json_object_get(err, "code");
    json_t *m = json_object_get(err, "message");
    int e = CAIRN_EJSON;
    if (json_is_integer(c) && json_is_string(m) && json_integer_value(c) < 0 &&
        json_integer_value(c) >= -99999) {
        *code = (int)json_integer_value(c);
        if (cap) snprintf(msg, cap, "%s", json_string_value(m));
        e = 0;
    }
    json_decref(root);
    return e;
}
