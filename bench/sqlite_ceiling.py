"""The database ceiling on SQLite: pgbench's job for the embedded defaults.

    python3 bench/sqlite_ceiling.py DB_FILE SQL_FILE CONNECTIONS SECONDS [NAME=VALUE ...]

Runs the statements of a pgbench script (bench/sql/*.sql) in a loop on CONNECTIONS
connections (one thread each, each its own connection, with the service's settings: WAL,
synchronous=NORMAL, a 5 s busy timeout) for SECONDS, and prints one JSON line: "tps"
(transactions per second), "latency_avg_ms", "p50_ms" and "p99_ms". A transaction is one
pass over the script, as in pgbench. `:name` variables take the values given (text is
quoted, numbers are not); `\\set` lines set numbers, or draw one per transaction with
`random(lo, hi)` (bounds numbers or variables), as pgbench does; PostgreSQL's random text
becomes SQLite's, and `currval` of the reports' sequence `last_insert_rowid()`.

Python's sqlite3 releases the GIL while SQLite works, so the threads run in parallel
where SQLite lets them (readers in WAL mode; one writer at a time, as in the service).
"""

import json
import random
import re
import sqlite3
import sys
import threading
import time

db_file, sql_file, connections, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
values = dict(arg.split("=", 1) for arg in sys.argv[5:])

statements = []
randoms = {}
for line in open(sql_file, encoding="utf-8"):
    line = line.strip()
    if not line or line.startswith("--"):
        continue
    if line.startswith("\\set "):
        _, name, value = line.split(None, 2)
        drawn = re.fullmatch(r"random\(\s*(\S+?)\s*,\s*(\S+?)\s*\)", value)
        if drawn:
            randoms[name] = drawn.groups()
        else:
            values[name] = value
        continue
    statements.append(line.rstrip(";"))


def literal(value):
    return value if re.fullmatch(r"-?\d+", value) else "'" + value.replace("'", "''") + "'"


def bound(v):
    return int(values[v[1:]]) if v.startswith(":") else int(v)


# Drawn variables stay SQLite parameters (`:name`), bound per transaction.
ranges = {name: (bound(lo), bound(hi)) for name, (lo, hi) in randoms.items()}


def adapt(sql):
    sql = sql.replace("md5(random()::text || clock_timestamp()::text)", "lower(hex(randomblob(16)))")
    sql = sql.replace("currval(pg_get_serial_sequence('reports', 'id'))", "last_insert_rowid()")
    return re.sub(r"(?<!:):([a-z_]+)",
                  lambda m: m.group(0) if m.group(1) in ranges else literal(values[m.group(1)]), sql)


script = [adapt(s) for s in statements]
done = []
lock = threading.Lock()
deadline = 0.0


def worker():
    conn = sqlite3.connect(db_file, timeout=5, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    times = []
    while time.perf_counter() < deadline:
        t = time.perf_counter()
        drawn = {name: random.randint(lo, hi) for name, (lo, hi) in ranges.items()}
        for sql in script:
            conn.execute(sql, drawn).fetchall()
        times.append(time.perf_counter() - t)
    conn.close()
    with lock:
        done.extend(times)


deadline = time.perf_counter() + seconds
start = time.perf_counter()
threads = [threading.Thread(target=worker) for _ in range(connections)]
for t in threads:
    t.start()
for t in threads:
    t.join()
elapsed = time.perf_counter() - start
total = len(done)
done.sort()
latency = sum(done) / total * 1000 if total else 0.0


def pct(q):
    return round(done[min(total - 1, int(q * total))] * 1000, 3) if total else None


print(json.dumps({"tps": round(total / elapsed, 1), "latency_avg_ms": round(latency, 3),
                  "p50_ms": pct(0.5), "p99_ms": pct(0.99)}))
