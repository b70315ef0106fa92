/* test_gpu_peer.cu: the GPU PEER layer (kernels/peer_gpu.h) against the
 * double-precision CPU reference (tests/gpu/peer_ref.h), TAP. Without a GPU
 * it prints a visible skip. Each configuration draws fresh random inputs
 * (seed printed; pass one as argv[1] to repeat), poisons every output with
 * NaN before each run, and checks:
 *   fp32 results (running statistics, gates, AdamW)   rel. error <= 1e-5
 *   bf16 results (query, y, dx, every gradient)        rel. error <= 1e-2
 *   routing: the chosen k experts of each (token, head) score, in the
 *   reference, within 1e-5 of the reference's best k (exact up to ties)
 *   for the GPU's own query
 *   determinism: a second forward + backward is bitwise identical.
 * Relative error: ||gpu - ref|| / ||ref|| over the whole tensor.
 * The CPU trainer's own PEER layer (trainer/peer.c, fp32) is also checked
 * against the double
 * reference (same layouts, same function: rel. error <= 1e-4 for its
 * routing), and the GPU forward against the trainer's on the tokens whose
 * routing both chose identically (at least 90% of tokens: only near-ties
 * within rounding may go either way). */
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "kernels/peer_gpu.h"
#include "tests/gpu/gpu_check.h"
#include "tests/gpu/host_bf16.h"
#include "tests/gpu/peer_ref.h"
extern "C" {
#include "trainer/peer.h"
}

using std::vector;

static int tap_n, tap_failed;
struct row {
    std::string name;
    double err, tol;
    bool pass;
};
static vector<row> table;

static void check(bool pass, const std::string &name, double err, double tol)
{
    printf("%s %d - %s: %.3g (tolerance %.0e)\n", pass ? "ok" : "not ok", ++tap_n, name.c_str(),
           err, tol);
    fflush(stdout);
    if (!pass)
        tap_failed++;
    table.push_back({name, err, tol, pass});
}


static double h_bf2d(uint16_t h) { return h_bf2f(h); }

static uint64_t rng_s;
static double urand()
{
    uint64_t z = (rng_s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return ((z >> 11) + 0.5) / 9007199254740992.0;
}
static double nrand() { return std::sqrt(-2.0 * std::log(urand())) * std::cos(2.0 * M_PI * urand()); }

/* A bf16 tensor on host (rounded values as doubles) and device. */
struct bft {
    vector<double> h;
    uint16_t *d = nullptr;
};
static void bft_make(bft &t, size_t count, double scale)
{
    vector<uint16_t> b(count);
    t.h.resize(count);
    for (size_t i = 0; i < count; i++) {
        b[i] = h_f2bf((float)(scale * nrand()));
        t.h[i] = h_bf2d(b[i]);
    }
    CK(cudaMalloc(&t.d, count * 2));
    CK(cudaMemcpy(t.d, b.data(), count * 2, cudaMemcpyHostToDevice));
}
template <typename T> static vector<T> down(const T *d, size_t count)
{
    vector<T> h(count);
    CK(cudaMemcpy(h.data(), d, count * sizeof(T), cudaMemcpyDeviceToHost));
    return h;
}
static vector<double> down_f(const float *d, size_t count)
{
    vector<float> b = down(d, count);
    return vector<double>(b.begin(), b.end());
}
/* bf16 device values as floats (exact) */
static vector<float> down_bf(const uint16_t *d, size_t count)
{
    vector<uint16_t> b = down(d, count);
    vector<float> f(count);
    for (size_t i = 0; i < count; i++)
        f[i] = (float)h_bf2d(b[i]);
    return f;
}
static float *dev_f(const vector<double> &h)
{
    vector<float> f(h.begin(), h.end());
    float *d;
    CK(cudaMalloc(&d, f.size() * 4));
    CK(cudaMemcpy(d, f.data(), f.size() * 4, cudaMemcpyHostToDevice));
    return d;
}
template <typename T> static T *dev_alloc(size_t count)
{
    T *d;
    CK(cudaMalloc(&d, count * sizeof(T)));
    return d;
}
static void poison(void *d, size_t bytes) { CK(cudaMemset(d, 0xff, bytes)); }

/* ||a - b|| / ||b||; NaN anywhere gives infinity. */
static double relerr(const vector<double> &a, const vector<double> &b)
{
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < b.size(); i++) {
        if (!std::isfinite(a[i]))
            return INFINITY;
        num += (a[i] - b[i]) * (a[i] - b[i]);
        den += b[i] * b[i];
    }
    return den > 0.0 ? std::sqrt(num / den) : std::sqrt(num);
}

