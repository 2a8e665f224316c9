-- POST /api/report against a new chat room each time (duplicates would be refused).
dofile(os.getenv("BENCH_DIR") .. "/wrk/common.lua")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local room = 0
local thread_base = math.random(1, 1000000) * 1000
request = function()
  room = room + 1
  local body = string.format(
    '{"report_category_id":5,"report_room_id":%d,"report_etc_reason":"bench"}', thread_base + room)
  return wrk.format(nil, nil, nil, body)
end
