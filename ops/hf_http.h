/*
 * hf_http — the operations HTTP endpoint: a small GET/HEAD-only server on
 * libmicrohttpd with a fixed table of routes (/metrics, /healthz, /readyz,
 * the status page), served by one internal thread of its own.
 *
 * Hardening: only GET and HEAD (405 with `Allow: GET, HEAD` otherwise);
 * request line and headers must fit in max_request_bytes (libmicrohttpd
 * answers 431/414 otherwise); request bodies are never read (the answer is
 * given at once and the connection closed); at most max_connections at a
 * time (further ones are closed on accept); idle connections are closed
 * after timeout_s; unknown paths 404. Every answer carries
 * `Cache-Control: no-store` and `X-Content-Type-Options: nosniff`.
 *
 * Threads: handlers run in the server's thread, one at a time; they must
 * only read state that other threads publish under a lock (the metrics
 * registry, a snapshot). The server thread starts with every signal
 * blocked, so signals stay with the caller's threads.
 */
#ifndef HF_HTTP_H
#define HF_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "hf_buf.h"
#include "hf_err.h"
#include "hf_metrics.h"

typedef struct hf_http_s hf_http_t;

/* What a handler answers: status (preset 200), content type (preset
 * "text/plain; charset=utf-8"), body (empty). A HEAD request gets the same
 * status and headers without the body. */
typedef struct hf_http_resp_s {
    int status;
    const char *content_type; /* a static string */
    hf_buf_t body;
} hf_http_resp_t;

typedef void (*hf_http_handler_fn)(void *opaque, hf_http_resp_t *resp);

typedef struct hf_http_route_s {
    const char *path;         /* exact match, e.g. "/metrics" (query strings ignored) */
    hf_http_handler_fn fn;
    void *opaque;
} hf_http_route_t;

#define HF_HTTP_MAX_ROUTES 16

typedef struct hf_http_conf_s {
    const char *address;      /* numeric IPv4 or IPv6 address to listen on */
    int port;                 /* 0: a free port (hf_http_port tells which) */
    size_t max_connections;   /* at a time */
    size_t max_request_bytes; /* request line + headers of one request */
    unsigned timeout_s;       /* idle connection timeout */
    const hf_http_route_t *routes;
    size_t nroutes;           /* <= HF_HTTP_MAX_ROUTES; copied */
    hf_metrics_t *metrics;    /* optional: counts hemoflow_http_requests_total{handler,code} */
} hf_http_conf_t;

/* Listen and start serving. NULL with errstr when the address is bad or the
 * port taken. Logs http.listening with the bound address and port. */
hf_http_t *hf_http_start(const hf_http_conf_t *conf, char *errstr, size_t errstr_size);

/* The port actually bound. */
int hf_http_port(const hf_http_t *h);

/* Stop serving (open connections are closed) and free. NULL is a no-op. */
void hf_http_stop(hf_http_t *h);

#endif /* HF_HTTP_H */
