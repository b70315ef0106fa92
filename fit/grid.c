/* grid.c: see grid.h. */
#include "grid.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"

#define GRID_MAX_VALUES 10000 /* per parameter */
#define GRID_MAX_TOTAL 100000000

static int set_values(l720_grid *g, size_t i, const double *v, size_t n, l720_err *err)
{
    double *copy = malloc(n * sizeof *copy);
    if (!copy)
        return l720_err_set(err, L720_EFAIL, "out of memory");
    memcpy(copy, v, n * sizeof *copy);
    free(g->v[i]);
    g->v[i] = copy;
    g->n[i] = n;
    return 0;
}

static void recount(l720_grid *g)
{
    g->total = 1;
    for (size_t i = 0; i < g->np; i++)
        g->total *= g->n[i];
}

l720_grid *l720_grid_new(const l720_law *law, l720_err *err)
{
    l720_grid *g = calloc(1, sizeof *g);
    if (!g) {
        l720_err_set(err, L720_EFAIL, "out of memory");
        return NULL;
    }
    g->np = law->np;
    for (size_t i = 0; i < law->np; i++)
        if (set_values(g, i, law->grid_v[i], law->grid_n[i], err)) {
            l720_grid_free(g);
            return NULL;
        }
    recount(g);
    return g;
}

void l720_grid_free(l720_grid *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->np; i++)
        free(g->v[i]);
    free(g);
}

/* Values of one "LO:HI:STEP", "V1/V2/..." or "V" item into v (at most max). */
static long parse_values(const char *s, double *v, size_t max)
{
    char buf[256];
    if (strlen(s) >= sizeof buf)
        return -1;
    strcpy(buf, s);
    if (strchr(buf, ':')) {
        char *p1 = strchr(buf, ':'), *p2 = p1 ? strchr(p1 + 1, ':') : NULL;
        if (!p2)
            return -1;
        *p1 = *p2 = '\0';
        double lo, hi, step;
        if (l720_parse_number(buf, &lo) || l720_parse_number(p1 + 1, &hi) ||
            l720_parse_number(p2 + 1, &step) || !isfinite(lo) || !isfinite(hi) ||
            !(step > 0) || hi < lo)
            return -1;
        size_t n = (size_t)floor((hi - lo) / step + 1e-9) + 1;
        if (n > max)
            return -1;
        for (size_t k = 0; k < n; k++)
            v[k] = lo + (double)k * step;
        return (long)n;
    }
    size_t n = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
        if (n >= max || l720_parse_number(t, &v[n]) || !isfinite(v[n]))
            return -1;
        n++;
    }
    return n ? (long)n : -1;
}

int l720_grid_apply(l720_grid *g, const l720_law *law, const char *spec, l720_err *err)
{
    if (!spec || !*spec)
        return 0;
    char *copy = strdup(spec);
    double *vals = malloc(GRID_MAX_VALUES * sizeof *vals);
    int rc = 0;
    if (!copy || !vals) {
        rc = l720_err_set(err, L720_EFAIL, "out of memory");
        goto done;
    }
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq) {
            rc = l720_err_set(err, L720_EINPUT, "--grid '%s': expected NAME=LO:HI:STEP or NAME=V1/V2, got '%s'",
                              spec, tok);
            goto done;
        }
        *eq = '\0';
        long i = l720_law_fit_index(law, tok);
        if (i < 0) {
            char names[256] = "";
            for (size_t j = 0; j < law->np; j++) {
                strcat(names, j ? ", " : "");
                strcat(names, law->fit_names[j]);
            }
            rc = l720_err_set(err, L720_EINPUT, "--grid: law %s has no fit parameter '%s' (%s)",
                              law->name, tok, names);
            goto done;
        }
        long n = parse_values(eq + 1, vals, GRID_MAX_VALUES);
        if (n < 0) {
            rc = l720_err_set(err, L720_EINPUT, "--grid: bad values '%s' for %s (expected LO:HI:STEP or V1/V2/...)",
                              eq + 1, tok);
            goto done;
        }
        if ((rc = set_values(g, (size_t)i, vals, (size_t)n, err)))
            goto done;
    }
    recount(g);
    if (g->total > GRID_MAX_TOTAL)
        rc = l720_err_set(err, L720_EINPUT, "--grid: %zu starts is too many (at most %d)", g->total,
                          GRID_MAX_TOTAL);
done:
    free(copy);
    free(vals);
    return rc;
}

void l720_grid_point(const l720_grid *g, size_t k, double *theta)
{
    for (size_t i = g->np; i-- > 0;) {
        theta[i] = g->v[i][k % g->n[i]];
        k /= g->n[i];
    }
}
