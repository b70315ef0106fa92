/* cmd_plan.c: llm720 plan QUERY: the planner's queries over a law file
 * (optimal, budget, match, lr, table, shape). The work is libplan's
 * (fit/plan_*.h); this file parses, checks and prints. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "fit/plan_law.h"
#include "fit/plan_opt.h"
#include "fit/plan_report.h"
#include "fit/plan_shape.h"
#include "fit/plan_table.h"
#include "hardware.h"
#include "json_io.h"
#include "opts.h"

/* Every option any query takes; NAN / NULL mean "not given". */
typedef struct plan_args {
    double flops, kv_tokens, inference_tokens, bytes_per_param, kv_bytes, memory_bytes;
    double dense_params, dense_tokens, active_params, total_params, d_model, experts_one;
    double peer_experts, peer_heads, peer_topk, peer_dkey, peer_layers;
    const char *experts, *hardware, *law, *budgets;
    int non_embedding;
} plan_args;

#define OPT_LAW {"law", L720_OPT_STRING, &a->law, "FILE", "law file or name in data/laws/ (default: " L720_DEFAULT_LAW ")"}
#define OPT_EXPERTS(def) {"experts", L720_OPT_STRING, &a->experts, "LIST", "expert counts: 1,8,64 or A-B or pow2:MAX (default " def "; 1 with a chinchilla law)"}
#define OPT_BYTES {"bytes-per-param", L720_OPT_DOUBLE, &a->bytes_per_param, "B", "bytes per parameter in memory (default 2: bf16)"}
#define OPT_KV_BYTES {"kv-bytes", L720_OPT_DOUBLE, &a->kv_bytes, "B", "bytes per KV-cache value (default: --bytes-per-param)"}
#define OPT_KV_TOKENS {"kv-tokens", L720_OPT_DOUBLE, &a->kv_tokens, "T", "tokens of KV cache held beside the model (default 16384)"}

/* Sets every option to "not given" (bytes per parameter to its default 2). */
static plan_args *args_init(plan_args *a)
{
    memset(a, 0, sizeof *a);
    a->flops = a->kv_tokens = a->inference_tokens = a->kv_bytes = a->memory_bytes = NAN;
    a->dense_params = a->dense_tokens = a->active_params = a->total_params = NAN;
    a->d_model = a->experts_one = NAN;
    a->peer_experts = a->peer_heads = a->peer_topk = a->peer_dkey = a->peer_layers = NAN;
    a->bytes_per_param = 2;
    return a;
}

/* Parses the options of one query; prints its help on --help. */
static int parse(const char *query, const char *synopsis, const char *about, const l720_opt *opts,
                 int argc, char **argv, const l720_cmdio *io, l720_err *err)
{
    char cmd[64];
    snprintf(cmd, sizeof cmd, "plan %s", query);
    return l720_opts_parse_or_usage(io->out, cmd, synopsis, about, opts, 0, argc, argv, NULL, 0,
                                    NULL, err);
}

/* --experts E: def when not given (NAN: required); at least 1. */
static int expert_count(double *e, double def, l720_err *err)
{
    if (isnan(*e) && isnan(def))
        return l720_err_set(err, L720_EINPUT, "missing --experts");
    if (isnan(*e))
        *e = def;
    if (!(*e >= 1))
        return l720_err_set(err, L720_EINPUT, "--experts must be >= 1, got %g", *e);
    return 0;
}

/* --kv-tokens (default 16384), --bytes-per-param, --kv-bytes (default
 * --bytes-per-param), checked in that order. */
static int memory_opts(plan_args *a, l720_err *err)
{
    int rc;
    if ((rc = l720_opt_non_negative(&a->kv_tokens, 16384, "kv-tokens", err)) ||
        (rc = l720_opt_positive(a->bytes_per_param, "bytes-per-param", err)))
        return rc;
    return l720_opt_non_negative(&a->kv_bytes, a->bytes_per_param, "kv-bytes", err);
}

/* Loads --law, then parses --experts: a Chinchilla law does not depend on E,
 * so it plans a dense model unless told otherwise. */
static int law_and_experts(const plan_args *a, l720_plan_law *law, double **ex, size_t *ne,
                           l720_err *err)
{
    int rc = l720_plan_law_load(a->law, law, err);
    if (rc)
        return rc;
    const char *experts = a->experts ? a->experts : law->kind == L720_LAW_CHINCHILLA ? "1" : NULL;
    return l720_plan_parse_experts(experts, ex, ne, err);
}

