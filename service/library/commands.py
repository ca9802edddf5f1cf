"""CLI commands of the library: ``jingyan ingest``, ``jingyan watch``, ``jingyan search``, ``jingyan groups rebuild``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from service.config import Settings

if TYPE_CHECKING:
    from service.library.library import Library


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings.from_env()
    if getattr(args, "data", None):
        settings.data_dir = Path(args.data)
    return settings


def _open(args: argparse.Namespace, with_model: bool = True) -> Library:
    # Imported here so `jingyan --help` stays fast (the library pulls in torch).
    from service.library.library import Library, check_database, load_embedder

    settings = _settings(args)
    check_database(settings)  # a database that cannot be used stops the command before the model loads
    return Library(settings, load_embedder(settings) if with_model else None)


def _files(paths: list[str]) -> list[Path]:
    """Files named directly, and every non-hidden file under named folders, in a stable order."""
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            out.extend(
                f
                for f in sorted(p.rglob("*"))
                if f.is_file() and not any(x.startswith(".") for x in f.parts[-1:])
            )
        else:
            out.append(p)
    return out


def _ingest(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from service.library.jobs import run_one
    from service.library.uploads import Arrival, expand

    library = _open(args)
    try:
        jobs: list[dict] = []
        for path in _files(args.paths):
            try:
                data = path.read_bytes()
            except OSError as exc:
                arrivals = [Arrival(path.name, b"", "unreadable", f"无法读取文件，请确认路径和权限（{exc}）")]
            else:
                arrivals = expand(path.name, data, library.settings)
            jobs.extend(library.queue.submit(a) for a in arrivals)
        for job in tqdm(jobs, desc="导入", unit="份", file=sys.stderr):
            claimed = library.queue.claim_next(job["id"])
            if claimed is not None:
                run_one(library.queue, library.ingestor.run_job, claimed)
        final = [library.queue.get(j["id"]) or j for j in jobs]
    finally:
        library.close()
    done = [j for j in final if j["status"] == "done"]
    failed = [j for j in final if j["status"] == "failed"]
    exact = sum(1 for j in done if j["duplicate"] == "exact")
    near = sum(1 for j in done if j["duplicate"] == "near")
    print(
        f"共 {len(final)} 个文件：成功 {len(done)}（其中完全重复 {exact}，近似重复 {near}），失败 {len(failed)}"
    )
    for j in failed:
        print(f"  失败  {j['filename']}：{j['error']}")
    return 1 if failed else 0


def _search(args: argparse.Namespace) -> int:
    from service.library.results import search_results
    from service.library.search import SearchFilters

    library = _open(args)
    try:
        filters = SearchFilters(topic=args.topic, org=args.org, kind=args.kind, year=args.year, tag=args.tag)
        result = search_results(library, args.query.strip(), filters, limit=args.limit)
    finally:
        library.close()
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    print(f"共 {result['total']} 条")
    for i, r in enumerate(result["results"], 1):
        p, d = r["practice"], r["document"] or {}
        label = p["name"] or p["text"][:30]
        print(f"{i:>2}. [{p['topic']}] {'、'.join(p['orgs']) or '（未识别单位）'}：{label}")
        print(f"    《{d.get('title') or d.get('filename')}》 {d.get('date') or ''}  得分 {r['score']}")
    return 0


def _watch(args: argparse.Namespace) -> int:
    import logging
    import signal
    import threading

    from service.library.inbox import Inbox

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    library = _open(args)
    inbox = Inbox(Path(args.folder), library)
    # Ctrl+C and SIGTERM end the loop between two looks at the folder: a KeyboardInterrupt raised in
    # the middle of one could leave its write transaction open, and the workers wait on it.
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    library.start()
    print(f"正在监视 {inbox.folder}：放入的文件导入后移到 processed/，失败的移到 failed/（附原因）。按 Ctrl+C 停止。",
          file=sys.stderr)
    try:
        while not stop.is_set():
            for name, outcome in inbox.run_once():
                print(f"{'已导入' if outcome == 'processed' else '失败'}  {name} → {outcome}/", flush=True)
            stop.wait(inbox.poll_s)
    finally:
        library.close()
    return 0


def _groups_rebuild(args: argparse.Namespace) -> int:
    library = _open(args, with_model=False)
    try:
        n = library.grouper.rebuild(library.db.conn())
    finally:
        library.close()
    print(f"已重建做法分组：{n} 组")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ingest", help="导入文件、文件夹或 .zip 压缩包到经验库")
    p.add_argument("paths", nargs="+", help="文件、文件夹或 .zip")
    p.add_argument("--data", default=None, help="数据目录（默认 ./data）")
    p.set_defaults(func=_ingest)

    w = sub.add_parser("watch", help="监视一个文件夹，自动导入放入其中的文件和 .zip")
    w.add_argument("folder", help="收件文件夹（处理后的文件移到其中的 processed/ 或 failed/）")
    w.add_argument("--data", default=None, help="数据目录（默认 ./data）")
    w.set_defaults(func=_watch)

    s = sub.add_parser("search", help="检索经验做法")
    s.add_argument("query", help="检索词，如 学习制度；为空字符串时按筛选条件浏览")
    s.add_argument("--topic", default=None, help="主题，如 思想建设")
    s.add_argument("--org", default=None, help="单位")
    s.add_argument("--kind", default=None, choices=["practice", "directive"])
    s.add_argument("--year", type=int, default=None)
    s.add_argument("--tag", default=None)
    s.add_argument("--limit", type=int, default=10)
    s.add_argument("--json", action="store_true", help="输出 JSON")
    s.add_argument("--data", default=None, help="数据目录（默认 ./data）")
    s.set_defaults(func=_search)

    g = sub.add_parser("groups", help="做法分组")
    gsub = g.add_subparsers(dest="groups_command", required=True)
    r = gsub.add_parser("rebuild", help="重新聚类全部做法")
    r.add_argument("--data", default=None, help="数据目录（默认 ./data）")
    r.set_defaults(func=_groups_rebuild)
