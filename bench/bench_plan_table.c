/* bench_plan_table.c: the full plan table sweep (budgets 1e18 .. 1e25 x the
 * memory of rtx4090, h100-sxm, 8xh100, a 16k-token KV cache, bf16) over every
 * expert count E = 1 .. 1024, as `llm720 plan table --experts 1-1024` does it:
 * law file and profiles read, grid computed. Prints plan_table_seconds (the
 * best of several repetitions) on its last line. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "fit/plan_law.h"
#include "fit/plan_opt.h"
#include "fit/plan_table.h"
#include "hardware.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* One sweep; returns 0 and fills the grid. */
static int sweep(l720_plan_point *grid, l720_err *err)
{
    static const char *names[] = {"rtx4090", "h100-sxm", "8xh100"};
    l720_plan_law law;
    double *ex, *flops, mem[3];
    size_t ne, nf;
    int rc = l720_plan_law_load(NULL, &law, err);
    if (rc || (rc = l720_plan_parse_experts("1-1024", &ex, &ne, err)))
        return rc;
    if ((rc = l720_plan_parse_numbers("1e18:1e25", "budgets", &flops, &nf, err))) {
        free(ex);
        return rc;
    }
    for (int j = 0; j < 3 && !rc; j++) {
        l720_hardware hw;
        rc = l720_hardware_load(names[j], &hw, err);
        mem[j] = hw.memory_bytes;
    }
    l720_plan_budget b = l720_plan_budget_default(1);
    b.kv_tokens = 16384;
    if (!rc)
        rc = l720_plan_table(&law, flops, nf, mem, 3, ex, ne, &b, grid, err);
    free(ex);
    free(flops);
    return rc;
}

int main(void)
{
    l720_plan_point grid[8 * 3];
    l720_err err;
    l720_err_clear(&err);
    double best = 1e30;
    for (int rep = 0; rep < 20; rep++) {
        double t0 = now();
        if (sweep(grid, &err)) {
            fprintf(stderr, "bench_plan_table: %s\n", err.msg);
            return 1;
        }
        double t = now() - t0;
        if (t < best)
            best = t;
    }
    printf("grid of 8 budgets x 3 machines, E = 1..1024 (%d optima each)\n", 1024);
    for (int i = 0; i < 8; i++)
        printf("1e%d: E %g / %g / %g\n", 18 + i, grid[i * 3].experts, grid[i * 3 + 1].experts,
               grid[i * 3 + 2].experts);
    printf("plan_table_seconds %.6f\n", best);
    return 0;
}
