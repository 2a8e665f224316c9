-- POST /api/v1/images/chat/callback for the next uploaded-but-unconfirmed key in KEYS_FILE:
-- every request confirms a new upload while keys last. Should the keys run out, they repeat
-- (answered from the ready record, a much cheaper path) and the summary counts the repeats
-- (`repeats=`): raise BENCH_PENDING until it says 0.
dofile(os.getenv("BENCH_DIR") .. "/wrk/common.lua")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local keys = {}
for line in io.lines(os.getenv("KEYS_FILE")) do keys[#keys + 1] = line end
local i = 0
request = function()
  i = i + 1
  local key = keys[((i - 1) % #keys) + 1]
  return wrk.format(nil, nil, nil, '{"key":"' .. key .. '"}')
end
local base_done = done
done = function(summary, latency, requests)
  base_done(summary, latency, requests)
  io.write(string.format('NOTE keys=%d repeats=%d\n', #keys, math.max(0, summary.requests - #keys)))
end
