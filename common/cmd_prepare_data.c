/* cmd_prepare_data.c: llm720 prepare-data (not built yet). */
#include "cmd.h"
#include "opts.h"

int l720_cmd_prepare_data(int argc, char **argv, const l720_cmdio *io, cJSON **result, l720_err *err)
{
    static const l720_opt opts[] = {{0}};
    (void)result;
    int rc = l720_opts_parse("prepare-data", opts, 0, argc, argv, NULL, 0, NULL, err);
    if (rc == L720_HELP) {
        l720_opts_usage(io->out, "prepare-data", "", "Not built yet.", opts);
        return rc;
    }
    return l720_err_set(err, L720_EINPUT, "not built yet in this version of llm720");
}
