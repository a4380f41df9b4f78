-- POST /api/auth/refresh as real rotation chains. Refresh tokens are single-use, so each wrk
-- thread owns exactly one connection (run with -t = -c) and one chain: it starts from its own
-- freshly issued token (line i of the file in arg 1) and every request presents the token the
-- previous response returned. No request ever leans on the reuse grace window: a response without
-- a new token counts as `stale` and the next request would reuse the old one, so bin/bench fails
-- the run if stale > 0.
dofile(os.getenv("BENCH_WRK_DIR") .. "/report.lua")
local threads = {}
local next_index = 0
local token_lines
function setup(thread)
  token_lines = token_lines or bench_lines(os.getenv("BENCH_REFRESH_TOKENS"))
  next_index = next_index + 1
  assert(next_index <= #token_lines, "fewer refresh tokens than wrk threads")
  thread:set("token", token_lines[next_index])
  thread:set("rotations", 0)
  thread:set("stale", 0)
  table.insert(threads, thread)
end
local headers = { ["Content-Type"] = "application/json" }
function request()
  return wrk.format("POST", "/api/auth/refresh", headers,
    '{"refresh_token":"' .. token .. '"}')
end
function response(status, hdrs, body)
  local new = status == 200 and body:match('"refresh_token"%s*:%s*"([^"]+)"')
  if new and new ~= token then
    token = new
    rotations = rotations + 1
  else
    stale = stale + 1
  end
end
function done(summary, latency, requests)
  local rot, stale = 0, 0
  for _, t in ipairs(threads) do
    rot = rot + t:get("rotations")
    stale = stale + t:get("stale")
  end
  bench_report(summary, latency, string.format(',"rotations":%d,"stale":%d', rot, stale))
end
