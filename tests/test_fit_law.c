/* test_fit_law.c: the laws' analytic gradients against finite differences,
 * the Ehat transform, parameter conversions, and the objective's gradient. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fit/ehat.h"
#include "fit/law.h"
#include "fit/objective.h"
#include "tests/tap.h"

/* A fixed pseudo-random sequence (tests need no seeding library). */
static double u01(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (double)((*s >> 8) & 0xffffff) / (double)0x1000000;
}

static l720_point rand_point(unsigned *s)
{
    double N = exp(log(1e7) + u01(s) * log(1e3)), D = exp(log(1e9) + u01(s) * log(1e3));
    double E = floor(1 + u01(s) * 200), G = 1 + u01(s) * 15;
    return l720_point_make(N, D, E, G, 2 + u01(s));
}

/* Central differences of log_pred against the analytic gradient. */
static double grad_error(const l720_law *law, const double *th, const l720_point *p)
{
    double g[L720_LAW_MAXP], worst = 0;
    law->log_pred(th, p, g);
    for (size_t i = 0; i < law->np; i++) {
        double t[L720_LAW_MAXP];
        memcpy(t, th, sizeof t);
        double h = 1e-6 * fmax(1, fabs(th[i]));
        t[i] = th[i] + h;
        double fp = law->log_pred(t, p, NULL);
        t[i] = th[i] - h;
        double fm = law->log_pred(t, p, NULL);
        double fd = (fp - fm) / (2 * h);
        double e = fabs(fd - g[i]) / fmax(1e-6, fabs(g[i]) + fabs(fd));
        if (e > worst)
            worst = e;
    }
    return worst;
}

/* Published or plausible named parameters of each law. */
static void sample_params(const l720_law *law, double *pr)
{
    if (law == &l720_law_chinchilla) {
        double v[] = {1.69, 406.4, 410.7, 0.34, 0.28};
        memcpy(pr, v, sizeof v);
    } else if (law == &l720_law_joint_moe) {
        double v[] = {35.91, -0.1889, -0.2285, 0.0098, 35.98, -0.1775,
                      0.5529, -0.0259, 2.0732, 290.4521, 1.3637};
        memcpy(pr, v, sizeof v);
    } else if (law == &l720_law_clark) {
        double v[] = {-0.082, -0.108, 0.009, 1.104, 1.847, 314.5};
        memcpy(pr, v, sizeof v);
    } else {
        double v[] = {18.1, 0.115, 30.8, 0.147, 2.1, 0.58, 0.47};
        memcpy(pr, v, sizeof v);
    }
}

static void test_ehat(void)
{
    ok_near(l720_ehat(1, 2.0732, 290.4521), 2.0732, 1e-12, "Ehat(1) = E_start");
    ok(l720_ehat(1e9, 2.0732, 290.4521) < 290.4521 && l720_ehat(1e9, 2.0732, 290.4521) > 290,
       "Ehat saturates just below E_max");
    ok(l720_ehat(8, 2, 300) > l720_ehat(4, 2, 300), "Ehat grows with E");
    double worst = 0;
    double cases[][3] = {{1, 2.07, 290}, {8, 2.07, 290}, {64, 1.5, 50}, {512, 3, 1000}};
    for (size_t c = 0; c < 4; c++) {
        double E = cases[c][0], es = cases[c][1], em = cases[c][2], des, dem;
        l720_ehat_grad(E, es, em, &des, &dem);
        double h1 = 1e-6 * es, h2 = 1e-6 * em;
        double fd_s = (l720_ehat(E, es + h1, em) - l720_ehat(E, es - h1, em)) / (2 * h1);
        double fd_m = (l720_ehat(E, es, em + h2) - l720_ehat(E, es, em - h2)) / (2 * h2);
        worst = fmax(worst, fabs(fd_s - des) / fmax(1e-9, fabs(des)));
        worst = fmax(worst, fabs(fd_m - dem) / fmax(1e-9, fabs(dem)));
    }
    ok(worst < 1e-6, "Ehat gradient matches finite differences (worst relative %.2g)", worst);
}

static void test_law(const l720_law *law)
{
    double pr[L720_LAW_MAXP], th[L720_LAW_MAXP], back[L720_LAW_MAXP];
    sample_params(law, pr);
    ok(l720_law_in_range(law, pr), "%s: sample parameters are in the valid ranges", law->name);
    l720_law_from_params(law, pr, th);
    l720_law_to_params(law, th, back);
    double rt = 0;
    for (size_t i = 0; i < law->np; i++)
        rt = fmax(rt, fabs(back[i] - pr[i]) / fmax(1e-12, fabs(pr[i])));
    ok(rt < 1e-12, "%s: params -> theta -> params round trip", law->name);
    unsigned s = 12345;
    double worst = 0;
    for (int k = 0; k < 200; k++) {
        l720_point p = rand_point(&s);
        double t[L720_LAW_MAXP];
        for (size_t i = 0; i < law->np; i++) /* jitter the parameters a little */
            t[i] = th[i] * (1 + 0.05 * (u01(&s) - 0.5));
        worst = fmax(worst, grad_error(law, t, &p));
    }
    ok(worst < 1e-5, "%s: analytic gradient matches finite differences (worst relative %.2g)",
       law->name, worst);
    /* the batch path, when the law has one, agrees with log_pred */
    if (law->log_pred_n) {
        l720_point pts[70];
        double v[70], g[70 * L720_LAW_MAXP], diff = 0;
        for (int k = 0; k < 70; k++)
            pts[k] = rand_point(&s);
        law->log_pred_n(th, pts, NULL, 70, v, g);
        for (int k = 0; k < 70; k++) {
            double g1[L720_LAW_MAXP];
            diff = fmax(diff, fabs(v[k] - law->log_pred(th, &pts[k], g1)));
            for (size_t i = 0; i < law->np; i++)
                diff = fmax(diff, fabs(g[k * law->np + i] - g1[i]) / fmax(1, fabs(g1[i])));
        }
        ok(diff < 1e-12, "%s: batch path agrees with the single-point path (%.2g)", law->name, diff);
    }
}

