/* models.c: see models.h. */
#include "models.h"

#include <math.h>

/* f(t) = sum_i (1 - exp(-p_i t)) - c and its derivative. */
static double che_f(const double *p, size_t n, double c, double t, double *df)
{
    double f = -c, d = 0;
    for (size_t i = 0; i < n; i++) {
        double e = exp(-p[i] * t);
        f += 1.0 - e;
        d += p[i] * e;
    }
    *df = d;
    return f;
}

double l720_che_tc(const double *p, size_t n, double c)
{
    size_t support = 0;
    for (size_t i = 0; i < n; i++)
        support += p[i] > 0;
    if (c <= 0)
        return 0;
    if (c >= (double)support)
        return INFINITY;
    /* f is increasing and concave in t: bracket, then Newton kept inside
     * the bracket (bisection when a step leaves it). */
    double lo = 0, hi = c, df;
    while (che_f(p, n, c, hi, &df) < 0) {
        lo = hi;
        hi *= 2;
    }
    double t = hi;
    for (int it = 0; it < 200; it++) {
        double f = che_f(p, n, c, t, &df);
        if (f > 0)
            hi = t;
        else
            lo = t;
        if (fabs(f) < 1e-9 * c || hi - lo < 1e-12 * hi)
            break;
        double nt = df > 0 ? t - f / df : 0.5 * (lo + hi);
        t = nt > lo && nt < hi ? nt : 0.5 * (lo + hi);
    }
    return t;
}

double l720_che_hit_rate(const double *p, size_t n, double c)
{
    return l720_che_hit_rate_at(p, n, l720_che_tc(p, n, c));
}

double l720_che_hit_rate_at(const double *p, size_t n, double t)
{
    if (isinf(t))
        return 1.0;
    double h = 0;
    for (size_t i = 0; i < n; i++)
        h += p[i] * (1.0 - exp(-p[i] * t));
    return h;
}

double l720_uniform_hit_rate(double c, double n) { return c >= n ? 1.0 : c / n; }

double l720_token_miss(double hit_rate, double K) { return 1.0 - pow(hit_rate, K); }

double l720_paper_p_miss(double hit_rate, double c_act) { return pow(1.0 - hit_rate, c_act); }

double l720_paper_exp_claim(double k, double n_hot, double n_tot) { return exp(-k * n_hot / n_tot); }

double l720_paper_token_seconds(double c_act, double t_gemm, double hit_rate, double s_exp,
                                double link_bandwidth, double link_latency)
{
    return c_act * (t_gemm + (1.0 - hit_rate) * s_exp / link_bandwidth) +
           l720_paper_p_miss(hit_rate, c_act) * link_latency;
}
