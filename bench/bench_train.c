/* bench_train.c: CPU training throughput of the reference configuration
 * (byte level, d_model 128, 4 layers, dense SwiGLU, T = 256, batch 8) on the
 * Debian text corpus (fortunes, or the text files/directories given).
 *
 *   make bench/bench_train && bench/bench_train [STEPS] [TEXT...]
 *
 * Last line: cpu_train_tokens_per_second VALUE (training steps only; the
 * evaluation and checkpoint at the end are not timed). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trainer/data_prepare.h"
#include "trainer/train.h"

int main(int argc, char **argv)
{
    long steps = argc > 1 ? atol(argv[1]) : 10;
    const char *def[] = {"/usr/share/games/fortunes"};
    const char *const *in = argc > 2 ? (const char *const *)argv + 2 : def;
    int n_in = argc > 2 ? argc - 2 : 1;
    char dir[] = "/tmp/l720_bench_train_XXXXXX";
    if (!mkdtemp(dir) || steps < 1)
        return 1;
    char data[256], out[256], cmd[512];
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(out, sizeof out, "%s/run", dir);
    l720_err err;
    l720_err_clear(&err);
    l720_prepare_cfg pc = {0.1, 4096, 100000000, "bytes"};
    l720_prepare_out po;
    l720_train_cfg cfg;
    l720_cfg_defaults(&cfg);
    cfg.steps = steps;
    cfg.batch = 8;
    cfg.eval_every = steps;
    cfg.eval_tokens = 2048;
    cfg.warmup = 1;
    l720_train_opts o = {data, out, NULL, 0, NULL, NULL, NULL, NULL};
    l720_train_result res;
    int rc = l720_prepare_data(in, n_in, data, &pc, &po, &err);
    if (!rc)
        rc = l720_train_run(&cfg, &o, &res, &err);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_train: could not remove %s\n", dir);
    if (rc) {
        fprintf(stderr, "bench_train: %s\n", err.msg);
        return 1;
    }
    printf("corpus %zu train bytes, unigram entropy %.4f nats/token\n", po.train_tokens,
           po.unigram_entropy);
    printf("d_model 128, 4 layers, dense, T 256, batch 8: %ld steps, %.0f tokens, N_act %.0f, "
           "train loss %.4f, val loss %.4f\n",
           res.step, res.tokens, res.n_act, res.train_loss, res.val_loss);
    printf("cpu_train_tokens_per_second %.1f\n", res.tokens_per_second);
    return 0;
}
