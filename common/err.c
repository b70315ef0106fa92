/* err.c: see err.h. */
#include "err.h"

#include <stdio.h>
#include <string.h>

void l720_err_clear(l720_err *err)
{
    if (!err)
        return;
    err->code = L720_OK;
    err->msg[0] = '\0';
}

int l720_err_vset(l720_err *err, int code, const char *fmt, va_list ap)
{
    if (!err)
        return code;
    err->code = code;
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    /* keep it one line */
    for (char *p = err->msg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    return code;
}

int l720_err_set(l720_err *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    l720_err_vset(err, code, fmt, ap);
    va_end(ap);
    return code;
}

int l720_err_at(l720_err *err, int code, const char *file, long line,
                const char *field, const char *fmt, ...)
{
    if (!err)
        return code;
    char where[512] = "";
    size_t n = 0;
    if (file)
        n += (size_t)snprintf(where + n, sizeof where - n, "%s:", file);
    if (line > 0 && n < sizeof where)
        n += (size_t)snprintf(where + n, sizeof where - n, "%ld:", line);
    if (field && n < sizeof where)
        n += (size_t)snprintf(where + n, sizeof where - n, "%sfield '%s':", n ? " " : "", field);
    char body[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    return l720_err_set(err, code, "%.300s%s%.700s", where, where[0] ? " " : "", body);
}

void l720_err_prefix(l720_err *err, const char *fmt, ...)
{
    if (!err)
        return;
    char pre[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    char old[sizeof err->msg];
    memcpy(old, err->msg, sizeof old);
    snprintf(err->msg, sizeof err->msg, "%.300s: %.700s", pre, old);
}
