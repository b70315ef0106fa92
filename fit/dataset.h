/* dataset.h: observations for a fit, read from CSV files (with a column
 * mapping and row filters) or from the trainer's JSON Lines run logs.
 *
 * Roles: N (parameters), D (tokens), C (training FLOPs; with C and no D,
 * D = C / (6 N)), E (experts, 1 when absent), G (granularity, 1 when absent),
 * L (loss), W (weight, 1 when absent), R (run id, any text: the rows of one
 * run's checkpoints; holdout and bootstrap then take whole runs). Every value must be a positive finite
 * number (E >= 1); a bad one is an error naming FILE:LINE and the field. */
#ifndef L720_DATASET_H
#define L720_DATASET_H

#include <stddef.h>

#include "err.h"
#include "law.h"

typedef struct l720_data_spec {
    const char *const *files; /* [nfiles] CSV files, .jsonl files, folders of .jsonl, or
                                 "a,b" lists of them (a Lua list arrives comma-joined) */
    size_t nfiles;
    const char *columns;  /* "ROLE=column,..." (CSV) or "ROLE=key,..." (JSONL); NULL: defaults */
    const char *where;    /* CSV row filter: "col=v,col>v;..." (',' and, ';' or) */
    const char *scale;    /* "ROLE=factor,...": multiplies a role, e.g. D=524288 with D=step */
    long drop_highest;    /* drop this many highest-loss points */
    int skip_nan;         /* skip (and count) rows whose loss is NaN instead of failing */
    int all_evals;        /* JSONL: every evaluation, not only each run's last */
    unsigned need;        /* L720_IN_* roles the law reads (must be present) */
} l720_data_spec;

typedef struct l720_dataset {
    l720_point *pts; /* [n] */
    size_t n, cap;
    size_t skipped_nan; /* rows skipped for a NaN loss */
    size_t filtered;    /* rows removed by --where */
    size_t dropped;     /* rows removed by --drop-highest */
    long nruns;         /* distinct run ids given to points (0: points are not grouped) */
} l720_dataset;

int l720_dataset_load(const l720_data_spec *s, l720_dataset **out, l720_err *err);
void l720_dataset_free(l720_dataset *d);

/* Appends one point (the readers use this). */
int l720_dataset_push(l720_dataset *d, l720_point p, l720_err *err);

/* Keeps only rows matching the filter spec (see l720_data_spec.where). */
struct l720_csv;
int l720_rows_filter(const struct l720_csv *csv, const char *spec, unsigned char *keep,
                     l720_err *err);

/* Readers: append the points of one file. */
int l720_data_read_csv(l720_dataset *d, const char *path, const l720_data_spec *s, l720_err *err);
int l720_data_read_jsonl(l720_dataset *d, const char *path, const l720_data_spec *s,
                         l720_err *err);

/* Checks a value of a role: finite and positive (E >= 1). Returns 0 or an
 * error "FILE:LINE: field 'FIELD': ..." */
int l720_data_check(double v, char role, const char *file, long line, const char *field,
                    l720_err *err);

/* Parses a "ROLE=factor" scale spec into factor[role index of "NDCEGLW"]. */
int l720_data_scales(const char *spec, double *factor, l720_err *err);

#define L720_ROLES "NDCEGLW"

#endif
