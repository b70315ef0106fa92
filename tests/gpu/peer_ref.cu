/* peer_ref.cu: see peer_ref.h. Host code only; loops written for clarity, not speed. */
#include "peer_ref.h"

#include <algorithm>
#include <cmath>

static double gelu(double a) { return 0.5 * a * (1.0 + std::erf(a / std::sqrt(2.0))); }
static double gelu_grad(double a)
{
    return 0.5 * (1.0 + std::erf(a / std::sqrt(2.0))) + a * std::exp(-0.5 * a * a) / 2.5066282746310002;
}

void peer_ref_query(const peer_ref_dims &m, const std::vector<double> &x,
                    const std::vector<double> &wq, const std::vector<double> &gamma,
                    const std::vector<double> &beta, std::vector<double> &q,
                    std::vector<double> &qn, std::vector<double> &mean, std::vector<double> &var)
{
    const int HD = m.h * m.dk;
    q.assign((size_t)m.T * HD, 0.0);
    for (int t = 0; t < m.T; t++)
        for (int i = 0; i < m.d; i++) {
            double xv = x[(size_t)t * m.d + i];
            for (int c = 0; c < HD; c++)
                q[(size_t)t * HD + c] += xv * wq[(size_t)i * HD + c];
        }
    mean.assign(HD, 0.0);
    var.assign(HD, 0.0);
    for (int c = 0; c < HD; c++) {
        for (int t = 0; t < m.T; t++)
            mean[c] += q[(size_t)t * HD + c];
        mean[c] /= m.T;
        for (int t = 0; t < m.T; t++) {
            double e = q[(size_t)t * HD + c] - mean[c];
            var[c] += e * e;
        }
        var[c] /= m.T;
    }
    qn.resize(q.size());
    for (int t = 0; t < m.T; t++)
        for (int c = 0; c < HD; c++) {
            size_t i = (size_t)t * HD + c;
            qn[i] = (q[i] - mean[c]) / std::sqrt(var[c] + 1e-5) * gamma[c] + beta[c];
        }
}

/* Indices of the k best of v (larger first; ties to the smaller key). */
static std::vector<int> topk(const std::vector<double> &v, const std::vector<long> &key, int k)
{
    std::vector<int> o(v.size());
    for (size_t i = 0; i < v.size(); i++)
        o[i] = (int)i;
    std::stable_sort(o.begin(), o.end(), [&](int a, int b) {
        return v[a] > v[b] || (v[a] == v[b] && key[a] < key[b]);
    });
    o.resize(k);
    return o;
}

void peer_ref_route(const peer_ref_dims &m, const std::vector<double> &qn,
                    const std::vector<double> &keys, std::vector<int> &ids,
                    std::vector<double> &gates)
{
    const int HD = m.h * m.dk, dk2 = m.dk / 2, n = m.n, k = m.k;
    ids.assign((size_t)m.T * m.h * k, 0);
    gates.assign(ids.size(), 0.0);
    for (int t = 0; t < m.T; t++)
        for (int j = 0; j < m.h; j++) {
            std::vector<double> s[2];
            std::vector<int> top[2];
            for (int half = 0; half < 2; half++) {
                s[half].assign(n, 0.0);
                std::vector<long> key(n);
                for (int i = 0; i < n; i++) {
                    key[i] = i;
                    for (int c = 0; c < dk2; c++)
                        s[half][i] += qn[(size_t)t * HD + j * m.dk + half * dk2 + c] *
                                      keys[(((size_t)(2 * j + half)) * n + i) * dk2 + c];
                }
                top[half] = topk(s[half], key, k);
            }
            std::vector<double> cv(k * k);
            std::vector<long> ck(k * k);
            for (int a = 0; a < k; a++)
                for (int b = 0; b < k; b++) {
                    cv[a * k + b] = s[0][top[0][a]] + s[1][top[1][b]];
                    ck[a * k + b] = (long)top[0][a] * n + top[1][b];
                }
            std::vector<int> best = topk(cv, ck, k);
            double mx = cv[best[0]], z = 0.0;
            for (int r = 0; r < k; r++)
                z += std::exp(cv[best[r]] - mx);
            for (int r = 0; r < k; r++) {
                size_t p = ((size_t)t * m.h + j) * k + r;
                ids[p] = (int)ck[best[r]];
                gates[p] = std::exp(cv[best[r]] - mx) / z;
            }
        }
}

static double dot(const double *a, const double *b, int d)
{
    double s = 0.0;
    for (int i = 0; i < d; i++)
        s += a[i] * b[i];
    return s;
}

