-- GET the URL given to wrk.
dofile(os.getenv("BENCH_DIR") .. "/wrk/common.lua")
