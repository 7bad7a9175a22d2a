/*
 * hf_http — the endpoint behind hf_http.h on libmicrohttpd: one internal
 * polling thread, every request answered on its first callback (bodies are
 * never read), limits from the configuration.
 */
#include "hf_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "hf_log.h"
#include "hf_mem.h"

struct hf_http_s {
    struct MHD_Daemon *d;
    hf_http_route_t routes[HF_HTTP_MAX_ROUTES];
    size_t nroutes;
    int port;
    hf_metric_t *requests; /* may be NULL */
    hf_metric_t *refused;  /* may be NULL */
    size_t max_connections;
    size_t open;           /* connections open now (the server thread only) */
};

/* ==== helpers ==== */

/* A request path fit for a log line: at most 80 bytes, printable ASCII
 * other than quote and backslash, '?' for the rest. */
static void hf__clean_path(char *out, size_t size, const char *path)
{
    size_t i = 0;
    for (; path && path[i] && i + 1 < size && i < 80; i++) {
        unsigned char ch = (unsigned char)path[i];
        out[i] = ch > 0x20 && ch < 0x7f && ch != '"' && ch != '\\' ? (char)ch : '?';
    }
    out[i] = '\0';
}

static enum MHD_Result hf__send(struct MHD_Connection *conn, int status, const char *ctype,
                                const void *body, size_t len, bool allow)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (strncmp(ctype, "text/html", 9) == 0) {
        /* The status page is one self-contained document: its own inline
         * script and style, data from this origin only. */
        MHD_add_response_header(r, "Content-Security-Policy",
                                "default-src 'none'; script-src 'unsafe-inline'; "
                                "style-src 'unsafe-inline'; connect-src 'self'; img-src data:; "
                                "base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
    }
    if (allow)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

static void hf__count(hf_http_t *h, const char *handler, int status)
{
    if (!h->requests)
        return;
    char code[8];
    snprintf(code, sizeof(code), "%d", status);
    hf_metric_add(h->requests, HF_LV(handler, code), 1);
}

/* ==== the request callback ==== */

static enum MHD_Result hf__on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *upload_data_size,
                                      void **req_cls)
{
    (void)version;
    (void)upload_data;
    hf_http_t *h = cls;
    /* A second call for the same request only happens while a body is
     * being received: the answer is already queued, drop the data. */
    if (*req_cls) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    *req_cls = h;
    char path[96];
    hf__clean_path(path, sizeof(path), url);
    bool get = strcmp(method, MHD_HTTP_METHOD_GET) == 0;
    bool head = strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    if (!get && !head) {
        char m[24];
        hf__clean_path(m, sizeof(m), method);
        hf_log_debug("http.request", "method=\"%s\" path=\"%s\" status=405", m, path);
        hf__count(h, "other", 405);
        static const char msg[] = "method not allowed: GET and HEAD only\n";
        return hf__send(conn, 405, "text/plain; charset=utf-8", msg, sizeof(msg) - 1, true);
    }
    const hf_http_route_t *route = NULL;
    for (size_t i = 0; i < h->nroutes && !route; i++)
        if (url && strcmp(url, h->routes[i].path) == 0)
            route = &h->routes[i];
    if (!route) {
        hf_log_debug("http.request", "method=%s path=\"%s\" status=404", method, path);
        hf__count(h, "other", 404);
        static const char msg[] = "not found\n";
        return hf__send(conn, 404, "text/plain; charset=utf-8", msg, sizeof(msg) - 1, false);
    }
    hf_http_resp_t resp = {.status = 200, .content_type = "text/plain; charset=utf-8"};
    route->fn(route->opaque, &resp);
    hf_log_debug("http.request", "method=%s path=\"%s\" status=%d bytes=%zu", method, path,
                 resp.status, resp.body.len);
    hf__count(h, route->path, resp.status);
    enum MHD_Result ret = hf__send(conn, resp.status, resp.content_type,
                                   resp.body.data ? (const void *)resp.body.data : "",
                                   resp.body.len, false);
    hf_buf_free(&resp.body);
    return ret;
}

/* Connections beyond max_connections are closed as soon as they are
 * accepted (libmicrohttpd's own limit, set higher as a backstop, would
 * leave them waiting in the listen queue instead). */
