/* hardware.c: see hardware.h. */
#include "hardware.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_io.h"
#include "paths.h"

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void l720_hardware_names(char *buf, size_t n)
{
    char dir[4096];
    buf[0] = '\0';
    if (!l720_path_join(dir, sizeof dir, l720_data_dir(), "hardware"))
        return;
    DIR *d = opendir(dir);
    if (!d)
        return;
    char *names[256];
    int k = 0;
    struct dirent *e;
    while ((e = readdir(d)) && k < 256) {
        size_t len = strlen(e->d_name);
        if (len > 5 && !strcmp(e->d_name + len - 5, ".json"))
            names[k++] = strndup(e->d_name, len - 5);
    }
    closedir(d);
    qsort(names, (size_t)k, sizeof *names, cmp_str);
    size_t w = 0;
    for (int i = 0; i < k; i++) {
        if (w + 1 < n)
            w += (size_t)snprintf(buf + w, n - w, "%s%s", i ? ", " : "", names[i]);
        free(names[i]);
    }
}

static int positive(const cJSON *o, const char *key, const char *where, double *out,
                    l720_err *err)
{
    int rc = l720_json_number(o, key, where, out, err);
    if (rc)
        return rc;
    if (!(*out > 0))
        return l720_err_at(err, L720_EINPUT, where, 0, key, "must be positive, got %g", *out);
    return 0;
}

/* An optional list of [x, y] pairs, both positive, x ascending (at most
 * L720_HW_MAX_POINTS), into xs, ys, *n. */
static int read_curve(const cJSON *m, const char *key, const char *path, double *xs, double *ys,
                      size_t *n, l720_err *err)
{
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(m, key);
    char field[64];
    snprintf(field, sizeof field, "measured.%s", key);
    if (!g)
        return 0;
    if (!cJSON_IsArray(g) || cJSON_GetArraySize(g) > L720_HW_MAX_POINTS)
        return l720_err_at(err, L720_EINPUT, path, 0, field,
                           "expected a list of at most %d [x, y] pairs", L720_HW_MAX_POINTS);
    const cJSON *p;
    cJSON_ArrayForEach(p, g)
    {
        const cJSON *a = cJSON_GetArrayItem(p, 0), *b = cJSON_GetArrayItem(p, 1);
        if (!cJSON_IsArray(p) || cJSON_GetArraySize(p) != 2 || !cJSON_IsNumber(a) ||
            !cJSON_IsNumber(b) || !(a->valuedouble > 0) || !(b->valuedouble > 0) ||
            (*n && a->valuedouble <= xs[*n - 1]))
            return l720_err_at(err, L720_EINPUT, path, 0, field,
                               "point %zu: expected [x, y], positive, x ascending", *n + 1);
        xs[*n] = a->valuedouble;
        ys[*n] = b->valuedouble;
        (*n)++;
    }
    return 0;
}

