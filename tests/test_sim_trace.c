/* test_sim_trace.c: the routing-trace format: round trip, strict errors
 * naming FILE:LINE, and replay through the simulator. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"
#include "sim/trace.h"
#include "tap.h"

static const char good[] = "# llm720 routing trace v1\n"
                           "# layers 2 experts 4 per_token 2\n"
                           "0 0 1 2\n"
                           "0 1 3 0\n"
                           "# a comment\n"
                           "1 0 2 2\n"
                           "1 1 0 1\n";

/* Parses text; passes when it fails with a message holding want. */
static void bad(const char *text, const char *want, const char *what)
{
    l720_err err = {0};
    l720_route_trace *t = l720_route_trace_parse(text, strlen(text), "T", &err);
    ok(!t && err.code == L720_EINPUT && strstr(err.msg, want), "%s: '%s'", what, err.msg);
    l720_route_trace_free(t);
}

int main(void)
{
    l720_err err = {0};
    l720_route_trace *t = l720_route_trace_parse(good, strlen(good), "good", &err);
    ok(t != NULL, "a good trace parses (%s)", err.msg);
    if (!t)
        return tap_done();
    ok(t->layers == 2 && t->experts == 4 && t->per_token == 2 && t->tokens == 2, "shape read");
    const uint32_t want[] = {1, 2, 3, 0, 2, 2, 0, 1};
    ok(!memcmp(t->ids, want, sizeof want), "ids read in (token, layer, slot) order");

    /* CRLF and no final newline */
    const char crlf[] = "# llm720 routing trace v1\r\n# layers 1 experts 3 per_token 1\r\n"
                        "0 0 2\r\n1 0 1";
    l720_route_trace *t2 = l720_route_trace_parse(crlf, strlen(crlf), "crlf", &err);
    ok(t2 && t2->tokens == 2 && t2->ids[1] == 1, "CRLF lines, no final newline");
    l720_route_trace_free(t2);

    bad("# llm720 routing trace v2\n", "T:1:", "wrong magic names line 1");
    bad("# llm720 routing trace v1\n# layers 0 experts 4 per_token 2\n", "T:2:", "zero layers");
    bad("# llm720 routing trace v1\n# layers 1 experts 4\n", "T:2:", "incomplete shape line");
    bad("# llm720 routing trace v1\n# layers 1 experts 4 per_token 1\n0 0 1\n2 0 1\n",
        "T:4: expected token 1 layer 0", "a skipped token");
    bad("# llm720 routing trace v1\n# layers 2 experts 4 per_token 1\n0 1 1\n",
        "T:3: expected token 0 layer 0", "layers out of order");
    bad("# llm720 routing trace v1\n# layers 1 experts 4 per_token 2\n0 0 1 4\n",
        "T:3: expert id 4 out of range", "an id out of range");
    bad("# llm720 routing trace v1\n# layers 1 experts 4 per_token 2\n0 0 1\n",
        "T:3: expected 2 expert ids", "too few ids");
    bad("# llm720 routing trace v1\n# layers 1 experts 4 per_token 2\n0 0 1 2 3\n",
        "T:3: more than 2", "too many ids");
    bad("# llm720 routing trace v1\n# layers 1 experts 4 per_token 2\n0 0 1 x\n",
        "T:3:", "a non-number");
    bad("# llm720 routing trace v1\n# layers 1 experts 4 per_token 1\n0 0 1\n\n1 0 1\n",
        "T:4:", "a blank line");
    bad("# llm720 routing trace v1\n# layers 2 experts 4 per_token 1\n0 0 1\n",
        "token 0 ends after layer 0", "an incomplete last token");
    bad("# llm720 routing trace v1\n# layers 2 experts 4 per_token 1\n", "no tokens",
        "no tokens at all");
    bad("# llm720 routing trace v1\n# layers 1 experts 4 per_token 1\n0 0 -1\n", "T:3:",
        "a negative id");

    /* round trip through a file */
    char path[] = "/tmp/test_sim_trace_XXXXXX";
    int fd = mkstemp(path);
    ok(fd >= 0, "temporary file");
    ok(!l720_route_trace_write(path, 2, 4, 2, 2, t->ids, &err), "write");
    l720_route_trace *t3 = l720_route_trace_read(path, &err);
    ok(t3 && t3->tokens == 2 && !memcmp(t3->ids, t->ids, sizeof want), "read back the same");
    l720_route_trace_free(t3);
    l720_route_trace *t4 = l720_route_trace_read("/nonexistent/trace.txt", &err);
    ok(!t4 && strstr(err.msg, "/nonexistent/trace.txt"), "a missing file is named");

    /* replay: 2 tokens per step, cache of 1 expert per layer, LRU.
     * layer 0 sees 1 2 | 2 2; layer 1 sees 3 0 | 0 1 */
    l720_sim_config cfg;
    l720_sim_config_default(&cfg);
    ok(!l720_hardware_load("h100-sxm", &cfg.hw, &err), "hardware");
    cfg.routing = L720_ROUTE_TRACE;
    cfg.trace = t;
    cfg.layers = 2;
    cfg.experts = 4;
    cfg.heads = 1;
    cfg.topk = 2;
    cfg.batch = 2;
    cfg.steps = 1;
    cfg.expert_bytes = 100;
    cfg.cache_bytes = 200; /* 1 expert per layer */
    l720_sim_result *r = l720_sim_run(&cfg, &err);
    ok(r != NULL, "trace replay runs (%s)", err.msg);
    if (r) {
        /* token order: layer 0: 1m 2m 2h 2h; layer 1: 3m 0m 0h 1m */
        ok(r->accesses == 8 && r->hits == 3, "replayed hits: %g of %g", r->hits, r->accesses);
        ok(r->token_misses == 3, "tokens with a miss: %g (of 4 token-layers)", r->token_misses);
        ok(r->transfers == 5 && r->bytes_streamed == 500, "5 transfers of 100 bytes");
    }
    l720_sim_result_free(r);
    cfg.access = L720_ACCESS_GROUPED;
    r = l720_sim_run(&cfg, &err);
    if (r) {
        /* grouped: layer 0 fetches {1, 2}, layer 1 {3, 0, 1}; a 1-expert cache keeps none */
        ok(r->hits == 0 && r->token_misses == 4 && r->transfers == 5,
           "grouped replay: %g hits, %g tokens with a miss, %g transfers", r->hits,
           r->token_misses, r->transfers);
    }
    l720_sim_result_free(r);
    cfg.access = L720_ACCESS_TOKEN;
    cfg.experts = 5;
    r = l720_sim_run(&cfg, &err);
    ok(!r && err.code == L720_EINPUT && strstr(err.msg, "good"), "a trace that does not match "
       "the run is an error naming it: %s", err.msg);
    l720_route_trace_free(t);
    remove(path);
    return tap_done();
}
