/*
 * fuzz_config — the configuration parser (common/hf_config.c) on any file
 * text: the file loader (libinih syntax, hemoflow's line limit, sections,
 * quotes, the key table's types and bounds, kafka.* and pg.* passthrough),
 * then what every command reads from a loaded config (the libpq connection
 * string, the kafka.* list, the validation rules, the reload diff). Each
 * line that looks like NAME=VALUE is also fed as an environment variable
 * (HEMOFLOW_*) to a second config. The input goes through a memfd, so the
 * real fopen/fgets path runs without touching the disk.
 * Corpus: tests/fuzz/corpus/config/ (tests/fixtures/config and more).
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hf_config.h"
#include "hf_fuzz.h"
#include "hf_mem.h"
#include "hf_validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int hf__fd = -1;
static char hf__path[64];

static hf_err_t hf__kv(void *opaque, const char *name, const char *value)
{
    size_t *n = opaque;
    if (!name || !value)
        hf_fuzz_fail("kafka entry with a NULL name or value");
    (*n)++;
    return HF_OK;
}

static void hf__change(void *opaque, const char *key, bool reloadable)
{
    (void)reloadable;
    if (!key || !*key)
        hf_fuzz_fail("empty changed key");
    (*(size_t *)opaque)++;
}

static void hf__use(const hf_config_t *cfg)
{
    size_t n = 0;
    if (hf_config_each_kafka(cfg, hf__kv, &n) != HF_OK)
        hf_fuzz_fail("each_kafka stopped without a reason");
    char *ci = hf_config_pg_conninfo(cfg);
    hf_free(ci);
    hf_validate_rules_t r;
    char err[512];
    (void)hf_validate_rules_from_config(&r, cfg, err, sizeof(err));
    hf_config_t *def = hf_config_new();
    size_t changes = 0;
    hf_config_each_change(def, cfg, hf__change, &changes);
    hf_config_destroy(def);
}

static void hf__env(const uint8_t *data, size_t size)
{
    char *text = hf_malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    char *envp[65];
    size_t n = 0;
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l && n < 64;
         l = strtok_r(NULL, "\n", &save))
        if (strchr(l, '='))
            envp[n++] = l;
    envp[n] = NULL;
    if (n) {
        hf_config_t *cfg = hf_config_new();
        char err[512];
        if (hf_config_load_env(cfg, envp, err, sizeof(err)) == HF_OK)
            hf__use(cfg);
        hf_config_destroy(cfg);
    }
    hf_free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (hf__fd < 0) {
        hf_fuzz_catalog(); /* quiets the log */
        hf__fd = memfd_create("hf_fuzz_config", 0);
        if (hf__fd < 0)
            hf_fuzz_fail("memfd_create failed");
        snprintf(hf__path, sizeof(hf__path), "/proc/self/fd/%d", hf__fd);
    }
    if (ftruncate(hf__fd, 0) != 0 || pwrite(hf__fd, data, size, 0) != (ssize_t)size)
        hf_fuzz_fail("cannot write the input to the memfd");
    hf_config_t *cfg = hf_config_new();
    char err[1024] = "";
    hf_err_t e = hf_config_load_file(cfg, hf__path, err, sizeof(err));
    if (e == HF_OK)
        hf__use(cfg);
    else if (e != HF_ERR_CONFIG || !err[0])
        hf_fuzz_fail("load_file: error %d (%s)", (int)e, err);
    hf_config_destroy(cfg);
    hf__env(data, size);
    return 0;
}
