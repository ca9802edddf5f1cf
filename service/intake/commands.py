"""CLI commands of the intake stage: ``jingyan parse``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from service.config import Settings


def _parse(args: argparse.Namespace) -> int:
    from service.intake import parse_file
    from service.intake.errors import IntakeError

    try:
        doc = parse_file(Path(args.file), settings=Settings.from_env())
    except IntakeError as exc:
        print(f"无法解析 {args.file}：{exc.user_line()}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(doc.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(f"标题：{doc.title}\n类型：{doc.kind}\n单位：{doc.org or '—'}\n日期：{doc.date or '—'}")
        for _path, section in doc.iter_sections():
            print("  " * (section.level - 1) + section.heading)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("parse", help="解析一个文件并输出文档结构")
    p.add_argument("file")
    p.add_argument("--json", action="store_true", help="以 JSON 输出完整文档")
    p.set_defaults(func=_parse)
