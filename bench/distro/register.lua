-- POST /nacos/v1/ns/instance for 10,000 services x 10 instances, like bench/naming/register.lua,
-- starting at the offset given after `--` (so that wrk processes aimed at different members
-- register different instances); once all 100,000 exist, requests re-register them.
local services, per_service = 10000, 10
local total = services * per_service
local offset = 0
function init(args)
  offset = tonumber(args[1] or "0")
end
local n = 0
request = function()
  local i = (offset + n) % total
  n = n + 1
  local svc = i % services
  local k = math.floor(i / services)
  local path = string.format(
    "/nacos/v1/ns/instance?serviceName=svc-%d&ip=10.%d.%d.%d&port=8080&weight=1",
    svc, k, math.floor(svc / 256), svc % 256)
  return wrk.format("POST", path)
end
