/*
 * hf_consumer_stats — is a broker connection up, read from librdkafka's
 * statistics JSON without building it as a tree.
 *
 * The statistics arrive once a second and grow with the partition count
 * (about 2 KB of JSON per partition under "topics"); parsing them whole
 * with jansson allocated a tree of several MiB every second at 240
 * partitions. Only the "brokers" object is needed, and librdkafka writes it
 * before "topics", so this scanner walks the top-level members, reads each
 * broker's "nodeid" and "state", and stops there. The text is librdkafka's,
 * but it is still read with every bound checked: a malformed document is
 * reported as such, never read past its length.
 */
#include "hf_consumer.h"

#include <stdlib.h>
#include <string.h>

typedef struct hf__js_s {
    const char *p, *end;
} hf__js_t;

static void hf__js_ws(hf__js_t *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

/* At '"': the string's raw bytes (escapes left as they are) in *b, *n. */
static bool hf__js_str(hf__js_t *s, const char **b, size_t *n)
{
    if (s->p >= s->end || *s->p != '"')
        return false;
    const char *q = ++s->p;
    while (s->p < s->end && *s->p != '"') {
        if (*s->p == '\\' && ++s->p == s->end)
            return false;
        s->p++;
    }
    if (s->p >= s->end)
        return false;
    *b = q;
    *n = (size_t)(s->p - q);
    s->p++;
    return true;
}

/* Skips one value of any kind; containers without recursion (depth is a
 * counter, so a deeply nested document cannot exhaust the stack). */
static bool hf__js_skip(hf__js_t *s)
{
    hf__js_ws(s);
    if (s->p >= s->end)
        return false;
    const char *b;
    size_t n;
    if (*s->p == '"')
        return hf__js_str(s, &b, &n);
    if (*s->p == '{' || *s->p == '[') {
        size_t depth = 0;
        while (s->p < s->end) {
            char ch = *s->p;
            if (ch == '"') {
                if (!hf__js_str(s, &b, &n))
                    return false;
                continue;
            }
            s->p++;
            if (ch == '{' || ch == '[')
                depth++;
            else if ((ch == '}' || ch == ']') && --depth == 0)
                return true;
        }
        return false;
    }
    const char *q = s->p;
    while (s->p < s->end && !strchr(",}] \t\n\r", *s->p))
        s->p++;
    return s->p > q;
}

/* Member iteration of the object whose '{' was consumed: 1 with the next
 * key in *k, *kn and its ':' consumed; 0 at the closing '}'; -1 malformed. */
static int hf__js_member(hf__js_t *s, bool *first, const char **k, size_t *kn)
{
    hf__js_ws(s);
    if (s->p >= s->end)
        return -1;
    if (*s->p == '}') {
        s->p++;
        return 0;
    }
    if (!*first) {
        if (*s->p != ',')
            return -1;
        s->p++;
        hf__js_ws(s);
    }
    *first = false;
    if (!hf__js_str(s, k, kn))
        return -1;
    hf__js_ws(s);
    if (s->p >= s->end || *s->p != ':')
        return -1;
    s->p++;
    hf__js_ws(s);
    return 1;
}

static bool hf__js_open(hf__js_t *s)
{
    hf__js_ws(s);
    if (s->p >= s->end || *s->p != '{')
        return false;
    s->p++;
    return true;
}

static bool hf__js_is(const char *k, size_t kn, const char *want)
{
    return kn == strlen(want) && memcmp(k, want, kn) == 0;
}

/* An integer value (at most 20 characters); false when it is not one. */
static bool hf__js_int(hf__js_t *s, long long *v)
{
    char buf[24];
    size_t n = 0;
    while (s->p < s->end && (*s->p == '-' || (*s->p >= '0' && *s->p <= '9'))) {
        if (n == sizeof(buf) - 1)
            return false;
        buf[n++] = *s->p++;
    }
    if (n == 0 || (n == 1 && buf[0] == '-'))
        return false;
    buf[n] = '\0';
    char *e;
    *v = strtoll(buf, &e, 10);
    return *e == '\0';
}

/* One broker object (its '{' not yet consumed): up when its nodeid is >= 0
 * (not the bootstrap placeholder, -1) and its state is "UP". */
static bool hf__js_broker(hf__js_t *s, bool *up)
{
    if (!hf__js_open(s))
        return false;
    bool first = true, have_id = false, is_up = false;
    long long id = -1;
    const char *k;
    size_t kn;
    int r;
    while ((r = hf__js_member(s, &first, &k, &kn)) == 1) {
        if (hf__js_is(k, kn, "nodeid")) {
            if (!hf__js_int(s, &id))
                return false;
            have_id = true;
        } else if (hf__js_is(k, kn, "state") && s->p < s->end && *s->p == '"') {
            const char *v;
            size_t vn;
            if (!hf__js_str(s, &v, &vn))
                return false;
            is_up = hf__js_is(v, vn, "UP");
        } else if (!hf__js_skip(s)) {
            return false;
        }
    }
    if (r < 0)
        return false;
    if (have_id && id >= 0 && is_up)
        *up = true;
    return true;
}

bool hf_consumer_stats_broker_up(const char *json, size_t len, bool *up)
{
    hf__js_t s = {json, json + len};
    *up = false;
    if (!json || !hf__js_open(&s))
        return false;
    bool first = true;
    const char *k;
    size_t kn;
    int r;
    while ((r = hf__js_member(&s, &first, &k, &kn)) == 1) {
        if (!hf__js_is(k, kn, "brokers")) {
            if (!hf__js_skip(&s))
                return false;
            continue;
        }
        /* the brokers: read them, and stop (the rest is per-topic) */
        if (!hf__js_open(&s))
            return false;
        bool bfirst = true;
        int br;
        while ((br = hf__js_member(&s, &bfirst, &k, &kn)) == 1)
            if (!hf__js_broker(&s, up))
                break;
        if (br != 0) {
            *up = false;
            return false;
        }
        return true;
    }
    return r == 0;
}
