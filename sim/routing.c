/* routing.c: see routing.h. */
#include "routing.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alias.h"
#include "trace.h"

/* The draws of a layer: xoshiro256** (Blackman and Vigna), seeded from the
 * layer's MT19937 stream (rng.h), inlined because routing is the inner loop. */
typedef struct fast_rng {
    uint64_t s[4];
} fast_rng;

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t draw64(fast_rng *g)
{
    uint64_t *s = g->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

static inline uint32_t draw32(fast_rng *g) { return (uint32_t)(draw64(g) >> 32); }

struct l720_router {
    l720_route_kind kind;
    uint32_t N, side;      /* side: n of pk-zipf (N = n^2); N otherwise */
    uint32_t h, k, K, B;
    double reuse;
    int decode;
    double *zipf;          /* [side] Zipf weights by rank, normalized */
    double *w;             /* [side] weights by id (scratch) */
    double *scaled;        /* [side] alias scratch */
    uint32_t *scratch;     /* [2 side] alias scratch */
    uint32_t *perm[2];     /* [side] rank -> id of the current layer */
    l720_alias_entry *tab[2]; /* [side] alias tables by id of the current layer */
    uint32_t *prev;        /* [B or 1, K] previous token's experts */
    uint32_t *coin;        /* [B, K] scratch of draw_many */
    uint8_t *has_prev;     /* [B or 1] */
    const l720_route_trace *trace;
    long layer;
    fast_rng g;            /* the layer's draws */
};

/* Uniform in [0, n), exact (multiply and reject). */
static inline uint32_t below(fast_rng *g, uint32_t n)
{
    uint64_t m = (uint64_t)draw32(g) * n;
    uint32_t l = (uint32_t)m;
    if (l < n) {
        uint32_t t = (uint32_t)(-n) % n;
        while (l < t) {
            m = (uint64_t)draw32(g) * n;
            l = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

static inline uint32_t alias_draw(fast_rng *g, const l720_alias_entry *tab, uint32_t n)
{
    uint32_t i = below(g, n);
    return draw32(g) < tab[i].keep ? i : tab[i].alias;
}

static inline uint32_t draw(l720_router *r)
{
    switch (r->kind) {
    case L720_ROUTE_ZIPF:
        return alias_draw(&r->g, r->tab[0], r->N);
    case L720_ROUTE_PK_ZIPF:
        return alias_draw(&r->g, r->tab[0], r->side) * r->side +
               alias_draw(&r->g, r->tab[1], r->side);
    default:
        return below(&r->g, r->N);
    }
}

void l720_router_free(l720_router *r)
{
    if (!r)
        return;
    free(r->zipf);
    free(r->w);
    free(r->scaled);
    free(r->scratch);
    for (int s = 0; s < 2; s++) {
        free(r->perm[s]);
        free(r->tab[s]);
    }
    free(r->prev);
    free(r->coin);
    free(r->has_prev);
    free(r);
}

l720_router *l720_router_new(const l720_sim_config *cfg, l720_err *err)
{
    l720_router *r = calloc(1, sizeof *r);
    if (!r)
        goto oom;
    r->kind = cfg->routing;
    r->N = (uint32_t)cfg->experts;
    r->side = r->N;
    r->h = (uint32_t)cfg->heads;
    r->k = (uint32_t)cfg->topk;
    r->K = r->h * r->k;
    r->B = (uint32_t)cfg->batch;
    r->reuse = cfg->reuse;
    r->decode = cfg->decode;
    r->trace = cfg->trace;
    size_t seqs = cfg->decode ? r->B : 1;
    if (!(r->prev = calloc(seqs * r->K, sizeof *r->prev)) ||
        !(r->has_prev = calloc(seqs, 1)) ||
        !(r->coin = malloc((size_t)r->B * r->K * sizeof *r->coin)))
        goto oom;
    if (r->kind == L720_ROUTE_PK_ZIPF)
        r->side = (uint32_t)llround(sqrt((double)r->N));
    if (r->kind == L720_ROUTE_ZIPF || r->kind == L720_ROUTE_PK_ZIPF) {
        int sides = r->kind == L720_ROUTE_PK_ZIPF ? 2 : 1;
        if (!(r->zipf = malloc(r->side * sizeof *r->zipf)) ||
            !(r->w = malloc(r->side * sizeof *r->w)) ||
            !(r->scaled = malloc(r->side * sizeof *r->scaled)) ||
            !(r->scratch = malloc(2 * (size_t)r->side * sizeof *r->scratch)))
            goto oom;
        for (int s = 0; s < sides; s++)
            if (!(r->perm[s] = malloc(r->side * sizeof *r->perm[s])) ||
                !(r->tab[s] = malloc(r->side * sizeof *r->tab[s])))
                goto oom;
        double sum = 0;
        for (uint32_t i = 0; i < r->side; i++)
            sum += r->zipf[i] = pow((double)(i + 1), -cfg->zipf_s);
        for (uint32_t i = 0; i < r->side; i++)
            r->zipf[i] /= sum;
    }
    return r;
oom:
    l720_router_free(r);
    l720_err_set(err, L720_EFAIL, "sim: out of memory for the router (%ld experts)",
                 cfg->experts);
    return NULL;
}

void l720_router_layer(l720_router *r, long layer, l720_rng *rng)
{
    r->layer = layer;
    for (int i = 0; i < 4; i++) /* 64 bits from two 32-bit MT19937 outputs each */
        r->g.s[i] = ((uint64_t)gsl_rng_get(rng->gsl) << 32) | (uint64_t)gsl_rng_get(rng->gsl);
    if (!(r->g.s[0] | r->g.s[1] | r->g.s[2] | r->g.s[3]))
        r->g.s[0] = 1; /* the one state xoshiro cannot leave */
    memset(r->has_prev, 0, r->decode ? r->B : 1);
    int sides = r->kind == L720_ROUTE_PK_ZIPF ? 2 : r->kind == L720_ROUTE_ZIPF ? 1 : 0;
    for (int s = 0; s < sides; s++) {
        for (uint32_t i = 0; i < r->side; i++)
            r->perm[s][i] = i;
        l720_rng_shuffle(rng, r->perm[s], r->side);
        for (uint32_t i = 0; i < r->side; i++)
            r->w[r->perm[s][i]] = r->zipf[i];
        l720_alias_build(r->w, r->side, r->tab[s], r->scratch, r->scaled);
    }
}

static inline int taken(const uint32_t *head, uint32_t j, uint32_t e)
{
    for (uint32_t i = 0; i < j; i++)
        if (head[i] == e)
            return 1;
    return 0;
}

/* A fresh expert for slot j of a head, distinct from head[0..j). Rejection
 * first; a walk from a random id when the head holds most of the experts. */
static uint32_t fresh(l720_router *r, const uint32_t *head, uint32_t j)
{
    for (int tries = 0; tries < 64; tries++) {
        uint32_t e = draw(r);
        if (!taken(head, j, e))
            return e;
    }
    uint32_t e = below(&r->g, r->N);
    while (taken(head, j, e))
        e = e + 1 == r->N ? 0 : e + 1;
    return e;
}

/* Prefetch distance, in draws or accesses: far enough ahead that a random
 * line of a table in the last-level cache arrives before it is needed. */
#define AHEAD 32

/* Draws out[0..n) independently: first all the random numbers, then the
 * alias lookups with the table lines fetched AHEAD draws early (the tables
 * of 10^6 experts do not fit the inner caches). */
static void draw_many(l720_router *r, uint32_t *out, uint32_t *coin, size_t n)
{
    if (r->kind != L720_ROUTE_ZIPF) {
        for (size_t j = 0; j < n; j++)
            out[j] = draw(r);
        return;
    }
    const l720_alias_entry *tab = r->tab[0];
    for (size_t j = 0; j < n; j++) {
        /* one 64-bit draw: the high half picks the entry, the low half tosses its coin */
        uint64_t x = draw64(&r->g);
        uint64_t m = (x >> 32) * r->N;
        if ((uint32_t)m < r->N) {
            uint32_t t = (uint32_t)(-r->N) % r->N;
            while ((uint32_t)m < t)
                m = (uint64_t)draw32(&r->g) * r->N;
        }
        out[j] = (uint32_t)(m >> 32);
        coin[j] = (uint32_t)x;
    }
    for (size_t j = 0; j < n; j++) {
        if (j + AHEAD < n)
            __builtin_prefetch(tab + out[j + AHEAD]);
        uint32_t i = out[j];
        out[j] = coin[j] < tab[i].keep ? i : tab[i].alias;
    }
}

void l720_router_step(l720_router *r, long step, uint32_t *out)
{
    const uint32_t K = r->K, k = r->k;
    if (r->kind == L720_ROUTE_TRACE) {
        const l720_route_trace *t = r->trace;
        for (uint32_t b = 0; b < r->B; b++) {
            long tok = (long)(((uint64_t)step * r->B + b) % (uint64_t)t->tokens);
            memcpy(out + (size_t)b * K,
                   t->ids + ((size_t)tok * (size_t)t->layers + (size_t)r->layer) * K,
                   K * sizeof *out);
        }
        return;
    }
    if (r->reuse <= 0) {
        /* independent slots: draw them all, then redraw repeats within a head */
        draw_many(r, out, r->coin, (size_t)r->B * K);
        if (k > 1)
            for (size_t h0 = 0; h0 < (size_t)r->B * K; h0 += k) {
                /* a 256-bit filter of the head's ids so far: most ids skip the scan */
                uint64_t seen[4] = {0, 0, 0, 0};
                for (uint32_t j = 0; j < k; j++) {
                    uint32_t e = out[h0 + j], bit = (e * 0x9E3779B1u) >> 24;
                    if ((seen[bit >> 6] >> (bit & 63) & 1) && taken(out + h0, j, e)) {
                        e = out[h0 + j] = fresh(r, out + h0, j);
                        bit = (e * 0x9E3779B1u) >> 24;
                    }
                    seen[bit >> 6] |= 1ull << (bit & 63);
                }
            }
        return;
    }
    for (uint32_t b = 0; b < r->B; b++) {
        uint32_t *o = out + (size_t)b * K;
        size_t seq = r->decode ? b : 0;
        uint32_t *pv = r->prev + seq * K;
        int reuse = r->has_prev[seq];
        for (uint32_t s = 0; s < K; s++) {
            uint32_t j = s % k;
            const uint32_t *head = o + (s - j);
            uint32_t e;
            if (reuse && draw32(&r->g) < (uint32_t)(r->reuse * 4294967295.0) &&
                !taken(head, j, pv[s]))
                e = pv[s];
            else
                e = fresh(r, head, j);
            o[s] = e;
        }
        memcpy(pv, o, K * sizeof *o);
        r->has_prev[seq] = 1;
    }
}

int l720_router_same_shape(const l720_router *r) { return r->kind != L720_ROUTE_TRACE; }

void l720_router_popularity(const l720_router *r, double *p)
{
    switch (r->kind) {
    case L720_ROUTE_ZIPF:
        for (uint32_t i = 0; i < r->N; i++)
            p[r->perm[0][i]] = r->zipf[i];
        break;
    case L720_ROUTE_PK_ZIPF:
        for (uint32_t i = 0; i < r->side; i++)
            for (uint32_t j = 0; j < r->side; j++)
                p[(size_t)r->perm[0][i] * r->side + r->perm[1][j]] = r->zipf[i] * r->zipf[j];
        break;
    case L720_ROUTE_TRACE: {
        const l720_route_trace *t = r->trace;
        memset(p, 0, r->N * sizeof *p);
        double n = 0;
        for (long tok = 0; tok < t->tokens; tok++) {
            size_t row = (size_t)tok * (size_t)t->layers + (size_t)r->layer;
            const uint32_t *e = t->ids + row * r->K;
            for (uint32_t s = 0; s < r->K; s++)
                p[e[s]] += 1, n += 1;
        }
        for (uint32_t i = 0; i < r->N; i++)
            p[i] /= n;
        break;
    }
    default:
        for (uint32_t i = 0; i < r->N; i++)
            p[i] = 1.0 / r->N;
    }
}
