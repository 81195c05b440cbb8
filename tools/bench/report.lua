-- Shared by the bench scripts: one machine-readable line at the end of a wrk
-- run, parsed by run.sh. Latencies are in microseconds.
function bench_report(summary, latency, requests)
  local e = summary.errors
  local function i(x) return math.floor(tonumber(x) or 0) end
  io.write(string.format("BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d max_us=%d " ..
                         "err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d\n",
                         i(summary.requests), i(summary.duration),
                         i(latency:percentile(50)), i(latency:percentile(99)), i(latency.max),
                         i(e.connect), i(e.read), i(e.write), i(e.status), i(e.timeout)))
end
