/* csv.c: see csv.h. */
#include "csv.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"

/* A growable array of owned strings for one record. */
typedef struct {
    char **v;
    size_t n, cap;
} strvec;

static int strvec_push(strvec *s, char *x)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 16;
        char **v = realloc(s->v, cap * sizeof *v);
        if (!v)
            return -1;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = x;
    return 0;
}

static void strvec_clear(strvec *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    s->n = 0;
}

/* Reads one record starting at *pos. Fills rec with owned cells and advances
 * *pos and *line. Returns 1 when a record was read, 0 at end of input, -1 on
 * error (err filled). */
static int read_record(const char *t, size_t len, size_t *pos, long *line, const char *name,
                       strvec *rec, l720_err *err)
{
    size_t i = *pos;
    if (i >= len)
        return 0;
    long start_line = *line;
    char *buf = NULL;
    size_t bn = 0, bcap = 0;
#define PUTC(c)                                                                                    \
    do {                                                                                           \
        if (bn + 1 >= bcap) {                                                                      \
            bcap = bcap ? 2 * bcap : 64;                                                           \
            char *nb = realloc(buf, bcap);                                                         \
            if (!nb) {                                                                             \
                free(buf);                                                                         \
                l720_err_set(err, L720_EFAIL, "%s: out of memory", name);                          \
                return -1;                                                                         \
            }                                                                                      \
            buf = nb;                                                                              \
        }                                                                                          \
        buf[bn++] = (char)(c);                                                                     \
    } while (0)
    for (;;) {
        /* one field */
        bn = 0;
        int quoted = 0;
        if (i < len && t[i] == '"') {
            quoted = 1;
            i++;
            for (;;) {
                if (i >= len) {
                    free(buf);
                    l720_err_at(err, L720_EINPUT, name, start_line, NULL,
                                "unterminated quoted field (opened on this line)");
                    return -1;
                }
                char c = t[i++];
                if (c == '"') {
                    if (i < len && t[i] == '"') {
                        PUTC('"');
                        i++;
                        continue;
                    }
                    break;
                }
                if (c == '\n')
                    (*line)++;
                PUTC(c);
            }
            /* after the closing quote: a separator, end of line or end of input */
            if (i < len && t[i] != ',' && t[i] != '\n' && t[i] != '\r') {
                free(buf);
                l720_err_at(err, L720_EINPUT, name, *line, NULL,
                            "unexpected character '%c' after a closing quote", t[i]);
                return -1;
            }
        } else {
            while (i < len && t[i] != ',' && t[i] != '\n' && t[i] != '\r') {
                if (t[i] == '"') {
                    free(buf);
                    l720_err_at(err, L720_EINPUT, name, *line, NULL,
                                "stray quote inside an unquoted field");
                    return -1;
                }
                PUTC(t[i]);
                i++;
            }
        }
        (void)quoted;
        PUTC('\0');
        char *cell = strdup(buf);
        if (!cell || strvec_push(rec, cell)) {
            free(cell);
            free(buf);
            l720_err_set(err, L720_EFAIL, "%s: out of memory", name);
            return -1;
        }
        if (i < len && t[i] == ',') {
            i++;
            continue;
        }
        /* end of record */
        if (i < len && t[i] == '\r')
            i++;
        if (i < len && t[i] == '\n')
            i++;
        (*line)++;
        break;
    }
#undef PUTC
    free(buf);
    *pos = i;
    return 1;
}

static int is_blank_record(const strvec *rec)
{
    return rec->n == 1 && rec->v[0][0] == '\0';
}

