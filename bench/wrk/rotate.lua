-- Sends the requests listed in the file named by the first script argument in turn, so one wrk
-- run spreads its load over many tenants, sessions or accounts. The file returns a Lua table
-- of entries {method, path, headers, body}. At the end it prints one line that starts with
-- BENCH_RESULT and contains the counts and latency percentiles as JSON, in microseconds.

local prepared = {}
local next_index = 1

function init(args)
  local entries = dofile(args[1])
  for i, entry in ipairs(entries) do
    prepared[i] = wrk.format(entry[1], entry[2], entry[3], entry[4])
  end
  -- Each thread starts at another entry, so threads do not send the same request at once.
  next_index = math.random(#prepared)
end

function request()
  local request = prepared[next_index]
  next_index = next_index % #prepared + 1
  return request
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"status_errors":%d,"timeouts":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, errors.connect, errors.read, errors.write,
    errors.status, errors.timeout, latency:percentile(50), latency:percentile(99), latency.max))
end