static void add_common(cJSON *r, const char *query, const l720_plan_law *law)
{
    cJSON_AddStringToObject(r, "query", query);
    cJSON_AddStringToObject(r, "law", law->path);
}

/* The text table of configurations, one row each; mark: a '*' row or -1. */
static void print_points(FILE *out, const char *const *labels, const l720_plan_point *p, size_t n,
                         long mark, double vocab)
{
    char b[6][32];
    fprintf(out, "%-14s %6s %9s %9s %9s %6s %8s %9s %9s %9s\n", "", "E", "N_act", "N_total",
            "D", "D/N", "loss", "d_model", "memory", "lr");
    for (size_t i = 0; i < n; i++) {
        char lab[32];
        snprintf(lab, sizeof lab, "%s%s", labels ? labels[i] : "", (long)i == mark ? " *" : "");
        fprintf(out, "%-14s %6g %9s %9s %9s %6.3g %8.4f %9g %9s %9.3g%s\n", lab, p[i].experts,
                l720_plan_human(b[0], 32, p[i].active_params),
                l720_plan_human(b[1], 32, p[i].total_params), l720_plan_human(b[2], 32, p[i].tokens),
                p[i].tokens / p[i].active_params, p[i].loss, p[i].d_round,
                l720_plan_human_bytes(b[3], 32, p[i].memory_bytes), l720_plan_point_lr(&p[i], vocab),
                !p[i].fits ? "  (does not fit even at d_model 64)"
                           : p[i].memory_bound ? "  (memory-bound)" : "");
    }
}

/* ---- plan optimal ---------------------------------------------------------- */

static int q_optimal(int argc, char **argv, const l720_cmdio *io, cJSON **result, l720_err *err)
{
    plan_args A, *a = args_init(&A);
    const l720_opt opts[] = {
        {"flops", L720_OPT_DOUBLE, &a->flops, "F", "training FLOP budget (required)"},
        OPT_EXPERTS("1,2,4,...,1024"),
        {"inference-tokens", L720_OPT_DOUBLE, &a->inference_tokens, "D_INF",
         "tokens served after training, counted in the budget as 2 N_act D_INF (default 0)"},
        OPT_LAW,
        {0}};
    int rc = parse("optimal", "--flops F [--experts LIST]",
                   "Compute-optimal active parameters, tokens and loss for each expert count\n"
                   "(closed form: 6 N_act D = F; with --inference-tokens, 6 N D + 2 N D_INF = F).",
                   opts, argc, argv, io, err);
    if (rc || (rc = l720_opt_positive(a->flops, "flops", err)) ||
        (rc = l720_opt_non_negative(&a->inference_tokens, 0, "inference-tokens", err)))
        return rc;
    l720_plan_law law;
    double *ex;
    size_t ne;
    if ((rc = law_and_experts(a, &law, &ex, &ne, err)))
        return rc;
    l720_plan_budget b = l720_plan_budget_default(a->flops);
    b.inference_tokens = a->inference_tokens;
    l720_plan_point *all = calloc(ne, sizeof *all), best;
    size_t ib = 0;
    if (!all)
        rc = l720_err_set(err, L720_EFAIL, "out of memory");
    else
        rc = l720_plan_best(&law, ex, ne, &b, all, &best, &ib, err);
    if (!rc) {
        cJSON *r = cJSON_CreateObject();
        add_common(r, "optimal", &law);
        cJSON_AddNumberToObject(r, "budget_flops", a->flops);
        cJSON_AddNumberToObject(r, "inference_tokens", a->inference_tokens);
        l720_plan_points_add_arrays(r, all, ne, b.vocab);
        cJSON_AddItemToObject(r, "best", l720_plan_point_json(&best, b.vocab));
        *result = r;
        if (!io->json) {
            fprintf(io->out, "compute-optimal models for %.3g FLOPs (law %s); * = lowest loss\n",
                    a->flops, law.path);
            print_points(io->out, NULL, all, ne, (long)ib, b.vocab);
        }
    }
    free(all);
    free(ex);
    return rc;
}

/* ---- plan budget ----------------------------------------------------------- */

