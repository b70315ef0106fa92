/* json_io.h: JSON in and out through cJSON, with errors that name the file,
 * the line and the field. */
#ifndef L720_JSON_IO_H
#define L720_JSON_IO_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "err.h"

/* Parses text; name is used in messages ("NAME:LINE:COL: malformed JSON"). */
cJSON *l720_json_parse(const char *text, size_t len, const char *name, l720_err *err);

/* Reads and parses a file. */
cJSON *l720_json_read(const char *path, l720_err *err);

/* Writes pretty-printed JSON atomically, with a trailing newline. */
int l720_json_write(const char *path, const cJSON *json, l720_err *err);

/* Prints compact JSON and a newline to stdout. */
int l720_json_print(const cJSON *json);

/* Required fields. where names the file (or object) in messages. A missing
 * field, a wrong type, and (for numbers) NaN are errors with code 2. */
int l720_json_number(const cJSON *obj, const char *key, const char *where, double *out,
                     l720_err *err);
int l720_json_string(const cJSON *obj, const char *key, const char *where, const char **out,
                     l720_err *err);

/* Optional number: *out keeps its value when the field is absent. */
int l720_json_number_opt(const cJSON *obj, const char *key, const char *where, double *out,
                         l720_err *err);

/* Adds v under key, or null when v is not finite (JSON has no NaN or inf). */
void l720_json_add_finite(cJSON *obj, const char *key, double v);

/* A new array holding v[0..n). */
cJSON *l720_json_array(const double *v, size_t n);

/* Calls fn on every non-blank line of a JSON Lines file, parsed; stops at the
 * first non-zero return. Malformed lines are errors naming FILE:LINE. The
 * object passed to fn is freed after fn returns. */
typedef int (*l720_jsonl_fn)(const cJSON *obj, long line, void *ctx, l720_err *err);
int l720_jsonl_each(const char *path, l720_jsonl_fn fn, void *ctx, l720_err *err);

#endif
