/* main.c: the llm720 command: global options, then one subcommand. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "json_io.h"
#include "opts.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: llm720 [--help] [--version] SUBCOMMAND [OPTIONS]\n\n"
                 "Design Mixture-of-Experts models under a hardware budget.\n\nsubcommands:\n");
    for (const l720_cmd *c = l720_cmds; c->name; c++)
        fprintf(out, "  %-14s %s\n", c->name, c->summary);
    fprintf(out, "\nEvery subcommand takes --json (one JSON object on stdout) and --help.\n"
                 "'llm720 SUBCOMMAND --help' describes its options.\n");
}

/* Removes "--json" from argv (up to the first positional for run, whose later
 * arguments belong to the script). Returns 1 when it was there. */
static int take_json_flag(const char *cmd, int *argc, char **argv)
{
    int found = 0, w = 0;
    int stop_at_pos = !strcmp(cmd, "run");
    int seen_pos = 0;
    for (int r = 0; r < *argc; r++) {
        if (!seen_pos && !strcmp(argv[r], "--json")) {
            found = 1;
            continue;
        }
        if (stop_at_pos && argv[r][0] != '-')
            seen_pos = 1;
        argv[w++] = argv[r];
    }
    *argc = w;
    return found;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(name, "--version"))
        name = "version";
    const l720_cmd *cmd = l720_cmd_find(name);
    if (!cmd || name[0] == '-') {
        fprintf(stderr, "llm720: unknown subcommand '%s' (try 'llm720 --help')\n", name);
        return 2;
    }
    int sub_argc = argc - 2;
    char **sub_argv = argv + 2;
    l720_cmdio io = {stdout, take_json_flag(cmd->name, &sub_argc, sub_argv)};
    cJSON *result = NULL;
    l720_err err;
    l720_err_clear(&err);
    int rc = cmd->run(sub_argc, sub_argv, &io, &result, &err);
    if (rc == L720_HELP) {
        cJSON_Delete(result);
        return 0;
    }
    if (rc) {
        cJSON_Delete(result);
        /* option errors already start with the subcommand's name */
        size_t n = strlen(cmd->name);
        const char *msg = err.msg[0] ? err.msg : "failed";
        if (!strncmp(msg, cmd->name, n) && msg[n] == ':')
            fprintf(stderr, "llm720 %s\n", msg);
        else
            fprintf(stderr, "llm720 %s: %s\n", cmd->name, msg);
        return rc == L720_EINPUT ? 2 : (rc > 0 ? rc : 1);
    }
    if (io.json && result && l720_json_print(result)) {
        cJSON_Delete(result);
        fprintf(stderr, "llm720 %s: cannot write to stdout\n", cmd->name);
        return 1;
    }
    cJSON_Delete(result);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "llm720 %s: cannot write to stdout\n", cmd->name);
        return 1;
    }
    return 0;
}
