/* plan_shape.c: see plan_shape.h. */
#include "plan_shape.h"

#include <math.h>

double l720_shape_blocks(double d)
{
    return d / L720_HEAD_DIM;
}

double l720_shape_total_params(double d, double E, double vocab)
{
    return 2 * d * vocab + (4 + 9 * E) * l720_shape_blocks(d) * d * d;
}

double l720_shape_active_params(double d, double vocab)
{
    return 2 * d * vocab + l720_shape_active_nonembedding(d);
}

double l720_shape_active_nonembedding(double d)
{
    return 13 * l720_shape_blocks(d) * d * d;
}

double l720_shape_train_flops_per_token(double d, double vocab)
{
    return 6 * l720_shape_active_params(d, vocab);
}

double l720_shape_infer_flops_per_token(double d, double vocab)
{
    return 2 * l720_shape_active_params(d, vocab);
}

double l720_shape_kv_values_per_token(double d)
{
    return 2 * l720_shape_blocks(d) * d;
}

double l720_shape_memory_bytes(double d, double E, double vocab, double bytes_per_param,
                               double kv_tokens, double kv_bytes)
{
    return l720_shape_total_params(d, E, vocab) * bytes_per_param +
           kv_tokens * l720_shape_kv_values_per_token(d) * kv_bytes;
}

/* The positive root of c3 d^3 + c2 d^2 + c1 d = y (c1, c2, c3 >= 0, not all 0,
 * y > 0). The left side is increasing and convex on d > 0, so Newton's method
 * started above the root decreases monotonically onto it. */
static double cubic_root(double c3, double c2, double c1, double y)
{
    if (!(y > 0))
        return 0;
    double d = INFINITY;
    if (c3 > 0)
        d = fmin(d, cbrt(y / c3));
    if (c2 > 0)
        d = fmin(d, sqrt(y / c2));
    if (c1 > 0)
        d = fmin(d, y / c1);
    for (int it = 0; it < 200; it++) {
        double f = ((c3 * d + c2) * d + c1) * d - y;
        double fp = (3 * c3 * d + 2 * c2) * d + c1;
        double next = d - f / fp;
        if (!(next < d) || next <= 0)
            break; /* converged: Newton from above cannot decrease any further */
        d = next;
    }
    return d;
}

double l720_shape_d_for_total(double total_params, double E, double vocab)
{
    return cubic_root((4 + 9 * E) / L720_HEAD_DIM, 0, 2 * vocab, total_params);
}

double l720_shape_d_for_active(double active_params, double vocab)
{
    return cubic_root(13 / L720_HEAD_DIM, 0, 2 * vocab, active_params);
}

double l720_shape_d_for_memory(double memory_bytes, double E, double vocab,
                               double bytes_per_param, double kv_tokens, double kv_bytes)
{
    return cubic_root(bytes_per_param * (4 + 9 * E) / L720_HEAD_DIM,
                      kv_tokens * kv_bytes * 2 / L720_HEAD_DIM, bytes_per_param * 2 * vocab,
                      memory_bytes);
}

double l720_shape_round_d(double d)
{
    double r = L720_HEAD_DIM * nearbyint(d / L720_HEAD_DIM);
    return r < L720_HEAD_DIM ? L720_HEAD_DIM : r;
}

/* ---- PEER ---------------------------------------------------------------- */

/* Shared by total and active counts: query projection, its BatchNorm, sub-keys. */
static double peer_router_params(const l720_peer *p, double d)
{
    double n = sqrt(p->experts);
    return d * p->heads * p->d_key + 2 * p->heads * p->d_key + p->heads * n * p->d_key;
}

double l720_peer_layer_total_params(const l720_peer *p, double d)
{
    return peer_router_params(p, d) + 2 * p->experts * d;
}

double l720_peer_layer_active_params(const l720_peer *p, double d)
{
    return peer_router_params(p, d) + 2 * p->heads * p->topk * d;
}

double l720_peer_layer_forward_flops(const l720_peer *p, double d)
{
    double n = sqrt(p->experts);
    return 2 * d * p->heads * p->d_key + 2 * p->heads * n * p->d_key + 4 * p->heads * p->topk * d;
}

/* Parameters of the family without the PEER layers' FFNs: embeddings,
 * attention everywhere, a dense SwiGLU FFN in the blocks that keep one. */
static double peer_model_rest(double layers, double d, double vocab)
{
    double nb = l720_shape_blocks(d);
    return 2 * d * vocab + 4 * nb * d * d + 9 * (nb - layers) * d * d;
}

double l720_peer_model_total_params(const l720_peer *p, double layers, double d, double vocab)
{
    return peer_model_rest(layers, d, vocab) + layers * l720_peer_layer_total_params(p, d);
}

double l720_peer_model_active_params(const l720_peer *p, double layers, double d, double vocab)
{
    return peer_model_rest(layers, d, vocab) + layers * l720_peer_layer_active_params(p, d);
}

double l720_peer_model_train_flops_per_token(const l720_peer *p, double layers, double d,
                                             double vocab)
{
    return 6 * peer_model_rest(layers, d, vocab) + 3 * layers * l720_peer_layer_forward_flops(p, d);
}

double l720_peer_model_d_for_total(const l720_peer *p, double layers, double total_params,
                                   double vocab)
{
    if (!(total_params > 0))
        return 0;
    /* the family needs n_blocks >= layers: d >= 64 layers */
    double lo = L720_HEAD_DIM * layers, hi = lo > 1 ? 2 * lo : 64;
    if (l720_peer_model_total_params(p, layers, lo, vocab) >= total_params)
        return lo;
    while (l720_peer_model_total_params(p, layers, hi, vocab) < total_params && hi < 1e12)
        hi *= 2;
    for (int it = 0; it < 200 && hi - lo > 1e-12 * hi; it++) {
        double mid = 0.5 * (lo + hi);
        if (l720_peer_model_total_params(p, layers, mid, vocab) < total_params)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}
