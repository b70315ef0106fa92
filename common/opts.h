/* opts.h: long-option parsing and --help text from one table per subcommand.
 *
 * Every subcommand describes its options once, as an array of l720_opt ending
 * with {0}. The same table parses the command line, prints --help, and (through
 * the Lua host) turns a Lua table into a command line, so the three never
 * disagree.
 */
#ifndef L720_OPTS_H
#define L720_OPTS_H

#include <stdio.h>

#include "err.h"

typedef enum {
    L720_OPT_FLAG,   /* dest: int*, set to 1 */
    L720_OPT_STRING, /* dest: const char**, points into argv */
    L720_OPT_INT,    /* dest: long*; "1e6" accepted when it is a whole number */
    L720_OPT_DOUBLE, /* dest: double*; must be finite */
} l720_opt_type;

typedef struct l720_opt {
    const char *name;    /* long name without the dashes, e.g. "cache-bytes" */
    l720_opt_type type;
    void *dest;
    const char *metavar; /* e.g. "BYTES"; NULL for flags */
    const char *help;    /* one line, ideally with the default */
} l720_opt;

/* Returned by l720_opts_parse when --help (or -h) was given. */
#define L720_HELP (-1)

enum {
    L720_OPTS_STOP_AT_POSITIONAL = 1, /* everything after the first positional is positional */
};

/* Parses argv[0..argc) (options only: the program and subcommand names are
 * not included). Accepts "--name VALUE" and "--name=VALUE"; "--" ends the
 * options. Positionals go to pos[0..*npos) (at most max_pos; more is an
 * error). Returns 0, L720_HELP, or L720_EINPUT with a one-line message naming
 * the option. cmd names the subcommand in messages. */
int l720_opts_parse(const char *cmd, const l720_opt *opts, int flags, int argc, char **argv,
                    char **pos, int max_pos, int *npos, l720_err *err);

/* Prints "usage: llm720 CMD SYNOPSIS", the about text, and one line per
 * option (plus --json and --help, which every subcommand takes). */
void l720_opts_usage(FILE *out, const char *cmd, const char *synopsis, const char *about,
                     const l720_opt *opts);

/* l720_opts_parse, and on --help also l720_opts_usage to out: the first
 * thing every subcommand does. Returns as l720_opts_parse does (the caller
 * returns any non-zero value as it is). */
int l720_opts_parse_or_usage(FILE *out, const char *cmd, const char *synopsis, const char *about,
                             const l720_opt *opts, int flags, int argc, char **argv, char **pos,
                             int max_pos, int *npos, l720_err *err);

/* Checks of a double option left at NAN when not given; messages name --NAME.
 * Required and > 0: "missing --NAME" or "--NAME must be positive, got V". */
int l720_opt_positive(double v, const char *name, l720_err *err);
/* Optional and >= 0: *v = def when not given; "--NAME must be >= 0, got V". */
int l720_opt_non_negative(double *v, double def, const char *name, l720_err *err);

/* Finds an option by name, or NULL. */
const l720_opt *l720_opts_find(const l720_opt *opts, const char *name);

#endif
