/* ckpt.c: see ckpt.h. */
#include "ckpt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "json_io.h"

static const char magic[8] = {'L', '7', '2', '0', 'C', 'K', 'P', 'T'};

uint32_t l720_crc32(uint32_t crc, const void *buf, size_t len)
{
    static uint32_t table[256];
    static int ready;
    if (!ready) { /* idempotent: racing initialisers write the same values */
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
        ready = 1;
    }
    const unsigned char *p = buf;
    crc = ~crc;
    for (size_t i = 0; i < len; i++)
        crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static cJSON *header_json(const cJSON *config, const l720_ckpt_meta *m, const l720_ckpt_arrays *a)
{
    cJSON *h = cJSON_CreateObject();
    cJSON_AddItemToObject(h, "config", cJSON_Duplicate(config, 1));
    cJSON_AddNumberToObject(h, "step", (double)m->step);
    cJSON_AddNumberToObject(h, "tokens", m->tokens);
    cJSON *d = cJSON_AddObjectToObject(h, "data");
    cJSON_AddNumberToObject(d, "epoch", (double)m->data.epoch);
    cJSON_AddNumberToObject(d, "shard", (double)m->data.shard);
    cJSON_AddNumberToObject(d, "window", (double)m->data.window);
    cJSON_AddNumberToObject(h, "adam_t", (double)m->adam_t);
    cJSON_AddNumberToObject(h, "loss_sum", m->loss_sum);
    cJSON_AddNumberToObject(h, "loss_count", (double)m->loss_count);
    cJSON_AddNumberToObject(h, "train_seconds", m->train_seconds);
    cJSON_AddNumberToObject(h, "wall_seconds", m->wall_seconds);
    cJSON_AddNumberToObject(h, "n_params", (double)a->n);
    cJSON_AddNumberToObject(h, "n_buffers", (double)a->nb);
    return h;
}

/* Writes buf and folds it into the CRC. */
static int put(FILE *fp, uint32_t *crc, const void *buf, size_t len)
{
    *crc = l720_crc32(*crc, buf, len);
    return len && fwrite(buf, 1, len, fp) != len ? -1 : 0;
}

int l720_ckpt_save(const char *path, const cJSON *config, const l720_ckpt_meta *meta,
                   const l720_ckpt_arrays *a, l720_err *err)
{
    cJSON *h = header_json(config, meta, a);
    char *text = cJSON_PrintUnformatted(h);
    cJSON_Delete(h);
    if (!text)
        return l720_err_set(err, L720_EFAIL, "out of memory");
    uint32_t hl = (uint32_t)strlen(text), version = L720_CKPT_VERSION, crc = 0;
    uint32_t padded = (hl + 3) & ~3u;
    l720_atomic *w = l720_atomic_open(path, err);
    if (!w) {
        free(text);
        return err->code;
    }
    int bad = put(w->fp, &crc, magic, 8) || put(w->fp, &crc, &version, 4) ||
              put(w->fp, &crc, &padded, 4) || put(w->fp, &crc, text, hl) ||
              put(w->fp, &crc, "   ", padded - hl) ||
              put(w->fp, &crc, a->params, a->n * sizeof(float)) ||
              put(w->fp, &crc, a->m, a->n * sizeof(float)) ||
              put(w->fp, &crc, a->v, a->n * sizeof(float)) ||
              put(w->fp, &crc, a->buffers, a->nb * sizeof(float));
    free(text);
    if (bad || fwrite(&crc, 4, 1, w->fp) != 1) {
        l720_atomic_abort(w);
        return l720_err_set(err, L720_EFAIL, "%s: write failed", path);
    }
    return l720_atomic_commit(w, err);
}

static int get_size(const cJSON *h, const char *key, const char *path, double *out, l720_err *err)
{
    int rc = l720_json_number(h, key, path, out, err);
    if (!rc && !(*out >= 0 && *out == floor(*out)))
        rc = l720_err_at(err, L720_EINPUT, path, 0, key, "expected a whole number >= 0");
    return rc;
}

static int parse_header(l720_ckpt *c, const char *path, const char *text, size_t len,
                        l720_err *err)
{
    cJSON *h = l720_json_parse(text, len, path, err);
    if (!h)
        return err->code;
    double v[12] = {0};
    const char *keys[] = {"step", "tokens", "adam_t", "loss_sum", "loss_count",
                          "train_seconds", "wall_seconds", "n_params", "n_buffers"};
    int rc = 0;
    for (int i = 0; !rc && i < 9; i++)
        rc = i == 3 || i == 5 || i == 6 ? l720_json_number(h, keys[i], path, &v[i], err)
                                        : get_size(h, keys[i], path, &v[i], err);
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(h, "data");
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(h, "config");
    if (!rc && (!cJSON_IsObject(d) || !cJSON_IsObject(cfg)))
        rc = l720_err_at(err, L720_EINPUT, path, 0, "data", "checkpoint header lacks data or config");
    if (!rc)
        rc = get_size(d, "epoch", path, &v[9], err);
    if (!rc)
        rc = get_size(d, "shard", path, &v[10], err);
    if (!rc)
        rc = get_size(d, "window", path, &v[11], err);
    if (!rc) {
        c->meta.step = (long)v[0];
        c->meta.tokens = v[1];
        c->meta.adam_t = (uint64_t)v[2];
        c->meta.loss_sum = v[3];
        c->meta.loss_count = (long)v[4];
        c->meta.train_seconds = v[5];
        c->meta.wall_seconds = v[6];
        c->a.n = (size_t)v[7];
        c->a.nb = (size_t)v[8];
        c->meta.data.epoch = (uint64_t)v[9];
        c->meta.data.shard = (uint64_t)v[10];
        c->meta.data.window = (uint64_t)v[11];
        c->config = cJSON_Duplicate(cfg, 1);
    }
    cJSON_Delete(h);
    return rc;
}

l720_ckpt *l720_ckpt_read(const char *path, l720_err *err)
{
    size_t len;
    char *data = l720_read_file(path, &len, err);
    if (!data)
        return NULL;
    l720_ckpt *c = calloc(1, sizeof *c);
    uint32_t version, hl, crc;
    int rc = 0;
    if (!c)
        rc = l720_err_set(err, L720_EFAIL, "out of memory");
    else if (len < 20 || memcmp(data, magic, 8) != 0)
        rc = l720_err_set(err, L720_EINPUT, "%s: not an llm720 checkpoint", path);
    if (!rc) {
        memcpy(&version, data + 8, 4);
        memcpy(&hl, data + 12, 4);
        memcpy(&crc, data + len - 4, 4);
        if (version != L720_CKPT_VERSION)
            rc = l720_err_set(err, L720_EINPUT, "%s: checkpoint version %u, this build reads %d",
                              path, version, L720_CKPT_VERSION);
        else if ((size_t)hl > len - 20 || hl % 4)
            rc = l720_err_set(err, L720_EINPUT, "%s: truncated checkpoint", path);
        else if (l720_crc32(0, data, len - 4) != crc)
            rc = l720_err_set(err, L720_EINPUT, "%s: checkpoint CRC mismatch (corrupt file)",
                              path);
    }
    if (!rc)
        rc = parse_header(c, path, data + 16, hl, err);
    if (!rc) {
        size_t need = 16 + (size_t)hl + (3 * c->a.n + c->a.nb) * sizeof(float) + 4;
        if (need != len)
            rc = l720_err_set(err, L720_EINPUT, "%s: size %zu bytes does not match its header "
                              "(%zu expected)", path, len, need);
    }
    if (rc) {
        free(data);
        l720_ckpt_free(c);
        return NULL;
    }
    const float *f = (const float *)(data + 16 + hl);
    c->data = (unsigned char *)data;
    c->a.params = f;
    c->a.m = f + c->a.n;
    c->a.v = f + 2 * c->a.n;
    c->a.buffers = f + 3 * c->a.n;
    return c;
}

void l720_ckpt_free(l720_ckpt *c)
{
    if (!c)
        return;
    cJSON_Delete(c->config);
    free(c->data);
    free(c);
}
