-- hardware_plan.lua HARDWARE: the best MoE for a hardware profile, with every
-- weight in GPU memory and with experts streamed from host memory into a GPU
-- cache, each with its simulated tokens/s.
--   llm720 run hardware_plan HARDWARE [--smoke | --device cuda] [--out DIR]
--                            [--flops F] [--bytes-per-param B]
-- HARDWARE names a profile in data/hardware (h100-sxm, h200, ...).
local sweep = require("lib.sweep")
local deploy = require("lib.deploy")

local o = sweep.args("hardware_plan.lua", arg, {
  positional = {{name = "HARDWARE", key = "hardware"}},
  flops = {kind = "number", min = 1e15, max = 1e28, default = 1e22, help = "training FLOPs"},
  bytes_per_param = {kind = "number", min = 0.5, max = 8, default = 2},
  seed = {kind = "integer", min = 0, default = 1},
})
local hw = deploy.hardware("hardware_plan.lua", o.hardware)
local size = sweep.size(o, {
  smoke = {batch = 8, steps = 20},
  default = {batch = 64, steps = 400},
  cuda = {batch = 256, steps = 2000},
})
local sw = sweep.open("hardware_plan", o, {size = size, hardware = o.hardware, flops = o.flops,
  bytes_per_param = o.bytes_per_param, seed = o.seed})

-- the two plans: weights within GPU memory; experts within host memory
local function plan(name, opts)
  return sw:run(name, function()
    local t = {"budget", flops = o.flops, bytes_per_param = o.bytes_per_param}
    for k, v in pairs(opts) do t[k] = v end
    return {plan = llm720.plan(t)}
  end).plan.total_memory
end
-- resident: weights and KV cache within GPU memory; stream: within host memory
local resident = plan("plan-resident", {hardware = o.hardware})
local streamed = plan("plan-stream", {memory_bytes = hw.host_memory_bytes})

local rows = {}
for _, c in ipairs({{"resident", resident}, {"stream", streamed}}) do
  local p = c[2]
  local l = deploy.layout(p, o.bytes_per_param)
  local cache = c[1] ~= "resident" and deploy.cache_budget(hw, l) or nil
  local variants = {{"MoE", l}, {"PEER", deploy.peer_layout(l, o.bytes_per_param, 8, 16)}}
  for _, v in ipairs(variants) do
    local lay = v[2]
    local r = sw:run(string.format("sim-%s-%s", c[1], v[1]), function()
      return {sim = deploy.simulate(o.hardware, lay, cache, size, o.seed)}
    end).sim
    rows[#rows + 1] = {
      plan = c[1], ffn = v[1], experts = lay.experts, d_model = lay.d_model, layers = lay.layers,
      active_params = p.active_params, total_params = p.total_params, tokens = p.tokens,
      loss = p.loss, expert_GB = lay.expert_total / 1e9, cache_GB = math.min(cache or lay.expert_total, lay.expert_total) / 1e9,
      hit_rate = r.hit_rate, tokens_per_second = r.tokens_per_second,
    }
  end
end

local body = {}
body[#body + 1] = string.format("Hardware `%s`: %.0f GB GPU memory, %.0f GB host memory, host link " ..
  "%.0f GB/s. Training budget %g FLOPs, %g bytes per parameter, published joint MoE law.\n\n",
  o.hardware, hw.memory_bytes / 1e9, hw.host_memory_bytes / 1e9, hw.host_link.bandwidth / 1e9,
  o.flops, o.bytes_per_param)
body[#body + 1] = "- resident: every weight and the KV cache in GPU memory (`llm720 plan budget " ..
  "--hardware`, total-memory optimum).\n" ..
  "- stream: the same plan with host memory as the limit (`--memory-bytes`); experts held in host " ..
  "memory, cached in the GPU memory left by the other weights " ..
  "(LRU, Zipf-1 routing in the simulator).\n" ..
  "- PEER rows: the same expert bytes as single-neuron experts (8 heads, top-16).\n\n"
body[#body + 1] = sweep.md_table(rows, {"plan", "ffn", "experts", "d_model", "layers",
  "active_params", "total_params", "tokens", "loss", "expert_GB", "cache_GB", "hit_rate",
  {"tokens_per_second", "tokens/s"}}) .. "\n"
body[#body + 1] = sw:plot_cmd("plan_memory", "Published law: best loss vs memory budget",
  {"plan", "memory", flops = o.flops}) .. "\n"
sw:write_report("Hardware plan for " .. o.hardware, table.concat(body))
llm720.print_table(rows, {"plan", "ffn", "experts", "active_params", "total_params", "loss",
  "hit_rate", "tokens_per_second"})
