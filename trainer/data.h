/* data.h: token shards in the llm.c format, a directory of them, and the
 * batch loader of the trainer.
 *
 * Shard: 256 x int32 header (magic 20240520, version 1, token count, the
 * rest zero), then the tokens as uint16, little-endian. A data directory
 * holds shards whose names contain "train" or "val" and end in ".bin"
 * (llm.c's scripts write e.g. fineweb_train_000001.bin; prepare-data writes
 * bytes_train_000000.bin), taken in name order, and optionally meta.json
 * ({"tokenizer": "bytes", "vocab": 256, ...}) which sets the vocabulary;
 * without it the vocabulary is GPT-2's (50257).
 */
#ifndef L720_DATA_H
#define L720_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define L720_SHARD_MAGIC 20240520
#define L720_SHARD_VERSION 1
#define L720_SHARD_HEADER_INTS 256
#define L720_VOCAB_BYTES 256
#define L720_VOCAB_GPT2 50257

/* Writes tokens[0..n) to path atomically. n must fit in an int32. */
int l720_shard_write(const char *path, const uint16_t *tokens, size_t n, l720_err *err);

/* Reads a shard's header only and checks the file size against it:
 * *n receives the token count. */
int l720_shard_check(const char *path, size_t *n, l720_err *err);

/* Reads a whole shard (header checked, size checked, every token < vocab
 * when vocab > 0). Returns the tokens (owned by the caller). */
uint16_t *l720_shard_read(const char *path, int vocab, size_t *n, l720_err *err);

/* The shards of a data directory. */
typedef struct l720_shards {
    int vocab;            /* from meta.json, else 50257 */
    int n_train, n_val;
    char **train;         /* [n_train] owned paths, name order */
    char **val;           /* [n_val] */
    size_t *train_tokens; /* [n_train] token counts (headers) */
    size_t *val_tokens;   /* [n_val] */
} l720_shards;

/* Lists and checks the shards of dir (headers and sizes; at least one train
 * and one val shard). */
l720_shards *l720_shards_open(const char *dir, l720_err *err);
void l720_shards_free(l720_shards *ds);

/* Unigram (order-0) entropy of the training tokens, nats per token, over at
 * most max_tokens of them (0: all). */
int l720_shards_unigram_entropy(const l720_shards *ds, size_t max_tokens, double *nats,
                                 l720_err *err);

/* Where the loader stands: a pass (epoch) over the training shards in order;
 * within a shard, windows of T + 1 tokens (T inputs, T shifted targets,
 * windows start every T tokens) taken in a random order drawn from
 * (seed, epoch, shard). Saved in checkpoints. */
typedef struct l720_data_pos {
    uint64_t epoch;
    uint64_t shard;
    uint64_t window; /* index into the shard's permutation */
} l720_data_pos;

typedef struct l720_loader l720_loader;

/* A loader of windows of T tokens over ds (not owned; must outlive it). */
l720_loader *l720_loader_new(const l720_shards *ds, int T, uint64_t seed, l720_err *err);
void l720_loader_free(l720_loader *ld);
l720_data_pos l720_loader_pos(const l720_loader *ld);
int l720_loader_seek(l720_loader *ld, l720_data_pos pos, l720_err *err);
/* Fills B windows: tokens, targets [B * T]; advances the position. */
int l720_loader_next(l720_loader *ld, int B, int32_t *tokens, int32_t *targets, l720_err *err);

/* The validation tokens: the val shards concatenated, truncated to at most
 * max_windows windows of T (+1) tokens. *n_windows receives the count (>= 1).
 * Evaluation reads them in order: a fixed set. Returns [n_windows * T + 1]
 * tokens, owned by the caller. */
int32_t *l720_val_tokens(const l720_shards *ds, int T, size_t max_windows, size_t *n_windows,
                         l720_err *err);

#endif
