#!/usr/bin/env python3
"""The disk ceiling for the store PUT: write SIZE-byte files (written, fsynced, renamed into
place, as the local store does) one after another for SECONDS; print files per second.

    disk.py DIR SIZE SECONDS
"""
import json
import os
import sys
import time

directory, size, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
chunk = os.urandom(64 * 1024)
n = 0
start = time.monotonic()
while time.monotonic() - start < seconds:
    tmp = os.path.join(directory, f".{n}.tmp")
    with open(tmp, "wb") as f:
        left = size
        while left > 0:
            left -= f.write(chunk[: min(left, len(chunk))])
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, os.path.join(directory, f"{n % 64}"))
    n += 1
elapsed = time.monotonic() - start
print(json.dumps({"writes": n, "seconds": elapsed, "per_second": n / elapsed}))
