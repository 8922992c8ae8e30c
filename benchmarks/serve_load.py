"""Load test of ``affectgpt serve``: the real app on a real uvicorn server (in-process, loopback),
hit by 50 concurrent clients.

The server runs with ``ServeConfig(asr=False, workers=1, queue=8)``, so at most one describe runs
and eight wait; beyond that the server answers 429 with ``Retry-After`` (deliberate, counted apart).
The clients share a fixed, shuffled list of requests (default 500: 40 % ``GET /healthz``, 30 %
``GET /v1/models``, 30 % ``POST /v1/describe`` of a small real clip uploaded as multipart) and
stop taking new ones after a wall-clock cap. One describe call warms the describer first (models
loaded; not timed).

Reported: throughput (requests/s, successful describes/s), p50/p95 latency per route (describe
split into answered (200) and turned away (429)), counts by status code, and the resident memory
of the process (psutil RSS) before and after the load.

Targets: every request done within the cap; no error other than a deliberate 429 (no 5xx, no
4xx, no transport error); every 429 carries Retry-After; at least one describe answered 200; no
temporary file left behind; RSS growth < 300 MB.

Usage: python benchmarks/serve_load.py [--data-dir DIR] [--clip PATH] [--clients 50]
       [--requests 500] [--max-seconds 150] [--max-backoff 2]
(default clip: crema_d/video_mp4/1001_DFA_ANG_XX.mp4 under the data directory, else the demo clip
demo/sample_00000000.mp4). About 1-2 minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

from _common import data_dir, print_table

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
os.environ.setdefault("no_proxy", "127.0.0.1,localhost")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pct(values: list[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(values, q)) if values else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", default=None, help="data directory (default ../shared/data)")
    ap.add_argument("--clip", default=None, help="clip to upload (default: a CREMA-D clip, else the demo clip)")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--requests", type=int, default=500)
    ap.add_argument("--max-seconds", type=float, default=150.0, help="stop issuing requests after this")
    ap.add_argument("--max-backoff", type=float, default=2.0,
                    help="a client turned away (429) waits min(Retry-After, this) x U(0.5, 1) seconds")
    args = ap.parse_args()

    import httpx
    import psutil
    import uvicorn

    from affectgpt.serve import ServeConfig, create_app

    d = data_dir(args.data_dir)
    if args.clip:
        clip = Path(args.clip)
    else:
        clip = next((p for p in (d / "crema_d/video_mp4/1001_DFA_ANG_XX.mp4", d / "demo/sample_00000000.mp4")
                     if p.is_file()), None)
        if clip is None:
            raise SystemExit(f"no clip under {d}: pass --clip")
    work = Path(tempfile.mkdtemp(prefix="affectgpt-serve-load-"))
    local = work / clip.name
    shutil.copyfile(clip, local)
    payload = local.read_bytes()

    # --- the server ------------------------------------------------------------------------------
    app = create_app(ServeConfig(asr=False, workers=1, queue=8, data_dir=str(d), temp_dir=str(work / "tmp")))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started and time.monotonic() < deadline:
        if not thread.is_alive():
            raise SystemExit("the server thread ended before starting")
        time.sleep(0.05)
    if not server.started:
        raise SystemExit("the server did not start within 60 s")
    base = f"http://127.0.0.1:{port}"

    def describe(client: httpx.Client) -> httpx.Response:
        return client.post("/v1/describe", files={"file": (clip.name, payload, "video/mp4")})

    # --- warm-up (not timed) -----------------------------------------------------------------------
    t = time.perf_counter()
    with httpx.Client(base_url=base, timeout=300, trust_env=False) as c:
        r = describe(c)
    if r.status_code != 200:
        raise SystemExit(f"warm-up describe failed: {r.status_code} {r.text[:500]}")
    warm_s = time.perf_counter() - t
    print(f"server {base}; clip {clip} ({len(payload) / 1024:.0f} KB); warm-up describe {warm_s:.1f} s",
          flush=True)

    proc = psutil.Process()
    rss_before = proc.memory_info().rss / 2**20

    # --- the load ----------------------------------------------------------------------------------
    n_health = int(args.requests * 0.4)
    n_models = int(args.requests * 0.3)
    plan = (["healthz"] * n_health + ["models"] * n_models
            + ["describe"] * (args.requests - n_health - n_models))
    random.Random(0).shuffle(plan)
    next_i = iter(range(len(plan)))
    take = threading.Lock()
    rec_lock = threading.Lock()
    lat: dict[str, list[float]] = defaultdict(list)
    codes: Counter = Counter()
    by_route: dict[str, Counter] = defaultdict(Counter)
    errors: list[str] = []
    missing_retry_after = 0
    start = time.monotonic()
    stop_at = start + args.max_seconds

    def client_loop() -> None:
        nonlocal missing_retry_after
        with httpx.Client(base_url=base, timeout=args.max_seconds + 60, trust_env=False) as c:
            while True:
                if time.monotonic() >= stop_at:
                    return
                with take:
                    i = next(next_i, None)
                if i is None:
                    return
                route = plan[i]
                t0 = time.perf_counter()
                try:
                    if route == "healthz":
                        r = c.get("/healthz")
                    elif route == "models":
                        r = c.get("/v1/models")
                    else:
                        r = describe(c)
                except Exception as exc:  # noqa: BLE001 - a transport error is a counted failure
                    with rec_lock:
                        codes["transport error"] += 1
                        by_route[route]["transport error"] += 1
                        errors.append(f"{route}: {type(exc).__name__}: {exc}")
                    continue
                dt = time.perf_counter() - t0
                with rec_lock:
                    codes[r.status_code] += 1
                    by_route[route][r.status_code] += 1
                    key = route if route != "describe" else f"describe {r.status_code}"
                    lat[key].append(dt)
                    if r.status_code == 429:
                        if not r.headers.get("retry-after"):
                            missing_retry_after += 1
                    elif r.status_code != 200:
                        errors.append(f"{route}: {r.status_code} {r.text[:300]}")
                if r.status_code == 429:  # back off (Retry-After, capped so that the run stays short)
                    time.sleep(min(float(r.headers.get("retry-after") or 1), args.max_backoff) * random.uniform(0.5, 1))

    threads = [threading.Thread(target=client_loop, name=f"client-{k}", daemon=True) for k in range(args.clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.monotonic() - start
    rss_after = proc.memory_info().rss / 2**20
    done = sum(codes.values())

    # --- shutdown ----------------------------------------------------------------------------------
    time.sleep(0.2)
    left_over = list(app.state.temp_root.iterdir()) if app.state.temp_root.is_dir() else []
    server.should_exit = True
    thread.join(30)
    shutil.rmtree(work, ignore_errors=True)

    # --- report ------------------------------------------------------------------------------------
    ok_describes = by_route["describe"][200]
    print(f"\n{done} requests by {args.clients} clients in {wall:.1f} s (cap {args.max_seconds:g} s)")
    print("status codes:", ", ".join(f"{k}: {v}" for k, v in sorted(codes.items(), key=str)))
    for route in ("healthz", "models", "describe"):
        print(f"  {route:<9}", ", ".join(f"{k}: {v}" for k, v in sorted(by_route[route].items(), key=str)))
    for e in errors[:10]:
        print("  error:", e)
    print()

    rows: list[tuple[str, float, str, bool]] = [
        ("requests done (of planned)", done, f"= {len(plan)}", done == len(plan)),
        ("throughput (requests/s)", done / wall, "report", True),
        ("describes answered 200 per s", ok_describes / wall, "report", True),
        ("describes answered 200", ok_describes, ">= 1", ok_describes >= 1),
        ("describes turned away (429)", by_route["describe"][429], "deliberate", True),
        ("errors (non-200 other than 429, transport)", len(errors), "= 0", not errors),
        ("429s without Retry-After", missing_retry_after, "= 0", missing_retry_after == 0),
    ]
    for key, label in (("healthz", "GET /healthz"), ("models", "GET /v1/models"),
                       ("describe 200", "POST /v1/describe (200)"), ("describe 429", "POST /v1/describe (429)")):
        if lat[key]:
            rows.append((f"{label} p50 latency (ms)", 1000 * _pct(lat[key], 50), "report", True))
            rows.append((f"{label} p95 latency (ms)", 1000 * _pct(lat[key], 95), "report", True))
    rows += [
        ("temporary entries left", len(left_over), "= 0", not left_over),
        ("RSS before load (MB)", rss_before, "report", True),
        ("RSS after load (MB)", rss_after, "report", True),
        ("RSS growth (MB)", rss_after - rss_before, "< 300", rss_after - rss_before < 300),
    ]
    return 0 if print_table(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
