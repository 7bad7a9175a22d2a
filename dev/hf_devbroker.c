/*
 * hf_devbroker — an embedded Kafka-protocol broker for local runs, built on
 * librdkafka's mock cluster (rdkafka_mock.h).
 *
 * The mock cluster listens on an ephemeral 127.0.0.1 port. When the caller
 * asks for a fixed port, a small TCP relay thread listens there and forwards
 * every connection to the mock broker: clients bootstrap through the fixed
 * port and then follow the metadata to the mock broker's own address, which
 * is also on 127.0.0.1.
 */
#include "hf_devbroker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "hf_log.h"
#include "hf_mem.h"

#define HF__RELAY_MAX 64 /* concurrent relayed connections */

struct hf_devbroker_s {
    rd_kafka_t *rk;                 /* owner of the mock cluster */
    rd_kafka_mock_cluster_t *mcluster; /* owned by rk */
    char *bootstrap;                /* what clients should use; owned */
    int listen_fd;                  /* relay listener, -1 when no relay */
    int wake[2];                    /* pipe that stops the relay thread */
    struct sockaddr_in target;      /* mock broker address */
    pthread_t relay;
    int relay_started;
};

/* ==== relay ==== */

typedef struct hf__pair_s {
    int a, b; /* client side, broker side; -1 when unused */
} hf__pair_t;

static int hf__pump(int from, int to)
{
    char buf[65536];
    ssize_t n = read(from, buf, sizeof(buf));
    if (n <= 0)
        return -1;
    for (ssize_t off = 0; off < n;) {
        ssize_t w = write(to, buf + off, (size_t)(n - off));
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        off += w;
    }
    return 0;
}

