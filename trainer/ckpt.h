/* ckpt.h: one checkpoint file per run: model parameters and buffers,
 * optimiser moments and step, data position, RNG seed and the run's
 * counters, written atomically (temporary file + rename), so the previous
 * checkpoint survives any failure while writing.
 *
 * Layout (little-endian):
 *   "L720CKPT"            8 bytes
 *   version               uint32 (1)
 *   header length H       uint32
 *   header                H bytes of JSON (config, step, tokens, data
 *                         position, seed, counters, array sizes), padded
 *                         with spaces to a multiple of 4
 *   params[n] m[n] v[n] buffers[nb]   float32
 *   crc32                 uint32, of every byte before it
 * A reader checks the magic, version, total size and CRC before using any
 * of it.
 */
#ifndef L720_CKPT_H
#define L720_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "err.h"
#include "trainer/data.h"

#define L720_CKPT_VERSION 1

/* The scalars of a run's state. */
typedef struct l720_ckpt_meta {
    long step;            /* optimiser steps done */
    double tokens;        /* training tokens seen */
    l720_data_pos data;   /* loader position after the last step */
    uint64_t adam_t;      /* optimiser step counter */
    double loss_sum;      /* training loss summed since the last evaluation */
    long loss_count;      /* ... over this many steps */
    double train_seconds; /* time spent in training steps so far */
    double wall_seconds;  /* wall time of the run so far */
} l720_ckpt_meta;

/* The arrays of a checkpoint (views into its buffer when read). */
typedef struct l720_ckpt_arrays {
    size_t n;  /* parameters */
    size_t nb; /* model buffers */
    const float *params, *m, *v, *buffers;
} l720_ckpt_arrays;

int l720_ckpt_save(const char *path, const cJSON *config, const l720_ckpt_meta *meta,
                   const l720_ckpt_arrays *a, l720_err *err);

/* A checkpoint read into memory. */
typedef struct l720_ckpt {
    cJSON *config; /* owned */
    l720_ckpt_meta meta;
    l720_ckpt_arrays a; /* views into data */
    unsigned char *data;
} l720_ckpt;

l720_ckpt *l720_ckpt_read(const char *path, l720_err *err);
void l720_ckpt_free(l720_ckpt *c);

/* CRC-32 (IEEE 802.3), continuing from crc (0 to start). */
uint32_t l720_crc32(uint32_t crc, const void *buf, size_t len);

#endif
