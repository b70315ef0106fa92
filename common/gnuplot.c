/* gnuplot.c: see gnuplot.h. */
#include "gnuplot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fileio.h"

static const char *gnuplot_cmd(void)
{
    const char *g = getenv("LLM720_GNUPLOT");
    return g && *g ? g : "gnuplot";
}

int l720_gnuplot_available(void)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "command -v '%s' >/dev/null 2>&1", gnuplot_cmd());
    return system(cmd) == 0;
}

/* Runs gnuplot on script text; its stderr goes to errfile. Returns the exit status. */
static int run_gnuplot(const char *script, const char *errfile)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' 2>'%s' >/dev/null", gnuplot_cmd(), errfile);
    FILE *p = popen(cmd, "w");
    if (!p)
        return -1;
    fputs(script, p);
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int l720_gnuplot_render(const char *body, const char *base, int width, int height,
                        l720_err *err)
{
    if (!l720_gnuplot_available())
        return l720_err_set(err, L720_EINPUT,
                            "gnuplot not found: install it (Debian: apt-get install gnuplot-nox) "
                            "or set LLM720_GNUPLOT");
    static const char *ext[2] = {"png", "svg"};
    static const char *term[2] = {"pngcairo noenhanced font 'sans,10'",
                                  "svg noenhanced font 'sans,10' dynamic"};
    char tmp[2][4096], final[2][4096];
    int made = 0, rc = 0;
    char errfile[] = "/tmp/l720_gnuplot_XXXXXX";
    int efd = mkstemp(errfile);
    if (efd < 0)
        return l720_err_set(err, L720_EFAIL, "cannot create a temporary file");
    close(efd);
    for (int k = 0; k < 2 && !rc; k++) {
        snprintf(final[k], sizeof final[k], "%s.%s", base, ext[k]);
        snprintf(tmp[k], sizeof tmp[k], "%s.tmp.%ld.%s", base, (long)getpid(), ext[k]);
        size_t n = strlen(body) + 8192;
        char *script = malloc(n);
        if (!script) {
            rc = l720_err_set(err, L720_EFAIL, "out of memory");
            break;
        }
        char esc[4096];
        /* single quotes in the path would end gnuplot's string */
        size_t j = 0;
        for (const char *s = tmp[k]; *s && j + 2 < sizeof esc; s++) {
            if (*s == '\'')
                esc[j++] = '\'';
            esc[j++] = *s;
        }
        esc[j] = '\0';
        snprintf(script, n, "set terminal %s size %d,%d\nset output '%s'\n%s\nunset output\n",
                 term[k], width, height, esc, body);
        int st = run_gnuplot(script, errfile);
        free(script);
        made = k + 1;
        if (st != 0) {
            size_t len = 0;
            char *msg = l720_read_file(errfile, &len, NULL);
            /* keep gnuplot's last non-blank line */
            char *last = msg;
            if (msg) {
                for (char *q = msg; *q; q++)
                    if (*q == '\n' && q[1] && q[1] != '\n')
                        last = q + 1;
            }
            rc = l720_err_set(err, L720_EFAIL, "%s: gnuplot failed: %.300s", final[k],
                              last && *last ? last : "no message");
            free(msg);
        }
    }
    unlink(errfile);
    if (rc) {
        for (int k = 0; k < made; k++)
            unlink(tmp[k]);
        return rc;
    }
    for (int k = 0; k < 2; k++)
        if (rename(tmp[k], final[k]) != 0) {
            for (int m = k; m < 2; m++)
                unlink(tmp[m]);
            return l720_err_set(err, L720_EFAIL, "%s: cannot rename the plot", final[k]);
        }
    return 0;
}
