-- wrk script for the HTTP ceiling: a plain GET against nginx `return 200`.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

done = bench_report
