-- PATCH /api/tasks/{id}: a random one of the patch user's tasks (ids file, arg 1), flipping
-- `completed` and renaming, so every request really writes a row.
dofile(os.getenv("BENCH_WRK_DIR") .. "/report.lua")
local ids
local headers
local bodies = { '{"completed":true,"title":"patched a"}', '{"completed":false,"title":"patched b"}' }
function init(args)
  -- wrk.format uses only the headers it is given: keep the -H Authorization header.
  headers = { ["Content-Type"] = "application/json" }
  for k, v in pairs(wrk.headers) do headers[k] = v end
  ids = bench_lines(args[1])
  math.randomseed(os.time() + (tonumber(tostring({}):sub(8), 16) or 0))
end
function request()
  return wrk.format("PATCH", "/api/tasks/" .. ids[math.random(#ids)], headers, bodies[math.random(2)])
end
function done(summary, latency, requests) bench_report(summary, latency) end
