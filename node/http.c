/*
 * http.c — the generic HTTP/JSON server (see http.h for the contract).
 *
 * Per request, MHD calls access_cb several times: once after the headers (we route, check the
 * method and the announced body size, and may answer at once), once per chunk of body (we copy
 * into a buffer bounded by max_body_bytes) and once at the end (we call the handler and queue its
 * response). The per-request state lives in *con_cls and is freed in completed_cb.
 */
#include "node/http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <pthread.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ledger/hex.h"

struct cairn_http_server {
    struct MHD_Daemon *mhd;
    const cairn_http_route *routes;
    size_t n_routes;
    void *app;
    size_t max_body;
    uint16_t port;
    void (*log)(void *log_ctx, const char *msg);
    void *log_ctx;
};

struct cairn_http_response {
    unsigned status; /* 0 = not set */
    char content_type[128];
    uint8_t *body;
    size_t len;
};

/* Per-request state (MHD's con_cls). */
typedef struct http_req_state {
    struct MHD_Connection *conn;
    int deferred;       /* the handler deferred its answer */
    pthread_mutex_t mu; /* guards finished and suspended (deferred answers only) */
    int finished;       /* the deferred answer is in dresp */
    int suspended;      /* the connection is suspended, waiting for it */
    cairn_http_response dresp;
    const cairn_http_route *route; /* NULL until routed */
    char *param;                   /* heap copy of the {param} segment */
    const char *param_name;
    size_t param_name_len;
    uint8_t *body;
    size_t len, cap;
} http_req_state;

/* ---- routing ---- */

/*
 * Matches path against pattern. On a match returns 1 and, when the pattern has a {param},
 * sets *pstart / *plen to the segment inside path. Segments are compared bytewise.
 */
static int route_match(const char *pattern, const char *path, const char **pstart, size_t *plen)
{
    *pstart = NULL;
    *plen = 0;
    const char *p = pattern, *u = path;
    while (*p && *u) {
        if (*p == '{') {
            const char *close = strchr(p, '}');
            const char *seg_end = strchr(u, '/');
            size_t n = seg_end ? (size_t)(seg_end - u) : strlen(u);
            if (!close || n == 0) return 0;
            *pstart = u;
            *plen = n;
            p = close + 1;
            u += n;
            continue;
        }
        if (*p != *u) return 0;
        p++;
        u++;
    }
    return *p == '\0' && *u == '\0';
}

static int route_table_valid(const cairn_http_route *routes, size_t n)
{
    if (n && !routes) return 0;
    for (size_t i = 0; i < n; i++) {
        const char *pat = routes[i].pattern;
        if (!routes[i].method || !*routes[i].method || !routes[i].handler || !pat || pat[0] != '/')
            return 0;
        int params = 0;
        for (const char *q = pat; *q; q++) {
            if (*q == '{') {
                const char *close = strchr(q, '}');
                /* {name} must fill a whole segment: preceded by '/', followed by '/' or end. */
                if (!close || close == q + 1 || q[-1] != '/' || (close[1] && close[1] != '/'))
                    return 0;
                if (memchr(q + 1, '/', (size_t)(close - q - 1))) return 0;
                if (++params > 1) return 0;
                q = close;
            } else if (*q == '}') {
                return 0;
            }
        }
    }
    return 1;
}

/* ---- responses ---- */

int cairn_http_respond(cairn_http_response *resp, unsigned status, const char *content_type,
                       const void *body, size_t len)
{
    if (status < 100 || status > 599) return CAIRN_EINVAL;
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy) return CAIRN_ENOMEM;
    if (len) memcpy(copy, body, len);
    free(resp->body);
    resp->body = copy;
    resp->len = len;
    resp->status = status;
    snprintf(resp->content_type, sizeof resp->content_type, "%s",
             content_type ? content_type : "application/octet-stream");
    return 0;
}

int cairn_http_json(cairn_http_response *resp, unsigned status, json_t *j)
{
    if (!j) return CAIRN_ENOMEM;
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    json_decref(j);
    if (!s) return CAIRN_ENOMEM;
    int err = cairn_http_respond(resp, status, "application/json", s, strlen(s));
    free(s);
    return err;
}

