/*
 * hf_avro_int — what hf_avro's files share: the schema tree (hf_avro.c)
 * computes its canonical form with hf_avro_canon.c, and hf_avro_pcf in
 * hf_avro_canon.c parses with the tree's parser.
 */
#ifndef HF_AVRO_INT_H
#define HF_AVRO_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "hf_avro.h"

/* hf_avro.c: hf_avro_schema_parse, with the check of field defaults
 * optional (the canonical form strips them). */
hf_avro_schema_t *hf__schema_parse(const char *json, size_t len, bool check_defaults,
                                   char *errstr, size_t errstr_size);

/* hf_avro_canon.c: the Parsing Canonical Form of the tree under root, as a
 * new NUL-terminated string the caller frees with hf_free(). */
char *hf__pcf_string(const hf_avro_node_t *root);

#endif /* HF_AVRO_INT_H */
