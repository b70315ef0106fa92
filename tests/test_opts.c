/* test_opts.c: option parsing and its one-line errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opts.h"
#include "tap.h"

int main(void)
{
    const char *name = NULL;
    long n = 5;
    double x = 0;
    int flag = 0;
    const l720_opt opts[] = {
        {"name", L720_OPT_STRING, &name, "NAME", "a name"},
        {"count", L720_OPT_INT, &n, "N", "a count (default 5)"},
        {"x", L720_OPT_DOUBLE, &x, "X", "a number"},
        {"verbose", L720_OPT_FLAG, &flag, NULL, "talk more"},
        {0},
    };
    l720_err err;
    char *pos[4];
    int np;
    char *a1[] = {"--name", "abc", "--count=1e6", "--x", "-2.5", "file", "--verbose"};
    ok(l720_opts_parse("t", opts, 0, 7, a1, pos, 4, &np, &err) == 0, "parses");
    ok(name && !strcmp(name, "abc") && n == 1000000 && x == -2.5 && flag && np == 1 &&
           !strcmp(pos[0], "file"),
       "values and positionals");
    char *a2[] = {"--bogus"};
    ok(l720_opts_parse("t", opts, 0, 1, a2, pos, 4, &np, &err) == 2 &&
           strstr(err.msg, "unknown option '--bogus'") && strstr(err.msg, "--help"),
       "unknown option: %s", err.msg);
    char *a3[] = {"--name"};
    ok(l720_opts_parse("t", opts, 0, 1, a3, pos, 4, &np, &err) == 2 &&
           strstr(err.msg, "needs a value"),
       "missing value: %s", err.msg);
    char *a4[] = {"--count", "2.5"};
    ok(l720_opts_parse("t", opts, 0, 2, a4, pos, 4, &np, &err) == 2 &&
           strstr(err.msg, "whole number"),
       "non-integer count: %s", err.msg);
    char *a5[] = {"--x", "nan"};
    ok(l720_opts_parse("t", opts, 0, 2, a5, pos, 4, &np, &err) == 2 &&
           strstr(err.msg, "finite"),
       "NaN rejected: %s", err.msg);
    char *a6[] = {"--help"};
    ok(l720_opts_parse("t", opts, 0, 1, a6, pos, 4, &np, &err) == L720_HELP, "--help");
    char *a7[] = {"a", "b"};
    ok(l720_opts_parse("t", opts, 0, 2, a7, pos, 1, &np, &err) == 2 &&
           strstr(err.msg, "unexpected argument 'b'"),
       "too many positionals: %s", err.msg);
    char *a8[] = {"script.lua", "--name", "z"};
    name = NULL;
    ok(l720_opts_parse("t", opts, L720_OPTS_STOP_AT_POSITIONAL, 3, a8, pos, 4, &np, &err) == 0 &&
           np == 3 && name == NULL,
       "stop at the first positional");
    char *a9[] = {"--verbose=1"};
    ok(l720_opts_parse("t", opts, 0, 1, a9, pos, 4, &np, &err) == 2, "flag with a value: %s",
       err.msg);
    char *a10[] = {"-q"};
    ok(l720_opts_parse("t", opts, 0, 1, a10, pos, 4, &np, &err) == 2 &&
           strstr(err.msg, "unknown option '-q'"),
       "short option: %s", err.msg);

    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    char *a11[] = {"--count", "7"};
    int rc = l720_opts_parse_or_usage(out, "t", "[OPTIONS]", "About t.", opts, 0, 2, a11, pos, 4,
                                      &np, &err);
    fflush(out);
    ok(rc == 0 && n == 7 && len == 0, "parse or usage: options parsed, nothing printed");
    rc = l720_opts_parse_or_usage(out, "t", "[OPTIONS]", "About t.", opts, 0, 1, a6, pos, 4, &np,
                                  &err);
    fclose(out);
    ok(rc == L720_HELP && text && strstr(text, "usage: llm720 t [OPTIONS]") &&
           strstr(text, "About t.") && strstr(text, "--count N"),
       "parse or usage: --help prints the usage");
    free(text);

    double v = NAN;
    ok(l720_opt_positive(v, "flops", &err) == 2 && !strcmp(err.msg, "missing --flops"),
       "a required option not given: %s", err.msg);
    ok(l720_opt_positive(-1, "flops", &err) == 2 && strstr(err.msg, "--flops must be positive"),
       "a required option not positive: %s", err.msg);
    ok(l720_opt_non_negative(&v, 7, "kv", &err) == 0 && v == 7, "an optional option's default");
    v = -2;
    ok(l720_opt_non_negative(&v, 7, "kv", &err) == 2 && strstr(err.msg, "--kv must be >= 0"),
       "an optional option below 0: %s", err.msg);
    return tap_done();
}
