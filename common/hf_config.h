/*
 * hf_config — hemoflow's configuration: one declarative table of keys
 * (name, type, default, bounds, reloadable, doc) plus two passthrough
 * namespaces:
 *   kafka.<property>  handed to rd_kafka_conf_set() unchanged,
 *   pg.<keyword>      added to the libpq connection string.
 *
 * Sources, later wins: table defaults < config file < environment < --set.
 * File syntax (read by libinih): `key = value` per line, `#`/`;` comments,
 * optional "double quotes", `[section]` prefixes keys; docs/configuration.md.
 * Environment: HEMOFLOW_<KEY> with dots as underscores, upper case
 * (HEMOFLOW_CONSUME_BATCH_MAX_ROWS); HEMOFLOW_KAFKA_<X> sets kafka.<x> with
 * underscores turned into dots; HEMOFLOW_PG_<X> sets pg.<x> (libpq keywords
 * keep their underscores).
 * Every rejection names the key and, for files, the file and line.
 */
#ifndef HF_CONFIG_H
#define HF_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hf_err.h"

typedef struct hf_config_s hf_config_t;

/* ==== lifecycle ==== */

/* A config holding every table default. Never NULL. */
hf_config_t *hf_config_new(void);
void hf_config_destroy(hf_config_t *cfg); /* NULL is a no-op */

/* ==== sources ==== */

hf_err_t hf_config_load_file(hf_config_t *cfg, const char *path, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));
/* Apply HEMOFLOW_* variables from envp (NULL = the process environment). */
hf_err_t hf_config_load_env(hf_config_t *cfg, char *const *envp, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));
/* Set one key (as from --set key=value); `origin` is used in messages. */
hf_err_t hf_config_set(hf_config_t *cfg, const char *key, const char *value, const char *origin,
                       char *errstr, size_t errstr_size) __attribute__((warn_unused_result));

/* ==== typed access (the key must be in the table; abort otherwise: a bug) ==== */

const char *hf_config_str(const hf_config_t *cfg, const char *key); /* owned by cfg */
int64_t hf_config_int(const hf_config_t *cfg, const char *key);
double hf_config_double(const hf_config_t *cfg, const char *key);
bool hf_config_bool(const hf_config_t *cfg, const char *key);

/* ==== passthrough ==== */

/* Call fn(opaque, property, value) for every kafka.* entry, prefix removed,
 * in the order set. Stops and returns the first non-HF_OK result. */
typedef hf_err_t (*hf_config_kv_fn)(void *opaque, const char *name, const char *value);
hf_err_t hf_config_each_kafka(const hf_config_t *cfg, hf_config_kv_fn fn, void *opaque);

/* libpq connection string built from pg.* entries with values quoted as
 * libpq requires. Caller frees with hf_free(). Empty string when none set
 * (libpq then uses its PG* environment variables and defaults). */
char *hf_config_pg_conninfo(const hf_config_t *cfg);

/* ==== reloading (SIGHUP) ==== */

/* The table marks key reloadable: a running consume applies a new value
 * on SIGHUP (docs/configuration.md lists them). */
bool hf_config_reloadable(const char *key);
/* Call fn for every key whose value differs between a and b; kafka.* and
 * pg.* are reported as one change each ("kafka.*", "pg.*": never
 * reloadable). */
typedef void (*hf_config_change_fn)(void *opaque, const char *key, bool reloadable);
void hf_config_each_change(const hf_config_t *a, const hf_config_t *b, hf_config_change_fn fn,
                           void *opaque);

/* ==== documentation ==== */

/* Every key with type, default and description, for --help and docs. */
void hf_config_print_help(FILE *out);

#endif /* HF_CONFIG_H */