static void *hf__relay_main(void *arg)
{
    hf_devbroker_t *db = arg;
    hf__pair_t pairs[HF__RELAY_MAX];
    for (int i = 0; i < HF__RELAY_MAX; i++)
        pairs[i].a = pairs[i].b = -1;

    for (;;) {
        struct pollfd pfd[2 + 2 * HF__RELAY_MAX];
        int map[2 + 2 * HF__RELAY_MAX];
        nfds_t n = 0;
        pfd[n] = (struct pollfd){.fd = db->wake[0], .events = POLLIN};
        map[n++] = -1;
        pfd[n] = (struct pollfd){.fd = db->listen_fd, .events = POLLIN};
        map[n++] = -2;
        for (int i = 0; i < HF__RELAY_MAX; i++) {
            if (pairs[i].a < 0)
                continue;
            pfd[n] = (struct pollfd){.fd = pairs[i].a, .events = POLLIN};
            map[n++] = i * 2;
            pfd[n] = (struct pollfd){.fd = pairs[i].b, .events = POLLIN};
            map[n++] = i * 2 + 1;
        }
        if (poll(pfd, n, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (pfd[0].revents)
            break;
        if (pfd[1].revents & POLLIN) {
            int cfd = accept(db->listen_fd, NULL, NULL);
            int slot = -1;
            for (int i = 0; i < HF__RELAY_MAX && slot < 0; i++)
                if (pairs[i].a < 0)
                    slot = i;
            int bfd = cfd >= 0 && slot >= 0 ? socket(AF_INET, SOCK_STREAM, 0) : -1;
            if (bfd >= 0 && connect(bfd, (struct sockaddr *)&db->target, sizeof(db->target)) == 0) {
                pairs[slot].a = cfd;
                pairs[slot].b = bfd;
            } else {
                hf_log_warn("devbroker.relay", "msg=\"dropping connection\" reason=%s",
                            slot < 0 ? "too many connections" : strerror(errno));
                if (cfd >= 0)
                    close(cfd);
                if (bfd >= 0)
                    close(bfd);
            }
        }
        for (nfds_t i = 2; i < n; i++) {
            if (!pfd[i].revents)
                continue;
            hf__pair_t *p = &pairs[map[i] / 2];
            if (p->a < 0)
                continue; /* closed earlier in this round */
            int from = map[i] % 2 ? p->b : p->a;
            int to = map[i] % 2 ? p->a : p->b;
            if (hf__pump(from, to) < 0) {
                close(p->a);
                close(p->b);
                p->a = p->b = -1;
            }
        }
    }
    for (int i = 0; i < HF__RELAY_MAX; i++) {
        if (pairs[i].a >= 0) {
            close(pairs[i].a);
            close(pairs[i].b);
        }
    }
    return NULL;
}

static int hf__relay_start(hf_devbroker_t *db, int port, char *errstr, size_t errstr_size)
{
    /* The mock's bootstraps look like "127.0.0.1:40513" (first broker). */
    const char *bs = rd_kafka_mock_cluster_bootstraps(db->mcluster);
    const char *colon = strrchr(bs, ':');
    if (!colon) {
        snprintf(errstr, errstr_size, "unexpected mock bootstrap address '%s'", bs);
        return -1;
    }
    memset(&db->target, 0, sizeof(db->target));
    db->target.sin_family = AF_INET;
    db->target.sin_port = htons((uint16_t)atoi(colon + 1));
    db->target.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    db->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(db->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(db->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(db->listen_fd, 64) < 0) {
        snprintf(errstr, errstr_size, "cannot listen on 127.0.0.1:%d: %s", port, strerror(errno));
        return -1;
    }
    if (pipe(db->wake) < 0) {
        snprintf(errstr, errstr_size, "pipe: %s", strerror(errno));
        return -1;
    }
    if (pthread_create(&db->relay, NULL, hf__relay_main, db) != 0) {
        snprintf(errstr, errstr_size, "cannot start relay thread");
        return -1;
    }
    db->relay_started = 1;
    return 0;
}

/* ==== public ==== */

hf_devbroker_t *hf_devbroker_new(int port, int partitions, const char *const *topics,
                                 size_t ntopics, char *errstr, size_t errstr_size)
{
    hf_devbroker_t *db = hf_calloc(1, sizeof(*db));
    db->listen_fd = -1;
    db->wake[0] = db->wake[1] = -1;

    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, hf_log_rdkafka_cb);
    char kerr[256];
    /* Let librdkafka create the cluster itself: the owning handle then has
     * a bootstrap list (the mock) and logs no configuration warning. */
    if (rd_kafka_conf_set(conf, "test.mock.num.brokers", "1", kerr, sizeof(kerr)) !=
        RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        snprintf(errstr, errstr_size, "mock cluster unsupported: %s", kerr);
        hf_devbroker_destroy(db);
        return NULL;
    }
    db->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, kerr, sizeof(kerr));
    if (!db->rk) {
        rd_kafka_conf_destroy(conf);
        snprintf(errstr, errstr_size, "rd_kafka_new: %s", kerr);
        hf_devbroker_destroy(db);
        return NULL;
    }
    db->mcluster = rd_kafka_handle_mock_cluster(db->rk);
    if (!db->mcluster) {
        snprintf(errstr, errstr_size, "cannot create the mock cluster");
        hf_devbroker_destroy(db);
        return NULL;
    }
    for (size_t i = 0; i < ntopics; i++) {
        rd_kafka_resp_err_t e =
            rd_kafka_mock_topic_create(db->mcluster, topics[i], partitions, 1);
        if (e) {
            snprintf(errstr, errstr_size, "create topic %s: %s", topics[i], rd_kafka_err2str(e));
            hf_devbroker_destroy(db);
            return NULL;
        }
    }
    if (port > 0) {
        if (hf__relay_start(db, port, errstr, errstr_size) < 0) {
            hf_devbroker_destroy(db);
            return NULL;
        }
        db->bootstrap = hf_asprintf("127.0.0.1:%d", port);
    } else {
        db->bootstrap = hf_strdup(rd_kafka_mock_cluster_bootstraps(db->mcluster));
    }
    return db;
}

const char *hf_devbroker_bootstrap(const hf_devbroker_t *db)
{
    return db->bootstrap;
}

void hf_devbroker_destroy(hf_devbroker_t *db)
{
    if (!db)
        return;
    if (db->relay_started) {
        ssize_t w = write(db->wake[1], "x", 1);
        (void)w;
        pthread_join(db->relay, NULL);
    }
    if (db->listen_fd >= 0)
        close(db->listen_fd);
    if (db->wake[0] >= 0) {
        close(db->wake[0]);
        close(db->wake[1]);
    }
    /* The cluster belongs to db->rk and goes with it. */
    if (db->rk)
        rd_kafka_destroy(db->rk);
    hf_free(db->bootstrap);
    hf_free(db);
}
