-- demo.lua: the README's main job, in four steps.
--   llm720 run demo [--smoke | --device cuda] [--out DIR] [--hardware NAME]
-- 1. plan: the best MoE for an H100 under the published joint MoE law;
-- 2. sim: its tokens/s with every expert in GPU memory and with experts
--    streamed from host memory, and the same for a PEER variant;
-- 3. train: a tiny MoE on fortunes for about a minute (seconds with --smoke);
-- 4. print the results and plot the loss curve (demo-*/loss.png).
local sweep = require("lib.sweep")
local deploy = require("lib.deploy")

local o = sweep.args("demo.lua", arg, {
  hardware = {kind = "string", default = "h100-sxm"},
  flops = {kind = "number", min = 1e15, max = 1e28, default = 1e22},
})
local hw = deploy.hardware("demo.lua", o.hardware)
local size = sweep.size(o, {
  smoke = {sim = {batch = 8, steps = 20}, train = {steps = 20, d_model = 32, layers = 1,
           ffn = "moe:4", batch = 4, seq_len = 32}},
  default = {sim = {batch = 16, steps = 50}, train = {steps = 1200, d_model = 64, layers = 2,
             ffn = "moe:4", batch = 8, seq_len = 64, eval_tokens = 2048}},
  cuda = {sim = {batch = 256, steps = 1000}, train = {steps = 2000, d_model = 256, layers = 4,
          ffn = "moe:8", batch = 32, seq_len = 256}},
})
local sw = sweep.open("demo", o, {size = size, hardware = o.hardware, flops = o.flops})
local bpp = 2

print(string.format("\n1. plan: %s, %g training FLOPs, published joint MoE law", o.hardware, o.flops))
local p = sw:run("plan", function()
  return {plan = llm720.plan{"budget", flops = o.flops, hardware = o.hardware, bytes_per_param = bpp}}
end).plan.total_memory
llm720.print_table({p}, {"experts", "d_model", "active_params", "total_params", "tokens", "loss",
                         "memory_bytes"})

print("\n2. sim: tokens/s with experts resident in GPU memory and streamed from host memory")
local moe = deploy.layout(p, bpp)
local peer = deploy.peer_layout(moe, bpp, 8, 16)
local rows = {}
for _, v in ipairs({{"MoE", moe}, {"PEER", peer}}) do
  local l = v[2]
  for _, c in ipairs({{"resident", nil}, {"stream 25%", 0.25 * l.expert_total}}) do
    local r = sw:run(string.format("sim-%s-%s", v[1], c[1]:gsub("[^%w]", "")), function()
      return {sim = deploy.simulate(o.hardware, l, c[2], size.sim, 1)}
    end).sim
    rows[#rows + 1] = {ffn = v[1], experts = l.experts, expert_bytes = l.expert_bytes,
                       placement = c[1], hit_rate = r.hit_rate, stall_seconds = r.stall_seconds,
                       tokens_per_second = r.tokens_per_second}
  end
end
llm720.print_table(rows, {"ffn", "experts", "expert_bytes", "placement", "hit_rate",
                          "stall_seconds", "tokens_per_second"})

print(string.format("\n3. train: %s, d_model %d, %d layers, %d steps on %s",
                    size.train.ffn, size.train.d_model, size.train.layers, size.train.steps, o.device))
local data = sw:data()
local t = {data = data}
for k, v in pairs(size.train) do t[k] = v end
local tr = sw:train("train", t)
local run = llm720.read_runs(sw.dir .. "/runs/train")[1]
local curve, xs, ys = {}, {}, {}
for _, e in ipairs(run.evals) do
  curve[#curve + 1] = {step = e.step, tokens = e.tokens, train_loss = e.train_loss, val_loss = e.val_loss}
  xs[#xs + 1], ys[#ys + 1] = e.tokens or e.step, e.val_loss
end

print("\n4. results")
llm720.print_table(curve, {"step", "tokens", "train_loss", "val_loss"})
local plot = sw:plot("loss", {title = "Validation loss of the demo run", xlabel = "tokens",
                              ylabel = "validation loss (nats/byte)", series = {{name = size.train.ffn, x = xs, y = ys}}})
print(string.format("final validation loss %.4f nats/byte in %.1f s", tr.last.val_loss, tr.seconds))

sw:write_report("Demo: plan, simulate, train",
  "## Plan\n\n" .. sweep.md_table({p}, {"experts", "d_model", "active_params", "total_params",
    "tokens", "loss", "memory_bytes"}) ..
  "\n## Simulated inference\n\n" .. "The plan's MoE and the same expert bytes as single-neuron PEER " ..
    "experts (8 heads, top-16), Zipf-1 routing, LRU cache. The simulator's roofline counts the " ..
    "experts' bytes and all FLOPs, not the reads of the dense weights.\n\n" .. sweep.md_table(rows, {"ffn", "experts", "expert_bytes",
    "placement", "hit_rate", "stall_seconds", "tokens_per_second"}) ..
  "\n## Training\n\n" .. sweep.md_table(curve, {"step", "tokens", "train_loss", "val_loss"}) ..
  "\n" .. plot)
