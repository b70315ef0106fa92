/* cmd_train.c: llm720 train: runs the training driver (trainer/train.h)
 * with the configuration from defaults, the checkpoint (--resume), a config
 * file (--config) and flags, in that order; every config key is a flag. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "opts.h"
#include "progress.h"
#include "trainer/train.h"

#define MAX_KEYS 64
#define N_FIXED 5

static volatile sig_atomic_t stop_flag;

static void on_sigint(int sig)
{
    (void)sig;
    stop_flag = 1;
}

typedef struct report {
    const l720_cmdio *io;
    l720_progress *bar;
} report;

static void on_step(void *ctx, long step, long steps, double loss)
{
    report *r = ctx;
    char note[64];
    snprintf(note, sizeof note, "step %ld/%ld loss %.4f", step, steps, loss);
    l720_progress_update(r->bar, (double)step, note);
}

static void on_eval(void *ctx, const cJSON *e)
{
    report *r = ctx;
    if (r->io->json)
        return;
    double v[6];
    const char *k[] = {"step", "train_loss", "val_loss", "tokens_per_second", "wall_seconds",
                       "lr"};
    for (int i = 0; i < 6; i++)
        v[i] = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(e, k[i]));
    fprintf(r->io->out, "step %6.0f  train %.4f  val %.4f  lr %.3g  %.0f tok/s  %.0f s", v[0],
            v[1], v[2], v[5], v[3], v[4]);
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(e, "expert_stats"), *it;
    cJSON_ArrayForEach(it, st)
    {
        fprintf(r->io->out, "  [L%g used %.3f kl %.3f]",
                cJSON_GetNumberValue(cJSON_GetObjectItem(it, "layer")),
                cJSON_GetNumberValue(cJSON_GetObjectItem(it, "frac_used")),
                cJSON_GetNumberValue(cJSON_GetObjectItem(it, "kl")));
    }
    fputc('\n', r->io->out);
    fflush(r->io->out);
}

static cJSON *result_json(const char *out, const l720_train_result *res)
{
    cJSON *j = cJSON_CreateObject();
    char path[4096];
    cJSON_AddStringToObject(j, "out", out);
    snprintf(path, sizeof path, "%s/log.jsonl", out);
    cJSON_AddStringToObject(j, "log", path);
    snprintf(path, sizeof path, "%s/checkpoint.bin", out);
    cJSON_AddStringToObject(j, "checkpoint", path);
    cJSON_AddNumberToObject(j, "steps", (double)res->step);
    cJSON_AddNumberToObject(j, "tokens", res->tokens);
    cJSON_AddNumberToObject(j, "train_loss", res->train_loss);
    cJSON_AddNumberToObject(j, "val_loss", res->val_loss);
    cJSON_AddNumberToObject(j, "unigram_entropy", res->unigram_entropy);
    cJSON_AddNumberToObject(j, "tokens_per_second", res->tokens_per_second);
    cJSON_AddNumberToObject(j, "n_act", res->n_act);
    cJSON_AddNumberToObject(j, "n_total", res->n_total);
    cJSON_AddNumberToObject(j, "vocab", res->vocab);
    cJSON_AddNumberToObject(j, "wall_seconds", res->wall_seconds);
    return j;
}

int l720_cmd_train(int argc, char **argv, const l720_cmdio *io, cJSON **result, l720_err *err)
{
    const char *config = NULL, *data = NULL, *out = NULL, *trace = NULL;
    int resume = 0;
    l720_opt opts[N_FIXED + MAX_KEYS + 1] = {
        {"config", L720_OPT_STRING, &config, "FILE", "config file: a JSON object or a Lua table "
                                                     "of the keys below"},
        {"data", L720_OPT_STRING, &data, "DIR", "token shards (*train*.bin, *val*.bin; "
                                                "prepare-data makes them) (required)"},
        {"out", L720_OPT_STRING, &out, "RUNDIR", "run directory: log.jsonl, checkpoint.bin "
                                                 "(required)"},
        {"resume", L720_OPT_FLAG, &resume, NULL, "continue from RUNDIR/checkpoint.bin"},
        {"trace", L720_OPT_STRING, &trace, "FILE", "write the routing of the final evaluation "
                                                   "(llm720 sim reads it)"},
    };
    static const char *values[MAX_KEYS];
    static char help[MAX_KEYS][200];
    int nk = 0;
    for (const l720_cfg_key *k = l720_cfg_keys; k->name && nk < MAX_KEYS; k++, nk++) {
        values[nk] = NULL;
        snprintf(help[nk], sizeof help[nk], "%s (%s)", k->help, k->def);
        opts[N_FIXED + nk] = (l720_opt){k->name, L720_OPT_STRING, &values[nk],
                                        k->type == L720_KEY_STRING ? "S" : "X", help[nk]};
    }
    opts[N_FIXED + nk] = (l720_opt){0};
    int rc = l720_opts_parse_or_usage(
        io->out, "train", "--data DIR --out RUNDIR [--config FILE] [--resume] [--KEY VALUE]...",
        "Trains a dense, Switch-MoE or PEER transformer (CPU reference) and writes "
        "a JSON Lines run log and a checkpoint. Ctrl-C saves a checkpoint and "
        "exits with status 130; a non-finite loss stops with status 1, keeping "
        "the last good checkpoint.",
        opts, 0, argc, argv, NULL, 0, NULL, err);
    if (rc)
        return rc;
    if (!data || !out)
        return l720_err_set(err, L720_EINPUT, "train: --data DIR and --out RUNDIR are required");
    l720_train_cfg cfg;
    l720_cfg_defaults(&cfg);
    if (resume && (rc = l720_train_resume_config(out, &cfg, err)))
        return rc;
    if (config && (rc = l720_cfg_read_file(&cfg, config, err)))
        return rc;
    for (int i = 0; i < nk; i++)
        if (values[i] && (rc = l720_cfg_set(&cfg, opts[N_FIXED + i].name, values[i], "train",
                                            err)))
            return rc;

    report rep = {io, l720_progress_new("train", (double)cfg.steps)};
    l720_train_opts o = {data, out, trace, resume, &stop_flag, &rep, on_step, on_eval};
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    stop_flag = 0;
    sigaction(SIGINT, &sa, &old);
    l720_train_result res;
    rc = l720_train_run(&cfg, &o, &res, err);
    sigaction(SIGINT, &old, NULL);
    l720_progress_free(rep.bar);
    if (rc)
        return rc;
    if (!io->json)
        fprintf(io->out,
                "%s: %ld steps, %.0f tokens, %.0f tokens/s; N_act %.0f, N_total %.0f\n"
                "final validation loss %.4f nats/token; unigram entropy of the training data "
                "%.4f nats/token\n",
                out, res.step, res.tokens, res.tokens_per_second, res.n_act, res.n_total,
                res.val_loss, res.unigram_entropy);
    *result = result_json(out, &res);
    return 0;
}
