/* trace.h: routing traces (format in sim/TRACE.md).
 *
 *   # llm720 routing trace v1
 *   # layers L experts N per_token K
 *   t l e1 e2 ... eK
 *
 * one line per (token t, routed layer l), tokens 0, 1, 2, ... in order and
 * layers 0..L-1 within each token; K expert ids in [0, N). Later lines that
 * start with '#' are comments. The parser is strict: every error names
 * FILE:LINE and what was expected.
 */
#ifndef L720_ROUTE_TRACE_H
#define L720_ROUTE_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef struct l720_route_trace {
    char *name;      /* owned: file name used in messages */
    long layers;     /* L */
    long experts;    /* N */
    long per_token;  /* K ids per token and layer */
    long tokens;     /* complete tokens read */
    uint32_t *ids;   /* [tokens, layers, per_token] owned */
} l720_route_trace;

l720_route_trace *l720_route_trace_read(const char *path, l720_err *err);
/* Parses text[0..len); name is used in messages. */
l720_route_trace *l720_route_trace_parse(const char *text, size_t len, const char *name,
                                         l720_err *err);
void l720_route_trace_free(l720_route_trace *t);

/* Writes a trace atomically: ids is [tokens, layers, per_token]. */
int l720_route_trace_write(const char *path, long layers, long experts, long per_token, long tokens,
                     const uint32_t *ids, l720_err *err);

#endif
