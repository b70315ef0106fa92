/* trace.c: see trace.h. */
#include "trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"

static const char magic[] = "# llm720 routing trace v1";

/* One line of text without its end ("\n" or "\r\n"). */
typedef struct line {
    const char *s;
    size_t n;
} line;

static int next_line(const char **p, const char *end, line *ln)
{
    if (*p >= end)
        return 0;
    const char *e = memchr(*p, '\n', (size_t)(end - *p));
    const char *stop = e ? e : end;
    ln->s = *p;
    ln->n = (size_t)(stop - *p);
    if (ln->n && ln->s[ln->n - 1] == '\r')
        ln->n--;
    *p = e ? e + 1 : end;
    return 1;
}

/* Reads an unsigned decimal at *i (after blanks); -1 when there is none or it
 * exceeds max. */
static int read_uint(const line *ln, size_t *i, unsigned long long max, unsigned long long *out)
{
    while (*i < ln->n && (ln->s[*i] == ' ' || ln->s[*i] == '\t'))
        (*i)++;
    if (*i >= ln->n || ln->s[*i] < '0' || ln->s[*i] > '9')
        return -1;
    unsigned long long v = 0;
    while (*i < ln->n && ln->s[*i] >= '0' && ln->s[*i] <= '9') {
        v = v * 10 + (unsigned long long)(ln->s[*i] - '0');
        if (v > max)
            return -1;
        (*i)++;
    }
    if (*i < ln->n && ln->s[*i] != ' ' && ln->s[*i] != '\t')
        return -1;
    *out = v;
    return 0;
}

static int rest_blank(const line *ln, size_t i)
{
    for (; i < ln->n; i++)
        if (ln->s[i] != ' ' && ln->s[i] != '\t')
            return 0;
    return 1;
}

/* "# layers L experts N per_token K" */
static int parse_shape(const line *ln, l720_route_trace *t)
{
    static const char *const keys[] = {"layers", "experts", "per_token"};
    long *dst[] = {&t->layers, &t->experts, &t->per_token};
    size_t i = 0;
    if (ln->n < 1 || ln->s[0] != '#')
        return -1;
    i = 1;
    for (int k = 0; k < 3; k++) {
        while (i < ln->n && ln->s[i] == ' ')
            i++;
        size_t kl = strlen(keys[k]);
        if (i + kl > ln->n || memcmp(ln->s + i, keys[k], kl) ||
            (i + kl < ln->n && ln->s[i + kl] != ' '))
            return -1;
        i += kl;
        unsigned long long v;
        if (read_uint(ln, &i, 0xFFFFFFFFull, &v) || v == 0)
            return -1;
        *dst[k] = (long)v;
    }
    return rest_blank(ln, i) ? 0 : -1;
}

static int grow(l720_route_trace *t, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 4096;
    while (nc < need)
        nc *= 2;
    uint32_t *ids = realloc(t->ids, nc * sizeof *ids);
    if (!ids)
        return -1;
    t->ids = ids;
    *cap = nc;
    return 0;
}

