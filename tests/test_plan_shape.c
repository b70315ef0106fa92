/* test_plan_shape.c: parameter counting against hand-computed cases, and the
 * inverses (width for a parameter count or a memory footprint). */
#include <math.h>

#include "fit/plan_shape.h"
#include "tap.h"

#define V L720_GPT2_VOCAB

static void family_counts(void)
{
    /* d = 768: 12 blocks. Embeddings 2 * 768 * 50257 = 77,194,752;
     * dense blocks 13 * 12 * 768^2 = 92,012,544. */
    ok(l720_shape_blocks(768) == 12, "d 768 has 12 blocks");
    ok(l720_shape_active_params(768, V) == 169207296.0, "N_act(d 768) = 169,207,296");
    ok(l720_shape_total_params(768, 1, V) == 169207296.0, "dense: N_total = N_act");
    /* E = 8: (4 + 72) * 12 * 768^2 = 537,919,488 + embeddings */
    ok(l720_shape_total_params(768, 8, V) == 615114240.0, "N_total(d 768, E 8) = 615,114,240");
    ok(l720_shape_active_nonembedding(768) == 92012544.0, "non-embedding N_act(d 768)");
    ok(l720_shape_train_flops_per_token(768, V) == 6 * 169207296.0, "training FLOPs/token 6 N_act");
    ok(l720_shape_infer_flops_per_token(768, V) == 2 * 169207296.0, "inference FLOPs/token 2 N_act");
    /* KV cache: 2 * 12 * 768 = 18,432 values per token */
    ok(l720_shape_kv_values_per_token(768) == 18432.0, "KV values per token (d 768) = 18,432");
    /* d = 1024, E = 4, bf16, 16,384 tokens of KV cache:
     * N_total = 2*1024*50257 + 40*16*1024^2 = 102,926,336 + 671,088,640 = 774,014,976
     * KV = 16384 * 2 * 16 * 1024 values = 536,870,912 */
    ok(l720_shape_total_params(1024, 4, V) == 774014976.0, "N_total(d 1024, E 4)");
    ok(l720_shape_memory_bytes(1024, 4, V, 2, 16384, 2) == 2 * 774014976.0 + 2 * 536870912.0,
       "memory = 2 bytes * (N_total + KV values)");
}

static void inverses(void)
{
    ok_rel(l720_shape_d_for_total(615114240.0, 8, V), 768, 1e-12, "d for N_total (E 8) = 768");
    ok_rel(l720_shape_d_for_active(169207296.0, V), 768, 1e-12, "d for N_act = 768");
    ok_rel(l720_shape_d_for_memory(2 * 774014976.0 + 2 * 536870912.0, 4, V, 2, 16384, 2), 1024,
           1e-12, "d for memory with KV cache = 1024");
    ok_rel(l720_shape_d_for_memory(2 * 774014976.0, 4, V, 2, 0, 2), 1024, 1e-12,
           "d for model memory = 1024");
    double worst = 0;
    for (double d = 1; d < 1e6; d *= 1.37)
        for (double E = 1; E <= 1024; E *= 2) {
            double back = l720_shape_d_for_total(l720_shape_total_params(d, E, V), E, V);
            worst = fmax(worst, fabs(back - d) / d);
        }
    ok(worst < 1e-12, "d -> N_total -> d round trip over d 1 .. 1e6, E 1 .. 1024 (worst %.2g)",
       worst);
    ok(l720_shape_d_for_total(0, 1, V) == 0 && l720_shape_d_for_total(-5, 1, V) == 0,
       "no width for non-positive counts");
    ok(l720_shape_round_d(770) == 768 && l720_shape_round_d(810) == 832 &&
           l720_shape_round_d(10) == 64,
       "round to the nearest multiple of 64 (at least 64)");
}

static void peer(void)
{
    l720_peer p = {.experts = 1048576, .heads = 8, .topk = 16, .d_key = 128};
    /* query 768*8*128 = 786,432; BatchNorm 2*8*128 = 2,048; sub-keys 8*1024*128 = 1,048,576;
     * experts 2 * 1048576 * 768 = 1,610,612,736 */
    ok(l720_peer_layer_total_params(&p, 768) == 1612449792.0, "PEER layer: 1,612,449,792 params");
    /* active: router 1,837,056 + 2*8*16*768 = 196,608 */
    ok(l720_peer_layer_active_params(&p, 768) == 2033664.0, "PEER layer: 2,033,664 active");
    /* FLOPs: query 2*768*1024 = 1,572,864; scoring 2*8*1024*128 = 2,097,152;
     * experts 4*8*16*768 = 393,216 */
    ok(l720_peer_layer_forward_flops(&p, 768) == 4063232.0, "PEER layer: 4,063,232 FLOPs/token");
    /* one of 12 blocks with PEER: rest = 77,194,752 + 48 d^2 + 99 d^2 = 163,898,880 */
    ok(l720_peer_model_total_params(&p, 1, 768, V) == 1776348672.0, "PEER model total");
    ok(l720_peer_model_active_params(&p, 1, 768, V) == 165932544.0, "PEER model active");
    ok(l720_peer_model_train_flops_per_token(&p, 1, 768, V) == 995582976.0,
       "PEER model training FLOPs/token = 6 rest + 3 PEER forward");
    ok(l720_peer_model_active_params(&p, 0, 768, V) == l720_shape_active_params(768, V),
       "no PEER layer: the dense family");
    ok_rel(l720_peer_model_d_for_total(&p, 1, 1776348672.0, V), 768, 1e-9,
           "PEER model: d for its total = 768");
}

int main(void)
{
    family_counts();
    inverses();
    peer();
    return tap_done();
}
