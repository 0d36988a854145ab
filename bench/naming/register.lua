-- POST /nacos/v1/ns/instance for 10,000 services x 10 instances. Each wrk thread starts at its
-- own offset, so two threads register different instances; once all 100,000 exist, requests
-- re-register (overwrite) existing ones. A number after `--` shifts the start (bench/distro
-- aims one wrk at each cluster member, each at its own share).
local services, per_service = 10000, 10
local total = services * per_service
local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end
local shift = 0
function init(args)
  shift = tonumber(args[1] or "0")
end
local n = 0
request = function()
  local i = (shift + (id or 0) * (total / 2) + n) % total
  n = n + 1
  local svc = i % services
  local k = math.floor(i / services)
  local path = string.format(
    "/nacos/v1/ns/instance?serviceName=svc-%d&ip=10.%d.%d.%d&port=8080&weight=1",
    svc, k, math.floor(svc / 256), svc % 256)
  return wrk.format("POST", path)
end
