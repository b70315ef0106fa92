/* opts.c: see opts.h. */
#include "opts.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"

const l720_opt *l720_opts_find(const l720_opt *opts, const char *name)
{
    for (const l720_opt *o = opts; o && o->name; o++)
        if (!strcmp(o->name, name))
            return o;
    return NULL;
}

static int set_value(const char *cmd, const l720_opt *o, const char *val, l720_err *err)
{
    double d;
    switch (o->type) {
    case L720_OPT_FLAG:
        *(int *)o->dest = 1;
        return 0;
    case L720_OPT_STRING:
        *(const char **)o->dest = val;
        return 0;
    case L720_OPT_INT:
        if (l720_parse_number(val, &d) != 0 || !isfinite(d) || d != floor(d) || fabs(d) > 9.0e18)
            return l720_err_set(err, L720_EINPUT, "%s: --%s: expected a whole number, got '%s'",
                                cmd, o->name, val);
        *(long *)o->dest = (long)d;
        return 0;
    case L720_OPT_DOUBLE:
        if (l720_parse_number(val, &d) != 0 || !isfinite(d))
            return l720_err_set(err, L720_EINPUT, "%s: --%s: expected a finite number, got '%s'",
                                cmd, o->name, val);
        *(double *)o->dest = d;
        return 0;
    }
    return l720_err_set(err, L720_EFAIL, "%s: --%s: bad option type", cmd, o->name);
}

int l720_opts_parse(const char *cmd, const l720_opt *opts, int flags, int argc, char **argv,
                    char **pos, int max_pos, int *npos, l720_err *err)
{
    int np = 0, only_pos = 0;
    for (int i = 0; i < argc; i++) {
        char *a = argv[i];
        int negative_number = a[0] == '-' && ((a[1] >= '0' && a[1] <= '9') || a[1] == '.');
        if (only_pos || a[0] != '-' || a[1] == '\0' || negative_number) {
            /* a positional (also "-" alone and negative numbers like -3) */
            if (np >= max_pos)
                return l720_err_set(err, L720_EINPUT,
                                    "%s: unexpected argument '%s' (try 'llm720 %s --help')", cmd,
                                    a, cmd);
            pos[np++] = a;
            if (flags & L720_OPTS_STOP_AT_POSITIONAL)
                only_pos = 1;
            continue;
        }
        if (!strcmp(a, "--")) {
            only_pos = 1;
            continue;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help"))
            return L720_HELP;
        if (a[1] != '-')
            return l720_err_set(err, L720_EINPUT, "%s: unknown option '%s' (try 'llm720 %s --help')",
                                cmd, a, cmd);
        char name[128];
        const char *eq = strchr(a + 2, '=');
        size_t n = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
        if (n >= sizeof name)
            n = sizeof name - 1;
        memcpy(name, a + 2, n);
        name[n] = '\0';
        const l720_opt *o = l720_opts_find(opts, name);
        if (!o)
            return l720_err_set(err, L720_EINPUT,
                                "%s: unknown option '--%s' (try 'llm720 %s --help')", cmd, name,
                                cmd);
        const char *val = NULL;
        if (o->type == L720_OPT_FLAG) {
            if (eq)
                return l720_err_set(err, L720_EINPUT, "%s: option '--%s' takes no value", cmd,
                                    name);
        } else if (eq) {
            val = eq + 1;
        } else {
            if (i + 1 >= argc)
                return l720_err_set(err, L720_EINPUT,
                                    "%s: option '--%s' needs a value %s (try 'llm720 %s --help')",
                                    cmd, name, o->metavar ? o->metavar : "", cmd);
            val = argv[++i];
        }
        int rc = set_value(cmd, o, val, err);
        if (rc)
            return rc;
    }
    if (npos)
        *npos = np;
    return 0;
}

void l720_opts_usage(FILE *out, const char *cmd, const char *synopsis, const char *about,
                     const l720_opt *opts)
{
    fprintf(out, "usage: llm720 %s %s\n", cmd, synopsis ? synopsis : "[OPTIONS]");
    if (about && *about)
        fprintf(out, "\n%s\n", about);
    fprintf(out, "\noptions:\n");
    for (const l720_opt *o = opts; o && o->name; o++) {
        char left[96];
        snprintf(left, sizeof left, "--%s%s%s", o->name, o->metavar ? " " : "",
                 o->metavar ? o->metavar : "");
        fprintf(out, "  %-28s %s\n", left, o->help ? o->help : "");
    }
    fprintf(out, "  %-28s %s\n", "--json", "print one JSON object on stdout instead of text");
    fprintf(out, "  %-28s %s\n", "--help", "show this help");
}

int l720_opts_parse_or_usage(FILE *out, const char *cmd, const char *synopsis, const char *about,
                             const l720_opt *opts, int flags, int argc, char **argv, char **pos,
                             int max_pos, int *npos, l720_err *err)
{
    int rc = l720_opts_parse(cmd, opts, flags, argc, argv, pos, max_pos, npos, err);
    if (rc == L720_HELP)
        l720_opts_usage(out, cmd, synopsis, about, opts);
    return rc;
}

int l720_opt_positive(double v, const char *name, l720_err *err)
{
    if (isnan(v))
        return l720_err_set(err, L720_EINPUT, "missing --%s", name);
    if (!(v > 0))
        return l720_err_set(err, L720_EINPUT, "--%s must be positive, got %g", name, v);
    return 0;
}

int l720_opt_non_negative(double *v, double def, const char *name, l720_err *err)
{
    if (isnan(*v))
        *v = def;
    if (!(*v >= 0))
        return l720_err_set(err, L720_EINPUT, "--%s must be >= 0, got %g", name, *v);
    return 0;
}
