-- POST /nacos/v1/ns/instance for 10,000 services x 10 instances, cycling: after the first
-- 100,000 requests every request re-registers (overwrites) an existing instance.
local services, per_service = 10000, 10
local n = 0
request = function()
  local i = n % (services * per_service)
  n = n + 1
  local svc = i % services
  local k = math.floor(i / services)
  local path = string.format(
    "/nacos/v1/ns/instance?serviceName=svc-%d&ip=10.%d.%d.%d&port=8080&weight=1",
    svc, k, math.floor(svc / 256), svc % 256)
  return wrk.format("POST", path)
end
