/* test_train_ckpt.c: checkpoints round-trip exactly; corrupt, truncated and
 * foreign files are refused; a failed save keeps the previous file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "tap.h"
#include "trainer/ckpt.h"

int main(void)
{
    l720_err err;
    char dir[] = "/tmp/l720_ckpt_XXXXXX";
    ok(mkdtemp(dir) != NULL, "temporary folder");
    char path[256];
    snprintf(path, sizeof path, "%s/checkpoint.bin", dir);
    ok(l720_crc32(0, "123456789", 9) == 0xCBF43926u, "CRC-32 check value");

    enum { N = 1001, NB = 7 };
    float *p = malloc(N * sizeof *p), *m = malloc(N * sizeof *m), *v = malloc(N * sizeof *v);
    float b[NB];
    for (int i = 0; i < N; i++) {
        p[i] = (float)i / 3.0f;
        m[i] = -(float)i * 1e-3f;
        v[i] = (float)i * 1e-7f;
    }
    for (int i = 0; i < NB; i++)
        b[i] = (float)i + 0.5f;
    cJSON *cfg = cJSON_CreateObject();
    cJSON_AddNumberToObject(cfg, "d_model", 128);
    l720_ckpt_meta meta = {42, 1234.0, {3, 1, 17}, 42, 1.0 / 3.0, 5, 9.25, 10.5};
    l720_ckpt_arrays a = {N, NB, p, m, v, b};
    ok(l720_ckpt_save(path, cfg, &meta, &a, &err) == 0, "save");
    l720_ckpt *c = l720_ckpt_read(path, &err);
    ok(c != NULL, "read: %s", c ? "" : err.msg);
    ok(c && c->meta.step == 42 && c->meta.tokens == 1234.0 && c->meta.data.epoch == 3 &&
           c->meta.data.shard == 1 && c->meta.data.window == 17 && c->meta.adam_t == 42 &&
           c->meta.loss_sum == 1.0 / 3.0 && c->meta.loss_count == 5,
       "scalars round-trip exactly (loss sum bit for bit)");
    ok(c && c->a.n == N && c->a.nb == NB && !memcmp(c->a.params, p, N * sizeof *p) &&
           !memcmp(c->a.m, m, N * sizeof *m) && !memcmp(c->a.v, v, N * sizeof *v) &&
           !memcmp(c->a.buffers, b, sizeof b), "arrays round-trip");
    ok(c && cJSON_GetObjectItem(c->config, "d_model")->valuedouble == 128, "config kept");
    l720_ckpt_free(c);

    size_t len;
    char *raw = l720_read_file(path, &len, &err);
    raw[len / 2] ^= 1;
    l720_write_file_atomic(path, raw, len, &err);
    ok(!l720_ckpt_read(path, &err) && err.code == 2 && strstr(err.msg, "CRC"),
       "a flipped bit is caught: %s", err.msg);
    l720_write_file_atomic(path, raw, len - 100, &err);
    ok(!l720_ckpt_read(path, &err) && err.code == 2, "truncated: %s", err.msg);
    l720_write_file_atomic(path, "hello world, not a checkpoint", 29, &err);
    ok(!l720_ckpt_read(path, &err) && strstr(err.msg, "not an llm720 checkpoint"),
       "foreign file: %s", err.msg);
    free(raw);

    /* a save into a directory that does not exist fails and writes nothing */
    char bad[256];
    snprintf(bad, sizeof bad, "%s/missing/checkpoint.bin", dir);
    ok(l720_ckpt_save(bad, cfg, &meta, &a, &err) != 0 && !l720_exists(bad), "failed save: %s",
       err.msg);
    cJSON_Delete(cfg);
    free(p);
    free(m);
    free(v);
    remove(path);
    remove(dir);
    return tap_done();
}
