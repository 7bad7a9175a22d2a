/*
 * hf_it — helpers shared by the integration tests: the service addresses
 * that deploy/test.sh exports, and a loud failure when they are missing.
 */
#ifndef HF_IT_H
#define HF_IT_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

/* The value of an environment variable a test cannot run without. A missing
 * service is a failure, never a skip. */
static inline const char *hf_it_env(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v)
        cr_assert_fail("%s is not set: integration tests need the real services started by "
                 "deploy/test.sh (or deploy/pg.sh + deploy/kafka.sh)", name);
    return v;
}

/* Record a secret the test made (a key, a password) in
 * $HF_TEST_WORK/secrets/registry, where deploy/test.sh's final check
 * (tests/integration/secrets_check.py) looks for it in every log of the
 * suite. Does nothing when HF_TEST_WORK is unset (a test run by hand). */
static inline void hf_it_register_secret(const char *name, const char *value)
{
    const char *work = getenv("HF_TEST_WORK");
    if (!work || !*work)
        return;
    char path[4096];
    snprintf(path, sizeof(path), "%s/secrets", work);
    (void)mkdir(path, 0700);
    snprintf(path, sizeof(path), "%s/secrets/registry", work);
    mode_t old = umask(077);
    FILE *f = fopen(path, "a");
    umask(old);
    cr_assert_not_null(f, "cannot append to %s", path);
    fprintf(f, "%s\t%s\n", name, value);
    fclose(f);
}

#endif /* HF_IT_H */