struct outputs {
    vector<uint16_t> y, dx;
    vector<int> ids, rows;
    vector<float> gates, dwq, dkeys, dgamma, dbeta, du, dv;
};

/* [rows, cols] -> [cols, rows] */
static vector<double> transpose(const vector<double> &a, size_t rows, size_t cols)
{
    vector<double> o(a.size());
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++)
            o[c * rows + r] = a[r * cols + c];
    return o;
}

static vector<float> to_f(const vector<double> &a) { return vector<float>(a.begin(), a.end()); }
static vector<double> to_d(const vector<float> &a) { return vector<double>(a.begin(), a.end()); }

/* Gates (softmax of the reference's scores) for given ids; also the largest
 * shortfall of the ids' score sum from the best one's (relative). */
static vector<double> gates_for(const peer_ref_dims &m, const vector<double> &qn,
                                const vector<double> &keys, const vector<int> &ids,
                                double *worst)
{
    const int HD = m.h * m.dk, dk2 = m.dk / 2;
    vector<int> best;
    vector<double> gbest, g(ids.size());
    peer_ref_route(m, qn, keys, best, gbest);
    *worst = 0.0;
    for (size_t p0 = 0; p0 < ids.size(); p0 += m.k) {
        const size_t t = p0 / ((size_t)m.h * m.k), j = (p0 / m.k) % m.h;
        auto score = [&](int id) {
            double s = 0.0;
            int ih[2] = {id / m.n, id % m.n};
            for (int half = 0; half < 2; half++)
                for (int c = 0; c < dk2; c++)
                    s += qn[t * HD + j * m.dk + half * dk2 + c] *
                         keys[((2 * j + half) * m.n + ih[half]) * dk2 + c];
            return s;
        };
        double mx = -INFINITY, z = 0.0, sg = 0.0, sr = 0.0;
        vector<double> sc(m.k);
        for (int r = 0; r < m.k; r++) {
            if (ids[p0 + r] < 0 || ids[p0 + r] >= m.n * m.n) {
                *worst = INFINITY;
                return g;
            }
            sc[r] = score(ids[p0 + r]);
            sg += sc[r];
            sr += score(best[p0 + r]);
            mx = std::max(mx, sc[r]);
        }
        for (int r = 0; r < m.k; r++)
            z += std::exp(sc[r] - mx);
        for (int r = 0; r < m.k; r++)
            g[p0 + r] = std::exp(sc[r] - mx) / z;
        *worst = std::max(*worst, std::fabs(sg - sr) / (std::fabs(sr) + 1.0));
    }
    return g;
}

/* The trainer's PEER layer (fp32) against the double reference, given the
 * trainer's routing; and the GPU forward against the trainer's. */
