/* data.c: see data.h. */
#include "data.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fileio.h"
#include "json_io.h"
#include "train_rng.h"

int l720_shard_write(const char *path, const uint16_t *tokens, size_t n, l720_err *err)
{
    if (n > INT32_MAX)
        return l720_err_set(err, L720_EINPUT, "%s: %zu tokens do not fit one shard", path, n);
    int32_t header[L720_SHARD_HEADER_INTS] = {L720_SHARD_MAGIC, L720_SHARD_VERSION, (int32_t)n};
    l720_atomic *w = l720_atomic_open(path, err);
    if (!w)
        return err->code;
    if (fwrite(header, sizeof header, 1, w->fp) != 1 ||
        (n && fwrite(tokens, sizeof *tokens, n, w->fp) != n)) {
        l720_atomic_abort(w);
        return l720_err_set(err, L720_EFAIL, "%s: write failed", path);
    }
    return l720_atomic_commit(w, err);
}

/* Opens path and checks its header and size; leaves fp after the header. */
static FILE *shard_open(const char *path, size_t *n, l720_err *err)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        l720_err_set(err, L720_EINPUT, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    int32_t header[L720_SHARD_HEADER_INTS];
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || fread(header, sizeof header, 1, fp) != 1) {
        fclose(fp);
        l720_err_set(err, L720_EINPUT, "%s: not a token shard (shorter than its 1024-byte header)",
                     path);
        return NULL;
    }
    if (header[0] != L720_SHARD_MAGIC || header[1] != L720_SHARD_VERSION || header[2] < 0) {
        fclose(fp);
        l720_err_set(err, L720_EINPUT,
                     "%s: bad shard header (magic %d version %d count %d; expected magic %d "
                     "version %d)",
                     path, header[0], header[1], header[2], L720_SHARD_MAGIC, L720_SHARD_VERSION);
        return NULL;
    }
    size_t expect = sizeof header + (size_t)header[2] * sizeof(uint16_t);
    if ((size_t)st.st_size != expect) {
        fclose(fp);
        l720_err_set(err, L720_EINPUT,
                     "%s: size %lld bytes does not match its header (%d tokens: %zu bytes)", path,
                     (long long)st.st_size, header[2], expect);
        return NULL;
    }
    *n = (size_t)header[2];
    return fp;
}

int l720_shard_check(const char *path, size_t *n, l720_err *err)
{
    FILE *fp = shard_open(path, n, err);
    if (!fp)
        return err->code;
    fclose(fp);
    return 0;
}

uint16_t *l720_shard_read(const char *path, int vocab, size_t *n, l720_err *err)
{
    FILE *fp = shard_open(path, n, err);
    if (!fp)
        return NULL;
    uint16_t *tok = malloc((*n ? *n : 1) * sizeof *tok);
    if (!tok || fread(tok, sizeof *tok, *n, fp) != *n) {
        free(tok);
        fclose(fp);
        l720_err_set(err, L720_EFAIL, "%s: read failed", path);
        return NULL;
    }
    fclose(fp);
    for (size_t i = 0; vocab > 0 && i < *n; i++)
        if (tok[i] >= vocab) {
            l720_err_set(err, L720_EINPUT, "%s: token %u at position %zu is outside the vocabulary "
                         "of %d", path, tok[i], i, vocab);
            free(tok);
            return NULL;
        }
    return tok;
}

