/* cmd.h: the subcommands of llm720, one table.
 *
 * A subcommand is one C function. It parses its own options (opts.h), does its
 * work through the libraries, and returns its outcome as one JSON object in
 * *result. When io->json is 0 it also writes a human-readable report to
 * io->out; the caller prints *result when io->json is 1. The Lua host calls the
 * same function with io->json = 1 and turns *result into a Lua table, so the
 * command line and scripts share one code path.
 */
#ifndef L720_CMD_H
#define L720_CMD_H

#include <stdio.h>

#include <cjson/cJSON.h>

#include "err.h"

typedef struct l720_cmdio {
    FILE *out; /* text output (stdout on the command line) */
    int json;  /* 1: no text output; the result object is what matters */
} l720_cmdio;

/* argv[0] is the first argument after the subcommand name.
 * Returns 0 (and *result, owned by the caller, may be NULL), L720_HELP after
 * printing help to io->out, or an error code with err filled. */
typedef int (*l720_cmd_fn)(int argc, char **argv, const l720_cmdio *io, cJSON **result,
                           l720_err *err);

typedef struct l720_cmd {
    const char *name;    /* "plan", "prepare-data", ... */
    const char *summary; /* one line for llm720 --help */
    l720_cmd_fn run;
} l720_cmd;

/* One function per subcommand, each in its own file (common/cmd_NAME.c). */
int l720_cmd_plan(int argc, char **argv, const l720_cmdio *io, cJSON **result, l720_err *err);
int l720_cmd_fit(int argc, char **argv, const l720_cmdio *io, cJSON **result, l720_err *err);
int l720_cmd_sim(int argc, char **argv, const l720_cmdio *io, cJSON **result, l720_err *err);
int l720_cmd_train(int argc, char **argv, const l720_cmdio *io, cJSON **result, l720_err *err);
int l720_cmd_prepare_data(int argc, char **argv, const l720_cmdio *io, cJSON **result,
                          l720_err *err);
int l720_cmd_plot(int argc, char **argv, const l720_cmdio *io, cJSON **result, l720_err *err);
/* llm720 plot KIND: one function per kind (common/cmd_plot_KIND.c). */
int l720_cmd_plot_fit(int argc, char **argv, const l720_cmdio *io, cJSON **result, l720_err *err);
int l720_cmd_plot_plan(int argc, char **argv, const l720_cmdio *io, cJSON **result, l720_err *err);
int l720_cmd_plot_sim(int argc, char **argv, const l720_cmdio *io, cJSON **result, l720_err *err);
int l720_cmd_run(int argc, char **argv, const l720_cmdio *io, cJSON **result, l720_err *err);
int l720_cmd_version(int argc, char **argv, const l720_cmdio *io, cJSON **result,
                     l720_err *err);

/* The table, ending with {0}. */
extern const l720_cmd l720_cmds[];

/* Finds a subcommand by name (also "prepare_data" for "prepare-data"). */
const l720_cmd *l720_cmd_find(const char *name);

/* Runs a Lua script file with the llm720 module loaded; args become `arg`.
 * Returns 0, or L720_EINPUT with err holding "FILE:LINE: message". */
int l720_lua_run_file(const char *path, int argc, char **argv, l720_err *err);

#endif
