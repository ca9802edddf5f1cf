"""The service over HTTP, old and new encoder: upload-to-done time, first-seen query latency, peak RSS.

    python -m bench.upload [--files 6] [--queries 30]

For each encoder (``JINGYAN_ENCODER=onnx``, then ``torch``) a fresh ``jingyan serve`` runs on a free
local port with an empty data directory. The sample PDFs of ``corpus/samples`` are uploaded one at a
time (each copy differs in its last bytes) and polled until done; then new queries, none seen before,
go to ``/api/search`` over one kept-alive connection. The first upload may wait for the worker process
to finish loading its models, so the median is printed.
Peak RSS is the server process's ``VmHWM``. On a shared machine wall times are inflated: the load
average is printed with them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from bench.fixtures import bench_headers
from service.config import REPO_ROOT

SAMPLES = REPO_ROOT / "corpus" / "samples"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(base: str, proc: subprocess.Popen, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"服务启动失败，退出码 {proc.returncode}")
        try:
            if httpx.get(base + "/api/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("服务在限定时间内未就绪")


def upload_until_done(http: httpx.Client, path: Path, copy: int) -> tuple[float, str]:
    data = path.read_bytes() + f"\n%copy {copy}\n".encode()
    start = time.perf_counter()
    job = http.post("/api/documents", files={"files": (path.name, data, "application/pdf")}, timeout=60).json()["jobs"][0]
    while job["status"] not in ("done", "failed"):
        time.sleep(0.01)
        job = http.get(f"/api/jobs/{job['id']}", timeout=10).json()
    return time.perf_counter() - start, job["status"]


def run(encoder: str, files: list[Path], queries: int) -> dict[str, float]:
    data_dir = Path(tempfile.mkdtemp(prefix=f"jingyan-upload-{encoder}-"))
    port = free_port()
    headers = bench_headers(data_dir)
    env = {**os.environ, "JINGYAN_ENCODER": encoder, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve", "--port", str(port), "--data", str(data_dir),
         "--no-sample-corpus"],
        cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, proc)
        # One client with a kept-alive connection, as a browser has: ``httpx.get`` builds a new client
        # (and its TLS context) per call, ~20 ms of this process's CPU that is no part of the service.
        http = httpx.Client(base_url=base, headers=headers)
        times = []
        for copy, path in enumerate(files):
            seconds, status = upload_until_done(http, path, copy)
            times.append(seconds)
            if status != "done":
                print(f"  {path.name}: {status}")
        latencies = []
        for i in range(queries):
            start = time.perf_counter()
            http.get("/api/search", params={"q": f"党员志愿服务第{i + 1}次活动"}, timeout=30)
            latencies.append((time.perf_counter() - start) * 1000)
        status = Path(f"/proc/{proc.pid}/status").read_text()
        hwm = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM"))
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(data_dir, ignore_errors=True)
    return {
        "first_s": times[0],
        "median_s": statistics.median(times),
        "query_p50_ms": float(np.percentile(latencies, 50)),
        "query_p95_ms": float(np.percentile(latencies, 95)),
        "peak_rss_mb": hwm / 1024,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="经 HTTP 测服务：上传到完成的时间、首次查询延迟、峰值内存（新旧编码器）")
    parser.add_argument("--files", type=int, default=6, help="上传的示例 PDF 份数（默认 6）")
    parser.add_argument("--queries", type=int, default=30, help="首次查询条数（默认 30）")
    parser.add_argument("--encoders", default="onnx,torch", help="依次测的编码器，逗号分隔")
    args = parser.parse_args(argv)
    files = sorted(SAMPLES.glob("*.pdf"))[: args.files]
    for encoder in [e.strip() for e in args.encoders.split(",") if e.strip()]:
        r = run(encoder, files, args.queries)
        print(f"{encoder:<6} upload-to-done median {r['median_s']:.2f} s (first {r['first_s']:.2f} s, n={len(files)})"
              f"   first-seen query p50 {r['query_p50_ms']:.1f} ms p95 {r['query_p95_ms']:.1f} ms (n={args.queries})"
              f"   server peak RSS {r['peak_rss_mb']:.0f} MB", flush=True)
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores (shared machine)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
