-- wrk script: POST /v1/orders, every request with a unique reference.
-- The body is the file $BENCH_BODY with __REF__ replaced by
-- "<$BENCH_TAG>-<thread>-<counter>"; the API key comes from $BENCH_KEY.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local next_thread = 0
function setup(thread)
  thread:set("thread_no", next_thread)   -- a global of that thread's state
  next_thread = next_thread + 1
end

local prefix, suffix, counter, headers, tag

function init(args)
  local f = assert(io.open(os.getenv("BENCH_BODY"), "r"))
  local body = f:read("*a")
  f:close()
  local s, e = body:find("__REF__", 1, true)
  assert(s, "the body template has no __REF__")
  prefix, suffix = body:sub(1, s - 1), body:sub(e + 1)
  tag = (os.getenv("BENCH_TAG") or "B") .. "-" .. tostring(thread_no or 0) .. "-"
  counter = 0
  headers = { ["Authorization"] = "Bearer " .. os.getenv("BENCH_KEY"),
              ["Content-Type"] = "application/json" }
end

function request()
  counter = counter + 1
  return wrk.format("POST", "/v1/orders", headers, prefix .. tag .. counter .. suffix)
end

done = bench_report
