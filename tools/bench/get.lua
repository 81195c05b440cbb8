-- wrk script: GET /v1/orders/{id}, ids taken in turn from the file
-- $BENCH_IDS (one id a line), each thread starting at its own offset.
-- The API key comes from $BENCH_KEY.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local next_thread = 0
function setup(thread)
  thread:set("thread_no", next_thread)   -- a global of that thread's state
  next_thread = next_thread + 1
end

local ids, n, i
local headers

function init(args)
  ids = {}
  for line in io.lines(os.getenv("BENCH_IDS")) do
    if #line > 0 then ids[#ids + 1] = line end
  end
  n = #ids
  assert(n > 0, "no order ids in " .. os.getenv("BENCH_IDS"))
  i = ((thread_no or 0) * 7919) % n
  headers = { ["Authorization"] = "Bearer " .. os.getenv("BENCH_KEY") }
end

function request()
  i = i % n + 1
  return wrk.format("GET", "/v1/orders/" .. ids[i], headers)
end

done = bench_report
