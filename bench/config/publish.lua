-- POST /nacos/v1/cs/configs: durable publishes spread over 1,000 configs of ~200 bytes each,
-- every request a new version (the content carries a counter). Each wrk thread has its own
-- counter range, so threads never send identical requests.
local configs = 1000
local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end
local n = 0
local filler = string.rep("k=v&x%3Dy%0A", 14)
request = function()
  n = n + 1
  local version = (id or 0) * 100000000 + n
  local body = string.format("dataId=bench-%d.properties&group=DEFAULT_GROUP&type=properties&content=version%%3D%d%%0A%s",
    version % configs, version, filler)
  return wrk.format("POST", "/nacos/v1/cs/configs",
    {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end
