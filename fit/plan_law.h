/* plan_law.h: the scaling law the planner optimises over, read from a law file.
 *
 * Two kinds of law file (JSON in data/laws/, {"law": KIND, "params": {...}}):
 *   joint_moe  (Ludziejewski, Pioro et al. 2025):
 *     L(N_act, D, E) = a Ehat^delta N_act^(alpha + gamma ln Ehat)
 *                    + b Ehat^omega D^(beta + zeta ln Ehat) + c
 *     params a, alpha, delta, gamma, b, beta, omega, zeta, E_start, E_max, c.
 *   chinchilla (Hoffmann 2022): L(N, D) = E + A/N^alpha + B/D^beta,
 *     params E, A, B, alpha, beta: the expert-count-independent special case.
 * At a fixed expert count both are Chinchilla-shaped; l720_law_terms holds
 * that shape, which is all the optimiser needs.
 */
#ifndef L720_PLAN_LAW_H
#define L720_PLAN_LAW_H

#include "err.h"

typedef enum { L720_LAW_JOINT_MOE, L720_LAW_CHINCHILLA } l720_law_kind;

/* A law in the joint-MoE parametrisation (a Chinchilla file maps onto it with
 * delta = gamma = omega = zeta = 0, a = A, alpha = -alpha_ch, b = B,
 * beta = -beta_ch, c = E). */
typedef struct l720_plan_law {
    l720_law_kind kind;
    char path[4096]; /* the file it was read from */
    double a, alpha, delta, gamma;
    double b, beta, omega, zeta;
    double E_start, E_max; /* Ehat transform (joint_moe only) */
    double c;
} l720_plan_law;

/* The law at one expert count: L(N, D) = m N^-mu + n D^-nu + c. */
typedef struct l720_law_terms {
    double m, mu; /* parameter term: coefficient and (positive) decay exponent */
    double n, nu; /* data term */
    double c;     /* irreducible loss */
} l720_law_terms;

/* The default law file: DATA/laws/joint_moe_ludziejewski2025.json. */
#define L720_DEFAULT_LAW "joint_moe_ludziejewski2025"

/* Reads a law file: a path (anything with '/' or ending in .json) or a name
 * in DATA/laws/ (NULL: the default). Errors name the file and the missing or
 * invalid coefficient. */
int l720_plan_law_load(const char *name, l720_plan_law *law, l720_err *err);

/* The joint-MoE law with the published coefficients (no file needed). */
void l720_plan_law_published(l720_plan_law *law);

/* The Chinchilla shape at expert count E (E >= 1). Fails when an exponent
 * is not positive at this E (then the law has no finite optimum). */
int l720_plan_law_terms(const l720_plan_law *law, double E, l720_law_terms *t, l720_err *err);

/* Loss at N active parameters and D tokens. */
double l720_law_terms_loss(const l720_law_terms *t, double N, double D);

/* Loss of the law at (N_act, D, E); NaN when E < 1. */
double l720_plan_law_loss(const l720_plan_law *law, double N_act, double D, double E);

#endif