int cairn_http_error(cairn_http_response *resp, unsigned status, int err, const char *message)
{
    const char *msg = message ? message : cairn_strerror(err);
    json_t *j = json_pack("{s:{s:i,s:s,s:s}}", "error", "code", err, "name", cairn_err_name(err),
                          "message", msg);
    if (!j) {
        /* Not UTF-8 (a message quoting request bytes): fall back to printable ASCII. */
        char ascii[512];
        size_t n = 0;
        for (; msg[n] && n < sizeof ascii - 1; n++)
            ascii[n] = (msg[n] >= 0x20 && msg[n] < 0x7f) ? msg[n] : '?';
        ascii[n] = '\0';
        j = json_pack("{s:{s:i,s:s,s:s}}", "error", "code", err, "name", cairn_err_name(err),
                      "message", ascii);
    }
    return cairn_http_json(resp, status, j);
}

int cairn_http_errorf(cairn_http_response *resp, unsigned status, int err, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return cairn_http_error(resp, status, err, msg);
}

/* ---- request helpers ---- */

typedef struct query_find {
    const char *name;
    size_t name_len;
    const char *value;
    int found;
} query_find;

static enum MHD_Result query_iter(void *cls, enum MHD_ValueKind kind, const char *key,
                                  size_t key_size, const char *value, size_t value_size)
{
    (void)kind;
    (void)value_size;
    query_find *q = cls;
    if (key_size != q->name_len || memcmp(key, q->name, key_size) != 0) return MHD_YES;
    q->found = 1;
    q->value = value ? value : "";
    return MHD_NO; /* the first occurrence wins */
}

const char *cairn_http_query(const cairn_http_request *req, const char *name)
{
    /* MHD's own lookup compares keys case-insensitively; query keys are case-sensitive. */
    query_find q = {.name = name, .name_len = strlen(name)};
    MHD_get_connection_values_n(req->impl_, MHD_GET_ARGUMENT_KIND, query_iter, &q);
    return q.found ? q.value : NULL;
}

/* Sets the response for a failed helper; an out-of-memory here still fails the request (500). */
static int helper_fail(cairn_http_response *resp, unsigned status, int err, const char *msg)
{
    int e = cairn_http_error(resp, status, err, msg);
    return e ? e : err;
}

int cairn_http_query_u64(const cairn_http_request *req, cairn_http_response *resp, const char *name,
                         uint64_t *out)
{
    const char *v = cairn_http_query(req, name);
    char msg[160];
    if (!v) {
        snprintf(msg, sizeof msg, "missing query parameter '%.64s'", name);
        return helper_fail(resp, 400, CAIRN_EHTTP_QUERY, msg);
    }
    if (cairn_parse_u64(v, out) != 0) {
        snprintf(msg, sizeof msg, "query parameter '%.64s' must be a decimal integer below 2^64",
                 name);
        return helper_fail(resp, 400, CAIRN_EHTTP_QUERY, msg);
    }
    return 0;
}

int cairn_http_query_u64_opt(const cairn_http_request *req, cairn_http_response *resp,
                             const char *name, uint64_t dflt, uint64_t *out)
{
    if (!cairn_http_query(req, name)) {
        *out = dflt;
        return 0;
    }
    return cairn_http_query_u64(req, resp, name, out);
}

int cairn_http_param_u64(const cairn_http_request *req, cairn_http_response *resp, uint64_t *out)
{
    const char *name = req->param_name ? req->param_name : "param";
    if (cairn_parse_u64(req->param, out) != 0) {
        char msg[160];
        snprintf(msg, sizeof msg, "path parameter '%.64s' must be a decimal integer below 2^64",
                 name);
        return helper_fail(resp, 400, CAIRN_ENUMBER, msg);
    }
    return 0;
}

int cairn_http_param_hex(const cairn_http_request *req, cairn_http_response *resp, uint8_t *out,
                         size_t n)
{
    const char *name = req->param_name ? req->param_name : "param";
    if (!req->param || strlen(req->param) != 2 * n ||
        cairn_hex_decode_exact(out, n, req->param) != 0) {
        int e = cairn_http_errorf(resp, 400, CAIRN_EHEX,
                                  "path parameter '%s' must be %zu hex digits", name, 2 * n);
        return e ? e : CAIRN_EHEX;
    }
    return 0;
}

