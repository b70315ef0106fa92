/* dataset.c: loading, checks and --drop-highest (see dataset.h). */
#include "dataset.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "csv.h"

int l720_dataset_push(l720_dataset *d, l720_point p, l720_err *err)
{
    if (d->n == d->cap) {
        size_t cap = d->cap ? 2 * d->cap : 256;
        l720_point *q = realloc(d->pts, cap * sizeof *q);
        if (!q)
            return l720_err_set(err, L720_EFAIL, "out of memory");
        d->pts = q;
        d->cap = cap;
    }
    d->pts[d->n++] = p;
    return 0;
}

void l720_dataset_free(l720_dataset *d)
{
    if (!d)
        return;
    free(d->pts);
    free(d);
}

int l720_data_check(double v, char role, const char *file, long line, const char *field,
                    l720_err *err)
{
    if (!isfinite(v))
        return l720_err_at(err, L720_EINPUT, file, line, field, "expected a finite number, got %g", v);
    if (role == 'E' && v < 1)
        return l720_err_at(err, L720_EINPUT, file, line, field,
                           "expected an expert count >= 1, got %g", v);
    if (!(v > 0))
        return l720_err_at(err, L720_EINPUT, file, line, field, "expected a positive number, got %g", v);
    return 0;
}

int l720_data_scales(const char *spec, double *factor, l720_err *err)
{
    for (size_t i = 0; i < strlen(L720_ROLES); i++)
        factor[i] = 1;
    if (!spec || !*spec)
        return 0;
    char *copy = strdup(spec), *save = NULL;
    int rc = 0;
    for (char *t = strtok_r(copy, ",", &save); t && !rc; t = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(t, '=');
        const char *r = eq && eq == t + 1 ? strchr(L720_ROLES, t[0]) : NULL;
        double f;
        if (!r || l720_parse_number(eq + 1, &f) || !(f > 0) || !isfinite(f))
            rc = l720_err_set(err, L720_EINPUT,
                              "--scale '%s': expected ROLE=FACTOR with a role of %s and a positive factor",
                              spec, L720_ROLES);
        else
            factor[r - L720_ROLES] = f;
    }
    free(copy);
    return rc;
}

static int is_jsonl(const char *path)
{
    size_t n = strlen(path);
    return n > 6 && !strcmp(path + n - 6, ".jsonl");
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every *.jsonl below dir, in name order. */
static int read_dir(l720_dataset *d, const char *dir, const l720_data_spec *s, size_t *found,
                    l720_err *err)
{
    DIR *dp = opendir(dir);
    if (!dp)
        return l720_err_set(err, L720_EINPUT, "%s: cannot open folder", dir);
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(dp))) {
        if (de->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            char **q = realloc(names, cap * sizeof *q);
            if (!q) {
                rc = l720_err_set(err, L720_EFAIL, "out of memory");
                break;
            }
            names = q;
        }
        size_t len = strlen(dir) + strlen(de->d_name) + 2;
        names[n] = malloc(len);
        if (!names[n]) {
            rc = l720_err_set(err, L720_EFAIL, "out of memory");
            break;
        }
        snprintf(names[n++], len, "%s/%s", dir, de->d_name);
    }
    closedir(dp);
    if (!rc)
        qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n && !rc; i++) {
        struct stat st;
        if (stat(names[i], &st))
            continue;
        if (S_ISDIR(st.st_mode))
            rc = read_dir(d, names[i], s, found, err);
        else if (is_jsonl(names[i])) {
            rc = l720_data_read_jsonl(d, names[i], s, err);
            ++*found;
        }
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

/* Index order by loss, highest first (ties: earlier row first). */
static int cmp_loss_desc(const void *a, const void *b, void *ctx)
{
    const l720_point *p = ctx;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    if (p[i].lnL != p[j].lnL)
        return p[i].lnL > p[j].lnL ? -1 : 1;
    return i < j ? -1 : 1;
}

static int drop_highest(l720_dataset *d, size_t k, l720_err *err)
{
    if (k == 0)
        return 0;
    if (k >= d->n)
        return l720_err_set(err, L720_EINPUT, "--drop-highest %zu leaves no points of %zu", k, d->n);
    size_t *idx = malloc(d->n * sizeof *idx);
    unsigned char *drop = calloc(d->n, 1);
    if (!idx || !drop) {
        free(idx);
        free(drop);
        return l720_err_set(err, L720_EFAIL, "out of memory");
    }
    for (size_t i = 0; i < d->n; i++)
        idx[i] = i;
    qsort_r(idx, d->n, sizeof *idx, cmp_loss_desc, d->pts);
    for (size_t i = 0; i < k; i++)
        drop[idx[i]] = 1;
    size_t m = 0;
    for (size_t i = 0; i < d->n; i++)
        if (!drop[i])
            d->pts[m++] = d->pts[i];
    d->n = m;
    d->dropped = k;
    free(idx);
    free(drop);
    return 0;
}

int l720_dataset_load(const l720_data_spec *s, l720_dataset **out, l720_err *err)
{
    *out = NULL;
    if (s->nfiles == 0)
        return l720_err_set(err, L720_EINPUT, "missing --data (a CSV file, .jsonl run logs or a folder of them)");
    if (s->drop_highest < 0)
        return l720_err_set(err, L720_EINPUT, "--drop-highest: expected a count >= 0, got %ld",
                            s->drop_highest);
    l720_dataset *d = calloc(1, sizeof *d);
    if (!d)
        return l720_err_set(err, L720_EFAIL, "out of memory");
    int rc = 0;
    for (size_t i = 0; i < s->nfiles && !rc; i++) {
        const char *f = s->files[i];
        struct stat st;
        if (stat(f, &st) && strchr(f, ',')) { /* "a.jsonl,b.jsonl" (a Lua list): each in turn */
            char *copy = strdup(f), *save = NULL;
            l720_data_spec one = *s;
            for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t && !rc;
                 t = strtok_r(NULL, ",", &save)) {
                const char *files[1] = {t};
                l720_dataset *part;
                one.files = files;
                one.nfiles = 1;
                one.drop_highest = 0;
                if (!(rc = l720_dataset_load(&one, &part, err))) {
                    for (size_t k = 0; k < part->n && !rc; k++) {
                        if (part->pts[k].run >= 0)
                            part->pts[k].run += d->nruns;
                        rc = l720_dataset_push(d, part->pts[k], err);
                    }
                    d->nruns += part->nruns;
                    d->skipped_nan += part->skipped_nan;
                    d->filtered += part->filtered;
                    l720_dataset_free(part);
                }
            }
            if (!copy)
                rc = l720_err_set(err, L720_EFAIL, "out of memory");
            free(copy);
        } else if (stat(f, &st)) {
            rc = l720_err_set(err, L720_EINPUT, "%s: no such file or folder", f);
        } else if (S_ISDIR(st.st_mode)) {
            size_t found = 0;
            rc = read_dir(d, f, s, &found, err);
            if (!rc && !found)
                rc = l720_err_set(err, L720_EINPUT, "%s: no .jsonl run logs in this folder", f);
        } else if (is_jsonl(f)) {
            rc = l720_data_read_jsonl(d, f, s, err);
        } else {
            rc = l720_data_read_csv(d, f, s, err);
        }
    }
    if (!rc)
        rc = drop_highest(d, (size_t)s->drop_highest, err);
    if (!rc && d->n == 0)
        rc = l720_err_set(err, L720_EINPUT, "no data points left to fit");
    if (rc) {
        l720_dataset_free(d);
        return rc;
    }
    *out = d;
    return 0;
}
