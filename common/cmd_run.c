/* cmd_run.c: llm720 run FILE.lua [ARGS...]. */
#include <string.h>

#include "cmd.h"
#include "fileio.h"
#include "opts.h"
#include "paths.h"

int l720_cmd_run(int argc, char **argv, const l720_cmdio *io, cJSON **result, l720_err *err)
{
    static const l720_opt opts[] = {{0}};
    char *pos[1];
    int npos = 0;
    /* options stop at the script name: later arguments belong to the script */
    int first_pos = 0;
    while (first_pos < argc && argv[first_pos][0] == '-' && strcmp(argv[first_pos], "--"))
        first_pos++;
    int rc = l720_opts_parse_or_usage(
        io->out, "run", "FILE.lua [ARGS...]",
        "Run a Lua 5.4 script with the llm720 module preloaded. The script's\n"
        "arguments are in the global table `arg` (arg[0] is the script).\n"
        "A bare name (e.g. demo) is looked up in the installed scripts folder.\n"
        "A Lua error prints FILE:LINE: message and exits with status 2.",
        opts, L720_OPTS_STOP_AT_POSITIONAL, first_pos, argv, pos, 1, &npos, err);
    if (rc)
        return rc;
    if (first_pos < argc && !strcmp(argv[first_pos], "--"))
        first_pos++;
    if (first_pos >= argc)
        return l720_err_set(err, L720_EINPUT,
                            "missing script: usage: llm720 run FILE.lua [ARGS...]");
    const char *script = argv[first_pos];
    char found[4096];
    if (!l720_exists(script) && !strchr(script, '/')) {
        /* a bare name: look in the scripts folder */
        char rel[512];
        snprintf(rel, sizeof rel, "%s%s", script, strstr(script, ".lua") ? "" : ".lua");
        if (l720_path_join(found, sizeof found, l720_scripts_dir(), rel) && l720_exists(found))
            script = found;
    }
    (void)result;
    return l720_lua_run_file(script, argc - first_pos - 1, argv + first_pos + 1, err);
}
