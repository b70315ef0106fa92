/* test_fileio.c: atomic writes never leave a partial output file. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "tap.h"

static int entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

int main(void)
{
    l720_err err;
    char dir[] = "/tmp/l720_fileio_XXXXXX";
    ok(mkdtemp(dir) != NULL, "temporary folder");
    char path[256];
    snprintf(path, sizeof path, "%s/out.txt", dir);

    ok(l720_write_file_atomic(path, "hello\n", 6, &err) == 0, "atomic write");
    size_t n;
    char *s = l720_read_file(path, &n, &err);
    ok(s && n == 6 && !strcmp(s, "hello\n"), "read back");
    free(s);
    ok(entries(dir) == 1, "no temporary file left after commit");

    /* a writer that fails half way: the old content stays, no temp file */
    l720_atomic *w = l720_atomic_open(path, &err);
    ok(w != NULL, "open a second writer");
    fputs("partial", w->fp);
    l720_atomic_abort(w);
    s = l720_read_file(path, &n, &err);
    ok(s && !strcmp(s, "hello\n"), "abort keeps the old file intact");
    free(s);
    ok(entries(dir) == 1, "abort removes the temporary file");

    /* a new file whose writer fails: no output at all */
    char path2[256];
    snprintf(path2, sizeof path2, "%s/never.txt", dir);
    w = l720_atomic_open(path2, &err);
    fputs("partial", w->fp);
    l720_atomic_abort(w);
    ok(!l720_exists(path2) && entries(dir) == 1, "failed writer leaves no partial file");

    /* commit fails when the stream is in error: no output, error returned */
    w = l720_atomic_open(path2, &err);
    fputs("x", w->fp);
    fflush(w->fp);
    int fd = fileno(w->fp);
    close(fd); /* force the next flush to fail */
    fputs("more data that cannot be flushed", w->fp);
    int rc = l720_atomic_commit(w, &err);
    ok(rc != 0 && !l720_exists(path2), "commit on a broken stream fails: %s", err.msg);
    ok(entries(dir) == 1, "and removes its temporary file");

    /* a folder that does not exist */
    ok(l720_write_file_atomic("/nonexistent/dir/x", "a", 1, &err) == 2 &&
           strstr(err.msg, "/nonexistent/dir/x"),
       "unwritable path named: %s", err.msg);

    char deep[300];
    snprintf(deep, sizeof deep, "%s/a/b/c", dir);
    ok(l720_mkdir_p(deep, &err) == 0 && l720_exists(deep), "mkdir -p");
    ok(l720_mkdir_p(deep, &err) == 0, "mkdir -p on an existing folder");
    ok(l720_mkdir_p(path, &err) != 0, "mkdir -p on a file fails: %s", err.msg);

    ok(l720_read_file("/nonexistent", &n, &err) == NULL && err.code == 2, "unreadable file");

    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ok(system(cmd) == 0, "clean up");
    return tap_done();
}
