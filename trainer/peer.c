/* peer.c: see peer.h. (placeholder until the layer lands) */
#include "peer.h"

#include <stdlib.h>

l720_peer *l720_peer_new(size_t max_N, int C, int n, int h, int k, int dk)
{
    l720_peer *p = calloc(1, sizeof *p);
    p->max_N = max_N;
    p->C = C;
    p->n = n;
    p->h = h;
    p->k = k;
    p->dk = dk;
    size_t N = max_N ? max_N : 1;
    p->ids = calloc(N * (size_t)h * (size_t)k, sizeof(int32_t));
    return p;
}

void l720_peer_free(l720_peer *p)
{
    if (!p)
        return;
    free(p->ids);
    free(p);
}

void l720_peer_forward(l720_peer *p, float *out, const float *inp, const float *wq,
                       const float *keys1, const float *keys2, const float *u, const float *v,
                       float *run_mean, float *run_var, float momentum, size_t N, int training)
{
    (void)p; (void)out; (void)inp; (void)wq; (void)keys1; (void)keys2; (void)u; (void)v;
    (void)run_mean; (void)run_var; (void)momentum; (void)N; (void)training;
}

void l720_peer_backward(l720_peer *p, float *dinp, float *dwq, float *dkeys1, float *dkeys2,
                        float *du, float *dv, uint8_t *touched, const float *dout,
                        const float *inp, const float *wq, const float *keys1,
                        const float *keys2, const float *u, const float *v)
{
    (void)p; (void)dinp; (void)dwq; (void)dkeys1; (void)dkeys2; (void)du; (void)dv;
    (void)touched; (void)dout; (void)inp; (void)wq; (void)keys1; (void)keys2; (void)u; (void)v;
}