int cairn_http_require_content_type(const cairn_http_request *req, cairn_http_response *resp,
                                    const char *type)
{
    const char *ct = req->content_type;
    if (ct) {
        size_t n = strcspn(ct, ";");
        while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t')) n--;
        if (n == strlen(type) && strncasecmp(ct, type, n) == 0) return 0;
    }
    char msg[160];
    snprintf(msg, sizeof msg, "Content-Type must be %.100s", type);
    return helper_fail(resp, 415, CAIRN_EHTTP_CONTENT_TYPE, msg);
}

/* ---- MHD glue ---- */

static enum MHD_Result queue(struct MHD_Connection *conn, const cairn_http_response *r,
                             const char *allow)
{
    struct MHD_Response *mr =
        MHD_create_response_from_buffer(r->len, r->body, MHD_RESPMEM_MUST_COPY);
    if (!mr) return MHD_NO;
    if (MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type) != MHD_YES ||
        (allow && MHD_add_response_header(mr, MHD_HTTP_HEADER_ALLOW, allow) != MHD_YES)) {
        MHD_destroy_response(mr);
        return MHD_NO;
    }
    enum MHD_Result ok = MHD_queue_response(conn, r->status, mr);
    MHD_destroy_response(mr);
    return ok;
}

/* Queues an error body; on out-of-memory closes the connection. */
static enum MHD_Result queue_error(struct MHD_Connection *conn, unsigned status, int err,
                                   const char *msg, const char *allow)
{
    cairn_http_response r = {0};
    enum MHD_Result ok = MHD_NO;
    if (cairn_http_error(&r, status, err, msg) == 0) ok = queue(conn, &r, allow);
    free(r.body);
    return ok;
}

/* Routes a new request: sets st->route and st->param, or answers 404 / 405 and returns 0. */
int cairn_http_route_find(const cairn_http_route *routes, size_t n, const char *method,
                          const char *path, cairn_http_route_match *m)
{
    memset(m, 0, sizeof *m);
    size_t allow_len = 0;
    int path_known = 0;
    for (size_t i = 0; i < n; i++) {
        const cairn_http_route *r = &routes[i];
        const char *ps;
        size_t pl;
        if (!route_match(r->pattern, path, &ps, &pl)) continue;
        if (strcmp(r->method, method) == 0) {
            m->index = i;
            m->param = ps;
            m->param_len = pl;
            m->allow[0] = '\0';
            return 0;
        }
        path_known = 1;
        /* Allow header: the distinct methods registered for this path, in table order. */
        int dup = 0;
        for (size_t k = 0; k < i && !dup; k++) {
            const char *ks;
            size_t kl;
            dup = strcmp(routes[k].method, r->method) == 0 &&
                  route_match(routes[k].pattern, path, &ks, &kl);
        }
        size_t ml = strlen(r->method);
        if (!dup && allow_len + ml + 3 < sizeof m->allow)
            allow_len += (size_t)snprintf(m->allow + allow_len, sizeof m->allow - allow_len, "%s%s",
                                          allow_len ? ", " : "", r->method);
    }
    return path_known ? CAIRN_EHTTP_METHOD : CAIRN_EHTTP_ROUTE;
}

