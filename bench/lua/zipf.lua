-- GET /proxy/users/<user>/meetings with a service key, the user drawn from a Zipf mix over
-- BENCH_USERS users (exponent BENCH_ZIPF_S, 1.1 by default): bench/zipf.py's table and search.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local users = tonumber(os.getenv("BENCH_USERS") or "1")
local s = tonumber(os.getenv("BENCH_ZIPF_S") or "1.1")
local prefix = os.getenv("BENCH_USER_PREFIX") or "bench-user-"
local key = os.getenv("BENCH_KEY") or ""
local headers = { ["Authorization"] = "Bearer " .. key, ["Accept"] = "application/json" }
local table_ = {}

function init(args)
  local total = 0.0
  for k = 1, users do
    total = total + k ^ -s
    table_[k] = total
  end
  for k = 1, users do
    table_[k] = table_[k] / total
  end
  math.randomseed(os.time())
end

-- The first user whose cumulative share passes u (bisect_right in bench/zipf.py).
local function pick(u)
  local low, high = 1, users
  while low < high do
    local middle = math.floor((low + high) / 2)
    if table_[middle] <= u then low = middle + 1 else high = middle end
  end
  return low
end

function request()
  return wrk.format("GET", "/proxy/users/" .. prefix .. pick(math.random()) .. "/meetings", headers)
end

function done(summary, latency, requests)
  report(summary, latency)
end
