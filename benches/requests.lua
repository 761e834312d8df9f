-- wrk script: valid mentee requests, each from a different address (the per-address limits
-- would otherwise refuse them). The first script argument makes the addresses of one run
-- unlike another's: wrk ... -s benches/requests.lua URL -- run7. Used by benches/requests.sh.
local counter = 0
local thread_id = 0
function setup(thread)
  thread:set("id", thread_id)
  thread_id = thread_id + 1
end
function init(args)
  prefix = args[1] or "load"
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.headers["Origin"] = "https://mentors.example.org"
end
function request()
  counter = counter + 1
  local body = "mentor=amara-okafor&name=Load+Test&email=" .. prefix .. "t" .. id .. "x" .. counter ..
    "%40example.net&message=A+request+from+the+load+benchmark.&mode=video&consent=yes"
  return wrk.format(nil, "/requests", nil, body)
end
function done(summary, latency, requests)
  local ok = summary.requests - summary.errors.status - summary.errors.connect - summary.errors.read -
    summary.errors.write - summary.errors.timeout
  io.write(string.format("stored/s %.0f  p50 %.2f ms  p99 %.2f ms  non-2xx/3xx %d\n",
    ok / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status))
end
