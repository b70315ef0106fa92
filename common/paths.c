/* paths.c: see paths.h. */
#include "paths.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef L720_DATADIR
#define L720_DATADIR "/usr/local/share/llm720"
#endif
#ifndef L720_SRCDIR
#define L720_SRCDIR "."
#endif
#ifndef L720_BUILDDIR
#define L720_BUILDDIR "."
#endif

char *l720_path_join(char *buf, size_t n, const char *dir, const char *rel)
{
    int k = snprintf(buf, n, "%s/%s", dir, rel);
    return k < 0 || (size_t)k >= n ? NULL : buf;
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The folder holding the running executable, or "" when unknown. */
static const char *exe_dir(void)
{
    static char dir[PATH_MAX];
    if (dir[0])
        return dir;
    ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
    if (n <= 0) {
        dir[0] = '\0';
        return dir;
    }
    dir[n] = '\0';
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    return dir;
}

/* Resolves one of the toolkit folders ("data" or "scripts"). */
static const char *resolve(char *buf, size_t n, const char *sub, const char *env)
{
    const char *e = env ? getenv(env) : NULL;
    if (e && *e) {
        snprintf(buf, n, "%s", e);
        return buf;
    }
    char cand[PATH_MAX];
    /* uninstalled: the binary sits in the build tree; its source tree has sub/ */
    const char *ed = exe_dir();
    if (ed[0] && l720_path_join(cand, sizeof cand, ed, sub) && is_dir(cand)) {
        snprintf(buf, n, "%s", cand);
        return buf;
    }
    if (ed[0] && !strncmp(ed, L720_BUILDDIR, strlen(L720_BUILDDIR)) && l720_path_join(cand, sizeof cand, L720_SRCDIR, sub) &&
        is_dir(cand)) {
        snprintf(buf, n, "%s", cand);
        return buf;
    }
    l720_path_join(buf, n, L720_DATADIR, sub);
    return buf;
}

const char *l720_data_dir(void)
{
    static char buf[PATH_MAX];
    if (!buf[0])
        resolve(buf, sizeof buf, "data", "LLM720_DATA");
    return buf;
}

const char *l720_scripts_dir(void)
{
    static char buf[PATH_MAX];
    if (!buf[0])
        resolve(buf, sizeof buf, "scripts", "LLM720_SCRIPTS");
    return buf;
}
