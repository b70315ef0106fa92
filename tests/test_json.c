/* test_json.c: JSON reading and writing with errors that name file, line and field. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "json_io.h"
#include "tap.h"

static int count_lines(const cJSON *obj, long line, void *ctx, l720_err *err)
{
    (void)err;
    long *n = ctx;
    double v;
    if (l720_json_number(obj, "step", "x", &v, NULL) == 0 && v == (double)line)
        (*n)++;
    return 0;
}

int main(void)
{
    l720_err err;
    const char *good = "{\"a\": 1.5, \"s\": \"x\", \"n\": null, \"t\": \"y\"}";
    cJSON *j = l720_json_parse(good, strlen(good), "g.json", &err);
    ok(j != NULL, "parses an object");
    double v = 0;
    const char *s = NULL;
    ok(l720_json_number(j, "a", "g.json", &v, &err) == 0 && v == 1.5, "number field");
    ok(l720_json_string(j, "s", "g.json", &s, &err) == 0 && !strcmp(s, "x"), "string field");
    ok(l720_json_number(j, "missing", "g.json", &v, &err) == 2 &&
           strstr(err.msg, "g.json: field 'missing': missing"),
       "missing field named: %s", err.msg);
    ok(l720_json_number(j, "s", "g.json", &v, &err) == 2 && strstr(err.msg, "expected a number"),
       "wrong type named: %s", err.msg);
    ok(l720_json_number(j, "n", "g.json", &v, &err) == 2, "null is not a number");
    v = 7;
    ok(l720_json_number_opt(j, "absent", "g.json", &v, &err) == 0 && v == 7,
       "optional field keeps its default");
    cJSON_Delete(j);

    const char *bad = "{\n  \"a\": 1,\n  \"b\": [1, 2,, 3]\n}";
    j = l720_json_parse(bad, strlen(bad), "bad.json", &err);
    ok(!j && err.code == 2 && strstr(err.msg, "bad.json:3:"),
       "malformed JSON names the line: %s", err.msg);
    j = l720_json_parse("", 0, "e.json", &err);
    ok(!j && strstr(err.msg, "empty"), "empty input: %s", err.msg);
    j = l720_json_parse("{\"a\":1} x", 9, "t.json", &err);
    ok(!j && err.code == 2, "trailing garbage rejected: %s", err.msg);

    char dir[] = "/tmp/l720_json_XXXXXX";
    ok(mkdtemp(dir) != NULL, "temporary folder");
    char path[256];
    snprintf(path, sizeof path, "%s/out.json", dir);
    cJSON *o = cJSON_CreateObject();
    double arr[3] = {1, 2.5, -3};
    cJSON_AddItemToObject(o, "v", l720_json_array(arr, 3));
    ok(l720_json_write(path, o, &err) == 0, "writes JSON");
    cJSON_Delete(o);
    j = l720_json_read(path, &err);
    ok(j && cJSON_GetArraySize(cJSON_GetObjectItem(j, "v")) == 3 &&
           cJSON_GetArrayItem(cJSON_GetObjectItem(j, "v"), 1)->valuedouble == 2.5,
       "reads back what it wrote");
    cJSON_Delete(j);

    char jl[256];
    snprintf(jl, sizeof jl, "%s/log.jsonl", dir);
    const char *lines = "{\"step\":1}\n{\"step\":2}\n\n{\"step\":4}\n";
    l720_write_file_atomic(jl, lines, strlen(lines), &err);
    long n = 0;
    ok(l720_jsonl_each(jl, count_lines, &n, &err) == 0 && n == 3,
       "JSON Lines: every line seen with its line number");
    const char *badl = "{\"step\":1}\n{\"step\":\n";
    l720_write_file_atomic(jl, badl, strlen(badl), &err);
    ok(l720_jsonl_each(jl, count_lines, &n, &err) == 2 && strstr(err.msg, "log.jsonl:2:"),
       "malformed JSON line named: %s", err.msg);
    ok(l720_json_read("/nonexistent.json", &err) == NULL && strstr(err.msg, "/nonexistent.json"),
       "unreadable file named");
    cJSON *fin = cJSON_CreateObject();
    l720_json_add_finite(fin, "x", 2.5);
    l720_json_add_finite(fin, "nan", NAN);
    l720_json_add_finite(fin, "inf", INFINITY);
    ok(cJSON_GetObjectItem(fin, "x")->valuedouble == 2.5 &&
           cJSON_IsNull(cJSON_GetObjectItem(fin, "nan")) &&
           cJSON_IsNull(cJSON_GetObjectItem(fin, "inf")),
       "non-finite numbers are written as null");
    cJSON_Delete(fin);
    unlink(jl);
    unlink(path);
    rmdir(dir);
    return tap_done();
}
