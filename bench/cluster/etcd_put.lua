-- PUT through etcd's v3 JSON gateway (POST /v3/kv/put): 1,000 keys, a ~200-byte value, the
-- same sizes as dnsd's config publishes in publish.lua. Keys and value are base64 as the
-- gateway wants them; every put is a new revision, so each one is a Raft write.
local b64chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function base64(data)
  return ((data:gsub(".", function(x)
    local r, b = "", x:byte()
    for i = 8, 1, -1 do r = r .. (b % 2 ^ i - b % 2 ^ (i - 1) > 0 and "1" or "0") end
    return r
  end) .. "0000"):gsub("%d%d%d?%d?%d?%d?", function(x)
    if #x < 6 then return "" end
    local c = 0
    for i = 1, 6 do c = c + (x:sub(i, i) == "1" and 2 ^ (6 - i) or 0) end
    return b64chars:sub(c + 1, c + 1)
  end) .. ({ "", "==", "=" })[#data % 3 + 1])
end
local keys = {}
for i = 0, 999 do keys[i] = base64(string.format("bench-%d.properties", i)) end
local value = base64("version=1\n" .. string.rep("k=v&x=y\n", 24))
local n = 0
request = function()
  n = n + 1
  local body = string.format('{"key":"%s","value":"%s"}', keys[n % 1000], value)
  return wrk.format("POST", "/v3/kv/put", { ["Content-Type"] = "application/json" }, body)
end
