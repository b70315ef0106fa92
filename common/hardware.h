/* hardware.h: hardware profiles (data/hardware/NAME.json).
 *
 * A profile describes one machine as the planner and the simulator see it:
 * GPU memory and bandwidth, bf16 peak, the host memory behind a link, and
 * (when measured on a real device) the link's per-transfer cost and the
 * zero-copy gather bandwidth as a function of row size.
 */
#ifndef L720_HARDWARE_H
#define L720_HARDWARE_H

#include <stddef.h>

#include "err.h"

#define L720_HW_MAX_POINTS 32

typedef struct l720_hardware {
    char name[64];
    char source[1024];
    int gpus;                 /* GPUs in the machine */
    double memory_bytes;      /* GPU memory, all GPUs together */
    double hbm_bandwidth;     /* bytes/s, one GPU */
    double bf16_flops;        /* dense bf16 peak, FLOP/s, one GPU */
    double host_memory_bytes; /* host memory that can hold streamed experts */
    double link_bandwidth;    /* host -> GPU copies, bytes/s */
    double link_latency;      /* fixed cost of one copy, seconds */
    char link_kind[32];       /* "pcie4", "pcie5", "nvlink-c2c" */
    double d2d_bandwidth;     /* device-to-device copy, bytes/s counting read + write (0: unknown) */
    double zero_copy_latency; /* one dependent zero-copy load, seconds (0: unknown) */
    size_t n_gather;          /* points of the zero-copy gather curve */
    double gather_row_bytes[L720_HW_MAX_POINTS]; /* ascending */
    double gather_bandwidth[L720_HW_MAX_POINTS]; /* bytes/s at that row size */
    int copy_channels;        /* copy engines that serve host->device copies (0: unknown) */
    size_t n_copy_streams;    /* points of the 4 KB copy curve */
    double copy_streams[L720_HW_MAX_POINTS];      /* ascending stream counts */
    double copy_streams_seconds[L720_HW_MAX_POINTS]; /* per-copy time of 4 KB copies over them */
    int measured;             /* 1 when the profile carries measurements from a real device */
} l720_hardware;

/* Loads a profile by name (data/hardware/NAME.json) or by path (anything
 * with a '/' or ending in .json). An unknown name is an error listing the
 * known ones; missing or non-positive fields are errors naming the field. */
int l720_hardware_load(const char *name, l720_hardware *hw, l720_err *err);

/* Loads each name of a comma-separated list into hw[0..max), *n of them
 * (names past max are left out, empty names skipped); an unknown name is an
 * error. */
int l720_hardware_load_list(const char *list, l720_hardware *hw, size_t max, size_t *n,
                            l720_err *err);

/* Writes the known profile names, comma-separated, into buf. */
void l720_hardware_names(char *buf, size_t n);

/* Zero-copy gather bandwidth for rows of row_bytes: interpolated in log-log
 * between measured points, clamped at the ends; without a curve, the link
 * bandwidth. */
double l720_hardware_gather_bandwidth(const l720_hardware *hw, double row_bytes);

/* Per-copy time of back-to-back 4 KB copies spread over `streams` streams
 * (measured.copy_streams_4k), interpolated linearly and clamped at the ends;
 * 0 when the profile has no such curve. */
double l720_hardware_copy_seconds(const l720_hardware *hw, double streams);

#endif
