/*
 * hf_proc — process metrics from /proc/self (statm, stat, fd), /proc/stat
 * (boot time), getrusage and getrlimit.
 */
#include "hf_proc.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "hf_mem.h"

struct hf_proc_metrics_s {
    hf_metric_t *rss, *vsz, *cpu, *fds, *max_fds, *start;
    double cpu_seen; /* seconds already added to the cpu counter */
};

/* Unix time the process started: its start in clock ticks after boot
 * (/proc/self/stat field 22) plus the boot time (/proc/stat btime). */
static double hf__start_time(void)
{
    char buf[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    if (!p)
        return 0;
    unsigned long long ticks = 0;
    int field = 2;
    for (p++; *p && field < 22; p++)
        if (*p == ' ')
            field++;
    ticks = strtoull(p, NULL, 10);
    f = fopen("/proc/stat", "r");
    if (!f)
        return 0;
    unsigned long long btime = 0;
    char line[256];
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "btime %llu", &btime) == 1)
            break;
    fclose(f);
    long hz = sysconf(_SC_CLK_TCK);
    return hz > 0 ? (double)btime + (double)ticks / (double)hz : 0;
}

static void hf__collect(void *opaque)
{
    hf_proc_metrics_t *p = opaque;
    long page = sysconf(_SC_PAGESIZE);
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        unsigned long long size = 0, res = 0;
        if (fscanf(f, "%llu %llu", &size, &res) == 2) {
            hf_metric_set(p->vsz, NULL, (double)size * (double)page);
            hf_metric_set(p->rss, NULL, (double)res * (double)page);
        }
        fclose(f);
    }
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                     (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
        if (cpu > p->cpu_seen) {
            hf_metric_add(p->cpu, NULL, cpu - p->cpu_seen);
            p->cpu_seen = cpu;
        }
    }
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        long n = 0;
        while (readdir(d))
            n++;
        closedir(d);
        hf_metric_set(p->fds, NULL, (double)(n - 3)); /* ".", ".." and the listing's own */
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        hf_metric_set(p->max_fds, NULL, rl.rlim_cur == RLIM_INFINITY ? -1 : (double)rl.rlim_cur);
}

hf_proc_metrics_t *hf_proc_metrics_new(hf_metrics_t *r)
{
    hf_proc_metrics_t *p = hf_calloc(1, sizeof(*p));
    p->rss = hf_metrics_gauge(r, "process_resident_memory_bytes", "Resident memory size in bytes.",
                              NULL);
    p->vsz = hf_metrics_gauge(r, "process_virtual_memory_bytes", "Virtual memory size in bytes.",
                              NULL);
    p->cpu = hf_metrics_counter(r, "process_cpu_seconds_total",
                                "Total user and system CPU time spent in seconds.", NULL);
    p->fds = hf_metrics_gauge(r, "process_open_fds", "Number of open file descriptors.", NULL);
    p->max_fds = hf_metrics_gauge(r, "process_max_fds",
                                  "Maximum number of open file descriptors.", NULL);
    p->start = hf_metrics_gauge(r, "process_start_time_seconds",
                                "Start time of the process since unix epoch in seconds.", NULL);
    hf_metric_set(p->start, NULL, hf__start_time());
    hf_metrics_on_collect(r, hf__collect, p);
    return p;
}

void hf_proc_metrics_destroy(hf_proc_metrics_t *p)
{
    hf_free(p);
}