l720_csv *l720_csv_parse(const char *text, size_t len, const char *name, l720_err *err)
{
    l720_csv *csv = calloc(1, sizeof *csv);
    strvec rec = {0};
    if (!csv || !(csv->name = strdup(name ? name : "<csv>"))) {
        free(csv);
        l720_err_set(err, L720_EFAIL, "out of memory");
        return NULL;
    }
    size_t pos = 0;
    long line = 1;
    /* skip a UTF-8 byte order mark */
    if (len >= 3 && (unsigned char)text[0] == 0xEF && (unsigned char)text[1] == 0xBB &&
        (unsigned char)text[2] == 0xBF)
        pos = 3;
    int r = read_record(text, len, &pos, &line, csv->name, &rec, err);
    if (r < 0)
        goto fail;
    if (r == 0 || is_blank_record(&rec)) {
        l720_err_at(err, L720_EINPUT, csv->name, 1, NULL, "no header row (empty file)");
        goto fail;
    }
    csv->ncols = rec.n;
    csv->header = rec.v;
    rec = (strvec){0};
    for (size_t c = 0; c < csv->ncols; c++) {
        if (csv->header[c][0] == '\0') {
            l720_err_at(err, L720_EINPUT, csv->name, 1, NULL, "header column %zu has no name",
                        c + 1);
            goto fail;
        }
        for (size_t d = 0; d < c; d++)
            if (!strcmp(csv->header[c], csv->header[d])) {
                l720_err_at(err, L720_EINPUT, csv->name, 1, NULL, "duplicate column name '%s'",
                            csv->header[c]);
                goto fail;
            }
    }
    size_t cap = 0;
    for (;;) {
        long row_line = line;
        strvec_clear(&rec);
        r = read_record(text, len, &pos, &line, csv->name, &rec, err);
        if (r < 0)
            goto fail;
        if (r == 0)
            break;
        if (is_blank_record(&rec))
            continue; /* blank lines (e.g. a trailing newline) carry no row */
        if (rec.n > csv->ncols) {
            l720_err_at(err, L720_EINPUT, csv->name, row_line, NULL,
                        "%zu cells but the header has %zu columns", rec.n, csv->ncols);
            goto fail;
        }
        if (csv->nrows == cap) {
            cap = cap ? 2 * cap : 64;
            char **cells = realloc(csv->cells, cap * csv->ncols * sizeof *cells);
            long *lines = realloc(csv->line, cap * sizeof *lines);
            if (cells)
                csv->cells = cells;
            if (lines)
                csv->line = lines;
            if (!cells || !lines) {
                l720_err_set(err, L720_EFAIL, "%s: out of memory", csv->name);
                goto fail;
            }
        }
        char **row = csv->cells + csv->nrows * csv->ncols;
        for (size_t c = 0; c < csv->ncols; c++)
            row[c] = c < rec.n ? rec.v[c] : NULL;
        rec.n = 0; /* ownership moved */
        csv->line[csv->nrows++] = row_line;
    }
    strvec_clear(&rec);
    free(rec.v);
    return csv;
fail:
    strvec_clear(&rec);
    free(rec.v);
    l720_csv_free(csv);
    return NULL;
}

l720_csv *l720_csv_read(const char *path, l720_err *err)
{
    size_t len = 0;
    char *text = l720_read_file(path, &len, err);
    if (!text)
        return NULL;
    l720_csv *csv = l720_csv_parse(text, len, path, err);
    free(text);
    return csv;
}

void l720_csv_free(l720_csv *csv)
{
    if (!csv)
        return;
    if (csv->cells)
        for (size_t i = 0; i < csv->nrows * csv->ncols; i++)
            free(csv->cells[i]);
    if (csv->header)
        for (size_t c = 0; c < csv->ncols; c++)
            free(csv->header[c]);
    free(csv->cells);
    free(csv->header);
    free(csv->line);
    free(csv->name);
    free(csv);
}

long l720_csv_column(const l720_csv *csv, const char *name)
{
    for (size_t c = 0; c < csv->ncols; c++)
        if (!strcmp(csv->header[c], name))
            return (long)c;
    return -1;
}

const char *l720_csv_cell(const l720_csv *csv, size_t row, size_t col)
{
    if (row >= csv->nrows || col >= csv->ncols)
        return NULL;
    return csv->cells[row * csv->ncols + col];
}

int l720_parse_number(const char *s, double *out)
{
    while (*s && isspace((unsigned char)*s))
        s++;
    if (!*s)
        return -1;
    /* strtod also takes hex floats and "infinity"; hex is not a CSV number */
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
        return -1;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (end == s)
        return -1;
    while (*end && isspace((unsigned char)*end))
        end++;
    if (*end)
        return -1;
    if (errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL))
        return -2;
    /* underflow to a denormal or zero is accepted: the value is representable */
    *out = v;
    return 0;
}

const char *l720_list_next(const char **p, size_t *n)
{
    const char *s = *p;
    if (!s)
        return NULL;
    const char *comma = strchr(s, ',');
    *n = comma ? (size_t)(comma - s) : strlen(s);
    *p = comma ? comma + 1 : NULL;
    return s;
}

int l720_csv_number(const l720_csv *csv, size_t row, size_t col, int flags, double *out,
                    l720_err *err)
{
    const char *cell = l720_csv_cell(csv, row, col);
    long line = row < csv->nrows ? csv->line[row] : 0;
    const char *field = col < csv->ncols ? csv->header[col] : "?";
    if (!cell || !*cell) {
        if (flags & L720_CSV_EMPTY_IS_NAN) {
            *out = NAN;
            return 0;
        }
        return l720_err_at(err, L720_EINPUT, csv->name, line, field,
                           cell ? "empty cell, expected a number" : "missing cell, expected a number");
    }
    int r = l720_parse_number(cell, out);
    if (r == -2)
        return l720_err_at(err, L720_EINPUT, csv->name, line, field,
                           "'%s' is out of the range of a double", cell);
    if (r < 0)
        return l720_err_at(err, L720_EINPUT, csv->name, line, field,
                           "'%s' is not a number", cell);
    return 0;
}

