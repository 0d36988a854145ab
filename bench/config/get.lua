-- GET /nacos/v1/cs/configs over the 1,000 configs publish.lua wrote.
local configs = 1000
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", string.format("/nacos/v1/cs/configs?dataId=bench-%d.properties&group=DEFAULT_GROUP", n % configs))
end
