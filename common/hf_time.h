/*
 * hf_time — the two clocks hemoflow reads: monotonic time for deadlines,
 * timeouts and rates, and wall-clock time for event-time rules.
 */
#ifndef HF_TIME_H
#define HF_TIME_H

#include <stdint.h>
#include <time.h>

/* Monotonic microseconds (never jumps; only differences are meaningful). */
static inline int64_t hf_time_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Monotonic milliseconds. */
static inline int64_t hf_time_mono_ms(void)
{
    return hf_time_mono_us() / 1000;
}

/* Wall-clock microseconds since the Unix epoch (UTC). */
static inline int64_t hf_time_wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

#endif /* HF_TIME_H */
