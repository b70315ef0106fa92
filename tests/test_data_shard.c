/* test_data_shard.c: llm.c-format shards, bad headers and sizes, the data
 * directory, the loader's order and seek, the validation windows. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "trainer/data.h"

static void write_raw(const char *path, const int32_t *hdr, const uint16_t *tok, size_t n)
{
    FILE *fp = fopen(path, "wb");
    fwrite(hdr, sizeof(int32_t), 256, fp);
    fwrite(tok, sizeof *tok, n, fp);
    fclose(fp);
}

int main(void)
{
    l720_err err;
    char dir[] = "/tmp/l720_shard_XXXXXX";
    ok(mkdtemp(dir) != NULL, "temporary folder");
    char p_train[256], p_val[256], p_bad[256];
    snprintf(p_train, sizeof p_train, "%s/x_train_000000.bin", dir);
    snprintf(p_val, sizeof p_val, "%s/x_val_000000.bin", dir);
    snprintf(p_bad, sizeof p_bad, "%s/bad.bin", dir);

    enum { N = 1000 };
    uint16_t tok[N];
    for (int i = 0; i < N; i++)
        tok[i] = (uint16_t)(i % 251);
    ok(l720_shard_write(p_train, tok, N, &err) == 0, "write a shard");
    FILE *fp = fopen(p_train, "rb");
    int32_t hdr[256];
    ok(fread(hdr, sizeof hdr, 1, fp) == 1, "read the header back");
    fclose(fp);
    ok(hdr[0] == 20240520 && hdr[1] == 1 && hdr[2] == N && hdr[3] == 0, "llm.c header: magic, "
       "version, count");
    size_t n = 0;
    uint16_t *back = l720_shard_read(p_train, 256, &n, &err);
    ok(back && n == N && !memcmp(back, tok, sizeof tok), "tokens round-trip");
    free(back);
    ok(!l720_shard_read(p_train, 200, &n, &err) && err.code == 2 && strstr(err.msg, "vocabulary"),
       "token outside the vocabulary: %s", err.msg);

    /* bad header, size that does not match */
    int32_t bad[256] = {20240521, 1, 10};
    write_raw(p_bad, bad, tok, 10);
    ok(l720_shard_check(p_bad, &n, &err) == 2 && strstr(err.msg, "bad.bin") &&
           strstr(err.msg, "header"), "bad magic names the file: %s", err.msg);
    int32_t shortc[256] = {20240520, 1, 11};
    write_raw(p_bad, shortc, tok, 10);
    ok(l720_shard_check(p_bad, &n, &err) == 2 && strstr(err.msg, "does not match"),
       "size mismatch: %s", err.msg);
    write_raw(p_bad, shortc, tok, 0);
    fp = fopen(p_bad, "wb");
    fwrite("abc", 1, 3, fp);
    fclose(fp);
    ok(l720_shard_check(p_bad, &n, &err) == 2, "truncated header: %s", err.msg);
    remove(p_bad);

    /* a directory without val shards */
    ok(!l720_shards_open(dir, &err) && err.code == 2 && strstr(err.msg, "val"),
       "missing val shards: %s", err.msg);
    ok(l720_shard_write(p_val, tok, 100, &err) == 0, "write a val shard");
    l720_shards *ds = l720_shards_open(dir, &err);
    ok(ds && ds->n_train == 1 && ds->n_val == 1 && ds->vocab == 50257 &&
           ds->train_tokens[0] == N, "dataset: one train, one val, GPT-2 vocabulary by default");
    double h = 0;
    ok(l720_shards_unigram_entropy(ds, 0, &h, &err) == 0, "unigram entropy");
    ok(h > 5.4 && h < log(251) + 1e-9, "entropy of a near-uniform stream: %g", h);

    /* loader: permutation covers every window once per epoch */
    int T = 9, B = 4;
    size_t nw = (N - 1) / T;
    l720_loader *ld = l720_loader_new(ds, T, 7, &err);
    int32_t x[4 * 9], y[4 * 9];
    int *seen = calloc(nw, sizeof *seen);
    int shifted = 1, windows_ok = 1;
    for (size_t i = 0; i < nw / B; i++) {
        l720_loader_next(ld, B, x, y, &err);
        for (int b = 0; b < B; b++) {
            int start = -1;
            for (int s = 0; s < N; s += T)
                if (tok[s] == x[b * T] && tok[s + 1] == x[b * T + 1] && s / T < (int)nw)
                    start = s;
            if (start < 0 || start % T)
                windows_ok = 0;
            else
                seen[start / T]++;
            for (int t = 0; t < T; t++)
                if (y[b * T + t] != tok[start + t + 1])
                    shifted = 0;
        }
    }
    int once = 1;
    size_t total = 0;
    for (size_t i = 0; i < nw; i++) {
        total += seen[i];
        if (seen[i] > 1)
            once = 0;
    }
    ok(windows_ok && shifted, "windows start every T tokens; targets are shifted by one");
    ok(once && total == (nw / B) * B, "no window twice within an epoch");
    l720_data_pos pos = l720_loader_pos(ld);
    int32_t a[36], a2[36], ay[36];
    l720_loader_next(ld, B, a, ay, &err);
    l720_loader_next(ld, B, a2, ay, &err); /* crosses into the next epoch */
    l720_loader *ld2 = l720_loader_new(ds, T, 7, &err);
    ok(l720_loader_seek(ld2, pos, &err) == 0, "seek");
    int32_t b1[36], b2[36];
    l720_loader_next(ld2, B, b1, ay, &err);
    l720_loader_next(ld2, B, b2, ay, &err);
    ok(!memcmp(a, b1, sizeof a) && !memcmp(a2, b2, sizeof a2), "a loader seeked to a saved "
       "position yields the same batches");
    ok(l720_loader_pos(ld2).epoch == 1, "the second epoch began");
    l720_loader *ld3 = l720_loader_new(ds, T, 8, &err);
    l720_loader_next(ld3, B, b1, ay, &err);
    l720_loader *ld4 = l720_loader_new(ds, T, 7, &err);
    l720_loader_next(ld4, B, b2, ay, &err);
    ok(memcmp(b1, b2, sizeof b1) != 0, "another seed, another order");
    l720_loader_free(ld);
    l720_loader_free(ld2);
    l720_loader_free(ld3);
    l720_loader_free(ld4);
    free(seen);

    size_t vw = 0;
    int32_t *val = l720_val_tokens(ds, T, 5, &vw, &err);
    ok(val && vw == 5 && val[0] == 0 && val[45] == 45, "validation: the first windows in order");
    free(val);
    val = l720_val_tokens(ds, T, 0, &vw, &err);
    ok(val && vw == 99 / 9, "validation: all windows when no limit");
    free(val);
    ok(!l720_loader_new(ds, 2000, 1, &err) && strstr(err.msg, "seq_len"), "a shard shorter than "
       "a window: %s", err.msg);
    l720_shards_free(ds);

    /* meta.json sets the vocabulary */
    char meta[256];
    snprintf(meta, sizeof meta, "%s/meta.json", dir);
    fp = fopen(meta, "w");
    fputs("{\"tokenizer\":\"bytes\",\"vocab\":256}\n", fp);
    fclose(fp);
    ds = l720_shards_open(dir, &err);
    ok(ds && ds->vocab == 256, "meta.json vocabulary");
    l720_shards_free(ds);
    remove(meta);
    remove(p_train);
    remove(p_val);
    remove(dir);
    return tap_done();
}
