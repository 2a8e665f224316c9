-- PUT the bytes of BODY_FILE to the presigned URL given to wrk, with HEADERS.
dofile(os.getenv("BENCH_DIR") .. "/wrk/common.lua")
wrk.method = "PUT"
local f = assert(io.open(os.getenv("BODY_FILE"), "rb"))
wrk.body = f:read("*a")
f:close()