static void check_trainer(const peer_ref_dims &m, const std::string &pre, const vector<double> &x,
                          const vector<double> &wq_t, const vector<double> &keys,
                          const vector<double> &gamma, const vector<double> &beta,
                          const vector<double> &u, const vector<double> &v,
                          const vector<double> &dy, const vector<int> &gpu_ids,
                          const vector<double> &gpu_y)
{
    const int HD = m.h * m.dk;
    const size_t N = (size_t)m.n * m.n, hk = (size_t)m.h * m.k;
    l720_peer *tp = l720_peer_new(m.T, m.d, m.n, m.h, m.k, m.dk);
    vector<float> fx = to_f(x), fwq = to_f(wq_t), fk = to_f(keys), fg = to_f(gamma),
                  fb = to_f(beta), fu = to_f(u), fv = to_f(v), fdy = to_f(dy), rm(HD, 0.0f),
                  rv(HD, 1.0f);
    vector<float> y((size_t)m.T * m.d), dx(y.size(), 0.0f), dwq(fwq.size(), 0.0f),
        dk(fk.size(), 0.0f), dg(HD, 0.0f), db(HD, 0.0f), du(fu.size(), 0.0f), dv(fv.size(), 0.0f);
    vector<uint8_t> touched(N, 0);
    l720_peer_params w = {fwq.data(), fg.data(), fb.data(), fk.data(), fu.data(), fv.data()};
    l720_peer_params g = {dwq.data(), dg.data(), db.data(), dk.data(), du.data(), dv.data()};
    l720_peer_forward(tp, y.data(), fx.data(), &w, rm.data(), rv.data(), 0.1f, m.T, 1);
    l720_peer_backward(tp, dx.data(), &g, touched.data(), fdy.data(), fx.data(), &w);
    vector<int> ids(tp->ids, tp->ids + (size_t)m.T * hk);
    /* reference with the trainer's routing; gates from the reference's scores */
    vector<double> q, qn, mean, var, y_ref, gates;
    const vector<double> wq = transpose(wq_t, HD, m.d);
    peer_ref_query(m, x, wq, gamma, beta, q, qn, mean, var);
    double worst;
    gates = gates_for(m, qn, keys, ids, &worst);
    check(worst <= 1e-5, pre + "trainer routing: chosen vs best score sum", worst, 1e-5);
    peer_ref_expert(m, x, u, v, ids, gates, y_ref);
    double e = relerr(to_d(y), y_ref);
    check(e <= 1e-4, pre + "trainer y vs reference", e, 1e-4);
    peer_ref_grads gr;
    peer_ref_backward(m, x, wq, keys, gamma, u, v, q, qn, mean, var, ids, gates, dy, gr);
    e = relerr(to_d(dx), gr.dx);
    check(e <= 1e-4, pre + "trainer dx vs reference", e, 1e-4);
    e = relerr(to_d(dwq), transpose(gr.dwq, m.d, HD));
    check(e <= 1e-4, pre + "trainer dWq vs reference", e, 1e-4);
    e = relerr(to_d(dk), gr.dkeys);
    check(e <= 1e-4, pre + "trainer d sub-keys vs reference", e, 1e-4);
    e = std::max(relerr(to_d(dg), gr.dgamma), relerr(to_d(db), gr.dbeta));
    check(e <= 1e-4, pre + "trainer d gamma, d beta vs reference", e, 1e-4);
    e = std::max(relerr(to_d(du), gr.du), relerr(to_d(dv), gr.dv));
    check(e <= 1e-4, pre + "trainer dU, dV vs reference", e, 1e-4);
    /* GPU forward vs the trainer's, on tokens routed identically */
    vector<double> a, b;
    size_t tok = 0;
    for (int t = 0; t < m.T; t++) {
        if (!std::equal(ids.begin() + t * hk, ids.begin() + (t + 1) * hk, gpu_ids.begin() + t * hk))
            continue;
        tok++;
        a.insert(a.end(), gpu_y.begin() + (size_t)t * m.d, gpu_y.begin() + (size_t)(t + 1) * m.d);
        b.insert(b.end(), y.begin() + (size_t)t * m.d, y.begin() + (size_t)(t + 1) * m.d);
    }
    /* all h*k ids in the same order; both score an fp32 query, so only
     * near-ties (within summation-order rounding) may go either way */
    printf("# GPU and trainer routed %zu of %d tokens identically\n", tok, m.T);
    check(tok * 10 >= (size_t)m.T * 9, pre + "tokens routed identically by GPU and trainer (>= 0.9)",
          (double)tok / m.T, 0.9);
    e = relerr(a, b);
    check(e <= 1e-2, pre + "GPU y vs trainer y (identically routed tokens)", e, 1e-2);
    l720_peer_free(tp);
}

