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
    /* f is increasing and concave in t, and f(c) <= 0 (each term is at most
     * p_i t): Newton from t = c climbs to the root from below without
     * overshooting (the tangent of a concave function lies above it). */
    double t = c, df;
    for (int it = 0; it < 100; it++) {
        double f = che_f(p, n, c, t, &df);
        if (f > -1e-10 * c || !(df > 0))
            break;
        t -= f / df;
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

double l720_paper_exp_claim(double k, double n_hot, double n_tot)
{
    return exp(-k * n_hot / n_tot);
}

double l720_paper_token_seconds(double c_act, double t_gemm, double hit_rate, double s_exp,
                                double link_bandwidth, double link_latency)
{
    return c_act * (t_gemm + (1.0 - hit_rate) * s_exp / link_bandwidth) +
           l720_paper_p_miss(hit_rate, c_act) * link_latency;
}
