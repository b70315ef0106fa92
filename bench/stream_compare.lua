-- stream_compare.lua: step times measured on a GPU (bench/stream_gpu.sh)
-- against llm720 sim replaying the same routing traces.
--   llm720 run bench/stream_compare.lua STEPS.csv TRACE_DIR [HARDWARE] [OUT.csv]
-- STEPS.csv is the benchmark's stream_steps.csv; TRACE_DIR holds NAME.trace
-- (bench_stream_traces writes them); HARDWARE defaults to h100-sxm. Prints a
-- table, one summary line per issue mode, and last the largest error of the
-- sync mode (the one whose semantics the simulator models: a layer's loads
-- are issued when the previous layer's compute has ended).
local steps_csv, trace_dir = arg[1], arg[2]
local hardware, out_csv = arg[3] or "h100-sxm", arg[4]
if not steps_csv or not trace_dir then
  error("usage: llm720 run bench/stream_compare.lua STEPS.csv TRACE_DIR [HARDWARE] [OUT.csv]")
end

local function split(line)
  local t = {}
  for field in (line .. ","):gmatch("([^,]*),") do t[#t + 1] = field end
  return t
end

local f = assert(io.open(steps_csv))
local header = split(f:read("l"))
local rows, n = {}, 0
for line in f:lines() do
  n = n + 1
  if line ~= "" then
    local v, r = split(line), {}
    if #v ~= #header then
      error(string.format("%s:%d: expected %d fields, got %d", steps_csv, n + 1, #header, #v))
    end
    for i, k in ipairs(header) do r[k] = tonumber(v[i]) or v[i] end
    rows[#rows + 1] = r
  end
end
f:close()

local out, worst, within, count = {}, {}, {}, {}
for _, r in ipairs(rows) do
  local res = llm720.sim{
    hardware = hardware, layers = r.layers, experts = r.experts, expert_bytes = r.expert_bytes,
    heads = 1, topk = r.per_token, batch = r.batch, steps = r.steps, warmup_steps = 0,
    cache_bytes = r.cache_slots * r.expert_bytes,
    routing = "trace:" .. trace_dir .. "/" .. r.name .. ".trace",
    policy = "lru", prefetch = "none", transfer = r.transfer, concurrency = r.concurrency or 1,
    compute_seconds = r.compute_s, seed = 1,
  }
  local err = res.step_seconds / r.step_s - 1
  local m = r.mode
  worst[m] = math.max(worst[m] or 0, math.abs(err))
  count[m] = (count[m] or 0) + 1
  within[m] = (within[m] or 0) + (math.abs(err) <= 0.10 and 1 or 0)
  out[#out + 1] = {
    config = r.name, mode = m, transfer = r.transfer, streams = r.concurrency or 1,
    expert_bytes = r.expert_bytes,
    misses_gpu = r.misses, misses_sim = math.tointeger(res.misses) or res.misses,
    compute_us = r.compute_s * 1e6, measured_ms = r.step_s * 1e3,
    simulated_ms = res.step_seconds * 1e3, error_pct = 100 * err,
  }
  if res.misses ~= r.misses then
    error(string.format("%s: the simulator saw %s misses, the GPU schedule %d", r.name,
                        tostring(res.misses), r.misses))
  end
end

local cols = {"config", "mode", "transfer", "streams", "expert_bytes", "misses_gpu", "misses_sim",
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
for _, m in ipairs({"ahead", "sync"}) do
  if count[m] then
    print(string.format("%-5s: %d of %d configurations within 10%%, largest error %.1f%%", m,
                        within[m], count[m], 100 * worst[m]))
  end
end
print(string.format("stream_sim_max_error_sync %.4f", worst.sync or 0))
