/* stream_traces.c: writes the expert-streaming benchmark's routing traces
 * (the same files bench_stream writes on the GPU machine) without a GPU.
 *
 *   bench_stream_traces DIR
 */
#include <stdio.h>
#include <stdlib.h>

#include "kernels/stream_sched.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    stream_sched *sched = calloc((size_t)stream_n_configs, sizeof *sched);
    char why[4200];
    int rc = sched ? stream_configs_prepare(argv[1], sched, stdout, why, sizeof why) : 1;
    if (rc)
        fprintf(stderr, "%s\n", sched ? why : "out of memory");
    for (int i = 0; sched && i < stream_n_configs; i++)
        stream_sched_free(&sched[i]);
    free(sched);
    if (!rc)
        printf("stream_traces %d\n", stream_n_configs);
    return rc;
}