static void run_config(const peer_ref_dims &m, bool affine)
{
    const int HD = m.h * m.dk, dk2 = m.dk / 2;
    const size_t N = (size_t)m.n * m.n, P = (size_t)m.T * m.h * m.k;
    char tag[96];
    snprintf(tag, sizeof tag, "T%d d%d N%zu h%d k%d dk%d%s", m.T, m.d, N, m.h, m.k, m.dk,
             affine ? " BN-affine" : "");
    printf("# config %s\n", tag);

    bft x, wqt, keys, u, v, dy; /* wqt: [HD, d] as the GPU and trainer keep it */
    bft_make(x, (size_t)m.T * m.d, 1.0);
    bft_make(wqt, (size_t)m.d * HD, 1.0 / std::sqrt((double)m.d));
    bft_make(keys, (size_t)2 * m.h * m.n * dk2, 1.0 / std::sqrt((double)dk2));
    bft_make(u, N * m.d, 1.0 / std::sqrt((double)m.d));
    bft_make(v, N * m.d, 1.0);
    bft_make(dy, (size_t)m.T * m.d, 1.0);
    struct { vector<double> h; } wq = {transpose(wqt.h, HD, m.d)};
    vector<double> gamma(HD, 1.0), beta(HD, 0.0), rm0(HD, 0.0), rv0(HD, 1.0);
    for (int c = 0; affine && c < HD; c++) {
        gamma[c] = (float)(1.0 + 0.1 * nrand());
        beta[c] = (float)(0.1 * nrand());
    }
    float *d_gamma = affine ? dev_f(gamma) : NULL, *d_beta = affine ? dev_f(beta) : NULL;
    float *d_rm = dev_f(rm0), *d_rv = dev_f(rv0);
    l720_peer_weights w = {wqt.d, keys.d, d_gamma, d_beta, u.d, v.d, d_rm, d_rv, 0.1f};
    uint16_t *d_y = dev_alloc<uint16_t>((size_t)m.T * m.d), *d_dx = dev_alloc<uint16_t>((size_t)m.T * m.d);
    l720_peer_grads g = {dev_alloc<float>((size_t)m.d * HD), dev_alloc<float>(keys.h.size()),
                         affine ? dev_alloc<float>(HD) : NULL, affine ? dev_alloc<float>(HD) : NULL};
    l720_peer_dims dims = {m.T, m.d, m.n, m.h, m.k, m.dk};
    l720_err err;
    l720_peer_gpu *peer = l720_peer_gpu_new(&dims, &err);
    if (!peer) {
        printf("Bail out! %s\n", err.msg);
        exit(1);
    }

    auto run = [&](outputs &o) {
        poison(d_y, (size_t)m.T * m.d * 2);
        poison(d_dx, (size_t)m.T * m.d * 2);
        poison(g.wq, (size_t)m.d * HD * 4);
        poison(g.keys, keys.h.size() * 4);
        if (affine) {
            poison(g.gamma, HD * 4);
            poison(g.beta, HD * 4);
        }
        CK(cudaMemcpy(d_rm, vector<float>(HD, 0.0f).data(), HD * 4, cudaMemcpyHostToDevice));
        CK(cudaMemcpy(d_rv, vector<float>(HD, 1.0f).data(), HD * 4, cudaMemcpyHostToDevice));
        if (l720_peer_gpu_forward(peer, &w, x.d, d_y, m.T, 1, NULL, &err) ||
            l720_peer_gpu_backward(peer, &w, x.d, dy.d, d_dx, &g, NULL, &err)) {
            printf("Bail out! %s\n", err.msg);
            exit(1);
        }
        CK(cudaDeviceSynchronize());
        const int32_t *rid;
        const uint16_t *du, *dv;
        int nt = 0;
        if (l720_peer_gpu_rows(peer, &rid, &du, &dv, &nt, NULL, &err)) {
            printf("Bail out! %s\n", err.msg);
            exit(1);
        }
        o.y = down(d_y, (size_t)m.T * m.d);
        o.dx = down(d_dx, (size_t)m.T * m.d);
        o.ids = down(l720_peer_gpu_ids(peer), P);
        o.gates = down(l720_peer_gpu_gates(peer), P);
        o.rows = down(rid, nt);
        o.du = down_bf(du, (size_t)nt * m.d);
        o.dv = down_bf(dv, (size_t)nt * m.d);
        o.dwq = down(g.wq, (size_t)m.d * HD);
        o.dkeys = down(g.keys, keys.h.size());
        if (affine) {
            o.dgamma = down(g.gamma, HD);
            o.dbeta = down(g.beta, HD);
        }
    };
    outputs a, b;
    run(a);
    std::string pre = std::string(tag) + ": ";

    /* query and BatchNorm */
    vector<double> q, qn_ref, mean, var;
    peer_ref_query(m, x.h, wq.h, gamma, beta, q, qn_ref, mean, var);
    vector<double> qn = down_f(l720_peer_gpu_query(peer), (size_t)m.T * HD);
    double e = relerr(qn, qn_ref);
    check(e <= 1e-5, pre + "query + BatchNorm (fp32)", e, 1e-5);
    vector<double> rm = down_f(d_rm, HD), rv = down_f(d_rv, HD), rm_ref(HD), rv_ref(HD), sd(HD);
    double num = 0.0, den = 0.0;
    for (int c = 0; c < HD; c++) {
        rm_ref[c] = 0.1 * mean[c];
        rv_ref[c] = 0.9 + 0.1 * var[c] * m.T / (m.T - 1.0);
        num += (rm[c] - rm_ref[c]) * (rm[c] - rm_ref[c]);
        den += 0.01 * var[c];
    }
    e = std::isfinite(num) ? std::sqrt(num / den) : INFINITY;
    check(e <= 1e-5, pre + "running mean (relative to 0.1 std)", e, 1e-5);
    e = relerr(rv, rv_ref);
    check(e <= 1e-5, pre + "running variance (fp32)", e, 1e-5);

    /* routing: the GPU's choice must be optimal in the reference up to rounding */
    vector<int> ids_ref;
    vector<double> gates_ref;
    peer_ref_route(m, qn, keys.h, ids_ref, gates_ref);
    vector<double> gates_gpu_ids(P), gates_gpu(a.gates.begin(), a.gates.end());
    double worst = 0.0;
    size_t same = 0;
    for (int t = 0; t < m.T; t++)
        for (int j = 0; j < m.h; j++) {
            auto score = [&](int id) {
                double s = 0.0;
                int ih[2] = {id / m.n, id % m.n};
                for (int half = 0; half < 2; half++)
                    for (int c = 0; c < dk2; c++)
                        s += qn[(size_t)t * HD + j * m.dk + half * dk2 + c] *
                             keys.h[((size_t)(2 * j + half) * m.n + ih[half]) * dk2 + c];
                return s;
            };
            size_t p0 = ((size_t)t * m.h + j) * m.k;
            vector<int> sa(a.ids.begin() + p0, a.ids.begin() + p0 + m.k);
            vector<int> sb(ids_ref.begin() + p0, ids_ref.begin() + p0 + m.k);
            double sg = 0.0, sr = 0.0, mx = -INFINITY, z = 0.0;
            vector<double> sc(m.k);
            bool valid = true;
            for (int r = 0; r < m.k; r++) {
                if (sa[r] < 0 || (size_t)sa[r] >= N) {
                    valid = false;
                    break;
                }
                sc[r] = score(sa[r]);
                sg += sc[r];
                sr += score(sb[r]);
                mx = std::max(mx, sc[r]);
            }
            if (!valid) {
                worst = INFINITY;
                continue;
            }
            for (int r = 0; r < m.k; r++)
                z += std::exp(sc[r] - mx);
            for (int r = 0; r < m.k; r++)
                gates_gpu_ids[p0 + r] = std::exp(sc[r] - mx) / z;
            worst = std::max(worst, std::fabs(sg - sr) / (std::fabs(sr) + 1.0));
            std::sort(sa.begin(), sa.end());
            std::sort(sb.begin(), sb.end());
            same += sa == sb;
        }
    check(worst <= 1e-5, pre + "top-k routing: chosen vs best score sum", worst, 1e-5);
    printf("# routing: %zu of %d (token, head) sets identical to the reference\n", same, m.T * m.h);
    e = relerr(gates_gpu, gates_gpu_ids);
    check(e <= 1e-5, pre + "softmax gates (fp32)", e, 1e-5);

    /* expert forward, for the GPU's routing */
    vector<double> y_ref;
    peer_ref_expert(m, x.h, u.h, v.h, a.ids, gates_gpu_ids, y_ref);
    vector<double> y(a.y.size());
    for (size_t i = 0; i < y.size(); i++)
        y[i] = h_bf2d(a.y[i]);
    e = relerr(y, y_ref);
    check(e <= 1e-2, pre + "y = expert forward (bf16)", e, 1e-2);

    /* backward */
    peer_ref_grads gr;
    peer_ref_backward(m, x.h, wq.h, keys.h, gamma, u.h, v.h, q, qn, mean, var, a.ids,
                      gates_gpu_ids, dy.h, gr);
    vector<double> dx(a.dx.size());
    for (size_t i = 0; i < dx.size(); i++)
        dx[i] = h_bf2d(a.dx[i]);
    e = relerr(dx, gr.dx);
    check(e <= 1e-2, pre + "dx (bf16)", e, 1e-2);
    auto vd = [](const vector<float> &f) { return vector<double>(f.begin(), f.end()); };
    e = relerr(vd(a.dwq), transpose(gr.dwq, m.d, HD));
    check(e <= 1e-2, pre + "dWq", e, 1e-2);
    e = relerr(vd(a.dkeys), gr.dkeys);
    check(e <= 1e-2, pre + "d sub-keys", e, 1e-2);
    if (affine) {
        e = relerr(vd(a.dgamma), gr.dgamma);
        check(e <= 1e-2, pre + "d gamma", e, 1e-2);
        e = relerr(vd(a.dbeta), gr.dbeta);
        check(e <= 1e-2, pre + "d beta", e, 1e-2);
    }
    /* touched rows: ascending, exactly the experts routed to */
    vector<int> want(a.ids.begin(), a.ids.end());
    std::sort(want.begin(), want.end());
    want.erase(std::unique(want.begin(), want.end()), want.end());
    check(a.rows == want, pre + "touched rows = routed experts, ascending", a.rows == want ? 0 : 1, 0);
    vector<double> du(N * m.d, 0.0), dv(N * m.d, 0.0);
    for (size_t r = 0; r < a.rows.size() && a.rows[r] >= 0 && (size_t)a.rows[r] < N; r++)
        for (int c = 0; c < m.d; c++) {
            du[(size_t)a.rows[r] * m.d + c] = a.du[r * m.d + c];
            dv[(size_t)a.rows[r] * m.d + c] = a.dv[r * m.d + c];
        }
    e = relerr(du, gr.du);
    check(e <= 1e-2, pre + "dU rows", e, 1e-2);
    e = relerr(dv, gr.dv);
    check(e <= 1e-2, pre + "dV rows", e, 1e-2);

    /* determinism */
    run(b);
    bool same_all = a.y == b.y && a.dx == b.dx && a.ids == b.ids && a.gates == b.gates &&
                    a.rows == b.rows && a.du == b.du && a.dv == b.dv && a.dwq == b.dwq &&
                    a.dkeys == b.dkeys && a.dgamma == b.dgamma && a.dbeta == b.dbeta;
    check(same_all, pre + "rerun bitwise identical", same_all ? 0 : 1, 0);

    check_trainer(m, pre, x.h, wqt.h, keys.h, gamma, beta, u.h, v.h, dy.h, a.ids, y);

    /* lazy AdamW on the touched rows of U */
    {
        vector<double> master0(u.h);
        float *d_master = dev_f(master0), *d_m = dev_f(vector<double>(N * m.d, 0.0)),
              *d_v = dev_f(vector<double>(N * m.d, 0.0));
        uint16_t *d_w16 = dev_alloc<uint16_t>(N * m.d);
        CK(cudaMemcpy(d_w16, u.d, N * m.d * 2, cudaMemcpyDeviceToDevice));
        l720_adamw_cfg cfg = {1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f, 3};
        const int32_t *rid;
        const uint16_t *gdu, *gdv;
        int nt;
        if (l720_peer_gpu_rows(peer, &rid, &gdu, &gdv, &nt, NULL, &err) ||
            l720_peer_gpu_adamw_rows(peer, gdu, d_master, d_m, d_v, d_w16, m.d, &cfg, NULL, &err)) {
            printf("Bail out! %s\n", err.msg);
            exit(1);
        }
        CK(cudaDeviceSynchronize());
        vector<double> mast = down_f(d_master, N * m.d), ref(master0);
        vector<uint16_t> w16 = down(d_w16, N * m.d);
        vector<uint16_t> u16 = down(u.d, N * m.d);
        const double bc1 = 1 - std::pow(0.9, 3), bc2 = 1 - std::pow(0.95, 3);
        for (size_t r = 0; r < a.rows.size(); r++)
            for (int c = 0; c < m.d; c++) {
                size_t i = (size_t)a.rows[r] * m.d + c;
                double gg = a.du[r * m.d + c], mm = 0.1 * gg, vv = 0.05 * gg * gg;
                ref[i] = master0[i] - 1e-2 * ((mm / bc1) / (std::sqrt(vv / bc2) + 1e-8) + 0.1 * master0[i]);
            }
        e = relerr(mast, ref);
        check(e <= 1e-5, pre + "lazy AdamW rows (fp32 master)", e, 1e-5);
        size_t bad = 0;
        vector<char> touched(N, 0);
        for (int r : a.rows)
            touched[r] = 1;
        for (size_t i = 0; i < N * m.d; i++) {
            bool t = touched[i / m.d];
            if (t ? w16[i] != h_f2bf((float)mast[i]) : (w16[i] != u16[i] || mast[i] != master0[i]))
                bad++;
        }
        check(bad == 0, pre + "AdamW: bf16 copy of touched rows, untouched rows unchanged", (double)bad, 0);
        cudaFree(d_master);
        cudaFree(d_m);
        cudaFree(d_v);
        cudaFree(d_w16);
    }

    l720_peer_gpu_free(peer);
    for (void *pp : {(void *)x.d, (void *)wqt.d, (void *)keys.d, (void *)u.d, (void *)v.d,
                     (void *)dy.d, (void *)d_gamma, (void *)d_beta, (void *)d_rm, (void *)d_rv,
                     (void *)d_y, (void *)d_dx, (void *)g.wq, (void *)g.keys, (void *)g.gamma,
                     (void *)g.beta})
        cudaFree(pp);
}

int main(int argc, char **argv)
{
    if (!gpu_check_begin(argc, argv, &rng_s))
        return 0;
    run_config({512, 256, 32, 4, 8, 64}, false);
    run_config({300, 768, 64, 2, 16, 32}, false);
    run_config({257, 512, 45, 3, 5, 130}, true);
    printf("#\n# %-62s %10s %8s %s\n", "check", "error", "tol", "result");
    for (const row &r : table)
        printf("# %-62s %10.3g %8.0e %s\n", r.name.c_str(), r.err, r.tol, r.pass ? "PASS" : "FAIL");
    printf("1..%d\n", tap_n);
    return tap_failed ? 1 : 0;
}