/* ---- data directory ---- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int push_path(char ***list, int *n, const char *dir, const char *name)
{
    char **l = realloc(*list, (size_t)(*n + 1) * sizeof *l);
    if (!l)
        return -1;
    *list = l;
    size_t len = strlen(dir) + strlen(name) + 2;
    if (!(l[*n] = malloc(len)))
        return -1;
    snprintf(l[*n], len, "%s/%s", dir, name);
    (*n)++;
    return 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

static int read_vocab(l720_shards *ds, const char *dir, l720_err *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/meta.json", dir);
    ds->vocab = L720_VOCAB_GPT2;
    if (!l720_exists(path))
        return 0;
    cJSON *meta = l720_json_read(path, err);
    if (!meta)
        return err->code;
    double v = 0;
    int rc = l720_json_number(meta, "vocab", path, &v, err);
    cJSON_Delete(meta);
    if (rc)
        return rc;
    if (v < 2 || v > 65536 || v != floor(v))
        return l720_err_at(err, L720_EINPUT, path, 0, "vocab", "expected a whole number in "
                           "[2, 65536], got %g", v);
    ds->vocab = (int)v;
    return 0;
}

l720_shards *l720_shards_open(const char *dir, l720_err *err)
{
    l720_shards *ds = calloc(1, sizeof *ds);
    DIR *d = opendir(dir);
    if (!ds || !d) {
        l720_err_set(err, L720_EINPUT, "%s: cannot open data directory: %s", dir,
                     strerror(errno));
        if (d)
            closedir(d);
        free(ds);
        return NULL;
    }
    int bad = 0;
    struct dirent *e;
    while (!bad && (e = readdir(d))) {
        if (!ends_with(e->d_name, ".bin"))
            continue;
        if (strstr(e->d_name, "train"))
            bad = push_path(&ds->train, &ds->n_train, dir, e->d_name);
        else if (strstr(e->d_name, "val"))
            bad = push_path(&ds->val, &ds->n_val, dir, e->d_name);
    }
    closedir(d);
    if (bad) {
        l720_shards_free(ds);
        l720_err_set(err, L720_EFAIL, "out of memory");
        return NULL;
    }
    if (!ds->n_train || !ds->n_val) {
        l720_err_set(err, L720_EINPUT, "%s: no %s shards (*train*.bin and *val*.bin expected; "
                     "make them with llm720 prepare-data)", dir, ds->n_train ? "val" : "train");
        l720_shards_free(ds);
        return NULL;
    }
    qsort(ds->train, (size_t)ds->n_train, sizeof *ds->train, cmp_str);
    qsort(ds->val, (size_t)ds->n_val, sizeof *ds->val, cmp_str);
    ds->train_tokens = calloc((size_t)ds->n_train, sizeof *ds->train_tokens);
    ds->val_tokens = calloc((size_t)ds->n_val, sizeof *ds->val_tokens);
    if (!ds->train_tokens || !ds->val_tokens) {
        l720_shards_free(ds);
        l720_err_set(err, L720_EFAIL, "out of memory");
        return NULL;
    }
    int rc = read_vocab(ds, dir, err);
    for (int i = 0; !rc && i < ds->n_train; i++)
        rc = l720_shard_check(ds->train[i], &ds->train_tokens[i], err);
    for (int i = 0; !rc && i < ds->n_val; i++)
        rc = l720_shard_check(ds->val[i], &ds->val_tokens[i], err);
    if (rc) {
        l720_shards_free(ds);
        return NULL;
    }
    return ds;
}

void l720_shards_free(l720_shards *ds)
{
    if (!ds)
        return;
    for (int i = 0; i < ds->n_train; i++)
        free(ds->train[i]);
    for (int i = 0; i < ds->n_val; i++)
        free(ds->val[i]);
    free(ds->train);
    free(ds->val);
    free(ds->train_tokens);
    free(ds->val_tokens);
    free(ds);
}

int l720_shards_unigram_entropy(const l720_shards *ds, size_t max_tokens, double *nats,
                                 l720_err *err)
{
    double *count = calloc((size_t)ds->vocab, sizeof *count);
    if (!count)
        return l720_err_set(err, L720_EFAIL, "out of memory");
    size_t total = 0;
    for (int s = 0; s < ds->n_train && (!max_tokens || total < max_tokens); s++) {
        size_t n;
        uint16_t *tok = l720_shard_read(ds->train[s], ds->vocab, &n, err);
        if (!tok) {
            free(count);
            return err->code;
        }
        if (max_tokens && n > max_tokens - total)
            n = max_tokens - total;
        for (size_t i = 0; i < n; i++)
            count[tok[i]] += 1;
        total += n;
        free(tok);
    }
    double h = 0;
    for (int v = 0; v < ds->vocab; v++)
        if (count[v] > 0) {
            double p = count[v] / (double)total;
            h -= p * log(p);
        }
    free(count);
    *nats = h;
    return 0;
}

/* ---- loader ---- */

struct l720_loader {
    const l720_shards *ds;
    int T;
    uint64_t seed;
    l720_data_pos pos;
    uint16_t *tok;   /* [n] the shard pos.shard of pos.epoch, or NULL */
    size_t n;
    uint32_t *perm;  /* [n_windows] */
    size_t n_windows;
    int64_t loaded;  /* shard index loaded, -1: none */
    uint64_t loaded_epoch;
};

l720_loader *l720_loader_new(const l720_shards *ds, int T, uint64_t seed, l720_err *err)
{
    for (int s = 0; s < ds->n_train; s++)
        if (ds->train_tokens[s] < (size_t)T + 1) {
            l720_err_set(err, L720_EINPUT, "%s: %zu tokens, fewer than seq_len + 1 = %d",
                         ds->train[s], ds->train_tokens[s], T + 1);
            return NULL;
        }
    l720_loader *ld = calloc(1, sizeof *ld);
    if (!ld) {
        l720_err_set(err, L720_EFAIL, "out of memory");
        return NULL;
    }
    ld->ds = ds;
    ld->T = T;
    ld->seed = seed;
    ld->loaded = -1;
    return ld;
}