static void list_columns(const l720_csv *csv, char *buf, size_t n)
{
    size_t k = 0;
    buf[0] = '\0';
    for (size_t c = 0; c < csv->ncols && k + 1 < n; c++)
        k += (size_t)snprintf(buf + k, n - k, "%s'%s'", c ? ", " : "", csv->header[c]);
}

/* Splits "a=b,c=d" into pairs; calls fn for each. Blanks around names are trimmed. */
typedef int (*pair_fn)(const char *key, const char *value, void *ctx, l720_err *err);

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

static int for_each_pair(const char *spec, const char *what, pair_fn fn, void *ctx,
                         l720_err *err)
{
    char *copy = strdup(spec);
    if (!copy)
        return l720_err_set(err, L720_EFAIL, "out of memory");
    int rc = 0;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq) {
            rc = l720_err_set(err, L720_EINPUT, "%s '%s': expected KEY=VALUE, got '%s'", what,
                              spec, trim(tok));
            break;
        }
        *eq = '\0';
        char *k = trim(tok), *v = trim(eq + 1);
        if (!*k || !*v) {
            rc = l720_err_set(err, L720_EINPUT, "%s '%s': empty name in '%s=%s'", what, spec, k,
                              v);
            break;
        }
        if ((rc = fn(k, v, ctx, err)))
            break;
    }
    free(copy);
    return rc;
}

typedef struct {
    const l720_csv *csv;
    const char *const *roles;
    long *cols;
    const char *spec;
} map_ctx;

static int map_pair(const char *role, const char *column, void *vctx, l720_err *err)
{
    map_ctx *m = vctx;
    size_t r = 0;
    while (m->roles[r] && strcmp(m->roles[r], role))
        r++;
    if (!m->roles[r]) {
        char known[256] = "";
        size_t k = 0;
        for (size_t i = 0; m->roles[i] && k + 1 < sizeof known; i++)
            k += (size_t)snprintf(known + k, sizeof known - k, "%s%s", i ? ", " : "", m->roles[i]);
        return l720_err_set(err, L720_EINPUT, "--columns: unknown role '%s' (known roles: %s)",
                            role, known);
    }
    long c = l720_csv_column(m->csv, column);
    if (c < 0) {
        char cols[640];
        list_columns(m->csv, cols, sizeof cols);
        return l720_err_set(err, L720_EINPUT, "%s: no column '%s' for role %s (columns: %s)",
                            m->csv->name, column, role, cols);
    }
    m->cols[r] = c;
    return 0;
}

int l720_csv_map(const l720_csv *csv, const char *spec, const char *const *roles, long *cols,
                 l720_err *err)
{
    for (size_t r = 0; roles[r]; r++)
        cols[r] = -1;
    map_ctx m = {csv, roles, cols, spec};
    return for_each_pair(spec, "--columns", map_pair, &m, err);
}

typedef struct {
    const l720_csv *csv;
    unsigned char *keep;
} where_ctx;

static int where_pair(const char *column, const char *value, void *vctx, l720_err *err)
{
    where_ctx *w = vctx;
    long c = l720_csv_column(w->csv, column);
    if (c < 0) {
        char cols[640];
        list_columns(w->csv, cols, sizeof cols);
        return l720_err_set(err, L720_EINPUT, "--where: %s has no column '%s' (columns: %s)",
                            w->csv->name, column, cols);
    }
    double want;
    int want_num = l720_parse_number(value, &want) == 0;
    for (size_t r = 0; r < w->csv->nrows; r++) {
        const char *cell = l720_csv_cell(w->csv, r, (size_t)c);
        double got;
        int match;
        if (!cell)
            match = 0;
        else if (want_num && l720_parse_number(cell, &got) == 0)
            match = got == want;
        else
            match = !strcmp(cell, value);
        if (!match)
            w->keep[r] = 0;
    }
    return 0;
}

int l720_csv_where(const l720_csv *csv, const char *spec, unsigned char *keep, l720_err *err)
{
    for (size_t r = 0; r < csv->nrows; r++)
        keep[r] = 1;
    if (!spec || !*spec)
        return 0;
    where_ctx w = {csv, keep};
    return for_each_pair(spec, "--where", where_pair, &w, err);
}
