/* cmd_prepare_data.c: llm720 prepare-data: text files -> byte-level token
 * shards (llm.c format) with a train/validation split. */
#include <math.h>

#include "cmd.h"
#include "opts.h"
#include "trainer/data_prepare.h"

#define MAX_INPUTS 4096

int l720_cmd_prepare_data(int argc, char **argv, const l720_cmdio *io, cJSON **result,
                          l720_err *err)
{
    const char *out = NULL, *prefix = "bytes";
    double val = 0.1;
    long block = 4096, shard = 100000000;
    const l720_opt opts[] = {
        {"out", L720_OPT_STRING, &out, "DIR", "output directory for the shards (required)"},
        {"val-fraction", L720_OPT_DOUBLE, &val, "F", "fraction of the text for validation (0.1)"},
        {"block", L720_OPT_INT, &block, "BYTES", "split block: every 1/F-th block goes to "
                                                 "validation (4096)"},
        {"shard-tokens", L720_OPT_INT, &shard, "N", "tokens per shard at most (100000000)"},
        {"prefix", L720_OPT_STRING, &prefix, "NAME", "shard names NAME_train_000000.bin "
                                                     "(bytes)"},
        {0},
    };
    static char *inputs[MAX_INPUTS];
    int n = 0;
    int rc = l720_opts_parse_or_usage(
        io->out, "prepare-data", "--out DIR [OPTIONS] FILE|DIR...",
        "Turns text files into byte-level token shards (llm.c format: 256 x "
        "int32 header, uint16 tokens) with a train/validation split, and "
        "meta.json. Directories are read recursively; .gz files through gzip; "
        "binary files are skipped.",
        opts, 0, argc, argv, inputs, MAX_INPUTS, &n, err);
    if (rc)
        return rc;
    if (!out)
        return l720_err_set(err, L720_EINPUT, "prepare-data: --out DIR is required");
    if (block < 1 || shard < 1)
        return l720_err_set(err, L720_EINPUT, "prepare-data: --block and --shard-tokens must be "
                            "positive");
    l720_prepare_cfg cfg = {val, (size_t)block, (size_t)shard, prefix};
    l720_prepare_out res;
    if ((rc = l720_prepare_data((const char *const *)inputs, n, out, &cfg, &res, err)))
        return rc;
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "out", out);
    cJSON_AddStringToObject(r, "tokenizer", "bytes");
    cJSON_AddNumberToObject(r, "vocab", 256);
    cJSON_AddNumberToObject(r, "train_tokens", (double)res.train_tokens);
    cJSON_AddNumberToObject(r, "val_tokens", (double)res.val_tokens);
    cJSON_AddNumberToObject(r, "train_shards", res.train_shards);
    cJSON_AddNumberToObject(r, "val_shards", res.val_shards);
    cJSON_AddNumberToObject(r, "files", res.files);
    cJSON_AddNumberToObject(r, "skipped_binary_files", res.skipped);
    cJSON_AddNumberToObject(r, "unigram_entropy", res.unigram_entropy);
    if (!io->json)
        fprintf(io->out,
                "%s: %zu train + %zu validation tokens (bytes) in %d + %d shards, from %d text "
                "files (%d binary skipped)\nunigram entropy of the training text: %.4f nats/token "
                "(%.4f bits)\n",
                out, res.train_tokens, res.val_tokens, res.train_shards, res.val_shards,
                res.files, res.skipped, res.unigram_entropy, res.unigram_entropy / log(2.0));
    *result = r;
    return 0;
}
