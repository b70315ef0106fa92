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

double l720_objective_eval(const l720_objective *o, const double *theta, double *grad)
{
    size_t np = o->law->np;
    double g[L720_LAW_MAXP];
    double f = 0;
    if (grad)
        for (size_t j = 0; j < np; j++)
            grad[j] = 0;
    for (size_t k = 0; k < o->n; k++) {
        const l720_point *p = &o->pts[o->idx ? o->idx[k] : k];
        double r = o->law->log_pred(theta, p, grad ? g : NULL) - p->lnL;
        double rho, drho;
        if (o->kind == L720_LOSS_HUBER) {
            rho = l720_huber(r, o->delta, &drho);
        } else {
            rho = r * r;
            drho = 2 * r;
        }
        f += p->w * rho;
        if (grad) {
            double s = p->w * drho;
            for (size_t j = 0; j < np; j++)
                grad[j] += s * g[j];
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