l720_route_trace *l720_route_trace_parse(const char *text, size_t len, const char *name,
                                         l720_err *err)
{
    l720_route_trace *t = calloc(1, sizeof *t);
    if (!t || !(t->name = strdup(name))) {
        free(t);
        l720_err_set(err, L720_EFAIL, "%s: out of memory", name);
        return NULL;
    }
    const char *p = text, *end = text + len;
    line ln;
    long lineno = 0;
    size_t cap = 0, nids = 0;
    long tok = 0, layer = 0;
    if (!next_line(&p, end, &ln) || ln.n != sizeof magic - 1 || memcmp(ln.s, magic, ln.n)) {
        l720_err_at(err, L720_EINPUT, name, 1, NULL, "expected the header '%s'", magic);
        goto fail;
    }
    lineno = 1;
    if (!next_line(&p, end, &ln) || parse_shape(&ln, t)) {
        l720_err_at(err, L720_EINPUT, name, 2, NULL,
                    "expected '# layers L experts N per_token K' with positive whole numbers");
        goto fail;
    }
    lineno = 2;
    while (next_line(&p, end, &ln)) {
        lineno++;
        if (ln.n && ln.s[0] == '#')
            continue;
        if (ln.n == 0 && p >= end)
            break; /* the final newline */
        size_t i = 0;
        unsigned long long tv, lv;
        if (read_uint(&ln, &i, 0x7FFFFFFFFFFFull, &tv) || read_uint(&ln, &i, 0xFFFFFFFFull, &lv)) {
            l720_err_at(err, L720_EINPUT, name, lineno, NULL,
                        "expected 't l e1 ... e%ld' (whole numbers separated by blanks)",
                        t->per_token);
            goto fail;
        }
        if ((long)tv != tok || (long)lv != layer) {
            l720_err_at(err, L720_EINPUT, name, lineno, NULL,
                        "expected token %ld layer %ld here, got token %llu layer %llu", tok,
                        layer, tv, lv);
            goto fail;
        }
        if (grow(t, &cap, nids + (size_t)t->per_token)) {
            l720_err_set(err, L720_EFAIL, "%s: out of memory", name);
            goto fail;
        }
        for (long k = 0; k < t->per_token; k++) {
            unsigned long long e;
            if (read_uint(&ln, &i, 0xFFFFFFFFull, &e)) {
                l720_err_at(err, L720_EINPUT, name, lineno, NULL,
                            "expected %ld expert ids after 't l', found %ld", t->per_token, k);
                goto fail;
            }
            if ((long long)e >= t->experts) {
                l720_err_at(err, L720_EINPUT, name, lineno, NULL,
                            "expert id %llu out of range [0, %ld)", e, t->experts);
                goto fail;
            }
            t->ids[nids++] = (uint32_t)e;
        }
        if (!rest_blank(&ln, i)) {
            l720_err_at(err, L720_EINPUT, name, lineno, NULL,
                        "more than %ld expert ids after 't l'", t->per_token);
            goto fail;
        }
        if (++layer == t->layers) {
            layer = 0;
            tok++;
        }
    }
    if (layer != 0) {
        l720_err_at(err, L720_EINPUT, name, lineno, NULL,
                    "token %ld ends after layer %ld of %ld", tok, layer - 1, t->layers);
        goto fail;
    }
    if (tok == 0) {
        l720_err_at(err, L720_EINPUT, name, lineno, NULL, "no tokens in the trace");
        goto fail;
    }
    t->tokens = tok;
    return t;
fail:
    l720_route_trace_free(t);
    return NULL;
}

l720_route_trace *l720_route_trace_read(const char *path, l720_err *err)
{
    size_t len;
    char *text = l720_read_file(path, &len, err);
    if (!text)
        return NULL;
    l720_route_trace *t = l720_route_trace_parse(text, len, path, err);
    free(text);
    return t;
}

void l720_route_trace_free(l720_route_trace *t)
{
    if (!t)
        return;
    free(t->name);
    free(t->ids);
    free(t);
}

int l720_route_trace_write(const char *path, long layers, long experts, long per_token, long tokens,
                     const uint32_t *ids, l720_err *err)
{
    l720_atomic *w = l720_atomic_open(path, err);
    if (!w)
        return err->code;
    fprintf(w->fp, "%s\n# layers %ld experts %ld per_token %ld\n", magic, layers, experts,
            per_token);
    for (long t = 0; t < tokens; t++)
        for (long l = 0; l < layers; l++) {
            fprintf(w->fp, "%ld %ld", t, l);
            const uint32_t *e = ids + ((size_t)t * (size_t)layers + (size_t)l) * (size_t)per_token;
            for (long k = 0; k < per_token; k++)
                fprintf(w->fp, " %u", e[k]);
            fputc('\n', w->fp);
        }
    return l720_atomic_commit(w, err);
}
