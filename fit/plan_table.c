/* plan_table.c: see plan_table.h. */
#include "plan_table.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Appends v to a growing array. */
static int push(double **a, size_t *n, size_t *cap, double v, l720_err *err)
{
    if (*n == *cap) {
        size_t nc = *cap ? 2 * *cap : 16;
        double *na = realloc(*a, nc * sizeof *na);
        if (!na)
            return l720_err_set(err, L720_EFAIL, "out of memory");
        *a = na, *cap = nc;
    }
    (*a)[(*n)++] = v;
    return 0;
}

/* Parses a whole number from s up to end (exclusive); 0 on failure. */
static int number(const char *s, const char *end, double *v)
{
    char buf[64];
    size_t len = (size_t)(end - s);
    if (len == 0 || len >= sizeof buf)
        return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *e;
    errno = 0;
    *v = strtod(buf, &e);
    return *e == '\0' && errno == 0 && isfinite(*v);
}

int l720_plan_parse_experts(const char *text, double **out, size_t *n, l720_err *err)
{
    *out = NULL, *n = 0;
    size_t cap = 0;
    int rc = 0;
    if (!text || !*text)
        text = "pow2:1024";
    const char *s = text;
    while (!rc) {
        const char *end = strchr(s, ',');
        if (!end)
            end = s + strlen(s);
        const char *dash = end - s > 1 ? memchr(s + 1, '-', (size_t)(end - s - 1)) : NULL;
        double a, b;
        if (!strncmp(s, "pow2:", 5)) {
            if (!number(s + 5, end, &b) || b < 1)
                goto bad;
            for (double e = 1; e <= b && !rc; e *= 2)
                rc = push(out, n, &cap, e, err);
        } else if (dash) {
            if (!number(s, dash, &a) || !number(dash + 1, end, &b) || a < 1 || b < a ||
                a != floor(a) || b != floor(b) || b - a > 1e6)
                goto bad;
            for (double e = a; e <= b && !rc; e++)
                rc = push(out, n, &cap, e, err);
        } else {
            if (!number(s, end, &a))
                goto bad;
            if (!(a >= 1)) {
                rc = l720_err_set(err, L720_EINPUT, "expert count must be >= 1, got %g in '%s'",
                                  a, text);
                break;
            }
            rc = push(out, n, &cap, a, err);
        }
        if (!*end)
            break;
        s = end + 1;
        continue;
    bad:
        rc = l720_err_set(err, L720_EINPUT,
                          "bad expert list '%s': expected numbers >= 1, ranges A-B or pow2:MAX, "
                          "comma-separated",
                          text);
    }
    if (rc) {
        free(*out);
        *out = NULL, *n = 0;
    }
    return rc;
}

int l720_plan_parse_numbers(const char *text, const char *what, double **out, size_t *n,
                            l720_err *err)
{
    *out = NULL, *n = 0;
    size_t cap = 0;
    int rc = 0;
    const char *s = text ? text : "";
    while (!rc) {
        const char *end = strchr(s, ',');
        if (!end)
            end = s + strlen(s);
        const char *colon = memchr(s, ':', (size_t)(end - s));
        double a, b;
        if (colon) {
            if (!number(s, colon, &a) || !number(colon + 1, end, &b) || !(a > 0) || b < a ||
                b / a > 1e30)
                goto bad;
            for (double v = a; v <= b * (1 + 1e-9) && !rc; v *= 10)
                rc = push(out, n, &cap, v, err);
        } else {
            if (!number(s, end, &a))
                goto bad;
            if (!(a > 0)) {
                rc = l720_err_set(err, L720_EINPUT, "%s must be positive, got %g", what, a);
                break;
            }
            rc = push(out, n, &cap, a, err);
        }
        if (!*end)
            break;
        s = end + 1;
        continue;
    bad:
        rc = l720_err_set(err, L720_EINPUT,
                          "bad %s '%s': expected positive numbers or A:B (powers of ten), "
                          "comma-separated",
                          what, text ? text : "");
    }
    if (rc) {
        free(*out);
        *out = NULL, *n = 0;
    }
    return rc;
}

int l720_plan_table(const l720_plan_law *law, const double *flops, size_t nf,
                    const double *memory, size_t nm, const double *experts, size_t ne,
                    const l720_plan_budget *tmpl, l720_plan_point *out, l720_err *err)
{
    for (size_t i = 0; i < nf; i++)
        for (size_t j = 0; j < nm; j++) {
            l720_plan_budget b = *tmpl;
            b.flops = flops[i];
            b.memory_bytes = memory[j];
            int rc = l720_plan_best(law, experts, ne, &b, NULL, &out[i * nm + j], NULL, err);
            if (rc)
                return rc;
        }
    return 0;
}
