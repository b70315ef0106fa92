/* gnuplot.h: plots through gnuplot, written atomically as PNG and SVG.
 *
 * The caller writes a gnuplot script body (data inline as $NAME << EOD
 * blocks, then plot commands) without any 'set terminal' or 'set output';
 * l720_gnuplot_render runs it twice, once per format, into temporary files
 * and renames them to BASE.png and BASE.svg only when gnuplot succeeded.
 */
#ifndef L720_GNUPLOT_H
#define L720_GNUPLOT_H

#include "err.h"

/* 1 when a gnuplot executable is on PATH (or $LLM720_GNUPLOT is set). */
int l720_gnuplot_available(void);

/* Renders body to base.png and base.svg (width x height pixels).
 * Returns 0, or an error naming what failed; no partial file is left. */
int l720_gnuplot_render(const char *body, const char *base, int width, int height,
                        l720_err *err);

#endif
