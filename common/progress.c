/* progress.c: see progress.h. */
#include "progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef _OPENMP
#include <omp.h>
#endif

struct l720_progress {
    char label[64];
    double total;
    double last_draw; /* monotonic seconds of the last draw */
    double start;
    int drawn;
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int l720_progress_enabled(void)
{
    return isatty(STDERR_FILENO) && !getenv("LLM720_NO_PROGRESS");
}

l720_progress *l720_progress_new(const char *label, double total)
{
    if (!l720_progress_enabled())
        return NULL; /* every call below accepts NULL */
    l720_progress *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    snprintf(p->label, sizeof p->label, "%s", label ? label : "");
    p->total = total > 0 ? total : 1;
    p->start = now();
    p->last_draw = -1;
    return p;
}

void l720_progress_update(l720_progress *p, double done, const char *note)
{
    if (!p)
        return;
    double t = now();
    if (p->last_draw >= 0 && t - p->last_draw < 0.1 && done < p->total)
        return;
    p->last_draw = t;
    double f = done / p->total;
    if (f < 0)
        f = 0;
    if (f > 1)
        f = 1;
    enum { W = 30 };
    char bar[W + 1];
    int fill = (int)(f * W);
    for (int i = 0; i < W; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[W] = '\0';
    double el = t - p->start;
    double eta = f > 0 ? el * (1 - f) / f : 0;
    fprintf(stderr, "\r%s [%s] %5.1f%% %6.1fs eta %6.1fs %s\033[K", p->label, bar, 100 * f, el,
            eta, note ? note : "");
    fflush(stderr);
    p->drawn = 1;
}

void l720_progress_tick(l720_progress *p, size_t *done)
{
    size_t seen;
#ifdef _OPENMP
#pragma omp atomic capture
    seen = ++*done;
    if (omp_get_thread_num() != 0)
        return;
#else
    seen = ++*done;
#endif
    l720_progress_update(p, (double)seen, NULL);
}

void l720_progress_free(l720_progress *p)
{
    if (!p)
        return;
    if (p->drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
    free(p);
}
