/* test_train_config.c: config keys from JSON, Lua and flags; unknown keys;
 * FFN specs; the JSON form round-trips. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "tap.h"
#include "trainer/config_train.h"

static void put(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    fputs(text, fp);
    fclose(fp);
}

int main(void)
{
    l720_err err;
    l720_train_cfg c;
    l720_cfg_defaults(&c);
    ok(c.d_model == 128 && c.layers == 4 && !strcmp(c.ffn, "dense") && c.lr == 1e-3 &&
           c.decay_frac == 0.2 && c.beta2 == 0.95, "defaults");
    ok(l720_cfg_check(&c, &err) == 0, "defaults pass the checks");
    ok(l720_cfg_set(&c, "d_model", "64", "flag", &err) == 0 && c.d_model == 64, "d_model");
    ok(l720_cfg_set(&c, "d-model", "96", "flag", &err) == 0 && c.d_model == 96, "d-model");
    ok(l720_cfg_set(&c, "dmodel", "96", "flag", &err) == 2 && strstr(err.msg, "'dmodel'"),
       "unknown key named: %s", err.msg);
    ok(l720_cfg_set(&c, "layers", "4.5", "flag", &err) == 2 && strstr(err.msg, "layers"),
       "not a whole number: %s", err.msg);
    ok(l720_cfg_set(&c, "steps", "1e4", "flag", &err) == 0 && c.steps == 10000, "1e4 steps");

    char dir[] = "/tmp/l720_cfg_XXXXXX";
    ok(mkdtemp(dir) != NULL, "temporary folder");
    char pj[256], pl[256], pb[256];
    snprintf(pj, sizeof pj, "%s/c.json", dir);
    snprintf(pl, sizeof pl, "%s/c.lua", dir);
    snprintf(pb, sizeof pb, "%s/bad.json", dir);
    put(pj, "{\"d_model\": 32, \"layers\": 2, \"ffn\": \"moe:8\", \"lr\": 0.003}\n");
    l720_cfg_defaults(&c);
    ok(l720_cfg_read_file(&c, pj, &err) == 0 && c.d_model == 32 && c.layers == 2 &&
           !strcmp(c.ffn, "moe:8") && c.lr == 0.003, "JSON config");
    put(pl, "-- a run\nreturn { d_model = 48, layers = 3, ffn = 'peer:' .. 16*16 .. ':4:8',"
            " warmup = 2^4 }\n");
    l720_cfg_defaults(&c);
    ok(l720_cfg_read_file(&c, pl, &err) == 0 && c.d_model == 48 && c.layers == 3 &&
           !strcmp(c.ffn, "peer:256:4:8") && c.warmup == 16, "Lua config: %s", err.msg);
    put(pl, "{ seq_len = 64, batch = 8 }\n");
    ok(l720_cfg_read_file(&c, pl, &err) == 0 && c.seq_len == 64 && c.batch == 8,
       "Lua: a bare table");
    put(pl, "return { d_modle = 48 }\n");
    ok(l720_cfg_read_file(&c, pl, &err) == 2 && strstr(err.msg, "d_modle") &&
           strstr(err.msg, "c.lua"), "Lua: unknown key named with the file: %s", err.msg);
    put(pb, "{\"layers\": 2, \"lerning_rate\": 1}\n");
    ok(l720_cfg_read_file(&c, pb, &err) == 2 && strstr(err.msg, "lerning_rate") &&
           strstr(err.msg, "bad.json"), "JSON: unknown key named with the file: %s", err.msg);
    put(pb, "{\"layers\": 2,\n \"lr\": }\n");
    ok(l720_cfg_read_file(&c, pb, &err) == 2 && strstr(err.msg, "bad.json"),
       "malformed JSON: %s", err.msg);
    put(pb, "{\"layers\": [2]}\n");
    ok(l720_cfg_read_file(&c, pb, &err) == 2 && strstr(err.msg, "layers"),
       "JSON: wrong type: %s", err.msg);

    /* round trip through the JSON form (what the log header and checkpoint hold) */
    l720_cfg_defaults(&c);
    l720_cfg_set(&c, "ffn", "peer:16384:4:8", "flag", &err);
    l720_cfg_set(&c, "eps", "1e-7", "flag", &err);
    l720_cfg_set(&c, "seed", "123456789", "flag", &err);
    cJSON *j = l720_cfg_to_json(&c);
    ok(cJSON_GetObjectItem(j, "d_model") && cJSON_GetObjectItem(j, "weight_decay"),
       "JSON form uses '_' names");
    l720_train_cfg c2;
    l720_cfg_defaults(&c2);
    c2.d_model = 7;
    ok(l720_cfg_set_json(&c2, j, "round trip", &err) == 0 && !memcmp(&c, &c2, sizeof c),
       "JSON form round-trips exactly");
    cJSON_Delete(j);

    int nkeys = 0;
    for (const l720_cfg_key *k = l720_cfg_keys; k->name; k++, nkeys++)
        if (!l720_cfg_find(k->name))
            break;
    ok(nkeys > 25, "%d keys, all findable", nkeys);

    l720_ffn_spec f;
    ok(l720_ffn_parse("dense", &f, &err) == 0 && f.kind == L720_FFN_DENSE, "ffn dense");
    ok(l720_ffn_parse("moe:8", &f, &err) == 0 && f.kind == L720_FFN_MOE && f.n_experts == 8 &&
           f.topk == 1, "ffn moe:8");
    ok(l720_ffn_parse("peer:16384:4:8", &f, &err) == 0 && f.kind == L720_FFN_PEER &&
           f.n_experts == 16384 && f.heads == 4 && f.topk == 8, "ffn peer");
    ok(l720_ffn_parse("peer:16384:4", &f, &err) == 2 && strstr(err.msg, "ffn"), "bad ffn: %s",
       err.msg);
    ok(l720_ffn_parse("moe:8x", &f, &err) == 2, "trailing junk");

    l720_cfg_defaults(&c);
    c.beta2 = 1.0;
    ok(l720_cfg_check(&c, &err) == 2 && strstr(err.msg, "beta2"), "range check: %s", err.msg);
    l720_cfg_defaults(&c);
    strcpy(c.device, "tpu");
    ok(l720_cfg_check(&c, &err) == 2 && strstr(err.msg, "device"), "device: %s", err.msg);
    remove(pj);
    remove(pl);
    remove(pb);
    remove(dir);
    return tap_done();
}
