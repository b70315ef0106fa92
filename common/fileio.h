/* fileio.h: whole-file reads and atomic writes (temporary file + rename).
 *
 * An atomic writer creates "PATH.tmp.XXXXXX" beside PATH, so the rename stays
 * on one file system. Until commit, PATH is untouched; abort (or any failure
 * in commit) removes the temporary file, so a failed writer never leaves a
 * partial output behind.
 */
#ifndef L720_FILEIO_H
#define L720_FILEIO_H

#include <stdio.h>

#include "err.h"

/* Reads a whole file into a NUL-terminated buffer (owned by the caller).
 * *len receives the byte count (without the NUL). */
char *l720_read_file(const char *path, size_t *len, l720_err *err);

typedef struct l720_atomic {
    FILE *fp;   /* write through this */
    char *path; /* owned: final path */
    char *tmp;  /* owned: temporary path */
} l720_atomic;

/* Opens a temporary file beside path. NULL and err on failure. */
l720_atomic *l720_atomic_open(const char *path, l720_err *err);

/* Flushes, syncs, closes and renames onto the final path; frees w.
 * On any failure the temporary file is removed and err filled. */
int l720_atomic_commit(l720_atomic *w, l720_err *err);

/* Closes and removes the temporary file; frees w. NULL is allowed. */
void l720_atomic_abort(l720_atomic *w);

/* Writes buf[0..len) to path atomically. */
int l720_write_file_atomic(const char *path, const void *buf, size_t len, l720_err *err);

/* Creates a directory and its parents (like mkdir -p). */
int l720_mkdir_p(const char *path, l720_err *err);

/* 1 when path exists (any type), 0 otherwise. */
int l720_exists(const char *path);

#endif
