/* json_io.c: see json_io.h. */
#include "json_io.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"

cJSON *l720_json_parse(const char *text, size_t len, const char *name, l720_err *err)
{
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (j) {
        /* only blanks may follow the value */
        const char *p = end;
        while (p < text + len && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
            p++;
        if (p == text + len || *p == '\0')
            return j;
        cJSON_Delete(j);
        end = p;
    }
    /* locate the failure */
    const char *at = end ? end : cJSON_GetErrorPtr();
    long line = 1, col = 1;
    if (at && at >= text && at <= text + len)
        for (const char *p = text; p < at; p++) {
            if (*p == '\n') {
                line++;
                col = 1;
            } else
                col++;
        }
    int blank = 1;
    for (size_t i = 0; i < len; i++)
        if (text[i] != ' ' && text[i] != '\t' && text[i] != '\n' && text[i] != '\r')
            blank = 0;
    if (blank)
        l720_err_set(err, L720_EINPUT, "%s: empty, expected a JSON value", name);
    else
        l720_err_set(err, L720_EINPUT, "%s:%ld:%ld: malformed JSON", name, line, col);
    return NULL;
}

cJSON *l720_json_read(const char *path, l720_err *err)
{
    size_t len;
    char *text = l720_read_file(path, &len, err);
    if (!text)
        return NULL;
    cJSON *j = l720_json_parse(text, len, path, err);
    free(text);
    return j;
}

int l720_json_write(const char *path, const cJSON *json, l720_err *err)
{
    char *s = cJSON_Print(json);
    if (!s)
        return l720_err_set(err, L720_EFAIL, "%s: cannot format JSON", path);
    size_t n = strlen(s);
    char *t = realloc(s, n + 2);
    if (!t) {
        free(s);
        return l720_err_set(err, L720_EFAIL, "out of memory");
    }
    t[n] = '\n';
    t[n + 1] = '\0';
    int rc = l720_write_file_atomic(path, t, n + 1, err);
    free(t);
    return rc;
}

int l720_json_print(const cJSON *json)
{
    char *s = cJSON_PrintUnformatted(json);
    if (!s)
        return L720_EFAIL;
    fputs(s, stdout);
    fputc('\n', stdout);
    free(s);
    return fflush(stdout) ? L720_EFAIL : 0;
}

int l720_json_number(const cJSON *obj, const char *key, const char *where, double *out,
                     l720_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v)
        return l720_err_at(err, L720_EINPUT, where, 0, key, "missing, expected a number");
    if (!cJSON_IsNumber(v))
        return l720_err_at(err, L720_EINPUT, where, 0, key, "expected a number");
    if (!isfinite(v->valuedouble))
        return l720_err_at(err, L720_EINPUT, where, 0, key, "expected a finite number");
    *out = v->valuedouble;
    return 0;
}

int l720_json_number_opt(const cJSON *obj, const char *key, const char *where, double *out,
                         l720_err *err)
{
    if (!cJSON_GetObjectItemCaseSensitive(obj, key))
        return 0;
    return l720_json_number(obj, key, where, out, err);
}

int l720_json_string(const cJSON *obj, const char *key, const char *where, const char **out,
                     l720_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v)
        return l720_err_at(err, L720_EINPUT, where, 0, key, "missing, expected a string");
    if (!cJSON_IsString(v))
        return l720_err_at(err, L720_EINPUT, where, 0, key, "expected a string");
    *out = v->valuestring;
    return 0;
}

void l720_json_add_finite(cJSON *obj, const char *key, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(obj, key, v);
    else
        cJSON_AddNullToObject(obj, key);
}

cJSON *l720_json_array(const double *v, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
    return a;
}

int l720_jsonl_each(const char *path, l720_jsonl_fn fn, void *ctx, l720_err *err)
{
    size_t len;
    char *text = l720_read_file(path, &len, err);
    if (!text)
        return err ? err->code : L720_EINPUT;
    int rc = 0;
    long line = 0;
    char *p = text, *end = text + len;
    while (p < end && !rc) {
        line++;
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        int blank = 1;
        for (size_t i = 0; i < n; i++)
            if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
                blank = 0;
        if (!blank) {
            cJSON *j = l720_json_parse(p, n, path, NULL);
            if (!j)
                rc = l720_err_at(err, L720_EINPUT, path, line, NULL, "malformed JSON line");
            else {
                rc = fn(j, line, ctx, err);
                cJSON_Delete(j);
            }
        }
        p = nl ? nl + 1 : end;
    }
    free(text);
    return rc;
}
