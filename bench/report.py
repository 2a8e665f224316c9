#!/usr/bin/env python3
"""Turns bench/run's result rows into the table it prints, latest.json and latest.png.

    report.py ROWS.jsonl OUT.json OUT.png DURATION CONNECTIONS
"""
import datetime
import json
import os
import platform
import sys

rows_path, out_json, out_png, duration, connections = sys.argv[1:6]
rows = [json.loads(line) for line in open(rows_path) if line.strip()]

# Which ceiling bounds each route, and the target ratio to it (issue 7).
TARGETS = {
    "POST /api/v1/images/chat": ("ceiling-db", 0.6),
    # No ratio target (its p99 is the target); each confirmation also does file-system work.
    "POST /api/v1/images/chat/callback": ("ceiling-db", None),
    # No ratio target; its database ceiling bounds its p99 (Little's law).
    "POST /api/report": ("ceiling-db", None),
    "GET /images/{key}/metadata": ("ceiling-http", 0.5),
    "GET /accounts/{id}/summary": ("ceiling-http", 0.5),
    "PUT /storage/{key} (1 MB)": ("ceiling-disk", 0.7),
    # No ratio target: the row shows that the peak RSS does not grow with the body's size.
    "PUT /storage/{key} (8 MB)": ("ceiling-disk", None),
}


def rate(result):
    if "tps" in result:
        return result["tps"]
    if "per_second" in result:
        return result["per_second"]
    return result["requests"] / (result["duration_us"] / 1e6)


def find(backend, route, kind):
    for r in rows:
        if r["route"] == route and r["kind"] == kind and r["backend"] in (backend, "any"):
            return r["result"]
    return None


def cpu():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


machine = f"{cpu()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"
report = {
    "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "machine": machine,
    "duration_s": int(duration),
    "connections": int(connections),
    "backends": {},
}
print(f"\n{machine}; wrk -t1 -c{connections}, {duration} s per route\n")
for backend in dict.fromkeys(r["backend"] for r in rows if r["backend"] != "any"):
    b = {"routes": [], "ceilings": {}}
    http = find(backend, "GET /healthz", "ceiling-http")
    start = find(backend, "start", "cold-start")
    rss = find(backend, "service", "peak-rss")
    b["ready_ms"] = start and start["ready_ms"]
    b["peak_rss_mb"] = rss and round(rss["kb"] / 1024, 1)
    prepared = find(backend, "prepared", "peak-rss")
    b["prepared_peak_rss_mb"] = prepared and round(prepared["kb"] / 1024, 1)
    print(f"{backend}: cold start {b['ready_ms']} ms, peak RSS {b['peak_rss_mb']} MB"
          f" ({b['prepared_peak_rss_mb']} MB after preparing the data)")
    print(f"  {'route':36} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'CPU':>5} {'µs/req':>7} {'peak MB':>7}  {'ceiling':>28}  ratio (target)")
    for r in rows:
        if r["backend"] != backend or r["kind"] not in ("route", "ceiling-http"):
            continue
        res, route = r["result"], r["route"]
        errors = sum(res["errors"].values())
        line = {"route": route, "rps": round(rate(res), 1), "p50_ms": res["p50_us"] / 1000,
                "p99_ms": res["p99_us"] / 1000, "errors": errors, "note": res.get("note"),
                # How busy the machine's cores were, and the service's CPU time per request.
                "cpu_busy": res.get("cpu_busy"), "service_cpu_us": res.get("service_cpu_us"),
                # The service's peak RSS once this route's load is over.
                "peak_rss_mb": res.get("hwm_kb") and round(res["hwm_kb"] / 1024, 1)}
        kind, target = TARGETS.get(route, ("ceiling-http", None))
        ceiling = find(backend, route, kind) if kind != "ceiling-http" else http
        if r["kind"] == "ceiling-http":
            ceiling, target = None, None
        if ceiling is not None:
            line["ceiling"] = {"kind": kind, "rate": round(rate(ceiling), 1)}
            if ceiling.get("p99_ms") is not None:
                # The database alone, at the same concurrency: its p99 bounds the route's.
                line["ceiling"]["p99_ms"] = ceiling["p99_ms"]
            line["ratio"] = round(line["rps"] / rate(ceiling), 3)
            line["target"] = target
        b["routes"].append(line)
        ceil_text = f"{kind.split('-')[1]} {line['ceiling']['rate']:.0f}/s" if "ceiling" in line else "—"
        if "p99_ms" in line.get("ceiling", {}):
            ceil_text += f" p99 {line['ceiling']['p99_ms']:.1f}"
        ratio = f"{line['ratio']:.2f}" if "ratio" in line else ""
        if target and "ratio" in line:
            ratio += f" (≥ {target}) {'ok' if line['ratio'] >= target else 'MISSED'}"
        busy = f"{line['cpu_busy']:.0%}" if line["cpu_busy"] is not None else "—"
        us = f"{line['service_cpu_us']:.0f}" if line["service_cpu_us"] is not None else "—"
        peak = f"{line['peak_rss_mb']:.1f}" if line["peak_rss_mb"] is not None else "—"
        print(f"  {route:36} {line['rps']:9.0f} {line['p50_ms']:8.2f} {line['p99_ms']:8.2f} {errors:7d} {busy:>5} {us:>7} {peak:>7}  {ceil_text:>28}  {ratio}")
    report["backends"][backend] = b
    print()

