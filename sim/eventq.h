/* eventq.h: the discrete-event queue: a binary min-heap on (time, seq).
 *
 * seq is the order of insertion, so events at the same time come out in the
 * order they were scheduled: runs are deterministic. */
#ifndef L720_EVENTQ_H
#define L720_EVENTQ_H

#include <stddef.h>
#include <stdint.h>

typedef struct l720_event {
    double time;
    uint64_t seq;
    int kind;
    long arg;
} l720_event;

typedef struct l720_eventq {
    l720_event *heap; /* [cap] owned */
    size_t n, cap;
    uint64_t seq;     /* next sequence number */
} l720_eventq;

void l720_eventq_init(l720_eventq *q);
void l720_eventq_free(l720_eventq *q);
/* Returns 0, or -1 when out of memory. */
int l720_eventq_push(l720_eventq *q, double time, int kind, long arg);
/* Removes the earliest event into *e; 0 when the queue was empty. */
int l720_eventq_pop(l720_eventq *q, l720_event *e);

#endif
