-- POST /api/v1/conversions with an external id no other request of any run uses: the thread's number, a random
-- run tag and a counter. BENCH_API_KEY comes from the environment.
local threads = {}
local next_id = 1

setup = function(thread)
  thread:set("thread_id", next_id)
  next_id = next_id + 1
end

init = function(args)
  math.randomseed(os.time() + thread_id * 7919)
  tag = tostring(math.random(1, 1000000000))
  counter = 0
  key = os.getenv("BENCH_API_KEY")
end

request = function()
  counter = counter + 1
  local body = string.format('{"external_id":"bench-%s-%d-%d","kind":"lead","currency":"USD"}', tag, thread_id, counter)
  return wrk.format("POST", "/api/v1/conversions",
    { ["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json" }, body)
end
