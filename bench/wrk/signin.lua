-- POST /api/auth/signin, cycling through the seeded sign-in users (file of emails, arg 1; all
-- share the password in arg 2). The auth-service runs with its rate limits off for this.
dofile(os.getenv("BENCH_WRK_DIR") .. "/report.lua")
local emails, password, n
local headers = { ["Content-Type"] = "application/json" }
function init(args)
  emails = bench_lines(args[1])
  password = args[2]
  n = math.random(#emails)
end
function request()
  n = n % #emails + 1
  return wrk.format("POST", "/api/auth/signin", headers,
    string.format('{"email":"%s","password":"%s"}', emails[n], password))
end
function done(summary, latency, requests) bench_report(summary, latency) end
