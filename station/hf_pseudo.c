/*
 * hf_pseudo — key file checks, HMAC-SHA256 (OpenSSL libcrypto) and the
 * normalization of raw ID numbers before they are hashed.
 */
#include "hf_pseudo.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "hf_mem.h"

struct hf_pseudo_s {
    unsigned char *key; /* owned, cleansed on destroy */
    size_t key_len;
};

static hf_pseudo_t *hf__fail(hf_err_t *err_out, hf_err_t e)
{
    if (err_out)
        *err_out = e;
    return NULL;
}

hf_pseudo_t *hf_pseudo_load(const char *path, hf_err_t *err_out, char *errstr, size_t errstr_size)
{
    if (!path || !*path)
        return hf__fail(err_out, hf_err_set(HF_ERR_CONFIG, errstr, errstr_size,
                                            "no HMAC key file: set publish.key_file or pass "
                                            "--key-file"));
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        return hf__fail(err_out, hf_err_set(e == ENOENT ? HF_ERR_NOT_FOUND
                                            : e == ELOOP ? HF_ERR_PERMISSION : HF_ERR_IO,
                                            errstr, errstr_size, "key file %s: %s%s", path,
                                            strerror(e),
                                            e == ELOOP ? " (a symbolic link is not accepted)"
                                                       : ""));
    }
    struct stat st;
    hf_err_t err = HF_OK;
    unsigned char buf[HF_PSEUDO_KEY_MAX + 3];
    size_t len = 0;
    if (fstat(fd, &st) != 0) {
        err = hf_err_set(HF_ERR_IO, errstr, errstr_size, "key file %s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        err = hf_err_set(HF_ERR_PERMISSION, errstr, errstr_size,
                         "key file %s: not a regular file", path);
        goto out;
    }
    unsigned mode = (unsigned)(st.st_mode & 07777);
    if (st.st_uid != geteuid() || (mode != 0600 && mode != 0400)) {
        err = hf_err_set(HF_ERR_PERMISSION, errstr, errstr_size,
                         "key file %s has mode %04o and owner uid %u; it must be mode 0600 (or "
                         "0400) and owned by uid %u: refusing to use it (chmod 600 %s)",
                         path, mode, (unsigned)st.st_uid, (unsigned)geteuid(), path);
        goto out;
    }
    for (;;) {
        ssize_t r = read(fd, buf + len, sizeof(buf) - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            err = hf_err_set(HF_ERR_IO, errstr, errstr_size, "key file %s: %s", path,
                             strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        len += (size_t)r;
        if (len == sizeof(buf))
            break;
    }
    if (len && buf[len - 1] == '\n') {
        len--;
        if (len && buf[len - 1] == '\r')
            len--;
    }
    if (len < HF_PSEUDO_KEY_MIN || len > HF_PSEUDO_KEY_MAX) {
        err = hf_err_set(HF_ERR_CONFIG, errstr, errstr_size,
                         "key file %s: the key must be %d to %d bytes, the file holds %s%zu",
                         path, HF_PSEUDO_KEY_MIN, HF_PSEUDO_KEY_MAX,
                         len > HF_PSEUDO_KEY_MAX ? "more than " : "", len > HF_PSEUDO_KEY_MAX ? (size_t)HF_PSEUDO_KEY_MAX : len);
        goto out;
    }
out:
    close(fd);
    if (err) {
        OPENSSL_cleanse(buf, sizeof(buf));
        return hf__fail(err_out, err);
    }
    hf_pseudo_t *p = hf_calloc(1, sizeof(*p));
    p->key = hf_malloc(len);
    memcpy(p->key, buf, len);
    p->key_len = len;
    OPENSSL_cleanse(buf, sizeof(buf));
    if (err_out)
        *err_out = HF_OK;
    return p;
}

void hf_pseudo_destroy(hf_pseudo_t *p)
{
    if (!p)
        return;
    OPENSSL_cleanse(p->key, p->key_len);
    hf_free(p->key);
    hf_free(p);
}

void hf_pseudo_hmac_hex(const hf_pseudo_t *p, const void *data, size_t len, char out[65])
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    static const char hex[] = "0123456789abcdef";
    if (!HMAC(EVP_sha256(), p->key, (int)p->key_len, data, len, mac, &n) || n != 32)
        abort(); /* libcrypto failing on SHA-256 is not recoverable */
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = hex[mac[i] >> 4];
        out[2 * i + 1] = hex[mac[i] & 15];
    }
    out[64] = '\0';
    OPENSSL_cleanse(mac, sizeof(mac));
}

static bool hf__space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

static int32_t hf__days(int y, int m, int d)
{
    char s[32];
    snprintf(s, sizeof(s), "%04d-%02d-%02d", y % 10000, m % 100, d % 100);
    int32_t days = 0;
    (void)hf_cal_date_parse(s, 10, &days);
    return days;
}

hf_err_t hf_pseudo_id(const hf_pseudo_t *p, const char *raw, size_t len, hf_pseudo_id_t *out)
{
    memset(out, 0, sizeof(*out));
    while (len && hf__space(raw[0])) {
        raw++;
        len--;
    }
    while (len && hf__space(raw[len - 1]))
        len--;
    if (len == 0 || len > 64)
        return HF_ERR_INVALID;
    char norm[65];
    size_t nlen;
    bool valid = false;
    out->format = hf_validate_resident_id(raw, len, &valid);
    out->checksum_valid = valid;
    if (out->format != HF_ID_OTHER && valid && hf_validate_resident_id_canonical(raw, len, norm)) {
        nlen = 18;
        int y = (norm[6] - '0') * 1000 + (norm[7] - '0') * 100 + (norm[8] - '0') * 10 + (norm[9] - '0');
        int m = (norm[10] - '0') * 10 + (norm[11] - '0');
        int d = (norm[12] - '0') * 10 + (norm[13] - '0');
        out->has_birth = true;
        out->birth_days = hf__days(y, m, d);
        out->male = ((norm[16] - '0') & 1) != 0;
    } else {
        for (nlen = 0; nlen < len; nlen++) {
            char c = raw[nlen];
            norm[nlen] = (c >= 'a' && c <= 'z') ? (char)(c - 32) : c;
        }
    }
    hf_pseudo_hmac_hex(p, norm, nlen, out->pid);
    OPENSSL_cleanse(norm, sizeof(norm));
    return HF_OK;
}
