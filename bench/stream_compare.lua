-- stream_compare.lua: step times measured on a GPU (bench/stream_gpu.sh)
-- against llm720 sim replaying the same routing traces.
--   llm720 run bench/stream_compare.lua STEPS.csv[,STEPS.csv...] TRACE_DIR [HARDWARE] [OUT.csv]
-- Each STEPS.csv is one run's stream_steps.csv; with several, a workload's
-- measured step time and compute time are the medians over the runs that hold
-- it. TRACE_DIR holds NAME.trace (bench_stream_traces writes them); HARDWARE
-- defaults to h100-sxm. Prints a table, a summary per issue mode (ahead: the
-- host knows the routing up front; sync: a layer's loads are issued when the
-- previous layer's compute has ended, as the simulator models), and last the
-- number of sync-mode workloads within 10%.
local steps_list, trace_dir = arg[1], arg[2]
local hardware, out_csv = arg[3] or "h100-sxm", arg[4]
if not steps_list or not trace_dir then
  error("usage: llm720 run bench/stream_compare.lua STEPS.csv[,...] TRACE_DIR [HARDWARE] [OUT.csv]")
end

local function split(line, sep)
  local t = {}
  for field in (line .. sep):gmatch("([^" .. sep .. "]*)" .. sep) do t[#t + 1] = field end
  return t
end

local function median(v)
  table.sort(v)
  local n = #v
  return n % 2 == 1 and v[(n + 1) // 2] or (v[n // 2] + v[n // 2 + 1]) / 2
end

-- rows keyed by name and mode, in first-seen order; step and compute times per run
local rows, order = {}, {}
for _, path in ipairs(split(steps_list, ",")) do
  local f = assert(io.open(path))
  local header = split(f:read("l"), ",")
  local n = 1
  for line in f:lines() do
    n = n + 1
    if line ~= "" then
      local v, r = split(line, ","), {}
      if #v ~= #header then
        error(string.format("%s:%d: expected %d fields, got %d", path, n, #header, #v))
      end
      for i, k in ipairs(header) do r[k] = tonumber(v[i]) or v[i] end
      local key = r.name .. "/" .. r.mode
      if not rows[key] then
        r.steps_s, r.computes_s = {}, {}
        rows[key] = r
        order[#order + 1] = key
      end
      local t = rows[key]
      t.steps_s[#t.steps_s + 1] = r.step_s
      t.computes_s[#t.computes_s + 1] = r.compute_s
    end
  end
  f:close()
end

local out, summary = {}, {}
for _, key in ipairs(order) do
  local r = rows[key]
  local step_s, compute_s = median(r.steps_s), median(r.computes_s)
  local streams = r.concurrency or 1
  local res = llm720.sim{
    hardware = hardware, layers = r.layers, experts = r.experts, expert_bytes = r.expert_bytes,
    heads = 1, topk = r.per_token, batch = r.batch, steps = r.steps, warmup_steps = 0,
    cache_bytes = r.cache_slots * r.expert_bytes,
    routing = "trace:" .. trace_dir .. "/" .. r.name .. ".trace",
    policy = "lru", prefetch = "none", transfer = r.transfer, concurrency = streams,
    compute_seconds = compute_s, seed = 1,
  }
  if res.misses ~= r.misses then
    error(string.format("%s: the simulator saw %s misses, the GPU schedule %d", r.name,
                        tostring(res.misses), r.misses))
  end
  local err = res.step_seconds / step_s - 1
  local group = r.mode .. (streams > 1 and ", copies over several streams" or ", one stream")
  local s = summary[group] or {n = 0, within = 0, worst = 0}
  summary[group] = s
  s.n, s.worst = s.n + 1, math.max(s.worst, math.abs(err))
  s.within = s.within + (math.abs(err) <= 0.10 and 1 or 0)
  out[#out + 1] = {
    config = r.name, mode = r.mode, transfer = r.transfer, streams = streams,
    expert_bytes = r.expert_bytes, misses = r.misses, runs = #r.steps_s,
    compute_us = compute_s * 1e6, measured_ms = step_s * 1e3,
    simulated_ms = res.step_seconds * 1e3, error_pct = 100 * err,
  }
end

local cols = {"config", "mode", "transfer", "streams", "expert_bytes", "misses", "runs",
              "compute_us", "measured_ms", "simulated_ms", "error_pct"}
llm720.print_table(out, cols)

if out_csv then
  local tmp = out_csv .. ".tmp"
  local o = assert(io.open(tmp, "w"))
  o:write(table.concat(cols, ","), "\n")
  for _, r in ipairs(out) do
    local v = {}
    for i, k in ipairs(cols) do
      v[i] = type(r[k]) == "number" and string.format("%.6g", r[k]) or tostring(r[k])
    end
    o:write(table.concat(v, ","), "\n")
  end
  o:close()
  assert(os.rename(tmp, out_csv))
end

print()
local groups = {}
for g in pairs(summary) do groups[#groups + 1] = g end
table.sort(groups)
local sync_within = 0
for _, g in ipairs(groups) do
  local s = summary[g]
  print(string.format("%-38s %2d of %2d within 10%%, largest error %.1f%%", g .. ":", s.within, s.n,
                      100 * s.worst))
  if g:match("^sync") then sync_within = sync_within + s.within end
end
print(string.format("stream_sim_within_10pct_sync %d", sync_within))
