/*
 * hf_ind_int — what hf_migrate.c takes from hf_indicators.c: writing the
 * indicators.* settings on a connection it holds. Not a public API.
 */
#ifndef HF_IND_INT_H
#define HF_IND_INT_H

#include <libpq-fe.h>

#include "hf_config.h"
#include "hf_err.h"

/* Copy the indicators.* keys of cfg into hemoflow.hf_settings (upsert;
 * rows already equal are left alone). */
hf_err_t hf__ind_settings(PGconn *c, const hf_config_t *cfg, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

#endif /* HF_IND_INT_H */
