/* test_train_cuda.c: the training driver's cuda backend (--device cuda),
 * run on tests/fake_gpu_model.c (the GPU model's contract carried out by the
 * CPU model), so everything the driver does around the GPU model is checked
 * bit for bit against the cpu backend: the state goes up at start and comes
 * back at every checkpoint, resume works across devices in both directions,
 * Ctrl-C, the NaN stop, evaluation, expert statistics, the routing trace, the
 * device in the log, and a model too big for the GPU refused before anything
 * is built. The real GPU runs the same checks in tests/gpu/train_run.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "tap.h"
#include "train_fixture.h"
#include "trainer/ckpt.h"
#include "trainer/data_prepare.h"
#include "trainer/train.h"

static char tmp[] = "/tmp/l720_train_cuda_XXXXXX";
static char data[300];

typedef struct run_args {
    const char *ffn, *device, *out;
    long steps, stop_after, nan_step;
    int resume;
    const char *trace, *extra_key, *extra_value;
    long interrupt_at; /* > 0: raise the stop flag after this step */
} run_args;

static volatile sig_atomic_t stop_flag;
static long interrupt_at;

static void on_step(void *ctx, long step, long steps, double loss)
{
    (void)ctx, (void)steps, (void)loss;
    if (interrupt_at > 0 && step == interrupt_at)
        stop_flag = 1;
}

static int run(const run_args *a, l720_train_result *res, l720_err *err)
{
    char out[300];
    snprintf(out, sizeof out, "%s/%s", tmp, a->out);
    l720_err_clear(err);
    l720_train_cfg cfg;
    l720_cfg_defaults(&cfg);
    if (a->resume && l720_train_resume_config(out, &cfg, err))
        return err->code;
    char num[32];
    const char *kv[][2] = {{"d-model", "16"}, {"layers", "2"},       {"heads", "1"},
                           {"seq-len", "16"}, {"batch", "4"},        {"eval-every", "2"},
                           {"eval-tokens", "64"}, {"warmup", "3"},   {"lr", "0.01"},
                           {"ffn", a->ffn},  {"device", a->device}};
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        if (!a->resume && l720_cfg_set(&cfg, kv[i][0], kv[i][1], "test", err))
            return err->code;
    if (a->resume && l720_cfg_set(&cfg, "device", a->device, "test", err))
        return err->code;
    snprintf(num, sizeof num, "%ld", a->steps ? a->steps : 10);
    l720_cfg_set(&cfg, "steps", num, "test", err);
    cfg.stop_after = a->stop_after;
    cfg.debug_nan_step = a->nan_step;
    if (a->extra_key && l720_cfg_set(&cfg, a->extra_key, a->extra_value, "test", err))
        return err->code;
    char trace[300];
    snprintf(trace, sizeof trace, "%s/%s", tmp, a->trace ? a->trace : "");
    stop_flag = 0;
    interrupt_at = a->interrupt_at;
    l720_train_opts o = {data, out, a->trace ? trace : NULL, a->resume, &stop_flag, NULL,
                         on_step, NULL};
    return l720_train_run(&cfg, &o, res, err);
}

/* 1 when two checkpoints hold the same state, bit for bit. */
static int same_state(const char *a, const char *b)
{
    char pa[300], pb[300];
    snprintf(pa, sizeof pa, "%s/%s/checkpoint.bin", tmp, a);
    snprintf(pb, sizeof pb, "%s/%s/checkpoint.bin", tmp, b);
    l720_err err;
    l720_ckpt *x = l720_ckpt_read(pa, &err), *y = l720_ckpt_read(pb, &err);
    int same = x && y && x->a.n == y->a.n && x->a.nb == y->a.nb &&
               x->meta.step == y->meta.step && x->meta.adam_t == y->meta.adam_t &&
               x->meta.loss_sum == y->meta.loss_sum && x->meta.tokens == y->meta.tokens &&
               !memcmp(x->a.params, y->a.params, x->a.n * sizeof(float)) &&
               !memcmp(x->a.m, y->a.m, x->a.n * sizeof(float)) &&
               !memcmp(x->a.v, y->a.v, x->a.n * sizeof(float)) &&
               (!x->a.nb || !memcmp(x->a.buffers, y->a.buffers, x->a.nb * sizeof(float)));
    l720_ckpt_free(x);
    l720_ckpt_free(y);
    return same;
}

/* The evaluations of a run log as text: step, losses (17 digits) and the
 * expert statistics; the device of each line into device (last one). */
