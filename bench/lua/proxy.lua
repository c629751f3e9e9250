-- GET /proxy/users/<user>/meetings with a service key, the user rotating over BENCH_USERS users.
-- Every target gets the very same requests (the upstreams answer any path), built once up front.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local users = tonumber(os.getenv("BENCH_USERS") or "1")
local prefix = os.getenv("BENCH_USER_PREFIX") or "bench-user-"
local key = os.getenv("BENCH_KEY") or ""
local prepared = {}
local index = 0

function init(args)
  local headers = { ["Authorization"] = "Bearer " .. key, ["Accept"] = "application/json" }
  for i = 1, users do
    prepared[i] = wrk.format("GET", "/proxy/users/" .. prefix .. i .. "/meetings", headers)
  end
  math.randomseed(os.time())
  index = math.random(users)
end

function request()
  index = index % users + 1
  return prepared[index]
end

function done(summary, latency, requests)
  report(summary, latency)
end
