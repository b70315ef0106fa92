-- lib/sweep.lua: what every experiment script shares.
--
--   local sweep = require("lib.sweep")
--   local o = sweep.args("constant_compute.lua", arg, {flops = {kind = "number", min = 1e6}})
--   local size = sweep.size(o, {smoke = {...}, default = {...}, cuda = {...}})
--   local sw = sweep.open("constant_compute", o, {size = size, ...})
--   local r = sw:run("E4-d64", function(rundir) return llm720.train{...} end)
--   sw:write_report(title, markdown)
--
-- A sweep is one folder: sweep.json (the configuration that wrote it),
-- runs/NAME/ (one folder per run, done.json once complete), data/ (token
-- shards), plots, REPORT.md. Reopening a folder written by another
-- configuration is refused, naming the first key that differs; runs with a
-- done.json are not run again.
local M = {}

local function fail(fmt, ...) error(string.format(fmt, ...), 0) end
M.fail = fail

---------------------------------------------------------------------------
-- arguments

-- Parses arg (the script's argument list). Every script takes --smoke,
-- --device cpu|cuda and --out DIR; spec adds script options by name:
--   {kind = "number"|"integer"|"string"|"list", min =, max =, choices = {...},
--    default =, help =}
-- and spec.positional = {{name = "HARDWARE", default =, choices =}} for
-- positional arguments. Errors name the argument: "SCRIPT: --flops must be
-- at least 1e+06 (got 5)".
function M.args(script, argv, spec)
  spec = spec or {}
  local o = {script = script, smoke = false, device = "cpu", argv = {}}
  local known = {"--smoke", "--device cpu|cuda", "--out DIR"}
  local names = {}
  for name in pairs(spec) do if name ~= "positional" then names[#names + 1] = name end end
  table.sort(names)
  for _, name in ipairs(names) do
    known[#known + 1] = "--" .. name:gsub("_", "-") .. " " .. spec[name].kind:upper()
    o[name] = spec[name].default
  end
  local pos = {}
  local i = 1
  local function value(flag)
    i = i + 1
    if argv[i] == nil then fail("%s: %s needs a value", script, flag) end
    return argv[i]
  end
  while argv[i] ~= nil do
    local a = argv[i]
    o.argv[#o.argv + 1] = a
    local flag, inline = a:match("^(%-%-[%w%-]+)=(.*)$")
    if flag then a = flag end
    local function val()
      if inline then return inline end
      local v = value(a)
      o.argv[#o.argv + 1] = v
      return v
    end
    if a == "--smoke" then
      o.smoke = true
    elseif a == "--device" then
      o.device = val()
      if o.device ~= "cpu" and o.device ~= "cuda" then
        fail("%s: --device must be cpu or cuda (got '%s')", script, o.device)
      end
    elseif a == "--out" then
      o.out = val()
    elseif a:sub(1, 2) == "--" and spec[a:sub(3):gsub("%-", "_")] then
      local name = a:sub(3):gsub("%-", "_")
      o[name] = M.check_value(script, a, spec[name], val())
    elseif a:sub(1, 1) == "-" and a ~= "-" then
      fail("%s: unknown argument '%s' (expected %s)", script, a, table.concat(known, ", "))
    else
      pos[#pos + 1] = a
    end
    i = i + 1
  end
  local pspec = spec.positional or {}
  if #pos > #pspec then
    fail("%s: unexpected argument '%s' (expected %s)", script, pos[#pspec + 1],
         #pspec == 0 and table.concat(known, ", ") or (pspec[1].name .. " and options"))
  end
  for k, p in ipairs(pspec) do
    local v = pos[k]
    if v == nil then
      if p.default == nil then fail("%s: missing argument %s", script, p.name) end
      v = p.default
    end
    o[p.key or p.name:lower()] = M.check_value(script, p.name, p, v)
  end
  o.size = o.smoke and "smoke" or (o.device == "cuda" and "cuda" or "default")
  return o
end

-- Converts and checks one argument value; errors name the argument.
function M.check_value(script, name, s, v)
  local kind = s.kind or "string"
  if kind == "number" or kind == "integer" then
    local n = tonumber(v)
    if n == nil or n ~= n or n == math.huge or n == -math.huge then
      fail("%s: %s must be a number (got '%s')", script, name, tostring(v))
    end
    if kind == "integer" and n ~= math.floor(n) then
      fail("%s: %s must be a whole number (got '%s')", script, name, tostring(v))
    end
    if s.min and n < s.min then fail("%s: %s must be at least %g (got %s)", script, name, s.min, v) end
    if s.max and n > s.max then fail("%s: %s must be at most %g (got %s)", script, name, s.max, v) end
    return kind == "integer" and math.tointeger(n) or n
  elseif kind == "list" then
    local out = {}
    for item in tostring(v):gmatch("[^,]+") do
      out[#out + 1] = M.check_value(script, name, {kind = s.item or "number", min = s.min, max = s.max}, item)
    end
    if #out == 0 then fail("%s: %s must be a comma-separated list (got '%s')", script, name, v) end
    return out
  end
  if s.choices then
    for _, c in ipairs(s.choices) do if c == v then return v end end
    fail("%s: %s must be one of %s (got '%s')", script, name, table.concat(s.choices, ", "), v)
  end
  return v
end

-- The size table for this invocation: sizes.smoke, sizes.cuda or sizes.default.
function M.size(o, sizes)
  local s = sizes[o.size]
  if not s then fail("%s: no %s size defined", o.script, o.size) end
  return s
end

---------------------------------------------------------------------------
-- the sweep folder

-- Dotted keys of a nested table, flattened: {a = {b = 1}} -> {["a.b"] = 1}.
local function flatten(t, prefix, out)
  out = out or {}
  for k, v in pairs(t) do
    local key = prefix and (prefix .. "." .. tostring(k)) or tostring(k)
    if type(v) == "table" then flatten(v, key, out) else out[key] = v end
  end
  return out
end

local function show(v)
  if v == nil then return "absent" end
  if type(v) == "string" then return "'" .. v .. "'" end
  return tostring(v)
end

-- The first key (in sorted order) whose value differs between two
-- configurations, with both values; nil when they agree.
function M.config_diff(a, b)
  local fa, fb = flatten(a), flatten(b)
  local keys, seen = {}, {}
  for k in pairs(fa) do keys[#keys + 1] = k; seen[k] = true end
  for k in pairs(fb) do if not seen[k] then keys[#keys + 1] = k end end
  table.sort(keys)
  for _, k in ipairs(keys) do
    local x, y = fa[k], fb[k]
    if type(x) == "number" and type(y) == "number" then
      if math.abs(x - y) > 1e-12 * math.max(math.abs(x), math.abs(y)) then return k, x, y end
    elseif x ~= y then
      return k, x, y
    end
  end
end

local function read_json(path)
  local f = io.open(path)
  if not f then return nil end
  local s = f:read("a")
  f:close()
  local ok, t = pcall(llm720.json_decode, s)
  if not ok then fail("%s: %s", path, t) end
  return t
end
M.read_json = read_json

local Sweep = {}
Sweep.__index = Sweep

-- Opens (creating) the sweep folder o.out (default sweeps/NAME-SIZE) for the
-- configuration config (a table of everything that changes the results).
function M.open(name, o, config)
  local dir = o.out or ("sweeps/" .. name .. "-" .. o.size)
  llm720.mkdir(dir)
  local manifest = dir .. "/sweep.json"
  local want = {script = name, config = config}
  local have = read_json(manifest)
  if have then
    local k, there, here = M.config_diff(have, want)
    if k then
      fail("%s: %s was written by another configuration: key '%s' is %s there and %s here " ..
           "(use another --out, or remove the folder)", o.script, dir, k, show(there), show(here))
    end
  else
    llm720.write_file(manifest, llm720.json_encode(want, true) .. "\n")
  end
  llm720.mkdir(dir .. "/runs")
  local sw = setmetatable({name = name, dir = dir, o = o, config = config, t0 = llm720.now(),
                           ran = 0, skipped = 0, run_seconds = 0, log = {}}, Sweep)
  sw:say("sweep %s in %s (%s size, %s)", name, dir, o.size, o.device)
  return sw
end

function Sweep:say(fmt, ...)
  local line = string.format(fmt, ...)
  print(line)
  io.stdout:flush()
  self.log[#self.log + 1] = line
end

-- Runs fn(rundir) unless runs/NAME/done.json exists; fn returns a table
-- (stored as done.json). Returns that table, with .seconds and .skipped.
function Sweep:run(name, fn)
  local rundir = self.dir .. "/runs/" .. name
  local done = rundir .. "/done.json"
  local r = read_json(done)
  if r then
    self.skipped = self.skipped + 1
    self.run_seconds = self.run_seconds + (r.seconds or 0)
    self:say("  %-28s complete, skipped", name)
    r.skipped = true
    return r
  end
  llm720.mkdir(rundir)
  local t0 = llm720.now()
  r = fn(rundir)
  r.seconds = llm720.now() - t0
  self.run_seconds = self.run_seconds + r.seconds
  r.name = name
  llm720.write_file(done, llm720.json_encode(r, true) .. "\n")
  self.ran = self.ran + 1
  r.skipped = false
  return r
end

-- Text files for the byte-level corpus: the fortunes database and the
-- Jargon File (both installed by setup.sh). Errors when none is found.
function M.corpus_files()
  local dir = "/usr/share/games/fortunes"
  local files = {}
  if llm720.exists(dir) then
    for _, n in ipairs(llm720.list_dir(dir)) do
      if not n:match("%.dat$") and not n:match("%.u8$") then
        local f = io.open(dir .. "/" .. n)
        if f and f:read(0) then files[#files + 1] = dir .. "/" .. n end
        if f then f:close() end
      end
    end
  end
  local jargon = "/usr/share/doc/jargon-text/jargon.txt.gz"
  if llm720.exists(jargon) then files[#files + 1] = jargon end
  if #files == 0 then
    fail("no training text found in %s: install the fortunes package (setup.sh does)", dir)
  end
  return files
end

-- Byte-level token shards for the sweep (data/ in the sweep folder), made
-- once; an interrupted preparation is cleared and made again.
function Sweep:data()
  local dir = self.dir .. "/data"
  if llm720.exists(dir .. "/done.json") then return dir end
  if llm720.exists(dir) then
    for _, n in ipairs(llm720.list_dir(dir)) do os.remove(dir .. "/" .. n) end
  end
  local r = llm720.prepare_data{out = dir, table.unpack(M.corpus_files())}
  llm720.write_file(dir .. "/done.json", llm720.json_encode(r or {}, true) .. "\n")
  return dir
end

-- Trains one run (skipped when complete; resumed when a partial run is
-- there). opts are llm720.train's options without out/resume/device;
-- warmup (steps/10), eval_every (steps/5) and lr (2e-3) have defaults.
-- Returns {train = result, last = last eval, header = header, log = path}.
function Sweep:train(name, opts)
  return self:run(name, function(rundir)
    local t = {}
    for k, v in pairs(opts) do t[k] = v end
    t.out = rundir
    t.device = t.device or self.o.device
    -- schedule defaults scaled to the run: a tenth warm-up, five evaluations
    -- of 8192 tokens (two of 1024 in smoke runs)
    t.warmup = t.warmup or math.max(1, t.steps // 10)
    t.eval_every = t.eval_every or math.max(1, t.steps // (self.o.smoke and 2 or 5))
    t.lr = t.lr or 2e-3
    t.eval_tokens = t.eval_tokens or (self.o.smoke and 1024 or 8192)
    -- an interrupted run resumes from its checkpoint; one that left no
    -- checkpoint starts again
    local partial = llm720.exists(rundir .. "/checkpoint.bin")
    if partial then
      t.resume = true
    else
      for _, n in ipairs(llm720.list_dir(rundir)) do os.remove(rundir .. "/" .. n) end
    end
    self:say("  %-28s training%s", name, partial and " (resuming)" or "")
    local res = llm720.train(t)
    local runs = llm720.read_runs(rundir)
    local run = runs[1] or {}
    if not run.last then fail("%s: the run log in %s has no evaluation", self.o.script, rundir) end
    self:say("  %-28s val_loss %.4f after %s tokens", name, run.last.val_loss,
             tostring(run.last.tokens))
    return {train = res, last = run.last, header = run.header, log = run.path}
  end)
end

---------------------------------------------------------------------------
-- reports

local function fmt_cell(v)
  if v == nil then return "-" end
  if math.type(v) == "integer" then return tostring(v) end
  if type(v) == "number" then
    if v ~= v then return "nan" end
    local a = math.abs(v)
    if a ~= 0 and (a >= 1e5 or a < 1e-3) then return string.format("%.3g", v) end
    return string.format("%.4f", v):gsub("0+$", ""):gsub("%.$", "")
  end
  return tostring(v)
end
M.fmt = fmt_cell

-- A Markdown table of rows (tables) over columns (keys, or {key, title}).
function M.md_table(rows, cols)
  local head, rule, out = {}, {}, {}
  for _, c in ipairs(cols) do
    head[#head + 1] = type(c) == "table" and c[2] or c
    rule[#rule + 1] = "---"
  end
  out[1] = "| " .. table.concat(head, " | ") .. " |"
  out[2] = "| " .. table.concat(rule, " | ") .. " |"
  for _, r in ipairs(rows) do
    local cells = {}
    for _, c in ipairs(cols) do cells[#cells + 1] = fmt_cell(r[type(c) == "table" and c[1] or c]) end
    out[#out + 1] = "| " .. table.concat(cells, " | ") .. " |"
  end
  return table.concat(out, "\n") .. "\n"
end

-- The machine, in one line: CPU model and count, and the GPU for --device cuda.
function M.machine(device)
  local model, n = "unknown CPU", 0
  local f = io.open("/proc/cpuinfo")
  if f then
    for line in f:lines() do
      local m = line:match("^model name%s*:%s*(.+)$")
      if m then model = m; n = n + 1 end
    end
    f:close()
  end
  local s = string.format("%d x %s", n, model)
  if device == "cuda" then
    local p = io.popen("nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null")
    local gpu = p and p:read("l")
    if p then p:close() end
    if gpu and gpu ~= "" then s = s .. ", GPU " .. gpu end
  end
  return s
end

-- Writes REPORT.md: the title, how it was made (command, machine, wall
-- time, runs), then body (Markdown).
function Sweep:write_report(title, body)
  local secs = llm720.now() - self.t0
  local cmd = "llm720 run scripts/" .. self.o.script
  if #self.o.argv > 0 then cmd = cmd .. " " .. table.concat(self.o.argv, " ") end
  local head = string.format(
    "# %s\n\n- command: `%s`\n- machine: %s\n- wall time of the last invocation: %.1f s " ..
    "(%d runs made, %d already complete); the runs took %.1f s in all invocations\n" ..
    "- size: %s, device: %s\n- llm720 %s\n\n",
    title, cmd, M.machine(self.o.device), secs, self.ran, self.skipped, self.run_seconds, self.o.size,
    self.o.device, llm720.version().version)
  llm720.write_file(self.dir .. "/REPORT.md", head .. body)
  self:say("report: %s/REPORT.md (%.1f s)", self.dir, secs)
end

-- A plot in the sweep folder (PNG + SVG); returns the Markdown line linking it,
-- or a note saying why there is none.
function Sweep:plot(base, spec)
  spec.out = self.dir .. "/" .. base
  local ok, why = llm720.plot_xy(spec)
  if not ok then return string.format("(plot %s not drawn: %s)\n", base, why) end
  return string.format("![%s](%s.png)\n", spec.title or base, base)
end

-- A plot by llm720.plot (opts: its positional kind and options, without
-- out) as BASE.png/svg in the sweep folder; returns the Markdown line, or a
-- note saying why there is none.
function Sweep:plot_cmd(base, title, opts)
  opts.out = self.dir .. "/" .. base
  local ok, why = M.try(llm720.plot, opts)
  if not ok then return string.format("(plot %s not drawn: %s)\n", base, why) end
  return string.format("![%s](%s.png)\n", title, base)
end

-- Calls fn(...) and returns its result, or nil and the error message (for
-- steps whose failure the report states instead of stopping the sweep).
function M.try(fn, ...)
  local ok, r = pcall(fn, ...)
  if ok then return r end
  return nil, tostring(r)
end

return M
