/* cmd_version.c: llm720 version. */
#include "config.h"

#include <cjson/cJSON.h>
#include <gsl/gsl_version.h>
#include <lua.h>
#include <nlopt.h>

#include "cmd.h"
#include "opts.h"
#include "paths.h"

int l720_cmd_version(int argc, char **argv, const l720_cmdio *io, cJSON **result, l720_err *err)
{
    static const l720_opt opts[] = {{0}};
    int rc = l720_opts_parse_or_usage(io->out, "version", "",
                                      "Print the version and what was built in.", opts, 0, argc,
                                      argv, NULL, 0, NULL, err);
    if (rc)
        return rc;
    int nmaj, nmin, nbug;
    nlopt_version(&nmaj, &nmin, &nbug);
    char nl[32];
    snprintf(nl, sizeof nl, "%d.%d.%d", nmaj, nmin, nbug);
#ifdef HAVE_CUDA
    const int cuda = 1;
#else
    const int cuda = 0;
#endif
#ifdef _OPENMP
    const int omp = 1;
#else
    const int omp = 0;
#endif
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "version", PACKAGE_VERSION);
    cJSON_AddBoolToObject(r, "cuda", cuda);
    cJSON_AddBoolToObject(r, "openmp", omp);
    cJSON_AddStringToObject(r, "gsl", GSL_VERSION);
    cJSON_AddStringToObject(r, "nlopt", nl);
    cJSON_AddStringToObject(r, "cjson", cJSON_Version());
    cJSON_AddStringToObject(r, "lua", LUA_RELEASE);
    cJSON_AddStringToObject(r, "data_dir", l720_data_dir());
    cJSON_AddStringToObject(r, "scripts_dir", l720_scripts_dir());
    if (!io->json)
        fprintf(io->out,
                "llm720 %s\n  cuda: %s\n  openmp: %s\n  gsl %s, nlopt %s, cjson %s, %s\n"
                "  data: %s\n  scripts: %s\n",
                PACKAGE_VERSION, cuda ? "yes" : "no (configure found no nvcc)", omp ? "yes" : "no",
                GSL_VERSION, nl, cJSON_Version(), LUA_RELEASE, l720_data_dir(),
                l720_scripts_dir());
    *result = r;
    return 0;
}
