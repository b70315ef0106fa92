/* optim.c: see optim.h. */
#include "optim.h"

#include <math.h>
#include <stdlib.h>

l720_adamw *l720_adamw_new(size_t n, l720_err *err)
{
    l720_adamw *o = calloc(1, sizeof *o);
    if (o) {
        o->n = n;
        o->m = calloc(n ? n : 1, sizeof *o->m);
        o->v = calloc(n ? n : 1, sizeof *o->v);
    }
    if (!o || !o->m || !o->v) {
        l720_adamw_free(o);
        l720_err_set(err, L720_EFAIL, "out of memory for the optimiser (%zu parameters)", n);
        return NULL;
    }
    return o;
}

void l720_adamw_free(l720_adamw *o)
{
    if (!o)
        return;
    free(o->m);
    free(o->v);
    free(o);
}

double l720_accum_scale(double sum_norm, int k, double clip)
{
    double norm = sum_norm / k;
    return (clip > 0 && norm > clip ? clip / norm : 1.0) / k;
}

double l720_grad_norm(const float *grad, const l720_tensor *ts, int nt,
                      const uint8_t *const *touched)
{
    double sum = 0;
    for (int i = 0; i < nt; i++) {
        const l720_tensor *t = &ts[i];
        const uint8_t *rows = t->sparse_rows && touched ? touched[i] : NULL;
        for (size_t r = 0; r < t->rows; r++) {
            if (rows && !rows[r])
                continue;
            const float *g = grad + t->offset + r * t->cols;
            double s = 0;
            for (size_t c = 0; c < t->cols; c++)
                s += (double)g[c] * g[c];
            sum += s;
        }
    }
    return sqrt(sum);
}

void l720_adamw_step(l720_adamw *o, float *params, const float *grad, const l720_tensor *ts,
                     int nt, const uint8_t *const *touched, const l720_adamw_hp *hp,
                     double scale)
{
    o->t++;
    const float b1 = (float)hp->beta1, b2 = (float)hp->beta2, eps = (float)hp->eps;
    const float lr = (float)hp->lr, sc = (float)scale;
    const float c1 = (float)(1.0 - pow(hp->beta1, (double)o->t));
    const float c2 = (float)(1.0 - pow(hp->beta2, (double)o->t));
    for (int i = 0; i < nt; i++) {
        const l720_tensor *t = &ts[i];
        const uint8_t *rows = t->sparse_rows && touched ? touched[i] : NULL;
        const float decay = t->no_decay ? 0.0f : lr * (float)hp->weight_decay;
        const long nrows = (long)t->rows;
#pragma omp parallel for schedule(static) if (t->rows * t->cols > 32768)
        for (long r = 0; r < nrows; r++) {
            if (rows && !rows[r])
                continue;
            size_t base = t->offset + (size_t)r * t->cols;
            float *p = params + base, *m = o->m + base, *v = o->v + base;
            const float *g = grad + base;
            for (size_t c = 0; c < t->cols; c++) {
                float gc = sc * g[c];
                m[c] = b1 * m[c] + (1.0f - b1) * gc;
                v[c] = b2 * v[c] + (1.0f - b2) * gc * gc;
                float mhat = m[c] / c1, vhat = v[c] / c2;
                p[c] -= decay * p[c] + lr * mhat / (sqrtf(vhat) + eps);
            }
        }
    }
}

double l720_schedule_lr(const l720_schedule *s, long step)
{
    long n_decay = (long)floor(s->decay_frac * (double)s->steps + 0.5);
    if (n_decay > s->steps)
        n_decay = s->steps;
    double f = 1.0;
    if (step < s->warmup)
        f = (double)(step + 1) / (double)s->warmup;
    if (n_decay > 0 && step >= s->steps - n_decay) {
        double d = (double)(s->steps - step) / (double)n_decay;
        if (d < f)
            f = d;
    }
    if (f < 0)
        f = 0;
    return s->lr * f;
}

int l720_schedule_batch(const l720_schedule *s, long step)
{
    if (s->ramp_steps <= 0 || step >= s->ramp_steps || s->batch_start >= s->batch)
        return s->batch;
    double b = s->batch_start + (double)(s->batch - s->batch_start) * (double)step /
                                    (double)s->ramp_steps;
    int bi = (int)floor(b);
    return bi < 1 ? 1 : bi;
}
