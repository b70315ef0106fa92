/* test_data_prepare.c: text -> byte-level shards with an exact, spread
 * train/validation split (on the project's own README, real English). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fileio.h"
#include "tap.h"
#include "trainer/data.h"
#include "trainer/data_prepare.h"

int main(void)
{
    l720_err err;
    char dir[] = "/tmp/l720_prep_XXXXXX";
    ok(mkdtemp(dir) != NULL, "temporary folder");
    const char *readme = L720_SRCDIR "/README.md";
    size_t len;
    char *text = l720_read_file(readme, &len, &err);
    ok(text && len > 4000, "README.md as a corpus (%zu bytes)", len);

    char out[256], bin[256], gz[256], cmd[1024];
    snprintf(out, sizeof out, "%s/shards", dir);
    snprintf(bin, sizeof bin, "%s/binary.dat", dir);
    snprintf(gz, sizeof gz, "%s/readme.gz", dir);
    FILE *fp = fopen(bin, "wb");
    fwrite("ab\0cd", 1, 5, fp);
    fclose(fp);
    snprintf(cmd, sizeof cmd, "gzip -c '%s' > '%s'", readme, gz);
    int have_gzip = system(cmd) == 0;

    l720_prepare_cfg cfg = {0.1, 256, 1000, "bytes"};
    l720_prepare_out res;
    const char *in[] = {readme, bin, have_gzip ? gz : readme};
    ok(l720_prepare_data(in, 3, out, &cfg, &res, &err) == 0, "prepare-data runs: %s", err.msg);
    ok(res.train_tokens + res.val_tokens == 2 * len, "every byte lands in one split (%zu + %zu)",
       res.train_tokens, res.val_tokens);
    ok(res.files == 2 && res.skipped == 1, "the binary file is skipped, the gzip file read");
    double f = (double)res.val_tokens / (double)(2 * len);
    ok_near(f, 0.1, 0.01, "validation fraction");
    ok(res.train_shards == (int)((res.train_tokens + 999) / 1000), "train shards of at most 1000 "
       "tokens (%d)", res.train_shards);

    l720_shards *ds = l720_shards_open(out, &err);
    ok(ds && ds->vocab == 256 && ds->n_train == res.train_shards && ds->n_val == res.val_shards,
       "the trainer reads the directory back: %s", ds ? "" : err.msg);
    /* the first val block is block 9 (f = 0.1): bytes [9*256, 10*256) of the text */
    size_t n;
    uint16_t *v = l720_shard_read(ds->val[0], 256, &n, &err);
    int same = v && n >= 256;
    for (size_t i = 0; same && i < 256; i++)
        same = v[i] == (unsigned char)text[9 * 256 + i];
    ok(same, "validation starts with split block 9, byte for byte");
    free(v);
    uint16_t *t0 = l720_shard_read(ds->train[0], 256, &n, &err);
    same = t0 && n == 1000;
    for (size_t i = 0; same && i < 1000; i++)
        same = t0[i] == (unsigned char)text[i];
    ok(same, "training starts with the text itself");
    free(t0);
    double h = 0;
    int hrc = l720_shards_unigram_entropy(ds, 0, &h, &err);
    ok(hrc == 0 && fabs(h - res.unigram_entropy) < 1e-9,
       "entropy in meta and from the shards agree (%.4f nats)", h);
    ok(h > 2.5 && h < 4.0, "English text: unigram entropy %.3f nats/byte", h);
    l720_shards_free(ds);

    ok(l720_prepare_data(in, 1, out, &cfg, &res, &err) == 2 && strstr(err.msg, "already holds"),
       "refuses to mix with existing shards: %s", err.msg);
    const char *missing[] = {"/nonexistent/file.txt"};
    char out2[256];
    snprintf(out2, sizeof out2, "%s/other", dir);
    ok(l720_prepare_data(missing, 1, out2, &cfg, &res, &err) == 2 &&
           strstr(err.msg, "/nonexistent/file.txt"), "a missing input is named: %s", err.msg);
    ok(!l720_exists(out2), "no output directory after a failed read");
    cfg.block = 4096;
    ok(l720_prepare_data(in, 1, out2, &cfg, &res, &err) == 2 && strstr(err.msg, "no validation "
       "block"), "too little text for a validation block: %s", err.msg);
    cfg.block = 256;
    cfg.val_fraction = 1.5;
    ok(l720_prepare_data(in, 1, out2, &cfg, &res, &err) == 2 && strstr(err.msg, "val-fraction"),
       "bad fraction: %s", err.msg);
    free(text);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ok(system(cmd) == 0, "clean up");
    return tap_done();
}