static char *evals(const char *run, char *device, size_t dlen)
{
    char path[300];
    snprintf(path, sizeof path, "%s/%s/log.jsonl", tmp, run);
    l720_err err;
    size_t len;
    char *text = l720_read_file(path, &len, &err);
    if (!text)
        return NULL;
    size_t cap = len + 1, used = 0;
    char *s = calloc(cap, 1);
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        cJSON *j = cJSON_Parse(line);
        const cJSON *type = cJSON_GetObjectItem(j, "type");
        if (cJSON_IsString(type) && !strcmp(type->valuestring, "eval")) {
            char *st = cJSON_PrintUnformatted(cJSON_GetObjectItem(j, "expert_stats"));
            used += (size_t)snprintf(s + used, cap - used, "%g %.17g %.17g %s\n",
                                     cJSON_GetNumberValue(cJSON_GetObjectItem(j, "step")),
                                     cJSON_GetNumberValue(cJSON_GetObjectItem(j, "train_loss")),
                                     cJSON_GetNumberValue(cJSON_GetObjectItem(j, "val_loss")),
                                     st);
            free(st);
            snprintf(device, dlen, "%s", cJSON_GetStringValue(cJSON_GetObjectItem(j, "device")));
        }
        cJSON_Delete(j);
    }
    free(text);
    return s;
}

static int same_evals(const char *a, const char *b)
{
    char da[32] = "", db[32] = "";
    char *x = evals(a, da, sizeof da), *y = evals(b, db, sizeof db);
    int same = x && y && *x && !strcmp(x, y);
    if (!same)
        tap_diag("%s:\n%s%s:\n%s", a, x ? x : "(none)", b, y ? y : "(none)");
    free(x);
    free(y);
    return same;
}

static int last_device(const char *run, const char *want)
{
    char d[32] = "";
    free(evals(run, d, sizeof d));
    return !strcmp(d, want);
}

static int header_has(const char *run, const char *what)
{
    char path[300];
    snprintf(path, sizeof path, "%s/%s/log.jsonl", tmp, run);
    l720_err err;
    size_t len;
    char *text = l720_read_file(path, &len, &err);
    char *nl = text ? strchr(text, '\n') : NULL;
    if (nl)
        *nl = '\0';
    int has = text && strstr(text, what);
    free(text);
    return has;
}

static int same_file(const char *a, const char *b)
{
    char pa[300], pb[300];
    snprintf(pa, sizeof pa, "%s/%s", tmp, a);
    snprintf(pb, sizeof pb, "%s/%s", tmp, b);
    l720_err err;
    size_t la, lb;
    char *x = l720_read_file(pa, &la, &err), *y = l720_read_file(pb, &lb, &err);
    int same = x && y && la == lb && la > 0 && !memcmp(x, y, la);
    free(x);
    free(y);
    return same;
}

static void check_ffn(const char *ffn)
{
    l720_err err = {0};
    l720_train_result rc_cpu, rc_gpu, r;
    run_args a = {.ffn = ffn, .device = "cpu", .out = "cpu"};
    ok(run(&a, &rc_cpu, &err) == 0, "%s: cpu, 10 steps (%s)", ffn, err.msg);
    a.device = "cuda", a.out = "gpu";
    ok(run(&a, &rc_gpu, &err) == 0, "%s: cuda, 10 steps (%s)", ffn, err.msg);
    ok(rc_gpu.val_loss == rc_cpu.val_loss && rc_gpu.train_loss == rc_cpu.train_loss &&
           rc_gpu.step == 10 && rc_gpu.n_total == rc_cpu.n_total,
       "%s: the same result (val %.17g, %.17g)", ffn, rc_gpu.val_loss, rc_cpu.val_loss);
    ok(same_state("cpu", "gpu"), "%s: the GPU checkpoint holds the same state as the CPU's", ffn);
    ok(same_evals("cpu", "gpu"), "%s: the same evaluations and expert statistics", ffn);
    ok(last_device("gpu", "cuda") && last_device("cpu", "cpu") &&
           header_has("gpu", "\"device\":\"cuda\",\"device_name\":\"fake GPU"),
       "%s: the log records the device", ffn);

    /* 5 steps on the GPU, the rest on the CPU; and the other way round */
    a = (run_args){.ffn = ffn, .device = "cuda", .out = "g2c", .stop_after = 5};
    ok(run(&a, &r, &err) == 0 && r.step == 5, "%s: cuda, stop after 5 (%s)", ffn, err.msg);
    a.device = "cpu", a.resume = 1, a.stop_after = 0;
    ok(run(&a, &r, &err) == 0 && r.step == 10, "%s: resumed on the cpu (%s)", ffn, err.msg);
    ok(same_state("cpu", "g2c") && same_evals("cpu", "g2c") && last_device("g2c", "cpu"),
       "%s: GPU then CPU = CPU straight, bit for bit", ffn);
    a = (run_args){.ffn = ffn, .device = "cpu", .out = "c2g", .stop_after = 5};
    ok(run(&a, &r, &err) == 0, "%s: cpu, stop after 5 (%s)", ffn, err.msg);
    a.device = "cuda", a.resume = 1, a.stop_after = 0;
    ok(run(&a, &r, &err) == 0 && r.step == 10, "%s: resumed on cuda (%s)", ffn, err.msg);
    ok(same_state("cpu", "c2g") && same_evals("cpu", "c2g"),
       "%s: CPU then GPU = CPU straight, bit for bit", ffn);

    /* Ctrl-C on the GPU after step 3 (not an evaluation step), then resume */
    a = (run_args){.ffn = ffn, .device = "cuda", .out = "int", .interrupt_at = 3};
    ok(run(&a, &r, &err) == L720_TRAIN_INTERRUPTED && r.step == 3 &&
           strstr(err.msg, "interrupted at step 3"),
       "%s: stop flag: status 130 at step 3 (%s)", ffn, err.msg);
    a.resume = 1, a.interrupt_at = 0;
    ok(run(&a, &r, &err) == 0 && same_state("gpu", "int") && same_evals("gpu", "int"),
       "%s: the interrupted GPU run resumes to the same state (%s)", ffn, err.msg);
}

