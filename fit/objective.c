/* objective.c: see objective.h. */
#include "objective.h"

#include <math.h>
#include <string.h>

l720_objective l720_objective_make(const l720_law *law, const l720_point *pts, size_t npts,
                                   l720_loss_kind kind, double delta)
{
    l720_objective o = {law, pts, npts, NULL, npts, kind, delta};
    return o;
}

double l720_huber(double r, double delta, double *dr)
{
    double a = fabs(r);
    if (a <= delta) {
        *dr = r;
        return 0.5 * r * r;
    }
    *dr = r > 0 ? delta : -delta;
    return delta * (a - 0.5 * delta);
}

static double rho(const l720_objective *o, double r, double *drho)
{
    if (o->kind == L720_LOSS_HUBER)
        return l720_huber(r, o->delta, drho);
    *drho = 2 * r;
    return r * r;
}

#define CHUNK 64 /* points per batch of the law's fast path */

double l720_objective_eval(const l720_objective *o, const double *theta, double *grad)
{
    const l720_law *law = o->law;
    size_t np = law->np;
    double v[CHUNK], g[CHUNK * L720_LAW_MAXP]; /* [CHUNK], [CHUNK, np] */
    double f = 0;
    if (grad)
        for (size_t j = 0; j < np; j++)
            grad[j] = 0;
    for (size_t k0 = 0; k0 < o->n; k0 += CHUNK) {
        size_t m = o->n - k0 < CHUNK ? o->n - k0 : CHUNK;
        const size_t *idx = o->idx ? o->idx + k0 : NULL;
        const l720_point *base = o->idx ? o->pts : o->pts + k0;
        if (law->log_pred_n)
            law->log_pred_n(theta, base, idx, m, v, g);
        else
            for (size_t k = 0; k < m; k++)
                v[k] = law->log_pred(theta, &base[idx ? idx[k] : k], g + k * np);
        for (size_t k = 0; k < m; k++) {
            const l720_point *p = &base[idx ? idx[k] : k];
            double d, fk = rho(o, v[k] - p->lnL, &d);
            f += p->w * fk;
            if (grad) {
                double s = p->w * d;
                const double *gk = g + k * np;
                for (size_t j = 0; j < np; j++)
                    grad[j] += s * gk[j];
            }
        }
    }
    return f;
}

int l720_loss_parse(const char *s, l720_loss_kind *kind, l720_err *err)
{
    if (!strcmp(s, "huber"))
        *kind = L720_LOSS_HUBER;
    else if (!strcmp(s, "mse"))
        *kind = L720_LOSS_MSE;
    else
        return l720_err_set(err, L720_EINPUT, "--loss: unknown '%s' (expected huber or mse)", s);
    return 0;
}
