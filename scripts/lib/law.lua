-- lib/law.lua: the published laws' coefficients (data/laws/*.json) and
-- loss predictions from named parameters, for reports that compare fitted
-- coefficients with published ones and predicted losses with measured ones.
local M = {}

-- The law file whose "law" field is name (e.g. "joint_moe"), as a table.
function M.published(name)
  local dir = llm720.data_dir() .. "/laws"
  for _, f in ipairs(llm720.list_dir(dir)) do
    if f:match("%.json$") then
      local h = io.open(dir .. "/" .. f)
      local t = llm720.json_decode(h:read("a"))
      h:close()
      if t.law == name then t.file = dir .. "/" .. f; return t end
    end
  end
  error(string.format("no published coefficients for law '%s' in %s", name, dir), 0)
end

-- Clark et al.'s transform of the expert count (saturating at E_max).
function M.ehat(E, p)
  local es, em = p.E_start, p.E_max
  return 1 / (1 / (E - 1 + 1 / (1 / es - 1 / em)) + 1 / em)
end

-- Predicted loss of a law (name: joint_moe, chinchilla, clark) with named
-- parameters p at N (active parameters), D (tokens) and E (experts); nil for
-- laws not evaluated here.
function M.predict(name, p, N, D, E)
  if name == "joint_moe" then
    local eh = M.ehat(E or 1, p)
    local le = math.log(eh)
    return p.a * eh ^ p.delta * N ^ (p.alpha + p.gamma * le)
         + p.b * eh ^ p.omega * D ^ (p.beta + p.zeta * le) + p.c
  elseif name == "chinchilla" then
    return p.E + p.A / N ^ p.alpha + p.B / D ^ p.beta
  elseif name == "clark" then
    local ln, le = math.log(N), math.log(M.ehat(E or 1, p))
    return math.exp(p.a * ln + p.b * le + p.c * ln * le + p.d)
  end
end

-- Rows {param, published, fitted, ci_lo, ci_hi} comparing a fit result
-- (llm720.fit's table) with published coefficients (nil: none).
function M.compare_rows(fit, published)
  local rows, names = {}, {}
  for k in pairs(fit.params or {}) do names[#names + 1] = k end
  table.sort(names)
  for _, k in ipairs(names) do
    local ci = fit.ci95 and fit.ci95[k]
    rows[#rows + 1] = {param = k, published = published and published.params[k],
                       fitted = fit.params[k], ci_lo = ci and ci[1], ci_hi = ci and ci[2]}
  end
  return rows
end

-- Parameters as the joint-MoE paper counts them (embeddings included) for
-- the trainer's models: d_model d, L blocks, vocabulary V, E experts of
-- SwiGLU hidden h (default 3d), top-1. Returns active, total.
function M.count(d, L, V, E, h)
  E = E or 1
  h = h or 3 * d
  local emb, attn, expert = 2 * d * V, 4 * d * d, 3 * d * h
  local router = E > 1 and d * E or 0
  return emb + L * (attn + expert + router), emb + L * (attn + E * expert + router)
end

return M
