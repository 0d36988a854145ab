-- Registers instances [first, first + count) of bench/scale/run.py: instance i is
-- svc-(i % services), ip 10.x.y.z from i / services, port 8080. wrk threads take every
-- nthreads-th instance; a thread that is done starts again at its first (registering an
-- existing instance changes nothing), so that a request wrk drops (it makes one request per
-- thread before the run that it never sends) is made later; run.py stops wrk once the
-- registry is full.
-- args: first count services nthreads persistent|ephemeral
local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end
local first, count, services, nthreads, persistent
function init(args)
  first, count, services, nthreads = tonumber(args[1]), tonumber(args[2]), tonumber(args[3]), tonumber(args[4])
  persistent = args[5] == "persistent"
end
local n = 0
request = function()
  local k = ((id or 0) + n * nthreads) % count
  n = n + 1
  local i = first + k
  local svc = i % services
  local j = math.floor(i / services)
  local path = string.format(
    "/nacos/v1/ns/instance?serviceName=svc-%d&ip=10.%d.%d.%d&port=8080&ephemeral=%s",
    svc, j % 256, math.floor(svc / 256) % 256, svc % 256, persistent and "false" or "true")
  return wrk.format("POST", path)
end
