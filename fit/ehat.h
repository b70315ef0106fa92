/* ehat.h: Clark et al. (2022) transform of the expert count, shared by the
 * routed and joint MoE laws:
 *   1/Ehat = 1/(E - 1 + (1/E_start - 1/E_max)^-1) + 1/E_max
 * At E = 1, Ehat = E_start; as E grows, Ehat saturates towards E_max. */
#ifndef L720_EHAT_H
#define L720_EHAT_H

/* The transformed expert count. E >= 1, 1 <= E_start < E_max. */
double l720_ehat(double E, double E_start, double E_max);

/* Partial derivatives of Ehat with respect to E_start and E_max (for fits). */
void l720_ehat_grad(double E, double E_start, double E_max, double *d_estart, double *d_emax);

#endif
