-- constant_active.lua: fixed active parameters; vary the total expert count
-- (capacity). Top-1 Switch MoE keeps N_act fixed while N_total grows with E.
--   llm720 run constant_active [--smoke | --device cuda] [--out DIR] [--steps N]
-- Each width trains once per E for the same number of steps; the report
-- compares the measured loss gain of E experts over dense with the gain the
-- published joint MoE law predicts, and fits the routed (Clark) law.
local sweep = require("lib.sweep")
local law = require("lib.law")
local report = require("lib.report")

local o = sweep.args("constant_active.lua", arg, {
  steps = {kind = "integer", min = 10, max = 10000000, help = "training steps of every run"},
  seed = {kind = "integer", min = 0, default = 1},
})
local size = sweep.size(o, {
  smoke = {steps = 20, experts = {1, 4}, d_model = {16, 32}, layers = 1, batch = 4, seq_len = 32},
  default = {steps = 300, experts = {1, 2, 4, 8, 16}, d_model = {32, 64}, layers = 2,
             batch = 8, seq_len = 64},
  cuda = {steps = 4000, experts = {1, 2, 4, 8, 16, 32, 64, 128}, d_model = {128, 256}, layers = 4,
          batch = 32, seq_len = 256},
})
size.steps = o.steps or size.steps
local sw = sweep.open("constant_active", o, {size = size, seed = o.seed, device = o.device})
local data = sw:data()

local rows = {}
for _, d in ipairs(size.d_model) do
  for _, E in ipairs(size.experts) do
    local r = sw:train(string.format("d%d-E%d", d, E), {
      data = data, steps = size.steps, d_model = d, layers = size.layers,
      ffn = E == 1 and "dense" or ("moe:" .. E), batch = size.batch, seq_len = size.seq_len,
      seed = o.seed,
    })
    rows[#rows + 1] = report.row(r, {d_model = d})
  end
end

-- gain over the dense run of the same width: measured vs the published law
local pub = sweep.try(law.published, "joint_moe")
local series_m, series_p = {}, {}
for _, d in ipairs(size.d_model) do
  local dense
  for _, r in ipairs(rows) do if r.d_model == d and r.E == 1 then dense = r end end
  local xm, ym, xp, yp = {}, {}, {}, {}
  for _, r in ipairs(rows) do
    if r.d_model == d and dense and r.val_loss and dense.val_loss then
      r.gain = dense.val_loss - r.val_loss
      xm[#xm + 1], ym[#ym + 1] = r.E, r.gain
      if pub and r.n_act and r.tokens then
        local p = pub.params
        r.published_gain = law.predict("joint_moe", p, r.n_act, r.tokens, 1)
                         - law.predict("joint_moe", p, r.n_act, r.tokens, r.E)
        xp[#xp + 1], yp[#yp + 1] = r.E, r.published_gain
      end
    end
  end
  series_m[#series_m + 1] = {name = "measured, d = " .. d, x = xm, y = ym}
  series_p[#series_p + 1] = {name = "published law, d = " .. d, x = xp, y = yp, style = "lines dt 2"}
end
for _, s in ipairs(series_p) do series_m[#series_m + 1] = s end

local body = {}
body[#body + 1] = string.format("Every run trains %d steps of %d x %d byte tokens; top-1 routing " ..
  "keeps the active parameters of a width fixed while E grows.\n\n", size.steps, size.batch, size.seq_len)
body[#body + 1] = "## Runs\n\n" .. sweep.md_table(rows, {"run", "d_model", "E", "n_act", "n_total",
  "tokens", "val_loss", {"gain", "gain over dense"}, {"published_gain", "published gain"},
  "seconds"}) .. "\n"
body[#body + 1] = sw:plot("capacity", {title = "Loss gain over dense at fixed active parameters",
  xlabel = "experts E", ylabel = "validation loss gain (nats/byte)", logx = true,
  series = series_m}) .. "\n"
body[#body + 1] = "## Fitted laws vs published\n\n"
for _, name in ipairs({"clark", "joint_moe"}) do
  body[#body + 1] = (report.fit_section(sw, name, rows))
end
sw:write_report("Constant active parameters: more experts at the same cost per token",
                table.concat(body))
