-- GET /api/tasks?limit=20 (no args) or GET /api/tasks/{id} with ids from a file (arg 1).
-- The bearer token comes in as a wrk -H header.
dofile(os.getenv("BENCH_WRK_DIR") .. "/report.lua")
local ids
function init(args)
  if args[1] then
    ids = bench_lines(args[1])
    math.randomseed(os.time() + (tonumber(tostring({}):sub(8), 16) or 0))
  end
end
function request()
  return wrk.format("GET", "/api/tasks/" .. ids[math.random(#ids)])
end
function done(summary, latency, requests) bench_report(summary, latency) end
