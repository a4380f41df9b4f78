-- A fixed request (the URL given to wrk, method GET): task list, JWKS. No request() hook, so wrk
-- takes its fastest path.
dofile(os.getenv("BENCH_WRK_DIR") .. "/report.lua")
function done(summary, latency, requests) bench_report(summary, latency) end
