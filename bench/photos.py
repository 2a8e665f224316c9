#!/usr/bin/env python3
"""The image-processing rows of bench/run: phone photos, and the load that confirms them.

    photos.py make DIR N                 N distinct 12 MP phone JPEGs (4000×3000, EXIF with
                                         orientation 6, GPS, camera, serial; an ICC profile)
    photos.py png FILE WIDTH HEIGHT      a WIDTH×HEIGHT RGBA PNG (the largest the pixel
                                         bound admits: 8000×6250)
    photos.py upload BASE_URL OUT COUNT FILE...
                                         issues COUNT chat uploads and PUTs their bytes
                                         (cycling through FILEs); writes {token, keys} to OUT
    photos.py confirm BASE_URL IN CONCURRENCY
                                         confirms every key in IN, CONCURRENCY callbacks in
                                         flight; prints JSON (per second, p50/p99, errors)
    photos.py vips COUNT PARALLEL QUALITY FILE...
                                         the anchor: libvips' vipsthumbnail makes the same two
                                         WebP variants (320×320 cover, 1280×1280 fit) of COUNT
                                         photos (cycling through FILEs), PARALLEL at once, one
                                         thread each; prints JSON (photos per second, CPU)

`make` and `png` need Pillow and piexif (the tools venv); the others the standard library.
"""
import http.cookiejar
import json
import os
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor


def make(out_dir, n):
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../apps/server/tests/fixtures"))
    import images as fx  # the test fixtures' phone EXIF and ICC profile
    from PIL import Image

    w, h = 4000, 3000
    os.makedirs(out_dir, exist_ok=True)
    for i in range(n):
        # A photo-like scene: colour gradients at an angle of their own, and sensor noise,
        # which is what makes a phone JPEG 3 MB rather than 300 KB.
        r = Image.linear_gradient("L").rotate(17 * i).resize((w, h))
        g = Image.linear_gradient("L").rotate(90 + 23 * i).resize((w, h))
        b = Image.radial_gradient("L").resize((w, h))
        noise = Image.effect_noise((w, h), 24 + i).convert("RGB")
        scene = Image.blend(Image.merge("RGB", (r, g, b)), noise, 0.25)
        scene.save(os.path.join(out_dir, f"photo-{i}.jpg"), "JPEG", quality=90,
                   exif=fx.phone_exif(6), icc_profile=fx.ICC)


def png(path, width, height):
    from PIL import Image

    r = Image.linear_gradient("L").resize((width, height))
    g = Image.linear_gradient("L").rotate(90).resize((width, height))
    b = Image.radial_gradient("L").resize((width, height))
    Image.merge("RGBA", (r, g, b, g)).save(path, "PNG", compress_level=6)


def login(base, email):
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(f"{base}/account/login/oauth2/authorization/dev?login_hint={email}&name=Bench"):
        pass
    return next(c.value for c in jar if c.name == "s_access")


def call(base, path, token, body):
    req = urllib.request.Request(
        base + path, method="POST", data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=120) as res:
            return res.status, json.load(res)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def upload(base, out, count, files):
    token = login(base, "bench-photos@example.com")
    blobs = [open(f, "rb").read() for f in files]

    def one(i):
        name = os.path.basename(files[i % len(files)])
        data = blobs[i % len(blobs)]
        kind = "image/png" if name.endswith(".png") else "image/jpeg"
        status, issued = call(base, "/api/v1/images/chat", token,
                              {"filename": name, "content_type": kind,
                               "content_length": len(data)})
        assert status == 200, issued
        req = urllib.request.Request(issued["upload_url"], method="PUT", data=data,
                                     headers=issued["required_headers"])
        with urllib.request.urlopen(req) as res:
            assert res.status == 200
        return issued["key"]

    with ThreadPoolExecutor(8) as pool:
        keys = list(pool.map(one, range(count)))
    with open(out, "w") as f:
        json.dump({"token": token, "keys": keys}, f)


def confirm(base, path, concurrency):
    state = json.load(open(path))
    token, keys = state["token"], state["keys"]

    def one(key):
        t = time.perf_counter()
        status, body = call(base, "/api/v1/images/chat/callback", token, {"key": key})
        return status, time.perf_counter() - t, body

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(one, keys))
    wall = time.perf_counter() - start
    ok = sorted(t for s, t, _ in results if s == 200)
    errors = {}
    for s, _, body in results:
        if s != 200:
            code = f"{s} {body.get('code')}"
            errors[code] = errors.get(code, 0) + 1
    pct = lambda q: round(ok[min(len(ok) - 1, int(q * len(ok)))] * 1000, 1) if ok else None
    shown = next((b for s, _, b in results if s == 200), {})
    print(json.dumps({
        "confirmations": len(ok), "errors": errors, "seconds": round(wall, 2),
        "per_second": round(len(ok) / wall, 2), "p50_ms": pct(0.5), "p99_ms": pct(0.99),
        "concurrency": concurrency, "size": [shown.get("width"), shown.get("height")],
        "variants": {k: [v["width"], v["height"]] for k, v in shown.get("variants", {}).items()},
    }))


def vips(count, parallel, quality, files):
    import resource
    import subprocess
    import tempfile

    out = tempfile.mkdtemp(prefix="vips-")
    env = dict(os.environ, VIPS_CONCURRENCY="1")
    save = f"[Q={quality},strip]"

    def one(i):
        src = files[i % len(files)]
        for args in (["-s", "320x320", "--smartcrop", "centre", "-o", f"{out}/{i}-thumb.webp{save}"],
                     ["-s", "1280x1280", "-o", f"{out}/{i}-medium.webp{save}"]):
            subprocess.run(["vipsthumbnail", src, *args], env=env, check=True)

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with ThreadPoolExecutor(parallel) as pool:
        list(pool.map(one, range(count)))
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(json.dumps({"photos": count, "seconds": round(wall, 2),
                      "per_second": round(count / wall, 2), "parallel": parallel,
                      "cpu_ms_per_photo": round(cpu / count * 1000, 1),
                      "peak_rss_kb": after.ru_maxrss}))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "make":
        make(args[0], int(args[1]))
    elif cmd == "png":
        png(args[0], int(args[1]), int(args[2]))
    elif cmd == "upload":
        upload(args[0], args[1], int(args[2]), args[3:])
    elif cmd == "confirm":
        confirm(args[0], args[1], int(args[2]))
    elif cmd == "vips":
        vips(int(args[0]), int(args[1]), int(args[2]), args[3:])
    else:
        sys.exit(__doc__)
