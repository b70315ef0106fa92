-- granularity.lua: fixed total expert parameters, from a few large experts
-- to PEER's single-neuron experts.
--   llm720 run granularity [--smoke | --device cuda] [--out DIR] [--hardware NAME]
-- Quality: trains Switch MoE layers of E experts (hidden sized so that E
-- experts hold the same parameters) and a PEER layer of N = P / (2 d)
-- single-neuron experts, recording their routing traces.
-- Speed: llm720.sim at a model's scale over a ladder from 8 experts to 10^6
-- single-neuron experts, with every expert in GPU memory and with experts
-- streamed from host memory into a cache.
-- Sim <-> trainer: the recorded traces replayed through the simulator's cache,
-- against the uniform and Zipf routing assumptions at the same cache size.
local sweep = require("lib.sweep")
local report = require("lib.report")
local trace = require("lib.trace")

local o = sweep.args("granularity.lua", arg, {
  hardware = {kind = "string", default = "h100-sxm", help = "hardware profile for the speed part"},
  seed = {kind = "integer", min = 0, default = 1},
})
local size = sweep.size(o, {
  smoke = {d_model = 16, layers = 1, peer_n = 64, peer_heads = 2, peer_topk = 4,
           moe_experts = {4, 16}, steps = 20, batch = 4, seq_len = 32,
           sim = {d_model = 2048, layers = 4, batch = 16, steps = 20, ladder = {8, 64, 1e4, 1e6}},
           replay = {steps = 20, batch = 8, fractions = {0.25}}},
  default = {d_model = 32, layers = 1, peer_n = 100, peer_heads = 4, peer_topk = 8,
             moe_experts = {4, 16, 64}, steps = 300, batch = 8, seq_len = 64,
             sim = {d_model = 2048, layers = 4, batch = 64, steps = 200,
                    ladder = {8, 64, 512, 1e4, 1e5, 1e6}},
             replay = {steps = 200, batch = 16, fractions = {0.1, 0.25, 0.5}}},
  -- the GPU layers take d_model in multiples of 256 (PEER) and hidden sizes in
  -- multiples of 16 (MoE)
  cuda = {d_model = 256, layers = 2, peer_n = 512, peer_heads = 8, peer_topk = 16,
          moe_experts = {4, 16, 64, 256}, steps = 4000, batch = 32, seq_len = 256,
          sim = {d_model = 4096, layers = 8, batch = 256, steps = 500,
                 ladder = {8, 64, 512, 4096, 1e4, 1e5, 1e6}},
          replay = {steps = 500, batch = 64, fractions = {0.05, 0.1, 0.25, 0.5}}},
})
local sw = sweep.open("granularity", o, {size = size, hardware = o.hardware, seed = o.seed,
                                         device = o.device})
local data = sw:data()