void peer_ref_expert(const peer_ref_dims &m, const std::vector<double> &x,
                     const std::vector<double> &u, const std::vector<double> &v,
                     const std::vector<int> &ids, const std::vector<double> &gates,
                     std::vector<double> &y)
{
    const int d = m.d, hk = m.h * m.k;
    y.assign((size_t)m.T * d, 0.0);
    for (int t = 0; t < m.T; t++)
        for (int i = 0; i < hk; i++) {
            size_t p = (size_t)t * hk + i, e = (size_t)ids[p];
            double c = gates[p] * gelu(dot(&u[e * d], &x[(size_t)t * d], d));
            for (int q = 0; q < d; q++)
                y[(size_t)t * d + q] += c * v[e * d + q];
        }
}

void peer_ref_backward(const peer_ref_dims &m, const std::vector<double> &x,
                       const std::vector<double> &wq, const std::vector<double> &keys,
                       const std::vector<double> &gamma, const std::vector<double> &u,
                       const std::vector<double> &v, const std::vector<double> &q,
                       const std::vector<double> &qn, const std::vector<double> &mean,
                       const std::vector<double> &var, const std::vector<int> &ids,
                       const std::vector<double> &gates, const std::vector<double> &dy,
                       peer_ref_grads &g)
{
    const int d = m.d, n = m.n, k = m.k, h = m.h, HD = h * m.dk, dk2 = m.dk / 2, T = m.T;
    const size_t N = (size_t)n * n;
    g.dx.assign((size_t)T * d, 0.0);
    g.du.assign(N * d, 0.0);
    g.dv.assign(N * d, 0.0);
    g.dkeys.assign((size_t)2 * h * n * dk2, 0.0);
    std::vector<double> dqn((size_t)T * HD, 0.0);
    for (int t = 0; t < T; t++)
        for (int j = 0; j < h; j++) {
            std::vector<double> dg(k), gg(k);
            double sgdg = 0.0;
            for (int r = 0; r < k; r++) {
                size_t p = ((size_t)t * h + j) * k + r, e = (size_t)ids[p];
                double a = dot(&u[e * d], &x[(size_t)t * d], d);
                double dc = dot(&dy[(size_t)t * d], &v[e * d], d);
                gg[r] = gates[p];
                dg[r] = gelu(a) * dc;
                sgdg += gg[r] * dg[r];
                double da = gates[p] * gelu_grad(a) * dc, cf = gates[p] * gelu(a);
                for (int c = 0; c < d; c++) {
                    g.dv[e * d + c] += cf * dy[(size_t)t * d + c];
                    g.du[e * d + c] += da * x[(size_t)t * d + c];
                    g.dx[(size_t)t * d + c] += da * u[e * d + c];
                }
            }
            for (int r = 0; r < k; r++) {
                size_t p = ((size_t)t * h + j) * k + r;
                double ds = gg[r] * (dg[r] - sgdg);
                int ih[2] = {ids[p] / n, ids[p] % n};
                for (int half = 0; half < 2; half++) {
                    size_t kr = ((size_t)(2 * j + half) * n + ih[half]) * dk2;
                    size_t qo = (size_t)t * HD + j * m.dk + half * dk2;
                    for (int c = 0; c < dk2; c++) {
                        dqn[qo + c] += ds * keys[kr + c];
                        g.dkeys[kr + c] += ds * qn[qo + c];
                    }
                }
            }
        }
    /* BatchNorm backward */
    g.dgamma.assign(HD, 0.0);
    g.dbeta.assign(HD, 0.0);
    std::vector<double> dq((size_t)T * HD);
    for (int c = 0; c < HD; c++) {
        double rs = 1.0 / std::sqrt(var[c] + 1e-5);
        for (int t = 0; t < T; t++) {
            size_t i = (size_t)t * HD + c;
            g.dbeta[c] += dqn[i];
            g.dgamma[c] += dqn[i] * (q[i] - mean[c]) * rs;
        }
        for (int t = 0; t < T; t++) {
            size_t i = (size_t)t * HD + c;
            double xh = (q[i] - mean[c]) * rs;
            dq[i] = gamma[c] * rs * (dqn[i] - g.dbeta[c] / T - xh * g.dgamma[c] / T);
        }
    }
    g.dwq.assign((size_t)d * HD, 0.0);
    for (int t = 0; t < T; t++)
        for (int i = 0; i < d; i++) {
            double xv = x[(size_t)t * d + i], s = 0.0;
            for (int c = 0; c < HD; c++) {
                g.dwq[(size_t)i * HD + c] += xv * dq[(size_t)t * HD + c];
                s += dq[(size_t)t * HD + c] * wq[(size_t)i * HD + c];
            }
            g.dx[(size_t)t * d + i] += s;
        }
}
