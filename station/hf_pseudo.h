/*
 * hf_pseudo — the national HMAC key and the pseudonyms made with it.
 *
 * Raw donor/patient ID numbers enter here and leave only as 64 lowercase hex
 * characters of HMAC-SHA256. Nothing in this module logs or copies a raw ID
 * or the key anywhere but the caller's stack and the key's own (cleansed on
 * destroy) allocation. See docs/publish.md, "Pseudonymization".
 */
#ifndef HF_PSEUDO_H
#define HF_PSEUDO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hf_err.h"
#include "hf_validate.h"

typedef struct hf_pseudo_s hf_pseudo_t;

#define HF_PSEUDO_KEY_MIN 32   /* bytes */
#define HF_PSEUDO_KEY_MAX 4096 /* bytes */

/* Load the key file. It must be a regular file owned by the effective user
 * with mode 0600 or 0400 (HF_ERR_PERMISSION otherwise, errstr naming the
 * file, its mode and owner); its bytes, minus one trailing "\n" or "\r\n",
 * are the key, 32..4096 bytes (HF_ERR_CONFIG otherwise). HF_ERR_NOT_FOUND /
 * HF_ERR_IO when it cannot be read. NULL on failure, *err_out set. */
hf_pseudo_t *hf_pseudo_load(const char *path, hf_err_t *err_out, char *errstr, size_t errstr_size);
void hf_pseudo_destroy(hf_pseudo_t *p); /* cleanses the key; NULL is a no-op */

/* Lowercase hex HMAC-SHA256 of data under the key. */
void hf_pseudo_hmac_hex(const hf_pseudo_t *p, const void *data, size_t len, char out[65]);

/* What one raw ID number yields. */
typedef struct hf_pseudo_id_s {
    char pid[65];           /* hex HMAC of the normalized ID */
    hf_id_format_t format;  /* HF_ID_18, HF_ID_15, HF_ID_OTHER */
    bool checksum_valid;    /* as hf_validate_resident_id() */
    bool has_birth;         /* birth_days / sex were read from a valid resident ID */
    int32_t birth_days;     /* days since 1970-01-01 */
    bool male;              /* odd sequence number */
} hf_pseudo_id_t;

/* Normalize (trim ASCII white space; a valid resident ID becomes its
 * 18-character GB 11643 form, so a legacy 15-digit number and its 18-digit
 * upgrade share a pseudonym, with 'x' upper-cased; anything else is
 * upper-cased ASCII) and pseudonymize raw[0..len). HF_ERR_INVALID when
 * nothing is left after trimming or the ID is longer than 64 bytes. The
 * normalized text lives on the stack and is wiped before returning. */
hf_err_t hf_pseudo_id(const hf_pseudo_t *p, const char *raw, size_t len, hf_pseudo_id_t *out)
    __attribute__((warn_unused_result));

#endif /* HF_PSEUDO_H */
