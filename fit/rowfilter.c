/* rowfilter.c: --where for CSV rows. Alternatives separated by ';' (a row is
 * kept when any alternative holds); within one, conditions separated by ','
 * must all hold. "col=v" goes through l720_csv_where (numeric or exact text);
 * "col!=v", "col>v", "col>=v", "col<v", "col<=v" compare numbers here. */
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "dataset.h"

static int compare(const l720_csv *csv, char *cond, const char *op, unsigned char *keep,
                   l720_err *err)
{
    size_t oplen = strlen(op);
    char *at = strstr(cond, op);
    *at = '\0';
    const char *col = cond, *val = at + oplen;
    long c = l720_csv_column(csv, col);
    if (c < 0)
        return l720_err_set(err, L720_EINPUT, "--where: %s has no column '%s'", csv->name, col);
    double want;
    int want_num = l720_parse_number(val, &want) == 0;
    if (!want_num && strcmp(op, "!="))
        return l720_err_set(err, L720_EINPUT, "--where: '%s%s%s' needs a number", col, op, val);
    for (size_t r = 0; r < csv->nrows; r++) {
        const char *cell = l720_csv_cell(csv, r, (size_t)c);
        double got;
        int num = cell && l720_parse_number(cell, &got) == 0;
        int m;
        if (!strcmp(op, "!="))
            m = !cell || (want_num && num ? got != want : strcmp(cell, val) != 0);
        else if (!num)
            m = 0;
        else if (!strcmp(op, ">="))
            m = got >= want;
        else if (!strcmp(op, "<="))
            m = got <= want;
        else if (!strcmp(op, ">"))
            m = got > want;
        else
            m = got < want;
        if (!m)
            keep[r] = 0;
    }
    return 0;
}

/* One alternative: conditions joined by ','. */
static int alternative(const l720_csv *csv, char *alt, unsigned char *keep, l720_err *err)
{
    static const char *const ops[] = {"!=", ">=", "<=", ">", "<", NULL};
    size_t n = strlen(alt) + 1;
    char *eq = calloc(n, 1);
    if (!eq)
        return l720_err_set(err, L720_EFAIL, "out of memory");
    for (size_t r = 0; r < csv->nrows; r++)
        keep[r] = 1;
    int rc = 0;
    char *save = NULL;
    for (char *c = strtok_r(alt, ",", &save); c && !rc; c = strtok_r(NULL, ",", &save)) {
        const char *op = NULL;
        for (size_t i = 0; ops[i] && !op; i++)
            if (strstr(c, ops[i]))
                op = ops[i];
        if (op) {
            rc = compare(csv, c, op, keep, err);
        } else {
            if (*eq)
                strcat(eq, ",");
            strcat(eq, c);
        }
    }
    if (!rc && *eq) {
        unsigned char *k2 = malloc(csv->nrows ? csv->nrows : 1);
        if (!k2)
            rc = l720_err_set(err, L720_EFAIL, "out of memory");
        else if (!(rc = l720_csv_where(csv, eq, k2, err)))
            for (size_t r = 0; r < csv->nrows; r++)
                keep[r] &= k2[r];
        free(k2);
    }
    free(eq);
    return rc;
}

int l720_rows_filter(const l720_csv *csv, const char *spec, unsigned char *keep, l720_err *err)
{
    for (size_t r = 0; r < csv->nrows; r++)
        keep[r] = 1;
    if (!spec || !*spec)
        return 0;
    char *copy = strdup(spec);
    unsigned char *one = malloc(csv->nrows ? csv->nrows : 1);
    int rc = 0;
    if (!copy || !one) {
        rc = l720_err_set(err, L720_EFAIL, "out of memory");
        goto done;
    }
    for (size_t r = 0; r < csv->nrows; r++)
        keep[r] = 0;
    char *save = NULL;
    for (char *alt = strtok_r(copy, ";", &save); alt && !rc; alt = strtok_r(NULL, ";", &save))
        if (!(rc = alternative(csv, alt, one, err)))
            for (size_t r = 0; r < csv->nrows; r++)
                keep[r] |= one[r];
done:
    free(copy);
    free(one);
    return rc;
}
