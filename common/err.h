/* err.h: errors returned up the stack, with file/line/field context.
 *
 * Libraries never print: they fill an l720_err and return its code. The command
 * line prints err.msg once, as one line, and exits with err.code.
 */
#ifndef L720_ERR_H
#define L720_ERR_H

#include <stdarg.h>
#include <stddef.h>

enum {
    L720_OK = 0,
    L720_EFAIL = 1,  /* a run failed (I/O, numerical failure, interrupted) */
    L720_EINPUT = 2, /* bad input: usage, malformed file, out-of-range value */
};

typedef struct l720_err {
    int code;       /* L720_OK when nothing went wrong */
    char msg[1024]; /* one line, no trailing newline */
} l720_err;

/* Clears err (err may be NULL). */
void l720_err_clear(l720_err *err);

/* Sets code and a printf-style message; returns code. err may be NULL. */
int l720_err_set(l720_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int l720_err_vset(l720_err *err, int code, const char *fmt, va_list ap);

/* Sets a message located in a file: "FILE:LINE: field 'FIELD': message".
 * line <= 0 omits the line; field NULL omits the field. Returns code. */
int l720_err_at(l720_err *err, int code, const char *file, long line,
                const char *field, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* Prefixes the current message with "prefix: " (keeps the code). */
void l720_err_prefix(l720_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
