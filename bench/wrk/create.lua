-- POST /api/tasks with a fixed small body (a new row each time).
dofile(os.getenv("BENCH_WRK_DIR") .. "/report.lua")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"title":"bench create","description":"made by bin/bench"}'
function done(summary, latency, requests) bench_report(summary, latency) end