int l720_hardware_load(const char *name, l720_hardware *hw, l720_err *err)
{
    memset(hw, 0, sizeof *hw);
    char path[4096];
    size_t nl = strlen(name);
    if (strchr(name, '/') || (nl > 5 && !strcmp(name + nl - 5, ".json"))) {
        snprintf(path, sizeof path, "%s", name);
    } else {
        char rel[256];
        snprintf(rel, sizeof rel, "hardware/%s.json", name);
        l720_path_join(path, sizeof path, l720_data_dir(), rel);
        FILE *f = fopen(path, "r");
        if (!f) {
            char known[1024];
            l720_hardware_names(known, sizeof known);
            return l720_err_set(err, L720_EINPUT, "unknown hardware '%s' (known: %s)", name,
                                known[0] ? known : "none found");
        }
        fclose(f);
    }
    cJSON *j = l720_json_read(path, err);
    if (!j)
        return err ? err->code : L720_EINPUT;
    int rc = 0;
    const char *s;
    double gpus = 1;
    if ((rc = l720_json_string(j, "name", path, &s, err)))
        goto done;
    snprintf(hw->name, sizeof hw->name, "%s", s);
    if ((rc = l720_json_string(j, "source", path, &s, err)))
        goto done;
    snprintf(hw->source, sizeof hw->source, "%s", s);
    if ((rc = l720_json_number_opt(j, "gpus", path, &gpus, err)))
        goto done;
    if (gpus < 1 || gpus != floor(gpus)) {
        rc = l720_err_at(err, L720_EINPUT, path, 0, "gpus", "must be a whole number >= 1");
        goto done;
    }
    hw->gpus = (int)gpus;
    if ((rc = positive(j, "memory_bytes", path, &hw->memory_bytes, err)) ||
        (rc = positive(j, "hbm_bandwidth", path, &hw->hbm_bandwidth, err)) ||
        (rc = positive(j, "bf16_flops", path, &hw->bf16_flops, err)) ||
        (rc = positive(j, "host_memory_bytes", path, &hw->host_memory_bytes, err)))
        goto done;
    const cJSON *link = cJSON_GetObjectItemCaseSensitive(j, "host_link");
    if (!cJSON_IsObject(link)) {
        rc = l720_err_at(err, L720_EINPUT, path, 0, "host_link",
                         "missing, expected an object {kind, bandwidth, latency}");
        goto done;
    }
    if ((rc = l720_json_string(link, "kind", path, &s, err)))
        goto done;
    snprintf(hw->link_kind, sizeof hw->link_kind, "%s", s);
    if ((rc = positive(link, "bandwidth", path, &hw->link_bandwidth, err)) ||
        (rc = positive(link, "latency", path, &hw->link_latency, err)))
        goto done;
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "measured");
    if (m) {
        if (!cJSON_IsObject(m)) {
            rc = l720_err_at(err, L720_EINPUT, path, 0, "measured", "expected an object");
            goto done;
        }
        hw->measured = 1;
        if ((rc = l720_json_number_opt(m, "copy_bandwidth", path, &hw->link_bandwidth, err)) ||
            (rc = l720_json_number_opt(m, "copy_latency", path, &hw->link_latency, err)) ||
            (rc = l720_json_number_opt(m, "d2d_bandwidth", path, &hw->d2d_bandwidth, err)) ||
            (rc = l720_json_number_opt(m, "zero_copy_latency", path, &hw->zero_copy_latency,
                                       err)))
            goto done;
        double channels = 0;
        if ((rc = read_curve(m, "gather", path, hw->gather_row_bytes, hw->gather_bandwidth,
                             &hw->n_gather, err)) ||
            (rc = read_curve(m, "copy_streams_4k", path, hw->copy_streams,
                             hw->copy_streams_seconds, &hw->n_copy_streams, err)) ||
            (rc = l720_json_number_opt(m, "copy_channels", path, &channels, err)))
            goto done;
        if (channels < 0 || channels != (int)channels) {
            rc = l720_err_at(err, L720_EINPUT, path, 0, "measured.copy_channels",
                             "expected a whole number >= 0");
            goto done;
        }
        hw->copy_channels = (int)channels;
    }
done:
    cJSON_Delete(j);
    return rc;
}

int l720_hardware_load_list(const char *list, l720_hardware *hw, size_t max, size_t *n,
                            l720_err *err)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", list);
    *n = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t && *n < max; t = strtok_r(NULL, ",", &save)) {
        int rc = l720_hardware_load(t, &hw[*n], err);
        if (rc)
            return rc;
        (*n)++;
    }
    return 0;
}

/* y at v on the piecewise-linear curve through (x[i], y[i]), x ascending and
 * n >= 1, held at its ends; loglog: linear in log x and log y. */
static double interpolate(const double *x, const double *y, size_t n, double v, int loglog)
{
    if (v <= x[0])
        return y[0];
    if (v >= x[n - 1])
        return y[n - 1];
    size_t i = 1;
    while (x[i] < v)
        i++;
    if (!loglog)
        return y[i - 1] + (y[i] - y[i - 1]) * (v - x[i - 1]) / (x[i] - x[i - 1]);
    double x0 = log(x[i - 1]), x1 = log(x[i]);
    double y0 = log(y[i - 1]), y1 = log(y[i]);
    double t = (log(v) - x0) / (x1 - x0);
    return exp(y0 + t * (y1 - y0));
}

double l720_hardware_gather_bandwidth(const l720_hardware *hw, double row_bytes)
{
    if (hw->n_gather == 0)
        return hw->link_bandwidth;
    return interpolate(hw->gather_row_bytes, hw->gather_bandwidth, hw->n_gather, row_bytes, 1);
}

double l720_hardware_copy_seconds(const l720_hardware *hw, double streams)
{
    if (hw->n_copy_streams == 0)
        return 0;
    return interpolate(hw->copy_streams, hw->copy_streams_seconds, hw->n_copy_streams, streams,
                       0);
}