# Image processing (issue 18): phone photos through the callback, against libvips on the
# same files in the same run; the largest PNG the pixel bound admits.
photo = find("sqlite", "callback (12 MP phone JPEG)", "processing")
vips = find("any", "callback (12 MP phone JPEG)", "anchor-libvips")
largest = find("sqlite", "callback (50 MP PNG)", "processing")
if photo or largest:
    print("image processing (a fresh service each: SQLite, local store)")
    print(f"  {'row':40} {'conf/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'CPU ms':>7} {'peak MB':>8}")
    processing = {}
    for name, r in (("12 MP phone JPEG", photo), ("50 MP PNG", largest)):
        if not r:
            continue
        peak = round(r["hwm_kb"] / 1024, 1)
        errors = sum(r["errors"].values())
        processing[name] = {"per_second": r["per_second"], "p50_ms": r["p50_ms"],
                            "p99_ms": r["p99_ms"], "errors": r["errors"],
                            "service_cpu_ms": r["service_cpu_ms"], "peak_rss_mb": peak,
                            "in_flight": r["concurrency"], "confirmations": r["confirmations"]}
        label = f"callback, {name}, {r['concurrency']} in flight"
        print(f"  {label:40} {r['per_second']:7.2f} {r['p50_ms']:8.0f} {r['p99_ms']:8.0f} {errors:7d} {r['service_cpu_ms']:7.0f} {peak:8.1f}")
    if vips:
        processing["libvips"] = vips
        print(f"  {'libvips vipsthumbnail, same 2 variants':40} {vips['per_second']:7.2f} {'':>8} {'':>8} {'':>7} {vips['cpu_ms_per_photo']:7.0f}   ({vips['parallel']} at once)")
    if photo and vips:
        ratio = round(photo["per_second"] / vips["per_second"], 2)
        rss = processing["12 MP phone JPEG"]["peak_rss_mb"]
        processing["ratio_to_libvips"] = ratio
        print(f"  service / libvips: {ratio:.2f} (≥ 1.0) {'ok' if ratio >= 1.0 else 'MISSED'}; "
              f"peak RSS with {photo['concurrency']} in flight: {rss} MB (≤ 256) {'ok' if rss <= 256 else 'MISSED'}")
    report["processing"] = processing
    print()

with open(out_json, "w") as f:
    json.dump(report, f, indent=2)

import matplotlib  # noqa: E402
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

fig, axes = plt.subplots(1, len(report["backends"]) or 1, figsize=(7 * max(1, len(report["backends"])), 5))
if not isinstance(axes, (list, tuple)) and not hasattr(axes, "__len__"):
    axes = [axes]
for ax, (backend, b) in zip(axes, report["backends"].items()):
    names = [r["route"].replace(" ", "\n", 1) for r in b["routes"]]
    ax.barh(names, [r["rps"] for r in b["routes"]], label="service")
    ax.barh(names, [r.get("ceiling", {}).get("rate", 0) for r in b["routes"]], alpha=0.25, label="ceiling")
    ax.set_xscale("log")
    ax.set_xlabel("requests per second (log)")
    ax.set_title(f"{backend}: peak RSS {b['peak_rss_mb']} MB, ready in {b['ready_ms']} ms")
    ax.invert_yaxis()
    ax.legend()
fig.suptitle(f"{report['date']} · {machine}", fontsize=9)
fig.tight_layout()
fig.savefig(out_png, dpi=90)
print(f"wrote {out_json} and {out_png}")
