#!/usr/bin/env python3
"""Creates what the load needs on a running service and prints it as JSON.

    prepare.py BASE_URL PENDING BIG_PNG_OUT REPORTERS HUGE_PNG_OUT

Logs in two accounts with the dev provider, uploads and confirms one chat image (for the
metadata route), issues PENDING chat uploads and PUTs their bytes (for the callback route),
logs in REPORTERS more accounts (the report route's load spreads over them, as reports from
many users do: one account filing thousands a second is not a load the daily limit allows),
and issues one upload URL for a 1 MB PUT (for the store route) and one for an 8 MB PUT (the
same route with bodies 8 times larger: memory must not grow with them). Standard library only.
"""
import http.cookiejar
import json
import struct
import sys
import urllib.request
import zlib
from concurrent.futures import ThreadPoolExecutor

BASE = sys.argv[1]
PENDING = int(sys.argv[2])
REPORTERS = int(sys.argv[4])


def png(width, height, size):
    """A real PNG of `width`×`height`, padded to `size` bytes by a text chunk before IEND
    (the service refuses bytes after IEND)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\x00" + b"\x80\x40\x20" * width for _ in range(height))
    head = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)))
    end = chunk(b"IEND", b"")
    pad = size - len(head) - len(end) - 12 - len(b"Comment\x00")
    if pad >= 0:
        head += chunk(b"tEXt", b"Comment\x00" + b" " * pad)
    return head + end


def login(email):
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    url = f"{BASE}/account/login/oauth2/authorization/dev?login_hint={email}&name=Bench"
    with opener.open(url) as res:
        user = json.load(res)
    token = next(c.value for c in jar if c.name == "s_access")
    return user["userId"], token


def call(method, path, token, body=None):
    req = urllib.request.Request(
        BASE + path, method=method, data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req) as res:
        return json.load(res) if res.length != 0 else None


def put(issued, data):
    req = urllib.request.Request(issued["upload_url"], method="PUT", data=data,
                                 headers=issued["required_headers"])
    with urllib.request.urlopen(req) as res:
        return res.headers.get("ETag", "")


def issue(token, size):
    return call("POST", "/api/v1/images/chat", token,
                {"filename": "bench.png", "content_type": "image/png", "content_length": size})


def main():
    user_id, token = login("bench@example.com")
    _, other_token = login("bench-other@example.com")
    small = png(8, 8, 2048)

    ready = issue(token, len(small))
    put(ready, small)
    call("POST", "/api/v1/images/chat/callback", token, {"key": ready["key"]})

    def pending(_):
        issued = issue(other_token, len(small))
        put(issued, small)
        return issued["key"]

    with ThreadPoolExecutor(16) as pool:
        keys = list(pool.map(pending, range(PENDING)))

    with ThreadPoolExecutor(16) as pool:
        reporters = list(pool.map(lambda i: login(f"bench-reporter-{i}@example.com"), range(REPORTERS)))

    big = png(64, 64, 1 << 20)
    store = issue(token, len(big))
    with open(sys.argv[3], "wb") as f:
        f.write(big)
    huge = png(64, 64, 8 << 20)
    huge_store = issue(token, len(huge))
    with open(sys.argv[5], "wb") as f:
        f.write(huge)
    print(json.dumps({
        "user_id": user_id, "token": token, "other_token": other_token,
        "ready_key": ready["key"], "pending_keys": keys,
        "reporter_tokens": [t for _, t in reporters],
        "reporter_ids": f"{min(i for i, _ in reporters)} {max(i for i, _ in reporters)}",
        "put_url": store["upload_url"], "put_headers": store["required_headers"],
        "put8_url": huge_store["upload_url"], "put8_headers": huge_store["required_headers"],
    }))


main()