static int q_budget(int argc, char **argv, const l720_cmdio *io, cJSON **result, l720_err *err)
{
    plan_args A, *a = args_init(&A);
    const l720_opt opts[] = {
        {"flops", L720_OPT_DOUBLE, &a->flops, "F", "FLOP budget: training, plus inference with --inference-tokens (required)"},
        {"hardware", L720_OPT_STRING, &a->hardware, "NAME", "hardware profile (data/hardware/NAME.json) whose GPU memory is the limit"},
        {"memory-bytes", L720_OPT_DOUBLE, &a->memory_bytes, "M", "memory limit in bytes (instead of, or overriding, --hardware)"},
        OPT_KV_TOKENS,
        {"inference-tokens", L720_OPT_DOUBLE, &a->inference_tokens, "D_INF", "tokens served after training (default 0: no inference-inclusive plan)"},
        OPT_BYTES, OPT_KV_BYTES, OPT_EXPERTS("1,2,4,...,1024"), OPT_LAW,
        {0}};
    int rc = parse(
        "budget", "--flops F --hardware NAME [--kv-tokens T] [--inference-tokens D_INF]",
        "The best expert count and its size under the memory of a machine:\n"
        "  compute       no memory limit (for reference)\n"
        "  model_memory  N_total * bytes_per_param <= M\n"
        "  total_memory  N_total * bytes_per_param + KV cache <= M, the KV cache holding\n"
        "                T tokens of 2 n_blocks d_model values at --kv-bytes each\n"
        "  inference     total_memory, and 6 N_act D + 2 N_act D_INF = F (with --inference-tokens)",
        opts, argc, argv, io, err);
    if (rc || (rc = l720_opt_positive(a->flops, "flops", err)) ||
        (rc = l720_opt_non_negative(&a->kv_tokens, 16384, "kv-tokens", err)) ||
        (rc = l720_opt_non_negative(&a->inference_tokens, 0, "inference-tokens", err)) ||
        (rc = l720_opt_positive(a->bytes_per_param, "bytes-per-param", err)) ||
        (rc = l720_opt_non_negative(&a->kv_bytes, a->bytes_per_param, "kv-bytes", err)))
        return rc;
    l720_hardware hw;
    memset(&hw, 0, sizeof hw);
    if (!a->hardware && isnan(a->memory_bytes))
        return l720_err_set(err, L720_EINPUT, "missing --hardware NAME (or --memory-bytes M)");
    if (a->hardware && (rc = l720_hardware_load(a->hardware, &hw, err)))
        return rc;
    double mem = isnan(a->memory_bytes) ? hw.memory_bytes : a->memory_bytes;
    if ((rc = l720_opt_positive(mem, "memory-bytes", err)))
        return rc;
    l720_plan_law law;
    double *ex;
    size_t ne;
    if ((rc = law_and_experts(a, &law, &ex, &ne, err)))
        return rc;
    static const char *names[] = {"compute", "model_memory", "total_memory", "inference"};
    l720_plan_point best[4];
    size_t nsc = a->inference_tokens > 0 ? 4 : 3;
    for (size_t s = 0; s < nsc && !rc; s++) {
        l720_plan_budget b = l720_plan_budget_default(a->flops);
        b.bytes_per_param = a->bytes_per_param;
        b.kv_bytes = a->kv_bytes;
        b.memory_bytes = s == 0 ? 0 : mem;
        b.kv_tokens = s >= 2 ? a->kv_tokens : 0;
        b.inference_tokens = s == 3 ? a->inference_tokens : 0;
        rc = l720_plan_best(&law, ex, ne, &b, NULL, &best[s], NULL, err);
        if (!rc && s == 0) /* report what the unconstrained plan would need */
            best[0].memory_bytes = l720_shape_memory_bytes(best[0].d_model, best[0].experts,
                                                           b.vocab, a->bytes_per_param,
                                                           a->kv_tokens, a->kv_bytes);
    }
    free(ex);
    if (rc)
        return rc;
    cJSON *r = cJSON_CreateObject();
    add_common(r, "budget", &law);
    cJSON_AddStringToObject(r, "hardware", a->hardware ? hw.name : "");
    cJSON_AddNumberToObject(r, "budget_flops", a->flops);
    cJSON_AddNumberToObject(r, "memory_limit_bytes", mem);
    cJSON_AddNumberToObject(r, "kv_tokens", a->kv_tokens);
    cJSON_AddNumberToObject(r, "inference_tokens", a->inference_tokens);
    cJSON_AddNumberToObject(r, "bytes_per_param", a->bytes_per_param);
    cJSON_AddNumberToObject(r, "kv_bytes", a->kv_bytes);
    cJSON *sc = cJSON_AddArrayToObject(r, "scenarios");
    for (size_t s = 0; s < nsc; s++) {
        cJSON_AddItemToArray(sc, cJSON_CreateString(names[s]));
        cJSON_AddItemToObject(r, names[s], l720_plan_point_json(&best[s], L720_GPT2_VOCAB));
    }
    l720_plan_points_add_arrays(r, best, nsc, L720_GPT2_VOCAB);
    *result = r;
    if (!io->json) {
        char m[32];
        fprintf(io->out,
                "best expert count for %.3g FLOPs in %s of memory%s%s (KV cache %g tokens, "
                "%g bytes/param; law %s)\n",
                a->flops, l720_plan_human_bytes(m, sizeof m, mem), a->hardware ? " on " : "",
                a->hardware ? hw.name : "", a->kv_tokens, a->bytes_per_param, law.path);
        print_points(io->out, names, best, nsc, -1, L720_GPT2_VOCAB);
    }
    return 0;
}

