-- GET /api/tasks/{id}: a random one of the list user's tasks (ids file, arg 1).
-- The bearer token comes in as a wrk -H header (wrk.format without a headers table keeps it).
dofile(os.getenv("BENCH_WRK_DIR") .. "/report.lua")
local ids
function init(args)
  ids = bench_lines(args[1])
  math.randomseed(os.time() + (tonumber(tostring({}):sub(8), 16) or 0))
end
function request()
  return wrk.format("GET", "/api/tasks/" .. ids[math.random(#ids)])
end
function done(summary, latency, requests) bench_report(summary, latency) end
