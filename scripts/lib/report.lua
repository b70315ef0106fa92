-- lib/report.lua: the parts of REPORT.md that the training sweeps share:
-- a row per run, fits of the sweep's run logs, fitted vs published
-- coefficients, predicted vs measured losses.
local sweep = require("lib.sweep")
local law = require("lib.law")
local M = {}

local function field(r, key)
  for _, t in ipairs({r.last or {}, r.header or {}, (r.header or {}).config or {}, r.train or {}}) do
    if t[key] ~= nil then return t[key] end
  end
end
M.field = field

-- One row per trained run: name, E, N_act, N_total, tokens, val_loss, seconds.
function M.row(r, extra)
  local row = {
    run = r.name, E = field(r, "experts") or field(r, "n_experts") or 1,
    n_act = field(r, "n_act"), n_total = field(r, "n_total"), tokens = field(r, "tokens"),
    val_loss = field(r, "val_loss"), seconds = r.seconds,
  }
  for k, v in pairs(extra or {}) do row[k] = v end
  return row
end

-- Start grids for smoke runs: a few starts instead of the fitter's full grid.
local SMOKE_GRID = {chinchilla = "e=0/1,a=2/5,b=2/5,alpha=0.3/0.6,beta=0.3/0.6"}

-- Fits lawname to the run logs under the sweep's runs/ (the fitter reads
-- them directly: each run's last evaluation, or every evaluation when the
-- runs are fewer than the law's parameters) and returns the Markdown section
-- comparing it with the published coefficients and each run's measured
-- loss. A fitter missing from this build stops the sweep; a fit that fails
-- on these runs is reported with its message.
function M.fit_section(sw, lawname, rows)
  local out = sw.dir .. "/fit_" .. lawname .. ".json"
  local opts = {law = lawname, data = sw.dir .. "/runs", out = out, seed = 1,
                bootstrap = sw.o.smoke and 0 or 20, grid = sw.o.smoke and SMOKE_GRID[lawname] or nil}
  local fit, why = sweep.try(llm720.fit, opts)
  local every = false
  if not fit and why:find("points to fit", 1, true) then
    opts.all_evals, every = true, true
    fit, why = sweep.try(llm720.fit, opts)
  end
  if why and why:find("not built yet", 1, true) then error(why, 0) end
  local pub = sweep.try(law.published, lawname)
  local s = {string.format("### Law `%s`\n\n", lawname)}
  if not fit then
    s[#s + 1] = string.format("Fit failed: %s\n\n", why)
    fit = {}
  else
    s[#s + 1] = string.format("Fitted on %s points (%s; objective %s; %s of %s starts " ..
      "converged; parameters within their valid ranges: %s; train RMSE %s); written to `%s`.\n\n",
      sweep.fmt(fit.n_points), every and "every evaluation of each run, as the runs are fewer than " ..
      "the law's parameters" or "the last evaluation of each run", sweep.fmt(fit.objective),
      sweep.fmt(fit.converged), sweep.fmt(fit.starts), tostring(fit.in_range),
      sweep.fmt(fit.rmse_train), out:match("[^/]+$"))
    s[#s + 1] = sweep.md_table(law.compare_rows(fit, pub), {
      {"param", "parameter"}, {"published", "published"}, {"fitted", "fitted"},
      {"ci_lo", "95% CI low"}, {"ci_hi", "95% CI high"}})
    s[#s + 1] = "\n" .. sw:plot_cmd("fit_" .. lawname, "Predicted vs observed loss, " .. lawname,
      {"fit", params = out, data = sw.dir .. "/runs", all_evals = every or nil,
       title = "fitted " .. lawname .. " law"}) .. "\n"
  end
  if pub then
    s[#s + 1] = string.format("Published: %s (`%s`).\n\n", pub.source or "?", pub.file:match("[^/]+$"))
  else
    s[#s + 1] = "(no published coefficients for this law in data/laws)\n\n"
  end
  local pred = {}
  for _, r in ipairs(rows) do
    if r.n_act and r.tokens and r.val_loss then
      local e = r.E or 1
      local p = {run = r.run, E = e, n_act = r.n_act, tokens = r.tokens, measured = r.val_loss}
      if fit.params then
        p.fitted = law.predict(lawname, fit.params, r.n_act, r.tokens, e)
      end
      if pub then p.published = law.predict(lawname, pub.params, r.n_act, r.tokens, e) end
      pred[#pred + 1] = p
    end
  end
  if #pred > 0 then
    s[#s + 1] = "Predicted vs measured validation loss (nats per token):\n\n"
    s[#s + 1] = sweep.md_table(pred, {"run", "E", "n_act", "tokens", "measured",
      {"fitted", "fitted law"}, {"published", "published law"}})
    s[#s + 1] = "\n"
  end
  return table.concat(s), fit
end

return M
