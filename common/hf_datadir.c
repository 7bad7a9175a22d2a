/*
 * hf_datadir — finds the data folder from /proc/self/exe; see hf_datadir.h.
 */
#include "hf_datadir.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hf_mem.h"

#ifndef HF_DATADIR_FROM_BIN
#define HF_DATADIR_FROM_BIN "../share/hemoflow"
#endif

static int hf__is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

char *hf_datadir_find(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            char *dir = hf_asprintf("%s/%s", exe, HF_DATADIR_FROM_BIN);
            char *schemas = hf_asprintf("%s/schemas", dir);
            char real[PATH_MAX];
            char *found = hf__is_dir(schemas) ? realpath(dir, real) : NULL;
            hf_free(schemas);
            hf_free(dir);
            if (found)
                return hf_strdup(real);
        }
    }
    return hf_strdup(HF_SOURCE_DIR);
}
