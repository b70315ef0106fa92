/* cmd_plot_sim.c: llm720 plot sim: hit rate vs cache fraction per policy (a
 * cache sweep), tokens/s vs expert granularity (an experts sweep). Reads a
 * sweep written by `llm720 sim --sweep ... --output FILE`, or runs one with
 * the remaining options. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "gnuplot.h"
#include "json_io.h"
#include "opts.h"

/* Takes "--NAME VALUE" or "--NAME=VALUE" out of argv; 1 when found. */
static int take(int *argc, char **argv, const char *name, const char **val, l720_err *err)
{
    size_t n = strlen(name);
    for (int i = 0; i < *argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) || strncmp(a + 2, name, n) || (a[2 + n] && a[2 + n] != '='))
            continue;
        int used = 1;
        if (a[2 + n] == '=') {
            *val = a + 3 + n;
        } else if (i + 1 < *argc) {
            *val = argv[i + 1];
            used = 2;
        } else {
            return l720_err_set(err, L720_EINPUT, "plot sim: --%s needs a value", name);
        }
        memmove(argv + i, argv + i + used, (size_t)(*argc - i - used) * sizeof *argv);
        *argc -= used;
        return 1;
    }
    return 0;
}

/* One inline data block per policy: "x y [che]" rows. */
static void data_blocks(FILE *f, const cJSON *rows, const char *x, const char *y, int with_che,
                        char names[][16], int *n)
{
    *n = 0;
    for (const cJSON *r = rows->child; r; r = r->next) {
        const char *p = cJSON_GetObjectItemCaseSensitive(r, "policy")->valuestring;
        int seen = 0;
        for (int i = 0; i < *n; i++)
            seen |= !strcmp(names[i], p);
        if (seen || *n == 8)
            continue;
        snprintf(names[(*n)++], 16, "%s", p);
        fprintf(f, "$%s << EOD\n", p);
        for (const cJSON *s = rows->child; s; s = s->next) {
            if (strcmp(cJSON_GetObjectItemCaseSensitive(s, "policy")->valuestring, p))
                continue;
            fprintf(f, "%.10g %.10g", cJSON_GetObjectItemCaseSensitive(s, x)->valuedouble,
                    cJSON_GetObjectItemCaseSensitive(s, y)->valuedouble);
            if (with_che)
                fprintf(f, " %.10g",
                        cJSON_GetObjectItemCaseSensitive(s, "che_hit_rate")->valuedouble);
            fputc('\n', f);
        }
        fprintf(f, "EOD\n");
    }
}

static int render(const cJSON *sweep, const char *base, l720_err *err)
{
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(sweep, "sweep");
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(sweep, "rows");
    if (!cJSON_IsString(kind) || !cJSON_IsArray(rows) || !rows->child)
        return l720_err_set(err, L720_EINPUT,
                            "plot sim: expected a sweep from 'llm720 sim --sweep ...' (keys "
                            "'sweep' and 'rows')");
    for (const cJSON *r = rows->child; r; r = r->next)
        for (const char *const *k = (const char *const[]){"policy", "experts", "cache_fraction",
                                                           "hit_rate", "che_hit_rate",
                                                           "tokens_per_second", NULL};
             *k; k++)
            if (!cJSON_HasObjectItem(r, *k))
                return l720_err_set(err, L720_EINPUT, "plot sim: a row without '%s'", *k);
    int experts = !strcmp(kind->valuestring, "experts");
    char *body = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&body, &len);
    if (!f)
        return l720_err_set(err, L720_EFAIL, "plot sim: out of memory");
    char names[8][16];
    int n;
    data_blocks(f, rows, experts ? "experts" : "cache_fraction",
                experts ? "tokens_per_second" : "hit_rate", !experts, names, &n);
    fprintf(f, "set grid\nset key left top\n");
    if (experts) {
        fprintf(f, "set title 'tokens/s vs expert granularity (same total expert bytes)'\n"
                   "set logscale x\nset logscale y\nset xlabel 'experts per layer'\n"
                   "set ylabel 'tokens/s'\nplot ");
        for (int i = 0; i < n; i++)
            fprintf(f, "%s$%s using 1:2 with linespoints title '%s'", i ? ", " : "", names[i],
                    names[i]);
    } else {
        fprintf(f, "set title 'hit rate vs cache fraction'\nset xlabel 'cache / expert table'\n"
                   "set ylabel 'hit rate'\nset yrange [0:1]\nplot ");
        for (int i = 0; i < n; i++)
            fprintf(f, "%s$%s using 1:2 with linespoints title '%s'", i ? ", " : "", names[i],
                    names[i]);
        fprintf(f, ", $%s using 1:3 with lines dashtype 2 lc rgb 'black' title 'Che (LRU)'",
                names[0]);
    }
    fputc('\n', f);
    fclose(f);
    int rc = l720_gnuplot_render(body, base, 900, 600, err);
    free(body);
    return rc;
}

int l720_cmd_plot_sim(int argc, char **argv, const l720_cmdio *io, cJSON **result, l720_err *err)
{
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fprintf(io->out,
                    "usage: llm720 plot sim [--input SWEEP.json] [--output BASE] [SIM OPTIONS]\n\n"
                    "Plots a sweep of llm720 sim as BASE.png and BASE.svg: hit rate vs cache "
                    "fraction per policy\n(with Che's approximation) for a cache sweep, tokens/s "
                    "vs experts per layer for an experts sweep.\nWithout --input, runs llm720 sim "
                    "with the other options (which must include --sweep).\n\n"
                    "  --input FILE   a sweep written by 'llm720 sim --sweep ... --output FILE'\n"
                    "  --output BASE  output files without extension (default sim; also --out)\n"
                    "  --json         print one JSON object on stdout (the files written)\n"
                    "  --help         this text\n");
            return L720_HELP;
        }
    char **args = malloc(((size_t)argc + 1) * sizeof *args);
    if (!args)
        return l720_err_set(err, L720_EFAIL, "plot sim: out of memory");
    memcpy(args, argv, (size_t)argc * sizeof *args);
    const char *input = NULL, *output = "sim";
    int rc = 0;
    cJSON *sweep = NULL;
    l720_err_clear(err);
    take(&argc, args, "input", &input, err);
    if (!err->code)
        take(&argc, args, "output", &output, err);
    if (!err->code)
        take(&argc, args, "out", &output, err); /* as the other plots spell it */
    if (err->code) {
        rc = err->code;
        goto done;
    }
    if (input) {
        if (argc) {
            rc = l720_err_set(err, L720_EINPUT, "plot sim: '%s' given with --input", args[0]);
            goto done;
        }
        if (!(sweep = l720_json_read(input, err))) {
            rc = err->code;
            goto done;
        }
    } else {
        l720_cmdio quiet = {io->out, 1};
        if ((rc = l720_cmd_sim(argc, args, &quiet, &sweep, err)))
            goto done;
    }
    if (!l720_gnuplot_available()) {
        rc = l720_err_set(err, L720_EINPUT, "plot sim: gnuplot not found on PATH");
        goto done;
    }
    if ((rc = render(sweep, output, err)))
        goto done;
    cJSON *res = cJSON_CreateObject();
    char buf[4096];
    snprintf(buf, sizeof buf, "%s.png", output);
    cJSON_AddStringToObject(res, "png", buf);
    snprintf(buf, sizeof buf, "%s.svg", output);
    cJSON_AddStringToObject(res, "svg", buf);
    if (!io->json)
        fprintf(io->out, "wrote %s.png and %s.svg\n", output, output);
    *result = res;
done:
    cJSON_Delete(sweep);
    free(args);
    return rc;
}
