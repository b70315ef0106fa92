/* bench_model.c: speed of the CPU reference model, forward + backward.
 *
 *   make bench/bench_model && OMP_NUM_THREADS=1 bench/bench_model [peer]
 *
 * d = 256, 4 blocks (block 1 a Switch layer of 8 experts; with "peer", block 2
 * a PEER layer of 128² experts, 4 heads, top-8), T = 256, B = 4, byte
 * vocabulary. Prints the time of each pass (best of 3) and, last,
 * `model_tokens_per_s VALUE` (forward + backward). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "trainer/model.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv)
{
    l720_model_cfg c;
    memset(&c, 0, sizeof c);
    c.vocab = 256;
    c.d_model = 256;
    c.n_layers = 4;
    c.n_heads = 4;
    c.seq_len = 256;
    c.ffn[1].kind = L720_FFN_MOE;
    c.ffn[1].n_experts = 8;
    if (argc > 1 && !strcmp(argv[1], "peer")) {
        c.ffn[2].kind = L720_FFN_PEER;
        c.ffn[2].n_experts = 128 * 128;
        c.ffn[2].heads = 4;
        c.ffn[2].topk = 8;
    }
    enum { B = 4, T = 256 };
    l720_err err;
    l720_model *m = l720_model_new(&c, B, 1, &err);
    if (!m) {
        fprintf(stderr, "bench_model: %s\n", err.msg);
        return 2;
    }
    static int32_t tok[B * T], tgt[B * T];
    for (int i = 0; i < B * T; i++) {
        tok[i] = (i * 7) % 256;
        tgt[i] = (i * 13) % 256;
    }
    double best_f = 1e30, best_b = 1e30;
    l720_forward_out out;
    for (int it = 0; it < 3; it++) {
        double t0 = now();
        l720_model_zero_grad(m);
        l720_model_forward(m, tok, tgt, B, T, 1, &out, &err);
        double t1 = now();
        l720_model_backward(m);
        double t2 = now();
        best_f = t1 - t0 < best_f ? t1 - t0 : best_f;
        best_b = t2 - t1 < best_b ? t2 - t1 : best_b;
    }
    printf("params %.0f active %.0f loss %.4f\n", l720_model_total_params(m),
           l720_model_active_params(m), out.loss);
    printf("forward_s %.4f\nbackward_s %.4f\n", best_f, best_b);
    printf("model_tokens_per_s %.1f\n", B * T / (best_f + best_b));
    l720_model_free(m);
    return 0;
}