/* ---- plan match ------------------------------------------------------------ */

static int q_match(int argc, char **argv, const l720_cmdio *io, cJSON **result, l720_err *err)
{
    plan_args A, *a = args_init(&A);
    const l720_opt opts[] = {
        {"dense-params", L720_OPT_DOUBLE, &a->dense_params, "N", "the dense model's parameters, embeddings included (required)"},
        {"dense-tokens", L720_OPT_DOUBLE, &a->dense_tokens, "D", "its training tokens (required)"},
        {"experts", L720_OPT_DOUBLE, &a->experts_one, "E", "experts of the MoE (required)"},
        OPT_BYTES, OPT_LAW,
        {0}};
    int rc = parse("match", "--dense-params N --dense-tokens D --experts E",
                   "The MoE with the same total parameters and the same training FLOPs as a\n"
                   "dense model: its active parameters, tokens and loss beside the dense one's.",
                   opts, argc, argv, io, err);
    if (rc || (rc = l720_opt_positive(a->dense_params, "dense-params", err)) ||
        (rc = l720_opt_positive(a->dense_tokens, "dense-tokens", err)) ||
        (rc = l720_opt_positive(a->bytes_per_param, "bytes-per-param", err)) ||
        (rc = expert_count(&a->experts_one, NAN, err)))
        return rc;
    l720_plan_law law;
    if ((rc = l720_plan_law_load(a->law, &law, err)))
        return rc;
    l720_plan_budget b = l720_plan_budget_default(1);
    b.bytes_per_param = a->bytes_per_param;
    l720_plan_point p[2];
    if ((rc = l720_plan_match(&law, a->dense_params, a->dense_tokens, a->experts_one, &b, &p[0],
                              &p[1], err)))
        return rc;
    cJSON *r = cJSON_CreateObject();
    add_common(r, "match", &law);
    cJSON *models = cJSON_AddArrayToObject(r, "models");
    cJSON_AddItemToArray(models, cJSON_CreateString("dense"));
    cJSON_AddItemToArray(models, cJSON_CreateString("moe"));
    l720_plan_points_add_arrays(r, p, 2, b.vocab);
    cJSON_AddItemToObject(r, "dense", l720_plan_point_json(&p[0], b.vocab));
    cJSON_AddItemToObject(r, "moe", l720_plan_point_json(&p[1], b.vocab));
    cJSON_AddNumberToObject(r, "loss_change", p[1].loss - p[0].loss);
    *result = r;
    if (!io->json) {
        static const char *labels[] = {"dense", "moe"};
        fprintf(io->out, "same total parameters and training FLOPs (law %s)\n", law.path);
        print_points(io->out, labels, p, 2, -1, b.vocab);
        fprintf(io->out, "loss change dense -> MoE: %+.4f\n", p[1].loss - p[0].loss);
    }
    return 0;
}

/* ---- plan lr --------------------------------------------------------------- */