/* Routes a new request: sets st->route and st->param, or answers 404 / 405 and returns 0. */
void cairn_http_client_addr(const cairn_http_request *req, uint8_t out[16])
{
    memset(out, 0, 16);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->impl_, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr) return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        memcpy(out, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
    else if (sa->sa_family == AF_INET6)
        memcpy(out, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
}

static int route_request(cairn_http_server *srv, struct MHD_Connection *conn, const char *url,
                         const char *method, http_req_state *st, enum MHD_Result *ret)
{
    cairn_http_route_match m;
    int err = cairn_http_route_find(srv->routes, srv->n_routes, method, url, &m);
    if (err == CAIRN_EHTTP_METHOD) {
        *ret = queue_error(conn, 405, CAIRN_EHTTP_METHOD, NULL, m.allow);
        return 0;
    }
    if (err) {
        *ret = queue_error(conn, 404, CAIRN_EHTTP_ROUTE, NULL, NULL);
        return 0;
    }
    const cairn_http_route *r = &srv->routes[m.index];
    st->route = r;
    if (m.param) {
        st->param = strndup(m.param, m.param_len);
        if (!st->param) {
            *ret = MHD_NO;
            return 0;
        }
        const char *open = strchr(r->pattern, '{');
        st->param_name = open + 1;
        st->param_name_len = (size_t)(strchr(open, '}') - open - 1);
    }
    return 1;
}

/* Sends a deferred request's answer (the finisher has set it). */
static enum MHD_Result queue_deferred(struct MHD_Connection *conn, http_req_state *st)
{
    enum MHD_Result ret = st->dresp.status ? queue(conn, &st->dresp, NULL)
                                           : queue_error(conn, 500, CAIRN_EINTERNAL,
                                                         "deferred handler gave no response", NULL);
    free(st->dresp.body);
    st->dresp.body = NULL;
    return ret;
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    (void)version;
    cairn_http_server *srv = cls;
    http_req_state *st = *con_cls;

    if (!st) {
        /* First call: headers are in. */
        st = calloc(1, sizeof *st);
        if (!st) return MHD_NO;
        *con_cls = st;
        enum MHD_Result ret = MHD_NO;
        if (!route_request(srv, conn, url, method, st, &ret)) return ret;
        const char *cl =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
            /* MHD has already rejected a malformed Content-Length; a huge one fails here. */
            uint64_t n;
            if (cairn_parse_u64(cl, &n) != 0 || n > srv->max_body) {
                char msg[128];
                snprintf(msg, sizeof msg, "request body exceeds the limit of %zu bytes",
                         srv->max_body);
                return queue_error(conn, 413, CAIRN_EHTTP_BODY_TOO_BIG, msg, NULL);
            }
        }
        return MHD_YES;
    }

    if (*upload_data_size != 0) {
        /* A chunk of body. A response cannot be queued here, so an overflowing (chunked) body
         * closes the connection. */
        size_t n = *upload_data_size;
        if (n > srv->max_body - st->len) return MHD_NO;
        if (st->len + n > st->cap) {
            size_t cap = st->cap ? st->cap : 1024;
            while (cap < st->len + n) cap *= 2;
            if (cap > srv->max_body) cap = srv->max_body;
            uint8_t *b = realloc(st->body, cap);
            if (!b) return MHD_NO;
            st->body = b;
            st->cap = cap;
        }
        memcpy(st->body + st->len, upload_data, n);
        st->len += n;
        *upload_data_size = 0;
        return MHD_YES;
    }

    /* A deferred answer, after MHD_resume_connection. */
    if (st->deferred) return queue_deferred(conn, st);

    /* The whole request is in: call the handler. */
    char param_name[64] = "";
    if (st->param_name) {
        size_t pn =
            st->param_name_len < sizeof param_name - 1 ? st->param_name_len : sizeof param_name - 1;
        memcpy(param_name, st->param_name, pn);
        param_name[pn] = '\0';
    }
    cairn_http_request req = {
        .method = method,
        .path = url,
        .param = st->param,
        .param_name = st->param_name ? param_name : NULL,
        .content_type =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE),
        .body = st->len ? st->body : NULL,
        .body_len = st->len,
        .impl_ = conn,
        .state_ = st,
    };
    st->conn = conn;
    cairn_http_response resp = {0};
    int err = st->route->handler(srv->app, &req, &resp);
    if (st->deferred && !resp.status) {
        /* The finisher may already have answered (another thread was quick): then answer now;
         * otherwise suspend, and the finisher resumes the connection. */
        pthread_mutex_lock(&st->mu);
        int finished = st->finished;
        if (!finished) {
            MHD_suspend_connection(conn);
            st->suspended = 1;
        }
        pthread_mutex_unlock(&st->mu);
        return finished ? queue_deferred(conn, st) : MHD_YES;
    }
    enum MHD_Result ret;
    if (resp.status)
        ret = queue(conn, &resp, NULL);
    else
        ret = queue_error(conn, 500, err ? err : CAIRN_EINTERNAL,
                          err ? NULL : "handler produced no response", NULL);
    free(resp.body);
    return ret;
}

cairn_http_deferred *cairn_http_defer(const cairn_http_request *req)
{
    http_req_state *st = req->state_;
    if (!st || st->deferred || pthread_mutex_init(&st->mu, NULL) != 0) return NULL;
    st->deferred = 1;
    return (cairn_http_deferred *)st;
}

cairn_http_response *cairn_http_deferred_response(cairn_http_deferred *d)
{
    return &((http_req_state *)d)->dresp;
}

void cairn_http_deferred_finish(cairn_http_deferred *d)
{
    http_req_state *st = (http_req_state *)d;
    pthread_mutex_lock(&st->mu);
    st->finished = 1;
    int suspended = st->suspended;
    struct MHD_Connection *conn = st->conn;
    pthread_mutex_unlock(&st->mu);
    /* After the resume, st may be freed at any time: do not touch it. */
    if (suspended) MHD_resume_connection(conn);
}

