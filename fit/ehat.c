/* ehat.c: see ehat.h. */
#include "ehat.h"

double l720_ehat(double E, double E_start, double E_max)
{
    double k = 1.0 / (1.0 / E_start - 1.0 / E_max); /* (1/E_start - 1/E_max)^-1 */
    double inv = 1.0 / (E - 1.0 + k) + 1.0 / E_max;
    return 1.0 / inv;
}

void l720_ehat_grad(double E, double E_start, double E_max, double *d_estart, double *d_emax)
{
    double s = 1.0 / E_start - 1.0 / E_max;
    double k = 1.0 / s;
    double u = E - 1.0 + k;
    double inv = 1.0 / u + 1.0 / E_max;
    double eh = 1.0 / inv;
    /* dEhat/dinv = -Ehat^2; dinv/dk = -1/u^2; dk/ds = -1/s^2 */
    double dinv_dk = -1.0 / (u * u);
    double dk_ds = -1.0 / (s * s);
    double ds_destart = -1.0 / (E_start * E_start);
    double ds_demax = 1.0 / (E_max * E_max);
    double dEh_dinv = -eh * eh;
    *d_estart = dEh_dinv * dinv_dk * dk_ds * ds_destart;
    *d_emax = dEh_dinv * (dinv_dk * dk_ds * ds_demax - 1.0 / (E_max * E_max));
}
