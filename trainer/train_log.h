/* train_log.h: the run log (JSON Lines) and the routing trace.
 *
 * Run log, RUNDIR/log.jsonl: line 1 is {"type":"header","config":{...},
 * "n_act","n_total","experts","expert_size",...,"device","device_name"}; then
 * one {"type":"eval",...} line per evaluation (each names its device too).
 * Every line is appended and flushed as it is written, so a killed run keeps
 * its log. On --resume the log is cut back to the
 * checkpoint's step first (evaluations after it are dropped, as the resumed
 * run repeats them).
 *
 * Routing trace (--trace FILE), read by llm720 sim:
 *   # llm720 routing trace v1
 *   # layers L experts N per_token K
 *   t l e1 e2 ... eK
 * one line per (token t, routed layer l); l counts only the MoE/PEER layers,
 * in order. All routed layers of a traced model have the same N and K.
 */
#ifndef L720_TRAIN_LOG_H
#define L720_TRAIN_LOG_H

#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "err.h"

typedef struct l720_runlog l720_runlog;

/* Opens path for a new run (truncating it), or, when resume_step >= 0, keeps
 * its header and the evaluations at steps <= resume_step and appends. */
l720_runlog *l720_runlog_open(const char *path, long resume_step, l720_err *err);
/* Appends one object as one line and flushes. */
int l720_runlog_write(l720_runlog *log, const cJSON *obj, l720_err *err);
/* 1 when the log already has its header line. */
int l720_runlog_has_header(const l720_runlog *log);
void l720_runlog_close(l720_runlog *log);

typedef struct l720_trace l720_trace;

/* Starts a trace (written atomically at commit). */
l720_trace *l720_trace_open(const char *path, int layers, int experts, int per_token,
                            l720_err *err);
/* Adds the routing of n tokens: ids[l] is routed layer l's [n * per_token];
 * t0 is the trace index of the first token. Lines go token by token, and
 * within a token layer by layer. */
int l720_trace_add(l720_trace *tr, long t0, long n, const int32_t *const *ids, l720_err *err);
int l720_trace_commit(l720_trace *tr, l720_err *err);
void l720_trace_abort(l720_trace *tr);

#endif
