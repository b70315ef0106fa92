/* train_fixture.h: the scratch folder and the small byte-level dataset
 * (prepared from the README) of the training-driver tests
 * (tests/test_train_accum.c, tests/test_train_cuda.c). */
#ifndef L720_TRAIN_FIXTURE_H
#define L720_TRAIN_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>

#include "tap.h"
#include "trainer/data_prepare.h"

/* Makes the folder tmp (a mkdtemp template, changed in place) and prepares
 * the dataset into data = tmp/data ([n] bytes); one TAP point. 0 on success. */
static int train_fixture_open(char *tmp, char *data, size_t n)
{
    l720_err err = {0};
    if (!mkdtemp(tmp)) {
        ok(0, "make the scratch folder %s", tmp);
        return 1;
    }
    snprintf(data, n, "%s/data", tmp);
    const char *in[] = {L720_SRCDIR "/README.md"};
    l720_prepare_cfg pc = {0.1, 256, 100000000, "bytes"};
    l720_prepare_out po;
    int rc = l720_prepare_data(in, 1, data, &pc, &po, &err);
    ok(rc == 0, "prepare data (%s)", err.msg);
    return rc != 0;
}

/* Removes the folder and all it holds. */
static void train_fixture_close(const char *tmp)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        tap_diag("could not remove %s", tmp);
}

#endif
