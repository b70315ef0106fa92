/* fileio.c: see fileio.h. */
#include "fileio.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *l720_read_file(const char *path, size_t *len, l720_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        l720_err_set(err, L720_EINPUT, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    if (!buf) {
        fclose(f);
        l720_err_set(err, L720_EFAIL, "%s: out of memory", path);
        return NULL;
    }
    for (;;) {
        if (n + 1 >= cap) {
            cap *= 2;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                l720_err_set(err, L720_EFAIL, "%s: out of memory", path);
                return NULL;
            }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        int e = errno;
        free(buf);
        fclose(f);
        l720_err_set(err, L720_EINPUT, "%s: cannot read: %s", path, strerror(e));
        return NULL;
    }
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

l720_atomic *l720_atomic_open(const char *path, l720_err *err)
{
    l720_atomic *w = calloc(1, sizeof *w);
    size_t n = strlen(path);
    if (!w || !(w->path = strdup(path)) || !(w->tmp = malloc(n + 16))) {
        if (w) {
            free(w->path);
            free(w);
        }
        l720_err_set(err, L720_EFAIL, "%s: out of memory", path);
        return NULL;
    }
    snprintf(w->tmp, n + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(w->tmp);
    if (fd < 0) {
        l720_err_set(err, L720_EINPUT, "%s: cannot create: %s", path, strerror(errno));
        free(w->tmp);
        free(w->path);
        free(w);
        return NULL;
    }
    /* mkstemp makes 0600 files; outputs are ordinary files */
    mode_t um = umask(0);
    umask(um);
    fchmod(fd, 0666 & ~um);
    w->fp = fdopen(fd, "wb");
    if (!w->fp) {
        close(fd);
        unlink(w->tmp);
        l720_err_set(err, L720_EFAIL, "%s: cannot open stream: %s", path, strerror(errno));
        free(w->tmp);
        free(w->path);
        free(w);
        return NULL;
    }
    return w;
}

static void atomic_free(l720_atomic *w)
{
    free(w->tmp);
    free(w->path);
    free(w);
}

int l720_atomic_commit(l720_atomic *w, l720_err *err)
{
    int rc = 0;
    if (ferror(w->fp) || fflush(w->fp) != 0 || fsync(fileno(w->fp)) != 0) {
        rc = l720_err_set(err, L720_EFAIL, "%s: write failed: %s", w->path,
                          errno ? strerror(errno) : "stream error");
        fclose(w->fp);
    } else if (fclose(w->fp) != 0) {
        rc = l720_err_set(err, L720_EFAIL, "%s: close failed: %s", w->path, strerror(errno));
    } else if (rename(w->tmp, w->path) != 0) {
        rc = l720_err_set(err, L720_EFAIL, "%s: rename failed: %s", w->path, strerror(errno));
    }
    if (rc)
        unlink(w->tmp);
    atomic_free(w);
    return rc;
}

void l720_atomic_abort(l720_atomic *w)
{
    if (!w)
        return;
    fclose(w->fp);
    unlink(w->tmp);
    atomic_free(w);
}

int l720_write_file_atomic(const char *path, const void *buf, size_t len, l720_err *err)
{
    l720_atomic *w = l720_atomic_open(path, err);
    if (!w)
        return err ? err->code : L720_EFAIL;
    if (len && fwrite(buf, 1, len, w->fp) != len) {
        int e = errno;
        l720_atomic_abort(w);
        return l720_err_set(err, L720_EFAIL, "%s: write failed: %s", path, strerror(e));
    }
    return l720_atomic_commit(w, err);
}

int l720_mkdir_p(const char *path, l720_err *err)
{
    char *p = strdup(path);
    if (!p)
        return l720_err_set(err, L720_EFAIL, "out of memory");
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, 0777) != 0 && errno != EEXIST) {
                int e = errno;
                l720_err_set(err, L720_EINPUT, "%s: cannot create directory: %s", p, strerror(e));
                free(p);
                return L720_EINPUT;
            }
            *s = c;
            if (!c)
                break;
        }
    }
    free(p);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return l720_err_set(err, L720_EINPUT, "%s: not a directory", path);
    return 0;
}

int l720_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}
