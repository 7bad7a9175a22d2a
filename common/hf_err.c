/*
 * hf_err — names, descriptions and retriable/permanent classification of
 * hemoflow's error codes.
 */
#include "hf_err.h"

#include <stdarg.h>
#include <stdio.h>

static const struct {
    const char *name;
    const char *desc;
} hf__errs[HF_ERR__COUNT] = {
    [HF_OK] = {"HF_OK", "success"},
    [HF_ERR_USAGE] = {"HF_ERR_USAGE", "bad command line"},
    [HF_ERR_CONFIG] = {"HF_ERR_CONFIG", "bad configuration"},
    [HF_ERR_INVALID] = {"HF_ERR_INVALID", "record failed validation"},
    [HF_ERR_TRUNCATED] = {"HF_ERR_TRUNCATED", "input truncated"},
    [HF_ERR_OVERSIZE] = {"HF_ERR_OVERSIZE", "input larger than allowed"},
    [HF_ERR_BAD_MAGIC] = {"HF_ERR_BAD_MAGIC", "not an Avro single-object frame"},
    [HF_ERR_UNKNOWN_FINGERPRINT] = {"HF_ERR_UNKNOWN_FINGERPRINT", "unknown writer schema fingerprint"},
    [HF_ERR_TRAILING] = {"HF_ERR_TRAILING", "trailing bytes after the Avro body"},
    [HF_ERR_DECODE] = {"HF_ERR_DECODE", "Avro body does not decode"},
    [HF_ERR_SCHEMA] = {"HF_ERR_SCHEMA", "schema error"},
    [HF_ERR_PERMISSION] = {"HF_ERR_PERMISSION", "permission refused"},
    [HF_ERR_NOT_FOUND] = {"HF_ERR_NOT_FOUND", "not found"},
    [HF_ERR_IO] = {"HF_ERR_IO", "I/O error"},
    [HF_ERR_PG_DATA] = {"HF_ERR_PG_DATA", "PostgreSQL rejected the data"},
    [HF_ERR_PG] = {"HF_ERR_PG", "PostgreSQL error"},
    [HF_ERR_KAFKA] = {"HF_ERR_KAFKA", "Kafka error"},
    [HF_ERR_CONFLICT] = {"HF_ERR_CONFLICT", "offsets owned by another consumer"},
    [HF_ERR_INTERNAL] = {"HF_ERR_INTERNAL", "internal error"},
    [HF_ERR_PG_TRANSIENT] = {"HF_ERR_PG_TRANSIENT", "PostgreSQL temporarily unavailable"},
    [HF_ERR_KAFKA_TRANSIENT] = {"HF_ERR_KAFKA_TRANSIENT", "Kafka temporarily unavailable"},
    [HF_ERR_TIMEOUT] = {"HF_ERR_TIMEOUT", "timed out"},
    [HF_ERR_BUSY] = {"HF_ERR_BUSY", "temporarily full"},
    [HF_ERR_STOPPED] = {"HF_ERR_STOPPED", "stopped by request"},
};

const char *hf_err_name(hf_err_t err)
{
    if ((unsigned)err >= HF_ERR__COUNT || !hf__errs[err].name)
        return "HF_ERR_UNKNOWN";
    return hf__errs[err].name;
}

const char *hf_err_str(hf_err_t err)
{
    if ((unsigned)err >= HF_ERR__COUNT || !hf__errs[err].desc)
        return "unknown error";
    return hf__errs[err].desc;
}

bool hf_err_retriable(hf_err_t err)
{
    return err >= HF_ERR_PG_TRANSIENT && err < HF_ERR__COUNT;
}

hf_err_t hf_err_set(hf_err_t err, char *errstr, size_t errstr_size, const char *fmt, ...)
{
    if (errstr && errstr_size > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errstr, errstr_size, fmt, ap);
        va_end(ap);
    }
    return err;
}
