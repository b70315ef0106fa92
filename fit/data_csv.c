/* data_csv.c: points from a CSV file with a column mapping (see dataset.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "dataset.h"

static const char *const roles[] = {"N", "D", "C", "E", "G", "L", "W", "R", NULL};
enum { RN, RD, RC, RE, RG, RL, RW, NROLES, RR = NROLES }; /* R (run id) is text, not a number */

/* Run id of a cell: the index of its text among the ids seen in this file,
 * offset by the runs of earlier files. */
static long run_id(l720_dataset *d, char ***seen, size_t *nseen, long base, const char *cell)
{
    const char *s = cell ? cell : "";
    for (size_t i = 0; i < *nseen; i++)
        if (!strcmp((*seen)[i], s))
            return base + (long)i;
    char **q = realloc(*seen, (*nseen + 1) * sizeof *q);
    if (!q)
        return -1;
    *seen = q;
    q[*nseen] = strdup(s);
    if (!q[*nseen])
        return -1;
    d->nruns = base + (long)*nseen + 1;
    return base + (long)(*nseen)++;
}

/* The role's value at row r, scaled; NaN loss reported through *nan. */
static int value(const l720_csv *csv, size_t r, long col, int role, const double *scale,
                 double *v, int *nan, l720_err *err)
{
    int rc = l720_csv_number(csv, r, (size_t)col, role == RL ? L720_CSV_EMPTY_IS_NAN : 0, v, err);
    if (rc)
        return rc;
    if (role == RL && isnan(*v)) {
        *nan = 1;
        return 0;
    }
    *v *= scale[role];
    return l720_data_check(*v, L720_ROLES[role], csv->name, csv->line[r], csv->header[col], err);
}

static int need(const l720_csv *csv, const long *cols, int role, const char *what, l720_err *err)
{
    if (cols[role] >= 0)
        return 0;
    return l720_err_set(err, L720_EINPUT,
                        "%s: no column for %s (%s); map one with --columns '%s=COLUMN'", csv->name,
                        roles[role], what, roles[role]);
}

static int read_rows(l720_dataset *d, const l720_csv *csv, const long *cols,
                     const unsigned char *keep, const l720_data_spec *s, const double *scale,
                     l720_err *err)
{
    char **seen = NULL;
    size_t nseen = 0;
    long base = d->nruns;
    int rc = 0;
    for (size_t r = 0; r < csv->nrows && !rc; r++) {
        if (!keep[r]) {
            d->filtered++;
            continue;
        }
        double v[NROLES] = {1, 1, 1, 1, 1, 1, 1};
        int nan = 0;
        for (int k = 0; k < NROLES && !rc; k++)
            if (cols[k] >= 0)
                rc = value(csv, r, cols[k], k, scale, &v[k], &nan, err);
        if (rc)
            break;
        if (nan) {
            if (!s->skip_nan)
                rc = l720_err_at(err, L720_EINPUT, csv->name, csv->line[r], csv->header[cols[RL]],
                                 "loss is NaN or empty (use --skip-nan to skip such rows)");
            d->skipped_nan++;
            continue;
        }
        double D = cols[RD] >= 0 ? v[RD] : v[RC] / (6 * v[RN]);
        l720_point p = l720_point_make(v[RN], D, v[RE], v[RG], v[RL]);
        p.w = v[RW];
        if (cols[RR] >= 0 &&
            (p.run = run_id(d, &seen, &nseen, base, l720_csv_cell(csv, r, (size_t)cols[RR]))) < 0)
            rc = l720_err_set(err, L720_EFAIL, "out of memory");
        if (!rc)
            rc = l720_dataset_push(d, p, err);
    }
    for (size_t i = 0; i < nseen; i++)
        free(seen[i]);
    free(seen);
    return rc;
}

int l720_data_read_csv(l720_dataset *d, const char *path, const l720_data_spec *s, l720_err *err)
{
    double scale[NROLES];
    int rc = l720_data_scales(s->scale, scale, err);
    if (rc)
        return rc;
    l720_csv *csv = l720_csv_read(path, err);
    if (!csv)
        return err ? err->code : L720_EINPUT;
    long cols[NROLES + 1];
    unsigned char *keep = malloc(csv->nrows ? csv->nrows : 1);
    if (!keep) {
        l720_csv_free(csv);
        return l720_err_set(err, L720_EFAIL, "out of memory");
    }
    rc = l720_csv_map(csv, s->columns ? s->columns : "", roles, cols, err);
    for (int k = 0; k <= RR && !rc; k++) /* unmapped roles: a column of the role's name */
        if (cols[k] < 0)
            cols[k] = l720_csv_column(csv, roles[k]);
    if (!rc)
        rc = need(csv, cols, RL, "loss", err);
    if (!rc && (s->need & (L720_IN_N | L720_IN_D)))
        rc = need(csv, cols, RN, "parameters", err);
    if (!rc && (s->need & L720_IN_D) && cols[RD] < 0)
        rc = need(csv, cols, RC, "tokens: D, or training FLOPs C with D = C/(6N)", err);
    if (!rc && (s->need & L720_IN_E))
        rc = need(csv, cols, RE, "experts", err);
    if (!rc && (s->need & L720_IN_G))
        rc = need(csv, cols, RG, "granularity", err);
    if (!rc && cols[RN] < 0 && cols[RD] < 0 && cols[RC] >= 0)
        rc = need(csv, cols, RN, "parameters, to turn C into D", err);
    if (!rc)
        rc = l720_rows_filter(csv, s->where, keep, err);
    if (!rc)
        rc = read_rows(d, csv, cols, keep, s, scale, err);
    free(keep);
    l720_csv_free(csv);
    return rc;
}
