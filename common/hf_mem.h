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

/* For a long-running, many-threaded process (consume), before its threads
 * start: glibc's allocator limited to 2 arenas (instead of up to 8 per core,
 * each keeping what its threads freed) and a fixed mmap threshold of 256 KiB
 * (large batch buffers go back to the system when freed, instead of the
 * threshold rising to their size and leaving them in the heap). Measured:
 * peak RSS -4 MiB at 1 M events, no loss of speed (docs/benchmarks.md). A
 * MALLOC_ARENA_MAX / MALLOC_MMAP_THRESHOLD_ / GLIBC_TUNABLES environment
 * wins; no-op on other C libraries. */
void hf_mem_tune_service(void);

/* The growable byte buffer (hf_buf_t) is in hf_buf.h, included here for
 * the callers that use both. */
#include "hf_buf.h"

#endif /* HF_MEM_H */
