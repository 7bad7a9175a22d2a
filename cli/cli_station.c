/*
 * cli_station — what the station-side commands (publish, simulate) share:
 * waiting for deliveries while staying responsive to SIGINT/SIGTERM.
 */
#include "cli.h"
#include "hf_time.h"

hf_err_t hf_cli_station_wait(hf_station_t *st, long timeout_ms)
{
    int64_t deadline = hf_time_mono_us() + timeout_ms * 1000;
    for (;;) {
        /* Flush in short steps so a signal is noticed within 200 ms. */
        int64_t left = (deadline - hf_time_mono_us()) / 1000;
        hf_err_t e = hf_station_flush(st, left < 200 ? (int)(left > 0 ? left : 0) : 200);
        if (e == HF_OK)
            return HF_OK;
        if (left <= 0)
            return HF_ERR_TIMEOUT;
        if (hf_cli_stop)
            return HF_ERR_STOPPED;
    }
}
