/* train_log.c: see train_log.h. */
#include "train_log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "json_io.h"

struct l720_runlog {
    FILE *fp;
    char *path;
    int has_header;
};

/* Keeps the lines of an existing log up to resume_step; rewrites it. */
static int cut_log(l720_runlog *log, long resume_step, l720_err *err)
{
    size_t len;
    char *text = l720_read_file(log->path, &len, err);
    if (!text)
        return err->code;
    l720_atomic *w = l720_atomic_open(log->path, err);
    if (!w) {
        free(text);
        return err->code;
    }
    int rc = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line && !rc; line = strtok_r(NULL, "\n", &save)) {
        cJSON *j = cJSON_Parse(line);
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(j, "type");
        const cJSON *step = cJSON_GetObjectItemCaseSensitive(j, "step");
        int keep = 0;
        if (cJSON_IsString(type) && !strcmp(type->valuestring, "header")) {
            keep = 1;
            log->has_header = 1;
        } else if (cJSON_IsNumber(step) && step->valuedouble <= (double)resume_step) {
            keep = 1;
        }
        cJSON_Delete(j);
        if (keep && fprintf(w->fp, "%s\n", line) < 0)
            rc = l720_err_set(err, L720_EFAIL, "%s: write failed", log->path);
    }
    free(text);
    if (rc) {
        l720_atomic_abort(w);
        return rc;
    }
    return l720_atomic_commit(w, err);
}

l720_runlog *l720_runlog_open(const char *path, long resume_step, l720_err *err)
{
    l720_runlog *log = calloc(1, sizeof *log);
    if (!log || !(log->path = strdup(path))) {
        free(log);
        l720_err_set(err, L720_EFAIL, "out of memory");
        return NULL;
    }
    int rc = resume_step >= 0 && l720_exists(path) ? cut_log(log, resume_step, err) : 0;
    if (!rc && !(log->fp = fopen(path, resume_step >= 0 ? "a" : "w")))
        rc = l720_err_set(err, L720_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    if (rc) {
        l720_runlog_close(log);
        return NULL;
    }
    return log;
}

int l720_runlog_write(l720_runlog *log, const cJSON *obj, l720_err *err)
{
    char *text = cJSON_PrintUnformatted(obj);
    if (!text)
        return l720_err_set(err, L720_EFAIL, "out of memory");
    int bad = fprintf(log->fp, "%s\n", text) < 0 || fflush(log->fp) != 0;
    free(text);
    if (bad)
        return l720_err_set(err, L720_EFAIL, "%s: write failed", log->path);
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(obj, "type");
    if (cJSON_IsString(type) && !strcmp(type->valuestring, "header"))
        log->has_header = 1;
    return 0;
}

int l720_runlog_has_header(const l720_runlog *log)
{
    return log->has_header;
}

void l720_runlog_close(l720_runlog *log)
{
    if (!log)
        return;
    if (log->fp)
        fclose(log->fp);
    free(log->path);
    free(log);
}

struct l720_trace {
    l720_atomic *w;
    int layers, experts, per_token;
};

l720_trace *l720_trace_open(const char *path, int layers, int experts, int per_token,
                            l720_err *err)
{
    l720_trace *tr = calloc(1, sizeof *tr);
    if (!tr) {
        l720_err_set(err, L720_EFAIL, "out of memory");
        return NULL;
    }
    tr->layers = layers;
    tr->experts = experts;
    tr->per_token = per_token;
    if (!(tr->w = l720_atomic_open(path, err))) {
        free(tr);
        return NULL;
    }
    fprintf(tr->w->fp, "# llm720 routing trace v1\n# layers %d experts %d per_token %d\n", layers,
            experts, per_token);
    return tr;
}

int l720_trace_add(l720_trace *tr, long t0, long n, const int32_t *const *ids, l720_err *err)
{
    FILE *fp = tr->w->fp;
    for (long t = 0; t < n; t++)
        for (int l = 0; l < tr->layers; l++) {
            fprintf(fp, "%ld %d", t0 + t, l);
            for (int k = 0; k < tr->per_token; k++)
                fprintf(fp, " %d", (int)ids[l][t * tr->per_token + k]);
            if (fputc('\n', fp) == EOF)
                return l720_err_set(err, L720_EFAIL, "trace: write failed");
        }
    return 0;
}

int l720_trace_commit(l720_trace *tr, l720_err *err)
{
    int rc = l720_atomic_commit(tr->w, err);
    free(tr);
    return rc;
}

void l720_trace_abort(l720_trace *tr)
{
    if (!tr)
        return;
    l720_atomic_abort(tr->w);
    free(tr);
}
