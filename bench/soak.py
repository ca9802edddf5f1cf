"""Search under ingestion load: ``python -m bench.soak`` prints search latency, errors and memory.

It starts the real service (``jingyan serve``: web process plus its ingestion worker process) on a
free port, fills a library of ``--docs`` documents over HTTP (variants of the corpus texts: other
units, places and numbers, so no two are duplicates), then (after one warm-up pass of its queries) for ``--seconds`` sends searches at
``--rate`` per second (a third filtered by topic, each with a time-out) while ``--ingest`` more
documents are uploaded, ``--long`` of them long work reports. Reported: searches sent, errors and
time-outs, latency p50/p95/p99/max, how long the uploads took to be done, and the resident memory
(peak and end) of the web process, the worker process and the whole service, as RSS, private
memory and PSS.

``--data DIR`` keeps the library between runs, so the slow fill happens once::

    python -m bench.soak --docs 500 --data /tmp/soak-library
    python -m bench.soak --docs 500 --data /tmp/soak-library --rate 50 --seconds 60
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from bench.fixtures import bench_headers
from bench.search import vary
from service.config import REPO_ROOT
from service.mining.practice import TOPICS

SAMPLES = REPO_ROOT / "corpus" / "samples"
QUERIES = (
    "学习制度", "工地上建党组织", "机关干部下沉社区", "老同志发挥余热", "主题党日", "志愿服务", "基层治理",
    "作风建设", "党风廉政", "吹哨报到", "三会一课", "网格化管理", "乡村振兴", "营商环境", "为民办实事",
    "理论学习中心组", "党员积分管理", "支部标准化", "谈心谈话", "廉政教育",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def memory_mb(pid: int | None) -> tuple[float, float, float]:
    """Resident, private (anonymous) and proportional (PSS) memory of one process in MB; zeros when gone.

    Resident memory counts the pages of shared libraries and mapped files in every process that
    touches them (torch's libraries alone are hundreds of MB); PSS shares them out, so PSS of the
    processes adds up to what the service really holds.
    """
    if not pid:
        return 0.0, 0.0, 0.0
    rss = anon = pss = 0.0
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) / 1024
                elif line.startswith("RssAnon:"):
                    anon = int(line.split()[1]) / 1024
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1]) / 1024
    except OSError:
        pass
    return rss, anon, pss


def cpu_seconds(pid: int | None) -> float:
    """CPU time a process has used, its own and its finished children's (0 when gone)."""
    if not pid:
        return 0.0
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (the worker and any parse child it runs)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def documents(count: int, names: list[Path], seed: int, tag: str) -> list[tuple[str, bytes]]:
    """``count`` distinct documents varied from the corpus texts in ``names``."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        source = names[i % len(names)]
        text, _ = vary(source.read_text(encoding="utf-8"), rng)
        out.append((f"{tag}-{i:04d}-{source.stem}.txt", f"{tag}第{i}号材料\n{text}".encode()))
    return out


def start_service(data: Path, port: int) -> tuple[subprocess.Popen, httpx.Client]:
    env = os.environ | {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve", "--port", str(port), "--data", str(data), "--no-sample-corpus"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60, headers=bench_headers(data))
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("服务启动失败")
        try:
            if http.get("/api/health").status_code == 200:
                return proc, http
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise SystemExit("服务 300 秒内未就绪")


def wait_idle(http: httpx.Client, timeout_s: float) -> dict[str, int]:
    deadline = time.monotonic() + timeout_s
    while True:
        counts = http.get("/api/health").json()["jobs"]
        if counts["queued"] == counts["running"] == 0:
            return counts
        if time.monotonic() > deadline:
            return counts
        time.sleep(1)


def upload(http: httpx.Client, docs: list[tuple[str, bytes]], batch: int = 10) -> None:
    for i in range(0, len(docs), batch):
        files = [("files", (name, data)) for name, data in docs[i : i + batch]]
        r = http.post("/api/documents", files=files)
        r.raise_for_status()


class MemoryWatch:
    """Samples the memory of the web process, its worker (with any parse child) and both, twice a second."""

    KEYS = ("web", "web_anon", "worker", "total", "total_anon", "total_pss")

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = dict.fromkeys(self.KEYS, 0.0)
        self.last = dict(self.peak)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> dict[str, float]:
        web = memory_mb(self.pid)
        below = [memory_mb(p) for p in descendants(self.pid)]
        now = {
            "web": web[0],
            "web_anon": web[1],
            "worker": sum(m[0] for m in below),
            "total": web[0] + sum(m[0] for m in below),
            "total_anon": web[1] + sum(m[1] for m in below),
            "total_pss": web[2] + sum(m[2] for m in below),
        }
        for k, v in now.items():
            self.peak[k] = max(self.peak[k], v)
        self.last = now
        return now

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self.sample()

    def __enter__(self) -> MemoryWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def search_load(
    base_url: str, rate: float, seconds: float, timeout_s: float, headers: dict[str, str]
) -> tuple[list[float], list[str]]:
    """Searches at ``rate`` per second on a fixed schedule (a slow answer does not slow the sender)."""
    latencies: list[float] = []
    errors: list[str] = []
    local = threading.local()

    def one(n: int) -> None:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(base_url=base_url, timeout=timeout_s, headers=headers)
        params = {"q": QUERIES[n % len(QUERIES)]}
        if n % 3 == 0:
            params["topic"] = TOPICS[(n // 3) % len(TOPICS)]
        t = time.perf_counter()
        try:
            r = client.get("/api/search", params=params)
            if r.status_code != 200:
                errors.append(f"HTTP {r.status_code}: {r.text[:120]}")
                return
        except httpx.TimeoutException:
            errors.append("time-out")
            return
        except httpx.HTTPError as exc:
            errors.append(repr(exc))
            return
        latencies.append(time.perf_counter() - t)

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=32) as pool:
        n = 0
        while (due := start + n / rate) < start + seconds:
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            pool.submit(one, n)
            n += 1
    return latencies, errors


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=500, help="library size before the load (default 500)")
    ap.add_argument("--rate", type=float, default=50.0, help="searches per second (default 50)")
    ap.add_argument("--seconds", type=float, default=60.0, help="length of the load (default 60)")
    ap.add_argument("--ingest", type=int, default=20, help="documents uploaded during the load (default 20)")
    ap.add_argument("--long", type=int, default=14, help="of which long work reports (default 14)")
    ap.add_argument("--timeout", type=float, default=10.0, help="a search slower than this is an error (s)")
    ap.add_argument("--data", default=None, help="library directory, kept between runs (default: temporary)")
    args = ap.parse_args(argv)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # so the service is stopped on the way out
    tmp = None if args.data else tempfile.TemporaryDirectory(prefix="jingyan-soak-")
    data = Path(args.data or tmp.name)  # type: ignore[union-attr]
    texts = sorted(SAMPLES.glob("*.txt"))
    short = [p for p in texts if not p.name.startswith("gwr-national")]
    reports = [p for p in texts if p.name.startswith("gwr-national")]
    proc, http = start_service(data, free_port())
    try:
        have = http.get("/api/documents", params={"limit": 1}).json()["total"]
        if have < args.docs:
            t = time.perf_counter()
            print(f"建库：已有 {have} 篇，上传 {args.docs - have} 篇 …", flush=True)
            # Mostly the short grassroots materials, one long work report in about six.
            upload(http, documents(args.docs, short * 4 + reports, seed=1, tag="库")[have:])
            wait_idle(http, 6 * 3600)
            print(f"建库用时 {time.perf_counter() - t:.0f} 秒", flush=True)
        wait_idle(http, 6 * 3600)  # the load starts on an idle queue
        total = http.get("/api/documents", params={"limit": 1}).json()["total"]
        practices = http.get("/api/search", params={"q": ""}).json()["total"]
        load = documents(args.long, reports, seed=int(time.time()), tag="长报告") + documents(
            args.ingest - args.long, short, seed=int(time.time()) + 1, tag="新材料"
        )
        random.Random(7).shuffle(load)
        # Every query once, as a service that has been up a while has them: the load measures
        # steady searching, not the model's first encoding of each query.
        for n in range(len(QUERIES) * 2):
            params = {"q": QUERIES[n % len(QUERIES)]} | ({"topic": TOPICS[0]} if n >= len(QUERIES) else {})
            http.get("/api/search", params=params).raise_for_status()
        with MemoryWatch(proc.pid) as memory:
            idle = memory.sample()
            uploader = threading.Thread(target=upload, args=(http, load, 1))
            t0 = time.perf_counter()
            web_cpu = cpu_seconds(proc.pid)
            uploader.start()
            latencies, errors = search_load(str(http.base_url), args.rate, args.seconds, args.timeout,
                                            {"Authorization": http.headers["Authorization"]})
            web_cpu = cpu_seconds(proc.pid) - web_cpu
            uploader.join()
            counts = wait_idle(http, 3600)
            drained = time.perf_counter() - t0
            end = memory.sample()
        sent = len(latencies) + len(errors)
        print(f"库：{total} 篇文档，{practices} 条做法（机器与他人共用，数字有波动）")
        print(f"检索：{sent} 次（{args.rate:g}/秒 × {args.seconds:g} 秒，三分之一按主题筛选），"
              f"错误 {len(errors)}（其中超时 {errors.count('time-out')}）")
        for e in sorted(set(errors))[:5]:
            print(f"  {e}")
        print(f"延迟 p50 {pct(latencies, 0.5) * 1000:.1f} ms，p95 {pct(latencies, 0.95) * 1000:.1f} ms，"
              f"p99 {pct(latencies, 0.99) * 1000:.1f} ms，最大 {max(latencies, default=0) * 1000:.0f} ms")
        print(f"网页进程 CPU：加载期间 {web_cpu:.1f} 秒，每次检索 {web_cpu / max(sent, 1) * 1000:.1f} ms"
              f"（含接收上传），负载 {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        print(f"入库：{args.ingest} 篇（长报告 {args.long}）上传后 {drained:.0f} 秒全部处理完；任务 {counts}")
        peak = memory.peak
        print(f"内存 RSS（MB）：网页进程 空闲 {idle['web']:.0f} / 峰值 {peak['web']:.0f} / 结束 {end['web']:.0f}"
              f"（其中私有 峰值 {peak['web_anon']:.0f}）；入库进程 峰值 {peak['worker']:.0f}；"
              f"服务合计 峰值 RSS {peak['total']:.0f}，私有 {peak['total_anon']:.0f}，PSS {peak['total_pss']:.0f}")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
        http.close()
        if tmp is not None:
            tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
