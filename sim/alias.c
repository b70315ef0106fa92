/* alias.c: see alias.h (Vose's stable construction). */
#include "alias.h"

void l720_alias_build(const double *w, size_t n, l720_alias_entry *tab, uint32_t *scratch,
                      double *scaled)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += w[i];
    uint32_t *small = scratch, *large = scratch + n;
    size_t ns = 0, nl = 0;
    for (size_t i = 0; i < n; i++) {
        scaled[i] = w[i] * (double)n / sum;
        if (scaled[i] < 1.0)
            small[ns++] = (uint32_t)i;
        else
            large[nl++] = (uint32_t)i;
    }
    while (ns && nl) {
        uint32_t s = small[--ns], l = large[nl - 1];
        tab[s].keep = (uint32_t)(scaled[s] * 4294967296.0);
        tab[s].alias = l;
        scaled[l] -= 1.0 - scaled[s];
        if (scaled[l] < 1.0) {
            nl--;
            small[ns++] = l;
        }
    }
    /* what is left has weight 1 up to rounding: always keep it */
    while (nl) {
        uint32_t l = large[--nl];
        tab[l].keep = 0xFFFFFFFFu;
        tab[l].alias = l;
    }
    while (ns) {
        uint32_t s = small[--ns];
        tab[s].keep = 0xFFFFFFFFu;
        tab[s].alias = s;
    }
}
