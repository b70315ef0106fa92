/* cmd_plot_fit.c: llm720 plot fit (not built yet). */
#include "cmd.h"
#include "opts.h"

int l720_cmd_plot_fit(int argc, char **argv, const l720_cmdio *io, cJSON **result, l720_err *err)
{
    static const l720_opt opts[] = {{0}};
    (void)result;
    int rc = l720_opts_parse("plot fit", opts, 0, argc, argv, NULL, 0, NULL, err);
    if (rc == L720_HELP) {
        l720_opts_usage(io->out, "plot fit", "", "Not built yet.", opts);
        return rc;
    }
    return l720_err_set(err, L720_EINPUT, "not built yet in this version of llm720");
}
