/* test_train_log.c: the run log appends and flushes each line and is cut
 * back to the checkpoint's step on resume; the routing trace format. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "json_io.h"
#include "tap.h"
#include "trainer/train_log.h"

static cJSON *eval_line(int step)
{
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "type", "eval");
    cJSON_AddNumberToObject(e, "step", step);
    cJSON_AddNumberToObject(e, "val_loss", 1.0 / step);
    return e;
}

static int count_lines(const char *path)
{
    size_t len;
    char *t = l720_read_file(path, &len, NULL);
    int n = 0;
    for (size_t i = 0; t && i < len; i++)
        n += t[i] == '\n';
    free(t);
    return n;
}

int main(void)
{
    l720_err err;
    char dir[] = "/tmp/l720_log_XXXXXX";
    ok(mkdtemp(dir) != NULL, "temporary folder");
    char path[256], tpath[256];
    snprintf(path, sizeof path, "%s/log.jsonl", dir);
    snprintf(tpath, sizeof tpath, "%s/trace.txt", dir);

    l720_runlog *log = l720_runlog_open(path, -1, &err);
    ok(log && !l720_runlog_has_header(log), "new log");
    cJSON *h = cJSON_CreateObject();
    cJSON_AddStringToObject(h, "type", "header");
    l720_runlog_write(log, h, &err);
    cJSON_Delete(h);
    for (int s = 10; s <= 40; s += 10) {
        cJSON *e = eval_line(s);
        l720_runlog_write(log, e, &err);
        cJSON_Delete(e);
    }
    ok(count_lines(path) == 5, "every line is on disk before close (flushed)");
    l720_runlog_close(log);

    log = l720_runlog_open(path, 20, &err);
    ok(log && l720_runlog_has_header(log), "resume keeps the header");
    ok(count_lines(path) == 3, "resume at step 20 drops the evaluations after it");
    cJSON *e = eval_line(30);
    l720_runlog_write(log, e, &err);
    cJSON_Delete(e);
    l720_runlog_close(log);
    ok(count_lines(path) == 4, "and appends");

    /* every line parses; steps increase */
    double last = 0;
    int lines = 0, increasing = 1;
    size_t len;
    char *t = l720_read_file(path, &len, &err);
    for (char *s = strtok(t, "\n"); s; s = strtok(NULL, "\n"), lines++) {
        cJSON *j = cJSON_Parse(s);
        cJSON *st = cJSON_GetObjectItem(j, "step");
        if (st) {
            increasing &= st->valuedouble > last;
            last = st->valuedouble;
        }
        cJSON_Delete(j);
    }
    free(t);
    ok(lines == 4 && increasing, "a clean log after resume");

    l720_trace *tr = l720_trace_open(tpath, 2, 8, 1, &err);
    int32_t l0[3] = {1, 2, 3}, l1[3] = {7, 6, 5};
    const int32_t *ids[2] = {l0, l1};
    ok(l720_trace_add(tr, 0, 3, ids, &err) == 0 && l720_trace_commit(tr, &err) == 0,
       "write a trace");
    t = l720_read_file(tpath, &len, &err);
    ok(t && !strcmp(t, "# llm720 routing trace v1\n# layers 2 experts 8 per_token 1\n"
                       "0 0 1\n0 1 7\n1 0 2\n1 1 6\n2 0 3\n2 1 5\n"),
       "trace format: token by token, layer by layer");
    free(t);
    tr = l720_trace_open(tpath, 1, 16, 2, &err);
    l720_trace_abort(tr);
    t = l720_read_file(tpath, &len, &err);
    ok(t && strstr(t, "experts 8"), "an aborted trace leaves the old file");
    free(t);
    remove(path);
    remove(tpath);
    remove(dir);
    return tap_done();
}
