/* plan_table.c: see plan_table.h. */
#include "plan_table.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"

/* The values of a list parsed so far. */
typedef struct {
    double *v;
    size_t n, cap;
} values;

/* Appends x to l. */
static int push(values *l, double x, l720_err *err)
{
    if (l->n == l->cap) {
        size_t nc = l->cap ? 2 * l->cap : 16;
        double *na = realloc(l->v, nc * sizeof *na);
        if (!na)
            return l720_err_set(err, L720_EFAIL, "out of memory");
        l->v = na, l->cap = nc;
    }
    l->v[l->n++] = x;
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

/* An item that is not of the list's form: the caller names the whole list. */
#define BAD_ITEM (-1)

/* Appends the values of the item [s, end) of the list text (named what) to
 * l: 0, BAD_ITEM, or an error code with err set. */
typedef int (*item_fn)(const char *s, const char *end, const char *text, const char *what,
                       values *l, l720_err *err);

/* Every item of the comma-separated text through item into *out (owned by
 * the caller); nothing on an error. */
static int parse_list(const char *text, const char *what, item_fn item, double **out, size_t *n,
                      l720_err *err)
{
    values l = {0};
    int rc = 0;
    size_t len;
    for (const char *p = text, *s; !rc && (s = l720_list_next(&p, &len));)
        rc = item(s, s + len, text, what, &l, err);
    if (rc) {
        free(l.v);
        l = (values){0};
    }
    *out = l.v, *n = l.n;
    return rc;
}

/* A number >= 1, a range A-B or pow2:B. */
static int expert_item(const char *s, const char *end, const char *text, const char *what,
                       values *l, l720_err *err)
{
    (void)what;
    const char *dash = end - s > 1 ? memchr(s + 1, '-', (size_t)(end - s - 1)) : NULL;
    double a, b;
    int rc = 0;
    if (!strncmp(s, "pow2:", 5)) {
        if (!number(s + 5, end, &b) || b < 1)
            return BAD_ITEM;
        for (double e = 1; e <= b && !rc; e *= 2)
            rc = push(l, e, err);
    } else if (dash) {
        if (!number(s, dash, &a) || !number(dash + 1, end, &b) || a < 1 || b < a ||
            a != floor(a) || b != floor(b) || b - a > 1e6)
            return BAD_ITEM;
        for (double e = a; e <= b && !rc; e++)
            rc = push(l, e, err);
    } else {
        if (!number(s, end, &a))
            return BAD_ITEM;
        if (!(a >= 1))
            return l720_err_set(err, L720_EINPUT, "expert count must be >= 1, got %g in '%s'", a,
                                text);
        rc = push(l, a, err);
    }
    return rc;
}

/* A positive number, or A:B for the powers of ten from A to B. */
static int number_item(const char *s, const char *end, const char *text, const char *what,
                       values *l, l720_err *err)
{
    (void)text;
    const char *colon = memchr(s, ':', (size_t)(end - s));
    double a, b;
    int rc = 0;
    if (colon) {
        if (!number(s, colon, &a) || !number(colon + 1, end, &b) || !(a > 0) || b < a ||
            b / a > 1e30)
            return BAD_ITEM;
        for (double v = a; v <= b * (1 + 1e-9) && !rc; v *= 10)
            rc = push(l, v, err);
    } else {
        if (!number(s, end, &a))
            return BAD_ITEM;
        if (!(a > 0))
            return l720_err_set(err, L720_EINPUT, "%s must be positive, got %g", what, a);
        rc = push(l, a, err);
    }
    return rc;
}

int l720_plan_parse_experts(const char *text, double **out, size_t *n, l720_err *err)
{
    if (!text || !*text)
        text = "pow2:1024";
    int rc = parse_list(text, "expert list", expert_item, out, n, err);
    if (rc == BAD_ITEM)
        rc = l720_err_set(err, L720_EINPUT,
                          "bad expert list '%s': expected numbers >= 1, ranges A-B or pow2:MAX, "
                          "comma-separated",
                          text);
    return rc;
}

int l720_plan_parse_numbers(const char *text, const char *what, double **out, size_t *n,
                            l720_err *err)
{
    if (!text)
        text = "";
    int rc = parse_list(text, what, number_item, out, n, err);
    if (rc == BAD_ITEM)
        rc = l720_err_set(err, L720_EINPUT,
                          "bad %s '%s': expected positive numbers or A:B (powers of ten), "
                          "comma-separated",
                          what, text);
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