static void test_known_values(void)
{
    /* Chinchilla at Hoffmann's published fit: 1.69 + 406.4/N^0.34 + 410.7/D^0.28 */
    double pr[5] = {1.69, 406.4, 410.7, 0.34, 0.28};
    l720_point p = l720_point_make(70e9, 1.4e12, 1, 1, 2);
    double want = 1.69 + 406.4 / pow(70e9, 0.34) + 410.7 / pow(1.4e12, 0.28);
    ok_rel(l720_law_predict(&l720_law_chinchilla, pr, &p), want, 1e-12, "chinchilla predicts E + A/N^a + B/D^b");
    /* joint law at E = 8, written out */
    double jp[11] = {35.91, -0.1889, -0.2285, 0.0098, 35.98, -0.1775,
                     0.5529, -0.0259, 2.0732, 290.4521, 1.3637};
    double eh = l720_ehat(8, 2.0732, 290.4521), le = log(eh), N = 1e9, D = 2e10;
    double jw = 35.91 * pow(eh, -0.2285) * pow(N, -0.1889 + 0.0098 * le) +
                35.98 * pow(eh, 0.5529) * pow(D, -0.1775 - 0.0259 * le) + 1.3637;
    p = l720_point_make(N, D, 8, 1, 2);
    ok_rel(l720_law_predict(&l720_law_joint_moe, jp, &p), jw, 1e-12, "joint_moe predicts the published form");
    double fp[7] = {18.1, 0.115, 30.8, 0.147, 2.1, 0.58, 0.47};
    p = l720_point_make(N, D, 1, 8, 2);
    double fw = 0.47 + (2.1 / pow(8, 0.58) + 18.1) / pow(N, 0.115) + 30.8 / pow(D, 0.147);
    ok_rel(l720_law_predict(&l720_law_finegrained, fp, &p), fw, 1e-12, "finegrained predicts c + (g/G^gamma + a)/N^alpha + b/D^beta");
    double cp[6] = {-0.082, -0.108, 0.009, 1.104, 1.847, 314.5};
    p = l720_point_make(N, D, 64, 1, 2);
    double ce = l720_ehat(64, 1.847, 314.5);
    double cw = exp(-0.082 * log(N) - 0.108 * log(ce) + 0.009 * log(N) * log(ce) + 1.104);
    ok_rel(l720_law_predict(&l720_law_clark, cp, &p), cw, 1e-12, "clark predicts exp(a lnN + b lnEhat + c lnN lnEhat + d)");
}

static void test_objective(void)
{
    double dr;
    ok_near(l720_huber(5e-4, 1e-3, &dr), 0.5 * 25e-8, 1e-20, "Huber is r^2/2 inside delta");
    ok_near(l720_huber(-3e-3, 1e-3, &dr), 1e-3 * (3e-3 - 0.5e-3), 1e-18, "Huber is linear outside delta");
    ok_near(dr, -1e-3, 0, "Huber slope outside delta is -delta for r < 0");
    const l720_law *law = &l720_law_joint_moe;
    unsigned s = 99;
    l720_point pts[40];
    double pr[11], th[11];
    sample_params(law, pr);
    l720_law_from_params(law, pr, th);
    for (int k = 0; k < 40; k++) {
        pts[k] = rand_point(&s);
        pts[k].lnL = law->log_pred(th, &pts[k], NULL) + 0.004 * (u01(&s) - 0.5); /* both Huber regimes */
        pts[k].w = 0.5 + u01(&s);
    }
    for (int kind = 0; kind < 2; kind++) {
        l720_objective o = l720_objective_make(law, pts, 40, kind ? L720_LOSS_MSE : L720_LOSS_HUBER, 1e-3);
        size_t idx[50];
        for (int k = 0; k < 50; k++)
            idx[k] = (size_t)(k * 7) % 40; /* repeats, as in a bootstrap resample */
        o.idx = idx;
        o.n = 50;
        double g[11], worst = 0, t[11];
        l720_objective_eval(&o, th, g);
        for (size_t i = 0; i < law->np; i++) {
            memcpy(t, th, sizeof t);
            double h = 1e-7 * fmax(1, fabs(th[i]));
            t[i] += h;
            double fp = l720_objective_eval(&o, t, NULL);
            t[i] -= 2 * h;
            double fm = l720_objective_eval(&o, t, NULL);
            double fd = (fp - fm) / (2 * h);
            worst = fmax(worst, fabs(fd - g[i]) / fmax(1e-7, fabs(g[i]) + fabs(fd)));
        }
        ok(worst < 1e-4, "%s objective (weights, repeats): gradient matches finite differences (%.2g)",
           kind ? "mse" : "huber", worst);
    }
}

int main(void)
{
    test_ehat();
    for (size_t i = 0; l720_laws[i]; i++)
        test_law(l720_laws[i]);
    test_known_values();
    test_objective();
    l720_err err;
    ok(l720_law_find("nope", &err) == NULL && err.code == L720_EINPUT && strstr(err.msg, "chinchilla"),
       "unknown law: error lists the laws");
    ok(l720_law_find("joint_moe", &err) == &l720_law_joint_moe, "finds a law by name");
    return tap_done();
}
