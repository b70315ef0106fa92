/* eventq.c: see eventq.h. */
#include "eventq.h"

#include <stdlib.h>

static int before(const l720_event *a, const l720_event *b)
{
    return a->time < b->time || (a->time == b->time && a->seq < b->seq);
}

void l720_eventq_init(l720_eventq *q)
{
    q->heap = NULL;
    q->n = q->cap = 0;
    q->seq = 0;
}

void l720_eventq_free(l720_eventq *q)
{
    free(q->heap);
    l720_eventq_init(q);
}

int l720_eventq_push(l720_eventq *q, double time, int kind, long arg)
{
    if (q->n == q->cap) {
        size_t nc = q->cap ? 2 * q->cap : 64;
        l720_event *h = realloc(q->heap, nc * sizeof *h);
        if (!h)
            return -1;
        q->heap = h;
        q->cap = nc;
    }
    l720_event e = {time, q->seq++, kind, arg};
    size_t i = q->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(&e, &q->heap[p]))
            break;
        q->heap[i] = q->heap[p];
        i = p;
    }
    q->heap[i] = e;
    return 0;
}

int l720_eventq_pop(l720_eventq *q, l720_event *e)
{
    if (q->n == 0)
        return 0;
    *e = q->heap[0];
    l720_event last = q->heap[--q->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = l;
        if (l >= q->n)
            break;
        if (r < q->n && before(&q->heap[r], &q->heap[l]))
            m = r;
        if (!before(&q->heap[m], &last))
            break;
        q->heap[i] = q->heap[m];
        i = m;
    }
    if (q->n)
        q->heap[i] = last;
    return 1;
}