void l720_loader_free(l720_loader *ld)
{
    if (!ld)
        return;
    free(ld->tok);
    free(ld->perm);
    free(ld);
}

l720_data_pos l720_loader_pos(const l720_loader *ld)
{
    return ld->pos;
}

/* Loads the shard of the current position and its window order. */
static int load_shard(l720_loader *ld, l720_err *err)
{
    if (ld->loaded == (int64_t)ld->pos.shard && ld->loaded_epoch == ld->pos.epoch)
        return 0;
    free(ld->tok);
    free(ld->perm);
    ld->perm = NULL;
    ld->loaded = -1;
    ld->tok = l720_shard_read(ld->ds->train[ld->pos.shard], ld->ds->vocab, &ld->n, err);
    if (!ld->tok)
        return err->code;
    ld->n_windows = (ld->n - 1) / (size_t)ld->T;
    if (!(ld->perm = malloc(ld->n_windows * sizeof *ld->perm)))
        return l720_err_set(err, L720_EFAIL, "out of memory");
    for (size_t i = 0; i < ld->n_windows; i++)
        ld->perm[i] = (uint32_t)i;
    uint64_t stream = (ld->pos.epoch << 24) ^ ld->pos.shard ^ 0x5eedda7aULL;
    for (size_t i = ld->n_windows; i > 1; i--) { /* Fisher-Yates */
        size_t j = (size_t)l720_trng_below(ld->seed, stream, i, i);
        uint32_t t = ld->perm[i - 1];
        ld->perm[i - 1] = ld->perm[j];
        ld->perm[j] = t;
    }
    ld->loaded = (int64_t)ld->pos.shard;
    ld->loaded_epoch = ld->pos.epoch;
    return 0;
}

int l720_loader_seek(l720_loader *ld, l720_data_pos pos, l720_err *err)
{
    if (pos.shard >= (uint64_t)ld->ds->n_train)
        return l720_err_set(err, L720_EINPUT, "data position: shard %llu of %d",
                            (unsigned long long)pos.shard, ld->ds->n_train);
    ld->pos = pos;
    int rc = load_shard(ld, err);
    if (!rc && pos.window > ld->n_windows)
        return l720_err_set(err, L720_EINPUT, "data position: window %llu of %zu in %s",
                            (unsigned long long)pos.window, ld->n_windows,
                            ld->ds->train[pos.shard]);
    return rc;
}

int l720_loader_next(l720_loader *ld, int B, int32_t *tokens, int32_t *targets, l720_err *err)
{
    int T = ld->T;
    for (int b = 0; b < B; b++) {
        int rc = load_shard(ld, err);
        if (rc)
            return rc;
        if (ld->pos.window >= ld->n_windows) { /* next shard, or next epoch */
            ld->pos.window = 0;
            if (++ld->pos.shard >= (uint64_t)ld->ds->n_train) {
                ld->pos.shard = 0;
                ld->pos.epoch++;
            }
            b--;
            continue;
        }
        const uint16_t *w = ld->tok + (size_t)ld->perm[ld->pos.window] * (size_t)T;
        for (int t = 0; t < T; t++) {
            tokens[(size_t)b * T + t] = w[t];
            targets[(size_t)b * T + t] = w[t + 1];
        }
        ld->pos.window++;
    }
    return 0;
}

int32_t *l720_val_tokens(const l720_shards *ds, int T, size_t max_windows, size_t *n_windows,
                         l720_err *err)
{
    size_t total = 0;
    for (int s = 0; s < ds->n_val; s++)
        total += ds->val_tokens[s];
    size_t nw = total ? (total - 1) / (size_t)T : 0;
    if (max_windows && nw > max_windows)
        nw = max_windows;
    if (nw < 1) {
        l720_err_set(err, L720_EINPUT, "%s: %zu validation tokens, fewer than seq_len + 1 = %d",
                     ds->val[0], total, T + 1);
        return NULL;
    }
    size_t need = nw * (size_t)T + 1, have = 0;
    int32_t *out = malloc(need * sizeof *out);
    if (!out) {
        l720_err_set(err, L720_EFAIL, "out of memory");
        return NULL;
    }
    for (int s = 0; s < ds->n_val && have < need; s++) {
        size_t n;
        uint16_t *tok = l720_shard_read(ds->val[s], ds->vocab, &n, err);
        if (!tok) {
            free(out);
            return NULL;
        }
        for (size_t i = 0; i < n && have < need; i++)
            out[have++] = tok[i];
        free(tok);
    }
    *n_windows = nw;
    return out;
}
