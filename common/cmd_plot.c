/* cmd_plot.c: llm720 plot fit|plan|sim ...: dispatches to one file per kind. */
#include <string.h>

#include "cmd.h"
#include "opts.h"

static const struct {
    const char *kind;
    l720_cmd_fn run;
    const char *about;
} kinds[] = {
    {"fit", l720_cmd_plot_fit, "predicted vs observed loss of a fitted law"},
    {"plan", l720_cmd_plot_plan, "isoFLOP curves and loss vs memory budget"},
    {"sim", l720_cmd_plot_sim, "hit rate vs cache fraction, tokens/s vs granularity"},
};

int l720_cmd_plot(int argc, char **argv, const l720_cmdio *io, cJSON **result, l720_err *err)
{
    if (argc >= 1)
        for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
            if (!strcmp(argv[0], kinds[i].kind))
                return kinds[i].run(argc - 1, argv + 1, io, result, err);
    if (argc == 0 || !strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")) {
        if (argc == 0)
            return l720_err_set(err, L720_EINPUT,
                                "missing what to plot: fit, plan or sim (try 'llm720 plot --help')");
        fprintf(io->out, "usage: llm720 plot fit|plan|sim [OPTIONS]\n\n"
                         "Plots with gnuplot, as PNG and SVG. 'llm720 plot KIND --help' for options.\n\n");
        for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
            fprintf(io->out, "  %-6s %s\n", kinds[i].kind, kinds[i].about);
        fprintf(io->out, "\n  --json   print one JSON object on stdout (the files written)\n");
        return L720_HELP;
    }
    return l720_err_set(err, L720_EINPUT,
                        "unknown plot '%s': expected fit, plan or sim (try 'llm720 plot --help')",
                        argv[0]);
}
