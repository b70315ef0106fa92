/* progress.h: a progress line on stderr, drawn only when stderr is a terminal
 * (and LLM720_NO_PROGRESS is unset), at most ten times a second. Piped output
 * stays quiet. */
#ifndef L720_PROGRESS_H
#define L720_PROGRESS_H

#include <stddef.h>

typedef struct l720_progress l720_progress;

/* total: the amount of work (e.g. starts, steps); label: a short name. */
l720_progress *l720_progress_new(const char *label, double total);
/* done: work finished so far; note: optional text shown after the bar. */
void l720_progress_update(l720_progress *p, double done, const char *note);
/* From inside a parallel loop: counts one finished item in *done (shared by
 * the threads, updated atomically) and redraws from the first thread only. */
void l720_progress_tick(l720_progress *p, size_t *done);
/* Clears the line and frees p. NULL allowed. */
void l720_progress_free(l720_progress *p);
/* 1 when a progress line would be drawn. */
int l720_progress_enabled(void);

#endif
