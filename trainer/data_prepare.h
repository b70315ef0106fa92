/* data_prepare.h: text files -> byte-level token shards with a train /
 * validation split (llm720 prepare-data).
 *
 * Tokenizer: one token per byte (vocabulary 256), so any text, in any
 * encoding, round-trips exactly. Inputs are files or directories (walked
 * recursively in name order); files ending in ".gz" are read through gzip;
 * files holding a NUL byte are skipped as binary. The texts are concatenated
 * in order.
 *
 * Split: the byte stream is cut into blocks of `block` bytes and block i goes
 * to validation when floor((i + 1) f) > floor(i f), f the validation
 * fraction: an exact fraction, spread evenly over the corpus, so that train
 * and validation come from the same mix of sources.
 */
#ifndef L720_DATA_PREPARE_H
#define L720_DATA_PREPARE_H

#include <stddef.h>

#include "err.h"

typedef struct l720_prepare_cfg {
    double val_fraction; /* (0, 1); 0.1 */
    size_t block;        /* split block in bytes; 4096 */
    size_t shard_tokens; /* at most this many tokens per shard; 100,000,000 */
    const char *prefix;  /* shard names PREFIX_train_000000.bin; "bytes" */
} l720_prepare_cfg;

typedef struct l720_prepare_out {
    size_t train_tokens, val_tokens;
    int files, skipped; /* text files read; binary files skipped */
    int train_shards, val_shards;
    double unigram_entropy; /* nats/token of the training split */
} l720_prepare_out;

/* Reads the inputs and writes shards and meta.json into outdir (created;
 * it must not already hold shards). */
int l720_prepare_data(const char *const *inputs, int n_inputs, const char *outdir,
                      const l720_prepare_cfg *cfg, l720_prepare_out *out, l720_err *err);

#endif
