/* timing.c: see timing.h. */
#include "timing.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>

#include "eventq.h"

enum { EV_START, EV_DONE, EV_FETCHED };

double l720_batch_seconds(const l720_timing_in *in, double m)
{
    if (m <= 0)
        return 0;
    if (in->transfer == L720_TRANSFER_ZEROCOPY)
        return in->gather_latency + m * in->expert_bytes / in->gather_bandwidth;
    double w = in->expert_bytes / in->link_bandwidth;
    double n = (double)in->concurrency;
    double wire = in->link_latency + m * w;
    double chan = ceil(m / n) * (in->link_latency + w);
    return wire > chan ? wire : chan;
}

typedef struct state {
    const l720_timing_in *in;
    l720_timing_out *out;
    l720_eventq q;
    long G, g0;          /* layer-steps in all; first measured one */
    uint32_t *pending;   /* [G] batches in flight for g */
    uint32_t *early;     /* [G] misses of g that a prefetch fetched */
    long next;           /* next layer-step to start */
    int gpu_busy;
    int demand_issued;   /* for `next` */
    double gpu_free_at, link_free;
} state;

static int issue(state *s, long g, double m, double useless, double now, int prefetch)
{
    if (m <= 0)
        return 0;
    double d = l720_batch_seconds(s->in, m);
    double start = now > s->link_free ? now : s->link_free;
    s->link_free = start + d;
    if (g >= s->g0) {
        double bytes = m * s->in->expert_bytes;
        s->out->link_busy_seconds += d;
        s->out->transfers += m;
        s->out->bytes += bytes;
        if (prefetch)
            s->out->prefetch_bytes += bytes;
        s->out->wasted_bytes += useless * s->in->expert_bytes;
    }
    s->pending[g]++;
    return l720_eventq_push(&s->q, s->link_free, EV_FETCHED, g);
}

/* Prefetch of layer-step g: oracle fetches all its misses; a predictor with
 * accuracy q gets Binomial(m, q) of them right and fetches as many wrong
 * experts for the rest. */
static int prefetch(state *s, long g, double now)
{
    const l720_timing_in *in = s->in;
    if (in->prefetch == L720_PREFETCH_NONE || g >= s->G)
        return 0;
    uint32_t m = in->fetch[g];
    uint32_t right = m;
    if (in->prefetch == L720_PREFETCH_PREDICT)
        right = m ? (uint32_t)gsl_ran_binomial(in->rng->gsl, in->predict_q, m) : 0;
    s->early[g] = right;
    return issue(s, g, m, m - right, now, 1);
}

static int try_start(state *s, double now)
{
    long g = s->next;
    if (g >= s->G || s->gpu_busy || !s->demand_issued || s->pending[g])
        return 0;
    s->gpu_busy = 1;
    return l720_eventq_push(&s->q, now, EV_START, g);
}

static int demand(state *s, long g, double now)
{
    s->demand_issued = 1;
    return issue(s, g, (double)s->in->fetch[g] - s->early[g], 0, now, 0) || try_start(s, now);
}

int l720_timing_run(const l720_timing_in *in, l720_timing_out *out, l720_err *err)
{
    state s = {0};
    s.in = in;
    s.out = out;
    s.G = (in->warmup + in->steps) * in->layers;
    s.g0 = in->warmup * in->layers;
    double *ls = out->layer_stall;
    memset(out, 0, sizeof *out);
    out->layer_stall = ls;
    memset(ls, 0, (size_t)in->layers * sizeof *ls);
    l720_eventq_init(&s.q);
    s.pending = calloc((size_t)s.G, sizeof *s.pending);
    s.early = calloc((size_t)s.G, sizeof *s.early);
    int rc = -1;
    double t_measure = 0, t_end = 0;
    if (!s.pending || !s.early)
        goto done;
    /* time 0: prefetches that would have been issued before the run */
    for (long g = 0; g < in->ahead && g < s.G; g++)
        if (prefetch(&s, g, 0))
            goto done;
    if (demand(&s, 0, 0))
        goto done;
    l720_event e;
    while (l720_eventq_pop(&s.q, &e)) {
        out->events++;
        long g = e.arg;
        switch (e.kind) {
        case EV_FETCHED:
            s.pending[g]--;
            if (try_start(&s, e.time))
                goto done;
            break;
        case EV_START:
            if (g >= s.g0) {
                out->stall_seconds += e.time - s.gpu_free_at;
                ls[g % in->layers] += e.time - s.gpu_free_at;
                out->compute_seconds += in->tc[g];
            }
            if (prefetch(&s, g + in->ahead, e.time) ||
                l720_eventq_push(&s.q, e.time + in->tc[g], EV_DONE, g))
                goto done;
            break;
        case EV_DONE:
            s.gpu_busy = 0;
            s.gpu_free_at = e.time;
            if (g + 1 == s.g0)
                t_measure = e.time;
            t_end = e.time;
            s.next = g + 1;
            s.demand_issued = 0;
            if (g + 1 < s.G && demand(&s, g + 1, e.time))
                goto done;
            break;
        }
    }
    out->total_seconds = t_end - t_measure;
    rc = 0;
done:
    l720_eventq_free(&s.q);
    free(s.pending);
    free(s.early);
    if (rc)
        l720_err_set(err, L720_EFAIL, "sim: out of memory for the event queue");
    return rc;
}
