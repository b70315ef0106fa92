-- lib/deploy.lua: a planned model (llm720.plan's keys) on a hardware profile:
-- its expert layout and the simulator runs for it, resident or streamed.
local M = {}

-- The hardware profile's JSON (data/hardware/NAME.json) as a table; the error
-- names the argument and the profiles there are.
function M.hardware(script, name)
  local dir = llm720.data_dir() .. "/hardware"
  local f = io.open(dir .. "/" .. name .. ".json")
  if not f then
    local names = {}
    for _, n in ipairs(llm720.list_dir(dir)) do
      if n:match("%.json$") then names[#names + 1] = n:gsub("%.json$", "") end
    end
    error(string.format("%s: HARDWARE must be one of %s (got '%s')", script,
                        table.concat(names, ", "), name), 0)
  end
  local hw = llm720.json_decode(f:read("a"))
  f:close()
  return hw
end

-- Expert layout of a plan scenario (llm720.plan budget's keys; the joint MoE
-- paper's shapes: n_blocks = d/64, SwiGLU experts of hidden 3d, top-1), in
-- bytes at bytes_per_param.
function M.layout(p, bytes_per_param)
  local d = p.d_model
  local layers = p.n_blocks or math.max(1, math.floor(d / 64 + 0.5))
  local E = math.max(1, math.floor(p.experts + 0.5))
  local expert_bytes = 9 * d * d * bytes_per_param
  local expert_total = expert_bytes * E * layers
  -- FLOPs per token and layer outside the experts (attention, embeddings):
  -- the simulator's roofline adds them to the experts' own
  local dense_flops = 2 * math.max(0, p.active_params - 9 * d * d * layers) / layers
  return {d_model = d, layers = layers, experts = E, expert_bytes = expert_bytes,
          bytes_per_param = bytes_per_param,
          expert_total = expert_total, dense_flops = dense_flops,
          other_bytes = math.max(0, p.total_params * bytes_per_param - expert_total)}
end

-- The same expert bytes per layer as single-neuron PEER experts (u, v of d
-- each): N = n^2 rounded, h heads, top-k.
function M.peer_layout(l, bytes_per_param, heads, topk)
  local neuron = 2 * l.d_model * bytes_per_param
  local n = math.max(2, math.floor(math.sqrt(l.expert_bytes * l.experts / neuron) + 0.5))
  return {d_model = l.d_model, layers = l.layers, experts = n * n, expert_bytes = neuron,
          bytes_per_param = bytes_per_param,
          expert_total = n * n * neuron * l.layers, other_bytes = l.other_bytes,
          dense_flops = l.dense_flops,
          heads = heads, topk = topk}
end

-- Simulates layout l on hardware hw with cache_bytes of GPU memory for
-- experts (nil: all of them, resident). The cache warms up for as many steps
-- as are measured. Returns llm720.sim's table.
function M.simulate(hw, l, cache_bytes, sizes, seed, routing)
  return llm720.sim{hardware = hw, layers = l.layers, experts = l.experts,
                    expert_bytes = math.floor(l.expert_bytes), heads = l.heads or 1,
                    topk = l.topk or 1, batch = sizes.batch, steps = sizes.steps,
                    warmup_steps = sizes.warmup or sizes.steps,
                    dense_flops = l.dense_flops and math.floor(l.dense_flops) or nil,
                    bytes_per_param = l.bytes_per_param,
                    cache_bytes = math.floor(math.min(cache_bytes or l.expert_total, l.expert_total)),
                    routing = routing or "zipf:1.0",
                    policy = "lru", seed = seed or 1}
end

-- GPU memory left for the expert cache once the other weights and a
-- reserve (KV cache, activations: a fraction of the memory) are placed.
function M.cache_budget(hw, l, reserve)
  return math.max(0, hw.memory_bytes * (1 - (reserve or 0.1)) - l.other_bytes)
end

return M
