/* data_prepare.c: see data_prepare.h. */
#include "data_prepare.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data.h"
#include "fileio.h"
#include "json_io.h"

typedef struct text_buf {
    uint8_t *p;
    size_t n, cap;
    int files, skipped;
} text_buf;

static int buf_reserve(text_buf *b, size_t extra)
{
    if (b->n + extra <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 1 << 20;
    while (cap < b->n + extra)
        cap *= 2;
    uint8_t *p = realloc(b->p, cap);
    if (!p)
        return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), c = strlen(suffix);
    return a >= c && !strcmp(s + a - c, suffix);
}

/* Opens a file, or a gzip pipe for ".gz" (the path is single-quoted). */
static FILE *open_text(const char *path, int *is_pipe)
{
    *is_pipe = ends_with(path, ".gz");
    if (!*is_pipe)
        return fopen(path, "rb");
    size_t len = 32 + 4 * strlen(path);
    char *cmd = malloc(len), *q = cmd;
    if (!cmd)
        return NULL;
    q += sprintf(q, "gzip -dc -- '");
    for (const char *s = path; *s; s++) {
        if (*s == '\'')
            q += sprintf(q, "'\\''");
        else
            *q++ = *s;
    }
    strcpy(q, "'");
    FILE *fp = popen(cmd, "r");
    free(cmd);
    return fp;
}