static void completed_cb(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    http_req_state *st = *con_cls;
    if (!st) return;
    if (st->deferred) pthread_mutex_destroy(&st->mu);
    free(st->dresp.body);
    free(st->param);
    free(st->body);
    free(st);
    *con_cls = NULL;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

size_t cairn_http_unescape(char *s)
{
    char *w = s;
    for (const char *r = s; *r;) {
        int hi, lo;
        if (r[0] == '%' && (hi = hexval(r[1])) >= 0 && (lo = hexval(r[2])) >= 0 && (hi | lo)) {
            *w++ = (char)(hi * 16 + lo);
            r += 3;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
    return (size_t)(w - s);
}

/* MHD's unescaper for the path and query keys and values. */
static size_t unescape_cb(void *cls, struct MHD_Connection *conn, char *s)
{
    (void)cls;
    (void)conn;
    return cairn_http_unescape(s);
}

/* MHD's own diagnostics (malformed requests, resource limits): to the app's sink, if any. */
static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    cairn_http_server *srv = cls;
    if (!srv->log) return;
    char msg[256];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) msg[--n] = '\0';
    srv->log(srv->log_ctx, msg);
}

int cairn_http_start(cairn_http_server **out, const cairn_http_config *cfg,
                     const cairn_http_route *routes, size_t n_routes, void *app)
{
    *out = NULL;
    if (!cfg || !route_table_valid(routes, n_routes)) return CAIRN_EINVAL;
    size_t max_body = cfg->max_body_bytes ? cfg->max_body_bytes : CAIRN_HTTP_DEFAULT_MAX_BODY_BYTES;
    unsigned max_conn =
        cfg->max_connections ? cfg->max_connections : CAIRN_HTTP_DEFAULT_MAX_CONNECTIONS;
    unsigned timeout = cfg->timeout_s ? cfg->timeout_s : CAIRN_HTTP_DEFAULT_TIMEOUT_S;
    unsigned threads = cfg->threads ? cfg->threads : CAIRN_HTTP_DEFAULT_THREADS;
    /* MHD splits the connection limit between the pool threads: each needs at least one. */
    if (max_body > CAIRN_HTTP_MAX_BODY_LIMIT || threads > 64 || max_conn > 100000 ||
        max_conn < threads || cfg->max_connections_per_ip > 100000)
        return CAIRN_EINVAL;

    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(cfg->port);
    if (inet_pton(AF_INET, cfg->bind_addr ? cfg->bind_addr : "127.0.0.1", &sa.sin_addr) != 1)
        return CAIRN_EINVAL;

    cairn_http_server *srv = calloc(1, sizeof *srv);
    if (!srv) return CAIRN_ENOMEM;
    srv->routes = routes;
    srv->n_routes = n_routes;
    srv->app = app;
    srv->max_body = max_body;
    srv->log = cfg->log;
    srv->log_ctx = cfg->log_ctx;

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG |
                     MHD_ALLOW_SUSPEND_RESUME;
    struct MHD_OptionItem opts[] = {
        /* First, so that every later option's diagnostics go to it too. */
        {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, srv},
        {MHD_OPTION_SOCK_ADDR, 0, &sa},
        {MHD_OPTION_CONNECTION_LIMIT, (intptr_t)max_conn, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)timeout, NULL},
        {MHD_OPTION_PER_IP_CONNECTION_LIMIT, (intptr_t)cfg->max_connections_per_ip, NULL},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)CAIRN_HTTP_CONN_MEMORY, NULL},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)completed_cb, srv},
        {MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)unescape_cb, NULL},
        {threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, (intptr_t)threads, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    srv->mhd = MHD_start_daemon(flags, 0, NULL, NULL, access_cb, srv, MHD_OPTION_ARRAY, opts,
                                MHD_OPTION_END);
    if (!srv->mhd) {
        free(srv);
        return CAIRN_EIO;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info ? info->port : cfg->port;
    *out = srv;
    return 0;
}

uint16_t cairn_http_port(const cairn_http_server *srv)
{
    return srv->port;
}

void cairn_http_stop(cairn_http_server *srv)
{
    if (!srv) return;
    MHD_stop_daemon(srv->mhd);
    free(srv);
}