static int q_lr(int argc, char **argv, const l720_cmdio *io, cJSON **result, l720_err *err)
{
    plan_args A, *a = args_init(&A);
    const l720_opt opts[] = {
        {"active-params", L720_OPT_DOUBLE, &a->active_params, "N", "active parameters, embeddings included (required)"},
        {"experts", L720_OPT_DOUBLE, &a->experts_one, "E", "experts (default 1)"},
        {"non-embedding", L720_OPT_FLAG, &a->non_embedding, NULL, "--active-params already excludes the embeddings"},
        {0}};
    int rc = parse("lr", "--active-params N [--experts E]",
                   "The joint-MoE paper's learning-rate rule:\n"
                   "  LR = exp(8.39 - 0.81 ln N_act_nonembedding - 0.25 ln E)\n"
                   "(the embeddings, 2 d_model V with the GPT-2 vocabulary, are subtracted first).",
                   opts, argc, argv, io, err);
    if (rc || (rc = l720_opt_positive(a->active_params, "active-params", err)) ||
        (rc = expert_count(&a->experts_one, 1, err)))
        return rc;
    double d, nonemb;
    if (a->non_embedding) {
        nonemb = a->active_params;
        d = cbrt(nonemb * L720_HEAD_DIM / 13);
    } else {
        d = l720_shape_d_for_active(a->active_params, L720_GPT2_VOCAB);
        nonemb = l720_shape_active_nonembedding(d);
    }
    double lr = l720_plan_lr(nonemb, a->experts_one);
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "query", "lr");
    cJSON_AddNumberToObject(r, "lr", lr);
    cJSON_AddNumberToObject(r, "experts", a->experts_one);
    cJSON_AddNumberToObject(r, "active_params",
                            a->non_embedding ? l720_shape_active_params(d, L720_GPT2_VOCAB)
                                             : a->active_params);
    cJSON_AddNumberToObject(r, "active_params_non_embedding", nonemb);
    cJSON_AddNumberToObject(r, "d_model", l720_shape_round_d(d));
    cJSON_AddNumberToObject(r, "d_model_exact", d);
    *result = r;
    if (!io->json) {
        char h[32];
        fprintf(io->out, "learning rate %.4g for %s non-embedding active parameters, %g experts\n",
                lr, l720_plan_human(h, sizeof h, nonemb), a->experts_one);
    }
    return 0;
}

/* ---- plan table ------------------------------------------------------------ */

/* Loads each machine of a comma-separated list into a new array. */
static int load_hardware_list(const char *list, l720_hardware **hw, size_t *n, l720_err *err)
{
    size_t cap = 1;
    for (const char *p = list; *p; p++)
        cap += *p == ',';
    *n = 0;
    *hw = calloc(cap, sizeof **hw);
    if (!*hw)
        return l720_err_set(err, L720_EFAIL, "out of memory");
    int rc = l720_hardware_load_list(list, *hw, cap, n, err);
    if (!rc && *n == 0)
        rc = l720_err_set(err, L720_EINPUT, "--hardware: expected a list of profile names");
    if (rc) {
        free(*hw);
        *hw = NULL, *n = 0;
    }
    return rc;
}

/* The grid as text: one row per budget, one column per machine. */
static void print_grid(FILE *out, const double *flops, size_t nf, const l720_hardware *hw,
                       size_t nh, const l720_plan_point *g)
{
    char h[3][32];
    fprintf(out, "%-8s", "FLOPs");
    for (size_t j = 0; j < nh; j++) {
        char col[64];
        snprintf(col, sizeof col, "%s (%s)", hw[j].name,
                 l720_plan_human_bytes(h[0], 32, hw[j].memory_bytes));
        fprintf(out, " | %-26s", col);
    }
    fprintf(out, "\n%-8s", "");
    for (size_t j = 0; j < nh; j++)
        fprintf(out, " | %-26s", "E     N_act  D      loss");
    fputc('\n', out);
    for (size_t i = 0; i < nf; i++) {
        fprintf(out, "%-8.0e", flops[i]);
        for (size_t j = 0; j < nh; j++) {
            const l720_plan_point *p = &g[i * nh + j];
            char cell[64];
            snprintf(cell, sizeof cell, "%-5g %-6s %-6s %.3f%s", p->experts,
                     l720_plan_human(h[1], 32, p->active_params),
                     l720_plan_human(h[2], 32, p->tokens), p->loss, p->memory_bound ? "m" : "");
            fprintf(out, " | %-26s", cell);
        }
        fputc('\n', out);
    }
    fprintf(out, "m: the memory limit binds (the compute optimum would not fit)\n");
}

