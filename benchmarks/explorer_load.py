"""The explorer under load: many clients at once, good and malformed requests, on loopback only.

Starts `vaekit explore RUN` on a free 127.0.0.1 port (a real server process, as a user runs it),
then `--clients` threads (default 32), each with its own connection, send `--decodes` decode
requests (random codes inside the sliders' ranges) and `--malformed` bad ones (broken JSON, NaN,
wrong lengths and types, unknown fields, oversized bodies) in a shuffled order, all at once.
Bounded: every client stops after its requests or at `--max-seconds`, and the server is stopped
at the end whatever happened. Prints the latency of each kind (median, p95, p99, max), the
failures (a decode that is not a 200, a malformed request that is not a 4xx, a dropped
connection) and the wall time. Exit status 1 if anything failed.

    VAEKIT_DATA_DIR=../shared/data python benchmarks/explorer_load.py [RUN] [--clients 32]

Without RUN it first trains a small digits VAE with a 2-D code (a few seconds) in a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.browser import explorer_server  # noqa: E402


def malformed(rng: random.Random, dim: int) -> tuple[str, dict, str]:
    """(path, httpx keyword arguments, kind) of one bad request."""
    as_json = {"Content-Type": "application/json"}
    kinds = [
        ("/api/decode", {"content": b'{"z": [0.1, ', "headers": as_json}, "broken JSON"),
        ("/api/decode", {"content": b'{"z": [NaN, 0]}', "headers": as_json}, "NaN"),
        ("/api/decode", {"json": {"z": [0.0] * (dim + 3)}}, "wrong length"),
        ("/api/decode", {"json": {"z": "zero"}}, "wrong type"),
        ("/api/decode", {"json": {"z": [0.0] * dim, "extra": 1}}, "unknown field"),
        ("/api/decode", {"content": b"[" + b"0," * 200_000 + b"0]", "headers": as_json}, "oversized body"),
        ("/api/sample", {"json": {"temperature": -1}}, "out of range"),
        ("/api/interpolate", {"json": {"a": 0, "b": 10**9, "t": 0.5}}, "unknown image"),
    ]
    return rng.choice(kinds)


def client(url: str, jobs: list, ranges: list, deadline: float, out: list, lock: threading.Lock) -> None:
    rng = random.Random(len(jobs) * 7919 + id(jobs) % 1000)
    records = []
    with httpx.Client(base_url=url, timeout=60) as http:
        for job in jobs:
            if time.monotonic() > deadline:
                break
            if job == "decode":
                path, kwargs, kind = (
                    "/api/decode",
                    {"json": {"z": [rng.uniform(lo, hi) for lo, hi in ranges]}},
                    "decode",
                )
            else:
                path, kwargs, kind = malformed(rng, len(ranges))
            began = time.perf_counter()
            try:
                status = http.post(path, **kwargs).status_code
            except httpx.HTTPError as err:
                status = f"dropped ({type(err).__name__})"
            seconds = time.perf_counter() - began
            good = status == 200 if kind == "decode" else isinstance(status, int) and 400 <= status < 500
            records.append((job, kind, status, seconds, good))
    with lock:
        out.extend(records)


def small_run(folder: Path) -> Path:
    run = folder / "run"
    argv = ["--threads", "1", "train", "vae", "--latent-dim", "2", "--hidden", "64", "--epochs", "5", "--quiet"]
    subprocess.run([sys.executable, "-m", "vaekit", *argv, "--out", str(run)], check=True)
    return run


def load(run: Path, clients: int, decodes: int, bad: int, max_seconds: float, log: Path) -> dict:
    records, lock = [], threading.Lock()
    with explorer_server(run, log) as url:
        info = httpx.get(url + "/api/info", timeout=30).json()
        by_index = sorted(info["axes"], key=lambda a: a["index"])
        ranges = [(a["low"], a["high"]) for a in by_index]
        plans = []
        for c in range(clients):
            jobs = ["decode"] * decodes + ["malformed"] * bad
            random.Random(c).shuffle(jobs)
            plans.append(jobs)
        deadline = time.monotonic() + max_seconds
        threads = [threading.Thread(target=client, args=(url, jobs, ranges, deadline, records, lock)) for jobs in plans]
        began = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - began
        after = httpx.post(url + "/api/decode", json={"z": [0.0] * len(ranges)}, timeout=30).status_code
    return summary(records, wall, clients * (decodes + bad), after)


def summary(records: list, wall: float, planned: int, after: int) -> dict:
    def stats(seconds: list[float]) -> dict:
        if not seconds:
            return {"n": 0}
        s = sorted(seconds)
        pick = lambda q: s[min(len(s) - 1, int(q * len(s)))]  # noqa: E731
        return {"n": len(s), "median": statistics.median(s), "p95": pick(0.95), "p99": pick(0.99), "max": s[-1]}

    failures = [(kind, status) for _, kind, status, _, good in records if not good]
    return {
        "planned": planned,
        "sent": len(records),
        "wall_seconds": wall,
        "decode": stats([r[3] for r in records if r[0] == "decode"]),
        "malformed": stats([r[3] for r in records if r[0] == "malformed"]),
        "all": stats([r[3] for r in records]),
        "failures": len(failures),
        "failure_examples": failures[:5],
        "statuses": {str(k): v for k, v in sorted(_count(str(r[2]) for r in records).items())},
        "decode_after": after,
    }


def _count(items) -> dict:
    out: dict = {}
    for item in items:
        out[item] = out.get(item, 0) + 1
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", nargs="?", type=Path, help="a trained run (default: train a small one first)")
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--decodes", type=int, default=15, help="decode requests per client")
    p.add_argument("--malformed", type=int, default=5, help="malformed requests per client")
    p.add_argument("--max-seconds", type=float, default=300.0, help="clients stop sending after this long")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        run = args.run or small_run(Path(folder))
        r = load(run, args.clients, args.decodes, args.malformed, args.max_seconds, Path(folder) / "server.log")
    if args.json:
        print(json.dumps(r, indent=2))
    else:
        print(f"{args.clients} clients, {r['sent']} of {r['planned']} requests sent in {r['wall_seconds']:.1f} s")
        for kind in ("decode", "malformed", "all"):
            s = r[kind]
            if s["n"]:
                print(
                    f"  {kind:<10} n={s['n']:<5} median {s['median']:.3f} s  p95 {s['p95']:.3f} s  "
                    f"p99 {s['p99']:.3f} s  max {s['max']:.3f} s"
                )
        print(f"  statuses {r['statuses']}; failures {r['failures']} {r['failure_examples']}")
        print(f"  a decode after the load: {r['decode_after']}")
    return 1 if r["failures"] or r["decode_after"] != 200 or r["sent"] < r["planned"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