static int read_text_file(text_buf *b, const char *path, l720_err *err)
{
    int is_pipe;
    FILE *fp = open_text(path, &is_pipe);
    if (!fp)
        return l720_err_set(err, L720_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    size_t start = b->n, got;
    do {
        if (buf_reserve(b, 1 << 16)) {
            is_pipe ? pclose(fp) : fclose(fp);
            return l720_err_set(err, L720_EFAIL, "out of memory reading %s", path);
        }
        got = fread(b->p + b->n, 1, 1 << 16, fp);
        b->n += got;
    } while (got > 0);
    int bad = ferror(fp);
    int status = is_pipe ? pclose(fp) : fclose(fp);
    if (bad || (is_pipe && status != 0)) {
        b->n = start;
        return l720_err_set(err, L720_EINPUT, "%s: read failed%s", path,
                            is_pipe ? " (not a gzip file?)" : "");
    }
    if (memchr(b->p + start, 0, b->n - start)) { /* binary: not text */
        b->n = start;
        b->skipped++;
        return 0;
    }
    b->files++;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int read_input(text_buf *b, const char *path, int depth, l720_err *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return l720_err_set(err, L720_EINPUT, "%s: %s", path, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return S_ISREG(st.st_mode) ? read_text_file(b, path, err) : 0;
    if (depth > 32)
        return l720_err_set(err, L720_EINPUT, "%s: directories nested too deeply", path);
    DIR *d = opendir(path);
    if (!d)
        return l720_err_set(err, L720_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    char **names = NULL;
    size_t n = 0;
    int rc = 0;
    struct dirent *e;
    while (!rc && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char **nn = realloc(names, (n + 1) * sizeof *names);
        size_t len = strlen(path) + strlen(e->d_name) + 2;
        if (!nn || !(nn[n] = malloc(len))) {
            names = nn ? nn : names;
            rc = l720_err_set(err, L720_EFAIL, "out of memory");
            break;
        }
        names = nn;
        snprintf(names[n++], len, "%s/%s", path, e->d_name);
    }
    closedir(d);
    if (!rc)
        qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; !rc && i < n; i++) {
        struct stat ls;
        /* symbolic links inside a directory are skipped (they often repeat a file) */
        if (lstat(names[i], &ls) == 0 && !S_ISLNK(ls.st_mode))
            rc = read_input(b, names[i], depth + 1, err);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

/* Writes stream[0..n) as PREFIX_KIND_%06d.bin shards. */
static int write_shards(const char *outdir, const char *prefix, const char *kind,
                        const uint8_t *stream, size_t n, size_t shard_tokens, int *n_shards,
                        l720_err *err)
{
    uint16_t *tok = malloc((n < shard_tokens ? n : shard_tokens) * sizeof *tok + 2);
    if (!tok)
        return l720_err_set(err, L720_EFAIL, "out of memory");
    int rc = 0, s = 0;
    for (size_t off = 0; !rc && off < n; off += shard_tokens, s++) {
        size_t m = n - off < shard_tokens ? n - off : shard_tokens;
        for (size_t i = 0; i < m; i++)
            tok[i] = stream[off + i]; /* the byte-level tokenizer */
        char path[4096];
        snprintf(path, sizeof path, "%s/%s_%s_%06d.bin", outdir, prefix, kind, s);
        rc = l720_shard_write(path, tok, m, err);
    }
    free(tok);
    *n_shards = s;
    return rc;
}

static int check_outdir(const char *outdir, l720_err *err)
{
    int rc = l720_mkdir_p(outdir, err);
    if (rc)
        return rc;
    DIR *d = opendir(outdir);
    if (!d)
        return l720_err_set(err, L720_EINPUT, "%s: cannot open: %s", outdir, strerror(errno));
    struct dirent *e;
    while ((e = readdir(d)))
        if (ends_with(e->d_name, ".bin") &&
            (strstr(e->d_name, "train") || strstr(e->d_name, "val"))) {
            rc = l720_err_set(err, L720_EINPUT, "%s: already holds shards (%s); remove them or "
                              "choose another --out", outdir, e->d_name);
            break;
        }
    closedir(d);
    return rc;
}

static double entropy(const uint8_t *s, size_t n)
{
    double count[256] = {0}, h = 0;
    for (size_t i = 0; i < n; i++)
        count[s[i]] += 1;
    for (int v = 0; v < 256; v++)
        if (count[v] > 0)
            h -= count[v] / (double)n * log(count[v] / (double)n);
    return h;
}

static int write_meta(const char *outdir, const char *const *inputs, int n_inputs,
                      const l720_prepare_cfg *cfg, const l720_prepare_out *out, l720_err *err)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "tokenizer", "bytes");
    cJSON_AddNumberToObject(m, "vocab", L720_VOCAB_BYTES);
    cJSON_AddNumberToObject(m, "train_tokens", (double)out->train_tokens);
    cJSON_AddNumberToObject(m, "val_tokens", (double)out->val_tokens);
    cJSON_AddNumberToObject(m, "val_fraction", cfg->val_fraction);
    cJSON_AddNumberToObject(m, "split_block", (double)cfg->block);
    cJSON_AddNumberToObject(m, "unigram_entropy_nats", out->unigram_entropy);
    cJSON_AddNumberToObject(m, "files", out->files);
    cJSON_AddNumberToObject(m, "skipped_binary_files", out->skipped);
    cJSON *src = cJSON_AddArrayToObject(m, "sources");
    for (int i = 0; i < n_inputs; i++)
        cJSON_AddItemToArray(src, cJSON_CreateString(inputs[i]));
    char path[4096];
    snprintf(path, sizeof path, "%s/meta.json", outdir);
    int rc = l720_json_write(path, m, err);
    cJSON_Delete(m);
    return rc;
}

int l720_prepare_data(const char *const *inputs, int n_inputs, const char *outdir,
                      const l720_prepare_cfg *cfg, l720_prepare_out *out, l720_err *err)
{
    memset(out, 0, sizeof *out);
    if (!(cfg->val_fraction > 0 && cfg->val_fraction < 1))
        return l720_err_set(err, L720_EINPUT, "--val-fraction: expected a number in (0, 1), "
                            "got %g", cfg->val_fraction);
    if (cfg->block < 1 || cfg->shard_tokens < 1 || cfg->shard_tokens > INT32_MAX)
        return l720_err_set(err, L720_EINPUT, "--block and --shard-tokens must be positive "
                            "(shard tokens at most 2^31 - 1)");
    if (n_inputs < 1)
        return l720_err_set(err, L720_EINPUT, "no input files (give text files or directories)");
    text_buf b = {0};
    int rc = 0;
    for (int i = 0; !rc && i < n_inputs; i++)
        rc = read_input(&b, inputs[i], 0, err);
    size_t nblocks = (b.n + cfg->block - 1) / cfg->block;
    if (!rc && floor((double)nblocks * cfg->val_fraction) < 1)
        rc = l720_err_set(err, L720_EINPUT, "%zu bytes of text make %zu split blocks of %zu bytes: "
                          "no validation block at --val-fraction %g (more text, or a smaller "
                          "--block)", b.n, nblocks, cfg->block, cfg->val_fraction);
    if (!rc)
        rc = check_outdir(outdir, err);
    uint8_t *split = rc ? NULL : malloc(b.n);
    if (!rc && !split)
        rc = l720_err_set(err, L720_EFAIL, "out of memory");
    if (!rc) { /* train blocks to the front of split, val blocks to the back */
        size_t nt = 0, nv = 0;
        double f = cfg->val_fraction;
        for (size_t i = 0; i < nblocks; i++) {
            size_t off = i * cfg->block, len = b.n - off < cfg->block ? b.n - off : cfg->block;
            if (floor((double)(i + 1) * f) > floor((double)i * f))
                nv += len;
            else
                memcpy(split + nt, b.p + off, len), nt += len;
        }
        nv = 0;
        for (size_t i = 0; i < nblocks; i++) {
            size_t off = i * cfg->block, len = b.n - off < cfg->block ? b.n - off : cfg->block;
            if (floor((double)(i + 1) * f) > floor((double)i * f))
                memcpy(split + nt + nv, b.p + off, len), nv += len;
        }
        out->train_tokens = nt;
        out->val_tokens = nv;
        out->files = b.files;
        out->skipped = b.skipped;
        out->unigram_entropy = entropy(split, nt);
        const char *prefix = cfg->prefix ? cfg->prefix : "bytes";
        rc = write_shards(outdir, prefix, "train", split, nt, cfg->shard_tokens,
                          &out->train_shards, err);
        if (!rc)
            rc = write_shards(outdir, prefix, "val", split + nt, nv, cfg->shard_tokens,
                              &out->val_shards, err);
        if (!rc)
            rc = write_meta(outdir, inputs, n_inputs, cfg, out, err);
    }
    free(split);
    free(b.p);
    return rc;
}
