-- POST /oauth2/token, grant_type=refresh_token, each request with a refresh token of its own
-- (they rotate: a second use would be reuse) read from BENCH_TOKENS, one a line.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local prepared = {}
local index = 0

function init(args)
  local headers = {
    ["Authorization"] = "Basic " .. os.getenv("BENCH_BASIC"),
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Accept"] = "application/json",
  }
  for token in io.lines(os.getenv("BENCH_TOKENS")) do
    local body = "grant_type=refresh_token&refresh_token=" .. token
    prepared[#prepared + 1] = wrk.format("POST", "/oauth2/token", headers, body)
  end
end

function request()
  index = index + 1
  return prepared[(index - 1) % #prepared + 1]
end

function done(summary, latency, requests)
  report(summary, latency)
end
