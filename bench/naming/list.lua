-- GET /nacos/v1/ns/instance/list for a random one of 10,000 services.
math.randomseed(42)
request = function()
  return wrk.format("GET", "/nacos/v1/ns/instance/list?serviceName=svc-" .. math.random(0, 9999))
end