/* --grad-accum 3: the cuda backend's backward + backward_add path gives
 * the cpu backend's state bit for bit, and resumes across devices */
static void check_accum(const char *ffn)
{
    l720_err err = {0};
    l720_train_result rc_cpu, rc_gpu, r;
    run_args a = {.ffn = ffn, .device = "cpu", .out = "acpu", .steps = 4, .extra_key = "grad-accum",
                  .extra_value = "3"};
    int rc = run(&a, &rc_cpu, &err);
    ok(rc == 0 && rc_cpu.tokens == 4.0 * 3 * 4 * 16, "%s K 3: cpu, 4 steps, %.0f tokens (%s)", ffn,
       rc_cpu.tokens, err.msg);
    a.device = "cuda", a.out = "agpu";
    ok(run(&a, &rc_gpu, &err) == 0, "%s K 3: cuda (%s)", ffn, err.msg);
    ok(same_state("acpu", "agpu") && same_evals("acpu", "agpu") &&
           rc_gpu.train_loss == rc_cpu.train_loss,
       "%s K 3: the GPU run holds the CPU run's state and evaluations, bit for bit", ffn);
    a.out = "ag2c", a.stop_after = 3;
    ok(run(&a, &r, &err) == 0 && r.step == 3, "%s K 3: cuda, stop after 3 (%s)", ffn, err.msg);
    a.device = "cpu", a.resume = 1, a.stop_after = 0, a.extra_key = NULL;
    ok(run(&a, &r, &err) == 0 && r.step == 4 && same_state("acpu", "ag2c"),
       "%s K 3: resumed on the cpu (K from the checkpoint) = straight, bit for bit (%s)", ffn,
       err.msg);
}

int main(void)
{
    l720_err err = {0};
    if (train_fixture_open(tmp, data, sizeof data))
        return tap_done();

    check_ffn("dense");
    check_ffn("moe:4");
    check_ffn("peer:16:2:2");
    check_accum("moe:4");
    check_accum("peer:16:2:2");

    l720_train_result r;
    run_args a = {.ffn = "moe:4", .device = "cpu", .out = "tc", .steps = 4, .trace = "tc.txt"};
    ok(run(&a, &r, &err) == 0, "moe trace on the cpu (%s)", err.msg);
    a.device = "cuda", a.out = "tg", a.trace = "tg.txt";
    ok(run(&a, &r, &err) == 0, "moe trace on cuda (%s)", err.msg);
    ok(same_file("tc.txt", "tg.txt"), "the GPU's routing trace is the CPU's");
    a = (run_args){.ffn = "peer:16:2:2", .device = "cuda", .out = "tp", .steps = 2,
                   .trace = "tp.txt", .extra_key = "ffn-layers", .extra_value = "middle"};
    ok(run(&a, &r, &err) == 0, "peer trace on cuda, middle layer only (%s)", err.msg);
    a.device = "cpu", a.out = "tpc", a.trace = "tpc.txt";
    ok(run(&a, &r, &err) == 0 && same_file("tp.txt", "tpc.txt"), "... the CPU's (%s)", err.msg);

    a = (run_args){.ffn = "dense", .device = "cuda", .out = "nan", .nan_step = 7};
    ok(run(&a, &r, &err) == L720_EFAIL && strstr(err.msg, "at step 7") &&
           strstr(err.msg, "checkpoint"),
       "NaN on the GPU: status 1 naming step 7 (%s)", err.msg);
    a = (run_args){.ffn = "dense", .device = "cpu", .out = "nanc", .nan_step = 7};
    run(&a, &r, &err);
    ok(same_state("nan", "nanc") && same_evals("nan", "nanc"),
       "NaN: the GPU run keeps the same last checkpoint (step 6) and log as the CPU run");
    a = (run_args){.ffn = "dense", .device = "cuda", .out = "nan", .resume = 1, .stop_after = 1};
    ok(run(&a, &r, &err) == 0 && r.step == 7, "NaN: the kept checkpoint resumes (%s)", err.msg);

    a = (run_args){.ffn = "dense", .device = "cuda", .out = "big", .extra_key = "d-model",
                   .extra_value = "1024"};
    char big[300];
    snprintf(big, sizeof big, "%s/big", tmp);
    ok(run(&a, &r, &err) == L720_EINPUT && strstr(err.msg, "bytes of GPU memory") &&
           strstr(err.msg, "free") && !l720_exists(big),
       "a model too big for the GPU: status 2 before anything is made (%s)", err.msg);

    train_fixture_close(tmp);
    return tap_done();
}
