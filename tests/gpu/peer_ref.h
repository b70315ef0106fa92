/* peer_ref.h: a plain double-precision PEER layer on the CPU, the reference
 * the GPU kernels are checked against (same function as kernels/peer_gpu.h).
 * Routing is checked separately; the expert part and the backward take the
 * routing (ids, gates) as given, so that their errors are rounding only. */
#ifndef L720_PEER_REF_H
#define L720_PEER_REF_H

#include <vector>

struct peer_ref_dims {
    int T, d, n, h, k, dk;
};

/* Query and BatchNorm (batch statistics): q [T, HD], qn [T, HD], mean, var [HD]. */
void peer_ref_query(const peer_ref_dims &m, const std::vector<double> &x,
                    const std::vector<double> &wq, const std::vector<double> &gamma,
                    const std::vector<double> &beta, std::vector<double> &q,
                    std::vector<double> &qn, std::vector<double> &mean, std::vector<double> &var);

/* Routing from a given qn: ids, gates [T, h, k] (ties: smaller index, then smaller id). */
void peer_ref_route(const peer_ref_dims &m, const std::vector<double> &qn,
                    const std::vector<double> &keys, std::vector<int> &ids,
                    std::vector<double> &gates);

/* y [T, d] for given routing. */
void peer_ref_expert(const peer_ref_dims &m, const std::vector<double> &x,
                     const std::vector<double> &u, const std::vector<double> &v,
                     const std::vector<int> &ids, const std::vector<double> &gates,
                     std::vector<double> &y);

/* Backward for given routing; qn: the query the scores used; q, mean, var:
 * BatchNorm input and statistics. du, dv are dense [N, d]. */
struct peer_ref_grads {
    std::vector<double> dx, dwq, dkeys, dgamma, dbeta, du, dv;
};
void peer_ref_backward(const peer_ref_dims &m, const std::vector<double> &x,
                       const std::vector<double> &wq, const std::vector<double> &keys,
                       const std::vector<double> &gamma, const std::vector<double> &u,
                       const std::vector<double> &v, const std::vector<double> &q,
                       const std::vector<double> &qn, const std::vector<double> &mean,
                       const std::vector<double> &var, const std::vector<int> &ids,
                       const std::vector<double> &gates, const std::vector<double> &dy,
                       peer_ref_grads &g);

#endif