static int q_table(int argc, char **argv, const l720_cmdio *io, cJSON **result, l720_err *err)
{
    plan_args A, *a = args_init(&A);
    const l720_opt opts[] = {
        {"budgets", L720_OPT_STRING, &a->budgets, "LIST", "FLOP budgets: 1e20,1e21 or A:B for powers of ten (default 1e18:1e25)"},
        {"hardware", L720_OPT_STRING, &a->hardware, "LIST", "machines whose memory limits the model (default rtx4090,h100-sxm,8xh100)"},
        OPT_KV_TOKENS, OPT_BYTES, OPT_KV_BYTES, OPT_EXPERTS("1,2,4,...,1024"), OPT_LAW,
        {0}};
    int rc = parse("table", "[--budgets LIST] [--hardware LIST] [--experts LIST]",
                   "The optimal expert count (and its N_act, D, loss) for each FLOP budget under\n"
                   "each machine's memory, counting a KV cache (the joint-MoE paper's Table 2).",
                   opts, argc, argv, io, err);
    if (rc || (rc = memory_opts(a, err)))
        return rc;
    l720_plan_law law;
    double *ex = NULL, *flops = NULL, *mem = NULL;
    size_t ne, nf, nh;
    l720_hardware *hw = NULL;
    l720_plan_point *grid = NULL;
    if ((rc = law_and_experts(a, &law, &ex, &ne, err)) ||
        (rc = l720_plan_parse_numbers(a->budgets ? a->budgets : "1e18:1e25", "budgets", &flops,
                                      &nf, err)) ||
        (rc = load_hardware_list(a->hardware ? a->hardware : "rtx4090,h100-sxm,8xh100", &hw, &nh,
                                 err)))
        goto done;
    mem = malloc(nh * sizeof *mem);
    grid = malloc(nf * nh * sizeof *grid);
    if (!mem || !grid) {
        rc = l720_err_set(err, L720_EFAIL, "out of memory");
        goto done;
    }
    for (size_t j = 0; j < nh; j++)
        mem[j] = hw[j].memory_bytes;
    l720_plan_budget b = l720_plan_budget_default(1);
    b.kv_tokens = a->kv_tokens;
    b.bytes_per_param = a->bytes_per_param;
    b.kv_bytes = a->kv_bytes;
    if ((rc = l720_plan_table(&law, flops, nf, mem, nh, ex, ne, &b, grid, err)))
        goto done;
    cJSON *r = cJSON_CreateObject();
    add_common(r, "table", &law);
    cJSON_AddItemToObject(r, "flops", l720_json_array(flops, nf));
    cJSON *hn = cJSON_AddArrayToObject(r, "hardware");
    for (size_t j = 0; j < nh; j++)
        cJSON_AddItemToArray(hn, cJSON_CreateString(hw[j].name));
    cJSON_AddItemToObject(r, "memory_limit_bytes", l720_json_array(mem, nh));
    cJSON_AddNumberToObject(r, "kv_tokens", a->kv_tokens);
    cJSON_AddNumberToObject(r, "bytes_per_param", a->bytes_per_param);
    /* per-configuration keys as [budget][hardware] grids */
    cJSON *rows = cJSON_CreateArray();
    for (size_t i = 0; i < nf; i++) {
        cJSON *row = cJSON_CreateObject();
        l720_plan_points_add_arrays(row, &grid[i * nh], nh, b.vocab);
        cJSON_AddItemToArray(rows, row);
    }
    static const char *keys[] = {"experts", "active_params", "total_params", "tokens",
                                 "loss",    "d_model",       "memory_bytes"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        cJSON *g = cJSON_AddArrayToObject(r, keys[k]);
        for (cJSON *row = rows->child; row; row = row->next)
            cJSON_AddItemToArray(g, cJSON_Duplicate(cJSON_GetObjectItem(row, keys[k]), 1));
    }
    cJSON *bound = cJSON_AddArrayToObject(r, "memory_bound");
    for (size_t i = 0; i < nf; i++) {
        cJSON *row = cJSON_CreateArray();
        for (size_t j = 0; j < nh; j++)
            cJSON_AddItemToArray(row, cJSON_CreateBool(grid[i * nh + j].memory_bound));
        cJSON_AddItemToArray(bound, row);
    }
    cJSON_Delete(rows);
    *result = r;
    if (!io->json) {
        fprintf(io->out,
                "optimal expert count per FLOP budget and memory (KV cache %g tokens, %g "
                "bytes/param; law %s)\n",
                a->kv_tokens, a->bytes_per_param, law.path);
        print_grid(io->out, flops, nf, hw, nh, grid);
    }
done:
    free(grid);
    free(mem);
    free(hw);
    free(flops);
    free(ex);
    return rc;
}

/* ---- plan shape ------------------------------------------------------------ */

