-- POST /api/report against a new chat room each time (duplicates would be refused), from
-- the reporters in TOKENS_FILE in turn (one session token a line): reports come from many
-- users, each within the daily limit.
dofile(os.getenv("BENCH_DIR") .. "/wrk/common.lua")
wrk.method = "POST"
local reporters = {}
for token in io.lines(os.getenv("TOKENS_FILE")) do
  reporters[#reporters + 1] = {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
  }
end
local room = 0
local thread_base = math.random(1, 1000000) * 1000
request = function()
  room = room + 1
  local body = string.format(
    '{"report_category_id":5,"report_room_id":%d,"report_etc_reason":"bench"}', thread_base + room)
  return wrk.format(nil, nil, reporters[((room - 1) % #reporters) + 1], body)
end
local base_done = done
done = function(summary, latency, requests)
  base_done(summary, latency, requests)
  io.write(string.format('NOTE reporters=%d\n', #reporters))
end
