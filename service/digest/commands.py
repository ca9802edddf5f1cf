"""CLI commands of the digest stage: ``jingyan digest run [--force] [--dry-run]``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from service.config import Settings


def _run(args: argparse.Namespace) -> int:
    from service.auth import audit
    from service.auth import schema as auth_schema
    from service.digest import schema
    from service.digest.runner import DigestRunner
    from service.digest.select import lexical_search
    from service.library import schema as library_schema
    from service.library.db import connect
    from service.library.library import database_path

    settings = Settings.from_env()
    if args.data:
        settings.data_dir = Path(args.data)
    path = database_path(settings)
    if not path.exists():
        print(f"未找到经验库数据库 {path}；请先用 jingyan serve 或 jingyan ingest 建库，或用 --data 指定数据目录")
        return 2
    conn = connect(path)
    try:
        library_schema.migrate(conn)
        schema.migrate(conn)
        auth_schema.migrate(conn)
        runner = DigestRunner(settings, connect=lambda: connect(path), search=lexical_search())
        report = runner.run(force=args.force, dry_run=args.dry_run)
        if not args.dry_run:
            audit.record(conn, "cli", "digest_run", None,
                         f"force={args.force}；发送 {len(report.sent)}，失败 {len(report.failed)}")
    finally:
        conn.close()
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
        return 0 if not report.failed or args.dry_run else 1
    verb = "将生成" if args.dry_run else "新生成"
    print(f"{verb}摘要 {len(report.created)} 期")
    for item in report.created:
        print(f"  订阅 {item['subscription_id']} → {item['recipient']}：经验做法 {len(item['practice_ids'])} 条")
    if args.dry_run:
        print(f"到期待重试 {len(report.failed)} 期（试运行，未发送）")
        return 0
    print(f"已发送 {len(report.sent)} 期，失败 {len(report.failed)} 期")
    for item in report.failed:
        retry = f"，将于 {item['next_attempt_at']} 重试" if item["next_attempt_at"] else "，不再自动重试"
        print(f"  摘要 {item['digest_id']}：{item['error']}{retry}")
    if report.recovered:
        print(f"发送中断的摘要 {len(report.recovered)} 期已标记为失败（不重发，内容并入下一期）")
    return 1 if report.failed else 0


def register(sub: argparse._SubParsersAction) -> None:
    d = sub.add_parser("digest", help="订阅摘要")
    dsub = d.add_subparsers(dest="digest_command", required=True)
    r = dsub.add_parser("run", help="发送到期的摘要（含失败重试）")
    r.add_argument("--force", action="store_true", help="把所有启用的订阅都视为到期")
    r.add_argument("--dry-run", action="store_true", help="只列出将要发送的内容，不发送、不记录")
    r.add_argument("--data", default=None, help="数据目录（默认 ./data）")
    r.add_argument("--json", action="store_true", help="以 JSON 输出结果")
    r.set_defaults(func=_run)