static int q_shape(int argc, char **argv, const l720_cmdio *io, cJSON **result, l720_err *err)
{
    plan_args A, *a = args_init(&A);
    const l720_opt opts[] = {
        {"d-model", L720_OPT_DOUBLE, &a->d_model, "D", "the width (one of --d-model, --total-params, --active-params)"},
        {"total-params", L720_OPT_DOUBLE, &a->total_params, "N", "find the width with this many parameters"},
        {"active-params", L720_OPT_DOUBLE, &a->active_params, "N", "find the width with this many active parameters"},
        {"experts", L720_OPT_DOUBLE, &a->experts_one, "E", "experts (default 1: dense)"},
        {"peer-experts", L720_OPT_DOUBLE, &a->peer_experts, "N", "PEER: experts per layer, a square (replaces the MoE FFNs)"},
        {"peer-heads", L720_OPT_DOUBLE, &a->peer_heads, "H", "PEER: heads (default 8)"},
        {"peer-topk", L720_OPT_DOUBLE, &a->peer_topk, "K", "PEER: experts per head (default 16)"},
        {"peer-dkey", L720_OPT_DOUBLE, &a->peer_dkey, "DK", "PEER: query size (default 128)"},
        {"peer-layers", L720_OPT_DOUBLE, &a->peer_layers, "P", "PEER: blocks whose FFN is a PEER layer (default 1)"},
        OPT_KV_TOKENS, OPT_BYTES, OPT_KV_BYTES,
        {0}};
    int rc = parse("shape", "--d-model D | --total-params N | --active-params N [--experts E]",
                   "Parameter counts, FLOPs and KV cache of the paper's family (n_blocks = n_heads\n"
                   "= d_model/64, SwiGLU hidden 3 d_model, GPT-2 vocabulary), or the width for a\n"
                   "parameter count (continuous and rounded to a multiple of 64). With --peer-experts\n"
                   "the FFNs of --peer-layers blocks are PEER layers.",
                   opts, argc, argv, io, err);
    if (rc || (rc = memory_opts(a, err)) || (rc = expert_count(&a->experts_one, 1, err)))
        return rc;
    int given = !isnan(a->d_model) + !isnan(a->total_params) + !isnan(a->active_params);
    if (given != 1)
        return l720_err_set(err, L720_EINPUT,
                            "give exactly one of --d-model, --total-params, --active-params");
    int peer = !isnan(a->peer_experts);
    l720_peer p = {a->peer_experts, isnan(a->peer_heads) ? 8 : a->peer_heads,
                   isnan(a->peer_topk) ? 16 : a->peer_topk, isnan(a->peer_dkey) ? 128 : a->peer_dkey};
    double layers = isnan(a->peer_layers) ? 1 : a->peer_layers;
    if (peer) {
        double n = sqrt(p.experts);
        if (!(p.experts >= 1) || n != floor(n))
            return l720_err_set(err, L720_EINPUT, "--peer-experts must be a square >= 1, got %g",
                                p.experts);
        if (!(p.heads >= 1) || !(p.topk >= 1) || !(p.d_key >= 2) || !(layers >= 0) ||
            p.topk > n)
            return l720_err_set(err, L720_EINPUT,
                                "PEER: heads, top-k >= 1 (top-k <= sqrt(experts)), query size >= 2, "
                                "layers >= 0");
        if (!isnan(a->active_params))
            return l720_err_set(err, L720_EINPUT,
                                "with PEER layers give --d-model or --total-params");
    }
    const double V = L720_GPT2_VOCAB, E = a->experts_one;
    double d_exact;
    if (!isnan(a->d_model)) {
        if ((rc = l720_opt_positive(a->d_model, "d-model", err)))
            return rc;
        d_exact = a->d_model;
    } else if (!isnan(a->total_params)) {
        if ((rc = l720_opt_positive(a->total_params, "total-params", err)))
            return rc;
        d_exact = peer ? l720_peer_model_d_for_total(&p, layers, a->total_params, V)
                       : l720_shape_d_for_total(a->total_params, E, V);
    } else {
        if ((rc = l720_opt_positive(a->active_params, "active-params", err)))
            return rc;
        d_exact = l720_shape_d_for_active(a->active_params, V);
    }
    /* counts at the given width, or at the rounded width when it was solved for */
    double d = isnan(a->d_model) ? l720_shape_round_d(d_exact) : d_exact;
    if (peer && l720_shape_blocks(d) < layers)
        return l720_err_set(err, L720_EINPUT, "d_model %g has %g blocks, fewer than %g PEER layers",
                            d, l720_shape_blocks(d), layers);
    double total = peer ? l720_peer_model_total_params(&p, layers, d, V)
                        : l720_shape_total_params(d, E, V);
    double active = peer ? l720_peer_model_active_params(&p, layers, d, V)
                         : l720_shape_active_params(d, V);
    double train = peer ? l720_peer_model_train_flops_per_token(&p, layers, d, V)
                        : l720_shape_train_flops_per_token(d, V);
    double kv = l720_shape_kv_values_per_token(d) * a->kv_bytes;
    double memory = total * a->bytes_per_param + a->kv_tokens * kv;
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "query", "shape");
    cJSON_AddNumberToObject(r, "experts", peer ? p.experts : E);
    cJSON_AddNumberToObject(r, "d_model", l720_shape_round_d(d_exact));
    cJSON_AddNumberToObject(r, "d_model_exact", d_exact);
    cJSON_AddNumberToObject(r, "counted_at_d_model", d);
    cJSON_AddNumberToObject(r, "n_blocks", l720_shape_blocks(d));
    cJSON_AddNumberToObject(r, "active_params", active);
    cJSON_AddNumberToObject(r, "total_params", total);
    cJSON_AddNumberToObject(r, "train_flops_per_token", train);
    cJSON_AddNumberToObject(r, "inference_flops_per_token", train / 3);
    cJSON_AddNumberToObject(r, "kv_bytes_per_token", kv);
    cJSON_AddNumberToObject(r, "memory_bytes", memory);
    if (peer) {
        cJSON *o = cJSON_AddObjectToObject(r, "peer");
        cJSON_AddNumberToObject(o, "experts", p.experts);
        cJSON_AddNumberToObject(o, "heads", p.heads);
        cJSON_AddNumberToObject(o, "topk", p.topk);
        cJSON_AddNumberToObject(o, "d_key", p.d_key);
        cJSON_AddNumberToObject(o, "layers", layers);
        cJSON_AddNumberToObject(o, "layer_params", l720_peer_layer_total_params(&p, d));
        cJSON_AddNumberToObject(o, "layer_active_params", l720_peer_layer_active_params(&p, d));
        cJSON_AddNumberToObject(o, "layer_forward_flops", l720_peer_layer_forward_flops(&p, d));
    }
    *result = r;
    if (!io->json) {
        char h[6][32];
        fprintf(io->out,
                "d_model %g (exact %.6g, counted at %g), %g blocks, %s%g experts\n"
                "  total params %s, active params %s\n"
                "  FLOPs per token: training %s, inference %s\n"
                "  KV cache %s per token; memory %s (%g bytes/param + %g KV tokens)\n",
                l720_shape_round_d(d_exact), d_exact, d, l720_shape_blocks(d), peer ? "PEER " : "",
                peer ? p.experts : E, l720_plan_human(h[0], 32, total),
                l720_plan_human(h[1], 32, active), l720_plan_human(h[2], 32, train),
                l720_plan_human(h[3], 32, train / 3), l720_plan_human_bytes(h[4], 32, kv),
                l720_plan_human_bytes(h[5], 32, memory), a->bytes_per_param, a->kv_tokens);
    }
    return 0;
}

