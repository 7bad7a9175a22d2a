/*
 * hf_it — helpers shared by the integration tests: the service addresses
 * that deploy/test.sh exports, and a loud failure when they are missing.
 */
#ifndef HF_IT_H
#define HF_IT_H

#include <criterion/criterion.h>
#include <stdlib.h>

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

#endif /* HF_IT_H */
