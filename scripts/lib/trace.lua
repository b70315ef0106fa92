-- lib/trace.lua: statistics of a routing trace written by llm720 train
-- --trace (the format llm720 sim --routing trace:FILE reads):
--   # llm720 routing trace v1
--   # layers L experts N per_token K
--   t l e1 e2 ... eK
local M = {}

-- Reads the trace at path. Returns {layers, experts, per_token, tokens,
-- used (fraction of experts ever chosen), zipf_s (least-squares slope of
-- log count on log rank over experts chosen at least twice), reuse (how
-- often a token's first choice repeats the previous token's in the same
-- layer), reuse_random (the same for uniform routing: 1/N)}.
function M.stats(path)
  local f = io.open(path)
  if not f then error(string.format("%s: cannot open the routing trace", path), 0) end
  local L, N, K
  local counts, prev, tokens, reuse, pairs_seen = {}, {}, {}, 0, 0
  local lineno = 0
  for line in f:lines() do
    lineno = lineno + 1
    if line:sub(1, 1) == "#" then
      local l, n, k = line:match("layers%s+(%d+)%s+experts%s+(%d+)%s+per_token%s+(%d+)")
      if l then L, N, K = tonumber(l), tonumber(n), tonumber(k) end
    elseif line:match("%S") then
      local t, l, first
      local i = 0
      for w in line:gmatch("%S+") do
        local v = math.tointeger(tonumber(w))
        if not v then f:close(); error(string.format("%s:%d: expected integers", path, lineno), 0) end
        i = i + 1
        if i == 1 then t = v elseif i == 2 then l = v else
          if i == 3 then first = v end
          counts[v] = (counts[v] or 0) + 1
        end
      end
      if first then
        tokens[t] = true
        if prev[l] and prev[l].t == t - 1 then
          pairs_seen = pairs_seen + 1
          if prev[l].e == first then reuse = reuse + 1 end
        end
        prev[l] = {t = t, e = first}
      end
    end
  end
  f:close()
  if not N then error(string.format("%s: no '# layers L experts N per_token K' line", path), 0) end
  local c, ntok = {}, 0
  for _, v in pairs(counts) do c[#c + 1] = v end
  for _ in pairs(tokens) do ntok = ntok + 1 end
  table.sort(c, function(a, b) return a > b end)
  -- Zipf exponent: slope of log(count) against log(rank)
  local sx, sy, sxx, sxy, n = 0, 0, 0, 0, 0
  for r, v in ipairs(c) do
    if v >= 2 then
      local x, y = math.log(r), math.log(v)
      sx, sy, sxx, sxy, n = sx + x, sy + y, sxx + x * x, sxy + x * y, n + 1
    end
  end
  local s = (n >= 3 and n * sxx - sx * sx > 0) and -(n * sxy - sx * sy) / (n * sxx - sx * sx) or nil
  return {layers = L, experts = N, per_token = K, tokens = ntok, used = #c / N,
          zipf_s = s, reuse = pairs_seen > 0 and reuse / pairs_seen or nil, reuse_random = 1 / N}
end

return M
