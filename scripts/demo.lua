-- demo.lua: the README's main job. It grows as the toolkit does: for now it
-- shows what this build of llm720 holds and the hardware it knows.
--   llm720 run demo [--smoke]
local smoke = false
for _, a in ipairs(arg) do
  if a == "--smoke" then smoke = true
  else error("demo.lua: unknown argument '" .. a .. "' (expected --smoke)") end
end

local v = llm720.version()
print(string.format("llm720 %s (cuda: %s, openmp: %s)", v.version, tostring(v.cuda), tostring(v.openmp)))
print("data: " .. v.data_dir)
print()

local rows = {}
for _, name in ipairs({"rtx4090", "h100-sxm", "h200", "8xh100", "gh200"}) do
  local f = io.open(v.data_dir .. "/hardware/" .. name .. ".json")
  if f then
    local hw = llm720.json_decode(f:read("a"))
    f:close()
    rows[#rows + 1] = {
      hardware = hw.name,
      gpu_GB = hw.memory_bytes / 1e9,
      hbm_TBps = hw.hbm_bandwidth / 1e12,
      bf16_TFLOPs = hw.bf16_flops / 1e12,
      host_GB = hw.host_memory_bytes / 1e9,
      link_GBps = hw.host_link.bandwidth / 1e9,
    }
  end
end
llm720.print_table(rows, {"hardware", "gpu_GB", "hbm_TBps", "bf16_TFLOPs", "host_GB", "link_GBps"})
if smoke then print("\n(smoke run)") end