/* ---- dispatch -------------------------------------------------------------- */

static const struct {
    const char *name;
    l720_cmd_fn run;
    const char *about;
} queries[] = {
    {"optimal", q_optimal, "compute-optimal N_act, D and loss for each expert count"},
    {"budget", q_budget, "best E under a machine's memory (model, total with KV cache, inference)"},
    {"match", q_match, "the MoE with a dense model's total parameters and training FLOPs"},
    {"lr", q_lr, "the joint-MoE paper's learning-rate rule"},
    {"table", q_table, "best E per FLOP budget x machine memory (Table-2 style grid)"},
    {"shape", q_shape, "parameter counts, FLOPs, KV cache of a width; width for a count"},
};

int l720_cmd_plan(int argc, char **argv, const l720_cmdio *io, cJSON **result, l720_err *err)
{
    if (argc >= 1)
        for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++)
            if (!strcmp(argv[0], queries[i].name))
                return queries[i].run(argc - 1, argv + 1, io, result, err);
    if (argc == 0)
        return l720_err_set(err, L720_EINPUT,
                            "missing query: optimal, budget, match, lr, table or shape "
                            "(try 'llm720 plan --help')");
    if (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")) {
        fprintf(io->out,
                "usage: llm720 plan QUERY [OPTIONS]\n\n"
                "Plans models from a scaling-law file (default: the published joint MoE law).\n"
                "'llm720 plan QUERY --help' for a query's options.\n\n");
        for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++)
            fprintf(io->out, "  %-8s %s\n", queries[i].name, queries[i].about);
        fprintf(io->out, "\n  --json   print one JSON object on stdout\n");
        return L720_HELP;
    }
    return l720_err_set(err, L720_EINPUT,
                        "unknown query '%s': expected optimal, budget, match, lr, table or shape",
                        argv[0]);
}
