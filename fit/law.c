/* law.c: the law registry and what every law shares (see law.h). */
#include "law.h"

#include <math.h>
#include <string.h>

const l720_law *const l720_laws[] = {&l720_law_chinchilla, &l720_law_clark, &l720_law_joint_moe,
                                     &l720_law_finegrained, NULL};

const l720_law *l720_law_find(const char *name, l720_err *err)
{
    char names[256] = "";
    for (size_t i = 0; l720_laws[i]; i++) {
        if (name && !strcmp(name, l720_laws[i]->name))
            return l720_laws[i];
        if (i)
            strcat(names, ", ");
        strcat(names, l720_laws[i]->name);
    }
    if (!name)
        l720_err_set(err, L720_EINPUT, "missing --law (one of %s)", names);
    else
        l720_err_set(err, L720_EINPUT, "unknown law '%s' (expected one of %s)", name, names);
    return NULL;
}

static long index_of(const char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(names[i], name))
            return (long)i;
    return -1;
}

long l720_law_param_index(const l720_law *law, const char *name)
{
    return index_of(law->param_names, law->np, name);
}

long l720_law_fit_index(const l720_law *law, const char *name)
{
    return index_of(law->fit_names, law->np, name);
}

void l720_law_to_params(const l720_law *law, const double *theta, double *params)
{
    for (size_t i = 0; i < law->np; i++)
        params[i] = law->log_scale[i] ? exp(theta[i]) : theta[i];
}

void l720_law_from_params(const l720_law *law, const double *params, double *theta)
{
    for (size_t i = 0; i < law->np; i++)
        theta[i] = law->log_scale[i] ? log(params[i]) : params[i];
}

double l720_law_predict(const l720_law *law, const double *params, const l720_point *p)
{
    double theta[L720_LAW_MAXP];
    l720_law_from_params(law, params, theta);
    return exp(law->log_pred(theta, p, NULL));
}

l720_point l720_point_make(double N, double D, double E, double G, double L)
{
    l720_point p = {log(N), log(D), E, log(G), log(L), 1.0, -1};
    return p;
}

int l720_law_in_range(const l720_law *law, const double *params)
{
    for (size_t i = 0; i < law->np; i++)
        if (!(params[i] >= law->lo[i] && params[i] <= law->hi[i]))
            return 0;
    return 1;
}

double l720_lse(const double *t, double *p, size_t n)
{
    size_t im = 0;
    for (size_t i = 1; i < n; i++)
        if (t[i] > t[im])
            im = i;
    double m = t[im], s = 1;
    for (size_t i = 0; i < n; i++)
        if (i != im) {
            p[i] = exp(t[i] - m);
            s += p[i];
        }
    p[im] = 1; /* exp(0): one exponential saved per point */
    double inv = 1 / s;
    for (size_t i = 0; i < n; i++)
        p[i] *= inv;
    return m + log(s);
}