-- ---- quality: training at fixed total expert parameters per layer
local d = size.d_model
local n_peer = size.peer_n * size.peer_n
local P = 2 * d * n_peer -- expert parameters per layer
local bytes_per_param = 4 -- the trainer keeps fp32 parameters
local runs = {}
local function train(name, ffn, extra, expert_params, heads, topk, experts)
  local opts = {data = data, steps = size.steps, d_model = d, layers = size.layers, ffn = ffn,
                batch = size.batch, seq_len = size.seq_len, seed = o.seed}
  for k, v in pairs(extra) do opts[k] = v end
  opts.trace = sw.dir .. "/runs/" .. name .. "/routing.trace"
  local r = sw:train(name, opts)
  local row = report.row(r, {ffn = ffn, experts = experts, expert_bytes = expert_params * bytes_per_param,
                             heads = heads, topk = topk, trace = opts.trace})
  runs[#runs + 1] = row
end
for _, E in ipairs(size.moe_experts) do
  local hidden = math.floor(P / (3 * d * E) + 0.5)
  if o.device == "cuda" then hidden = 16 * math.max(1, math.floor(hidden / 16 + 0.5)) end
  train(string.format("moe%d", E), "moe:" .. E, {ffn_hidden = hidden}, 3 * d * hidden, 1, 1, E)
end
train(string.format("peer%d", n_peer), string.format("peer:%d:%d:%d", n_peer, size.peer_heads,
      size.peer_topk), {}, 2 * d, size.peer_heads, size.peer_topk, n_peer)

-- ---- speed: the simulator at a model's scale
local sim = size.sim
local neuron_bytes = 2 * sim.d_model * 2 -- one PEER expert in bf16 (u and v)
local S_layer = 1e6 * neuron_bytes -- fixed expert bytes per layer: 10^6 single neurons
local total = S_layer * sim.layers
local speed = {}
for _, N in ipairs(sim.ladder) do
  N = math.tointeger(N) or math.floor(N)
  local peer = N >= 1e4
  local heads, topk = peer and 8 or 1, peer and 16 or (N >= 512 and 8 or (N >= 64 and 2 or 1))
  local base = {hardware = o.hardware, layers = sim.layers, experts = N,
                expert_bytes = math.floor(S_layer / N), heads = heads, topk = topk,
                batch = sim.batch, steps = sim.steps, warmup_steps = sim.steps, seed = o.seed,
                policy = "lru"}
  local row = {experts = N, expert_bytes = base.expert_bytes, heads = heads, topk = topk,
               kind = peer and "PEER" or "MoE"}
  for _, case in ipairs({{"resident", total, "uniform"}, {"stream_uniform", 0.25 * total, "uniform"},
                         {"stream_zipf", 0.25 * total, "zipf:1.0"}}) do
    local name = string.format("sim-%s-N%d", case[1], N)
    local r = sw:run(name, function()
      local t = {}
      for k, v in pairs(base) do t[k] = v end
      t.cache_bytes, t.routing = math.floor(case[2]), case[3]
      return {sim = llm720.sim(t)}
    end)
    row[case[1]] = r.sim.tokens_per_second
    row[case[1] .. "_hit"] = r.sim.hit_rate
  end
  speed[#speed + 1] = row
end

-- ---- sim <-> trainer: replay the training traces
local replay, traces = {}, {}
for _, r in ipairs(runs) do
  if llm720.exists(r.trace) then
    local st = trace.stats(r.trace)
    st.run = r.run
    traces[#traces + 1] = st
    local routings = {{"trace", "trace:" .. r.trace}, {"uniform", "uniform"}, {"zipf1", "zipf:1.0"}}
    if st.zipf_s and st.zipf_s > 0 then
      routings[#routings + 1] = {"zipf_fit", string.format("zipf:%.3f", st.zipf_s)}
    end
    for _, f in ipairs(size.replay.fractions) do
      local row = {run = r.run, experts = r.experts, cache_fraction = f}
      for _, routing in ipairs(routings) do
        local name = string.format("replay-%s-%s-%g", r.run, routing[1], f)
        local res = sw:run(name, function()
          return {sim = llm720.sim{hardware = o.hardware, layers = st.layers or size.layers,
            experts = r.experts, expert_bytes = r.expert_bytes, heads = r.heads, topk = r.topk,
            batch = size.replay.batch, steps = size.replay.steps, warmup_steps = size.replay.steps,
            cache_bytes = math.floor(f * r.experts * r.expert_bytes * (st.layers or size.layers)),
            routing = routing[2], policy = "lru", seed = o.seed}}
        end)
        row[routing[1]] = res.sim.hit_rate
      end
      replay[#replay + 1] = row
    end
  else
    replay[#replay + 1] = {run = r.run, experts = r.experts, note = "no trace written"}
  end
end

-- ---- report
local body = {}
body[#body + 1] = string.format("## Quality at fixed expert parameters (%d per layer, d_model %d)\n\n",
  P, d)
body[#body + 1] = sweep.md_table(runs, {"run", "ffn", "experts", "n_act", "n_total", "tokens",
  "val_loss", "seconds"}) .. "\n"
local qx, qy = {}, {}
for _, r in ipairs(runs) do qx[#qx + 1], qy[#qy + 1] = r.experts, r.val_loss end
body[#body + 1] = sw:plot("quality", {title = "Validation loss vs expert count at fixed expert parameters",
  xlabel = "experts", ylabel = "validation loss (nats/byte)", logx = true,
  series = {{name = "trained", x = qx, y = qy}}}) .. "\n"

body[#body + 1] = string.format("## Speed on %s (llm720 sim)\n\n%d layers of %.3g GB of experts " ..
  "(10^6 single neurons of d_model %d in bf16); resident: every expert in GPU memory; " ..
  "stream: experts in host memory, a cache of a quarter of them in GPU memory (LRU); the cache " ..
  "warms up for as many steps as are measured. The simulator's roofline counts the experts' bytes " ..
  "and FLOPs only, not attention or other dense weights: resident figures bound the expert part " ..
  "of a step, not a whole model's speed.\n\n",
  o.hardware, sim.layers, S_layer / 1e9, sim.d_model)
body[#body + 1] = sweep.md_table(speed, {"kind", "experts", "expert_bytes", "heads", "topk",
  {"resident", "tokens/s resident"}, {"stream_uniform", "tokens/s stream (uniform)"},
  {"stream_uniform_hit", "hit (uniform)"}, {"stream_zipf", "tokens/s stream (Zipf 1)"},
  {"stream_zipf_hit", "hit (Zipf 1)"}}) .. "\n"
local sx, s1, s2, s3 = {}, {}, {}, {}
for _, r in ipairs(speed) do
  sx[#sx + 1], s1[#s1 + 1], s2[#s2 + 1], s3[#s3 + 1] = r.experts, r.resident, r.stream_uniform, r.stream_zipf
end
body[#body + 1] = sw:plot("speed", {title = "Simulated tokens/s vs expert count", xlabel = "experts",
  ylabel = "tokens/s", logx = true, logy = true, series = {{name = "resident", x = sx, y = s1},
  {name = "stream, uniform", x = sx, y = s2}, {name = "stream, Zipf 1", x = sx, y = s3}}}) .. "\n"

body[#body + 1] = "## Routing traces of the trained models replayed through the cache\n\n" ..
  "What the trained routers did (expert counts pooled over layers): the fraction of experts ever " ..
  "chosen, the Zipf exponent of their popularity, and how often a token's first choice repeats the " ..
  "previous token's (1/N for uniform routing).\n\n"
body[#body + 1] = sweep.md_table(traces, {"run", "experts", "layers", "per_token", "tokens",
  {"used", "experts used"}, {"zipf_s", "Zipf exponent"}, {"reuse", "first-choice reuse"},
  {"reuse_random", "reuse if uniform"}}) .. "\n"
body[#body + 1] = "LRU hit rate with the cache holding the given fraction of the experts: the recorded " ..
  "routing replayed, against the uniform assumption (hit rate = cache fraction), Zipf with exponent 1, " ..
  "and Zipf with the trace's own exponent (what popularity alone explains; the rest is the " ..
  "trace's order).\n\n"
body[#body + 1] = sweep.md_table(replay, {"run", "experts", "cache_fraction",
  {"trace", "hit (trace)"}, {"uniform", "hit (uniform)"}, {"zipf1", "hit (Zipf 1)"},
  {"zipf_fit", "hit (Zipf, fitted s)"}, "note"}) .. "\n"
sw:write_report("Granularity: from a few large experts to single-neuron experts", table.concat(body))