static enum MHD_Result hf__accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    (void)addr;
    (void)addrlen;
    hf_http_t *h = cls;
    if (h->open < h->max_connections)
        return MHD_YES;
    if (h->refused)
        hf_metric_add(h->refused, NULL, 1);
    hf_log_debug("http.refused", "open=%zu max_connections=%zu", h->open, h->max_connections);
    return MHD_NO;
}

static void hf__notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                       enum MHD_ConnectionNotificationCode toe)
{
    (void)conn;
    (void)socket_context;
    hf_http_t *h = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED)
        h->open++;
    else if (toe == MHD_CONNECTION_NOTIFY_CLOSED && h->open)
        h->open--;
}

/* Paths are matched as sent: no %-decoding (no route needs it, and a
 * decoded %00 would cut the path short: /metrics%00.html is not /metrics). */
static size_t hf__no_unescape(void *cls, struct MHD_Connection *conn, char *s)
{
    (void)cls;
    (void)conn;
    return strlen(s);
}

static void hf__mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[256];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    for (char *p = msg; *p; p++)
        if (*p == '"')
            *p = '\'';
    hf_log_debug("http.server", "msg=\"%s\"", msg);
}

/* ==== lifecycle ==== */

hf_http_t *hf_http_start(const hf_http_conf_t *conf, char *errstr, size_t errstr_size)
{
    if (conf->nroutes > HF_HTTP_MAX_ROUTES) {
        hf_err_set(HF_ERR_INVALID, errstr, errstr_size, "http: too many routes");
        return NULL;
    }
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    if (conf->port < 0 || conf->port > 65535) {
        hf_err_set(HF_ERR_CONFIG, errstr, errstr_size, "http: bad port %d", conf->port);
        return NULL;
    }
    if (inet_pton(AF_INET, conf->address, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)conf->port);
    } else if (inet_pton(AF_INET6, conf->address, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)conf->port);
        flags |= MHD_USE_IPv6;
    } else {
        hf_err_set(HF_ERR_CONFIG, errstr, errstr_size,
                   "http.address '%s' is not a numeric IPv4 or IPv6 address", conf->address);
        return NULL;
    }
    hf_http_t *h = hf_calloc(1, sizeof(*h));
    memcpy(h->routes, conf->routes, conf->nroutes * sizeof(*conf->routes));
    h->nroutes = conf->nroutes;
    h->max_connections = conf->max_connections;
    if (conf->metrics)
        h->refused = hf_metrics_counter(conf->metrics, "hemoflow_http_connections_refused_total",
                                        "Connections closed on accept: http.max_connections "
                                        "were open.", NULL);
    if (conf->metrics)
        h->requests = hf_metrics_counter(conf->metrics, "hemoflow_http_requests_total",
                                         "HTTP requests answered by the operations endpoint, by "
                                         "route (other: unknown path or method) and status code.",
                                         "handler,code");
    /* The server thread inherits this mask: no signal is delivered there. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    h->d = MHD_start_daemon(
        flags, (uint16_t)conf->port, hf__accept, h, hf__on_request, h, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT, (unsigned)conf->max_connections + 8,
        MHD_OPTION_NOTIFY_CONNECTION, hf__notify, h,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, conf->max_request_bytes,
        MHD_OPTION_CONNECTION_TIMEOUT, conf->timeout_s, MHD_OPTION_EXTERNAL_LOGGER, hf__mhd_log,
        NULL, MHD_OPTION_UNESCAPE_CALLBACK, hf__no_unescape, NULL, MHD_OPTION_END);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!h->d) {
        hf_err_set(HF_ERR_IO, errstr, errstr_size,
                   "http: cannot listen on %s port %d (address in use or not local?)",
                   conf->address, conf->port);
        hf_free(h);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? (int)info->port : conf->port;
    hf_log_info("http.listening", "address=%s port=%d max_connections=%zu max_request_bytes=%zu",
                conf->address, h->port, conf->max_connections, conf->max_request_bytes);
    return h;
}

int hf_http_port(const hf_http_t *h)
{
    return h->port;
}

void hf_http_stop(hf_http_t *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->d);
    hf_free(h);
}
