/*
 * hf_mem — the one place that decides what running out of memory does.
 *
 * hemoflow's memory is bounded by configuration (batch sizes, queue limits),
 * so an allocation failure means the configuration exceeds the machine: the
 * wrappers log one line and abort rather than letting each caller improvise.
 * Nothing here returns NULL.
 */
#ifndef HF_MEM_H
#define HF_MEM_H

#include <stddef.h>

void *hf_malloc(size_t size) __attribute__((malloc, returns_nonnull));
void *hf_calloc(size_t nmemb, size_t size) __attribute__((malloc, returns_nonnull));
/* Like realloc(3); the old pointer is invalid after the call. */
void *hf_realloc(void *ptr, size_t size) __attribute__((returns_nonnull));
char *hf_strdup(const char *s) __attribute__((malloc, returns_nonnull));
char *hf_strndup(const char *s, size_t n) __attribute__((malloc, returns_nonnull));
/* printf into a new string the caller frees. */
char *hf_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2), returns_nonnull));
void hf_free(void *ptr);

/* The growable byte buffer (hf_buf_t) is in hf_buf.h, included here for
 * the callers that use both. */
#include "hf_buf.h"

#endif /* HF_MEM_H */
