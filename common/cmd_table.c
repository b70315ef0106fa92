/* cmd_table.c: the subcommand table. */
#include <string.h>

#include "cmd.h"

const l720_cmd l720_cmds[] = {
    {"plan", "the optimal MoE for a compute and hardware budget", l720_cmd_plan},
    {"fit", "fit scaling laws to run logs (CSV or JSON Lines)", l720_cmd_fit},
    {"sim", "simulate expert streaming through the memory hierarchy", l720_cmd_sim},
    {"train", "train a dense, Switch-MoE or PEER transformer", l720_cmd_train},
    {"prepare-data", "turn text files into token shards", l720_cmd_prepare_data},
    {"plot", "plot fits, plans and simulations with gnuplot", l720_cmd_plot},
    {"run", "run a Lua script with the llm720 module", l720_cmd_run},
    {"version", "print the version and what was built in", l720_cmd_version},
    {0},
};

const l720_cmd *l720_cmd_find(const char *name)
{
    for (const l720_cmd *c = l720_cmds; c->name; c++) {
        if (!strcmp(c->name, name))
            return c;
        /* Lua spells prepare-data as prepare_data */
        size_t n = strlen(c->name);
        if (strlen(name) == n) {
            size_t i = 0;
            while (i < n && (name[i] == c->name[i] || (name[i] == '_' && c->name[i] == '-')))
                i++;
            if (i == n)
                return c;
        }
    }
    return NULL;
}
