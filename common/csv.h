/* csv.h: a strict CSV reader (RFC 4180 quoting, CRLF or LF, header row).
 *
 * The whole file is parsed into memory; cells are addressed by (row, column)
 * where row 0 is the first data row after the header. Every row remembers the
 * physical line it started on, so errors can name FILE:LINE.
 */
#ifndef L720_CSV_H
#define L720_CSV_H

#include <stddef.h>

#include "err.h"

typedef struct l720_csv {
    char *name;    /* owned: file name used in messages */
    size_t ncols;  /* columns in the header */
    size_t nrows;  /* data rows, header excluded */
    char **header; /* [ncols] owned column names */
    char **cells;  /* [nrows * ncols] owned; NULL where a row had fewer cells */
    long *line;    /* [nrows] physical line (1-based) where each data row starts */
} l720_csv;

/* Reads and parses a file. Returns NULL and fills err (code 2) on a malformed
 * file: unterminated quote, stray quote, a row with more cells than the header,
 * duplicate or empty header names, no header at all. */
l720_csv *l720_csv_read(const char *path, l720_err *err);

/* Parses text[0..len) as CSV; name is used in messages. */
l720_csv *l720_csv_parse(const char *text, size_t len, const char *name, l720_err *err);

void l720_csv_free(l720_csv *csv);

/* Index of the column with this exact name, or -1. */
long l720_csv_column(const l720_csv *csv, const char *name);

/* Cell text, or NULL when the row had no such cell. */
const char *l720_csv_cell(const l720_csv *csv, size_t row, size_t col);

enum {
    L720_CSV_EMPTY_IS_NAN = 1, /* an empty or missing cell reads as NaN instead of an error */
};

/* Parses a cell as a number, strictly (whole cell, surrounding blanks
 * allowed; "nan"/"inf" accepted; overflow is an error). On error: code 2,
 * message "FILE:LINE: field 'COLUMN': ...". */
int l720_csv_number(const l720_csv *csv, size_t row, size_t col, int flags, double *out,
                    l720_err *err);

/* Parses a whole string as a number. Returns 0 on success, -1 when it is not
 * a number, -2 when it is out of the range of a double. */
int l720_parse_number(const char *s, double *out);

/* Steps through a comma-separated list (an option's value): call with *p at
 * the list; returns the next item, its length in *n, and moves *p past it
 * (to NULL after the last item). Items may be empty; "" is one empty item.
 * Returns NULL when the list is done:
 *   for (const char *p = text, *s; (s = l720_list_next(&p, &n));) ... */
const char *l720_list_next(const char **p, size_t *n);

/* Maps roles to columns from a spec like "N=Model Size,C=Training FLOP,L=loss".
 * roles: NULL-terminated list of allowed role names; cols[i] receives the
 * column of roles[i], or -1 when the spec does not name it. Unknown roles and
 * unknown columns are errors naming the spec and the available columns. */
int l720_csv_map(const l720_csv *csv, const char *spec, const char *const *roles, long *cols,
                 l720_err *err);

/* Row filter from a spec like "k=1,seed=42,router_type=S-Base": keep[row] is
 * set to 1 when every condition holds (numeric comparison when both sides are
 * numbers, exact text otherwise) and 0 otherwise. Unknown columns are errors. */
int l720_csv_where(const l720_csv *csv, const char *spec, unsigned char *keep, l720_err *err);

#endif
