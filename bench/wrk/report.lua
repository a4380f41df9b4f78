-- Shared by every scenario script: print one machine-readable summary line for bin/bench.
-- wrk reports latency in microseconds; summary.errors.status counts responses with status >= 400
-- (no benchmarked route redirects, so that is every non-2xx).
function bench_report(summary, latency, extra)
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    'BENCHJSON {"requests":%d,"duration_s":%.3f,"rps":%.2f,"p50_ms":%.3f,"p90_ms":%.3f,' ..
    '"p99_ms":%.3f,"mean_ms":%.3f,"max_ms":%.3f,"non2xx":%d,"socket_errors":%d,"timeouts":%d%s}\n',
    summary.requests, secs, summary.requests / secs,
    latency:percentile(50) / 1e3, latency:percentile(90) / 1e3, latency:percentile(99) / 1e3,
    latency.mean / 1e3, latency.max / 1e3,
    e.status, e.connect + e.read + e.write, e.timeout, extra or ""))
end

-- The non-empty lines of a data file (ids, emails, tokens) given to a script as an argument.
function bench_lines(path)
  local t = {}
  for line in io.lines(path) do
    if #line > 0 then t[#t + 1] = line end
  end
  assert(#t > 0, "no lines in " .. path)
  return t
end
