"""CLI commands of the mining stage: ``jingyan extract`` and ``jingyan eval``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from service.config import Settings


def _extract(args: argparse.Namespace) -> int:
    from service.intake import parse_file
    from service.intake.errors import IntakeError
    from service.mining import extract

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        doc = parse_file(Path(args.file), settings=Settings.from_env())
    except IntakeError as exc:
        print(f"无法解析 {args.file}：{exc.user_line()}", file=sys.stderr)
        return 2
    practices = extract(doc, _encoder(args))
    try:
        _print_practices(doc, practices, args.json)
    except BrokenPipeError:  # output piped into head or less and closed early
        pass
    return 0


def _encoder(args: argparse.Namespace):  # noqa: ANN202 - the encoder type is imported lazily
    """The service's encoder, so topics read passage vectors as they do on ingest; None when
    ``--text-only`` is given or the model is not built (said on stderr)."""
    from service.mining.embed import encoder_if_built

    if getattr(args, "text_only", False):
        return None
    encoder = encoder_if_built(Settings.from_env())
    if encoder is None:
        print("未加载编码器（模型尚未构建，请运行 make setup），主题只按文字判断", file=sys.stderr)
    return encoder


def _print_practices(doc, practices, as_json: bool) -> None:  # noqa: ANN001
    if as_json:
        out = {"document": doc.to_dict(), "practices": [p.to_dict() for p in practices]}
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return
    print(f"{doc.title}：共 {len(practices)} 条（做法 {sum(p.kind == 'practice' for p in practices)}，"
          f"要求 {sum(p.kind == 'directive' for p in practices)}）")
    for p in practices:
        kind = "做法" if p.kind == "practice" else "要求"
        print(f"[{kind}｜{p.topic}] {'、'.join(p.orgs) or '—'}：{p.name or ''}")
        print(f"    {p.text}")


def _eval(args: argparse.Namespace) -> int:
    from service.intake import parse_file
    from service.mining import extract
    from service.mining.evaluate import SPLITS, evaluate

    splits = args.split or list(SPLITS)
    encoder = _encoder(args)
    scores = evaluate(lambda path: parse_file(path), lambda doc: extract(doc, encoder), splits=splits)
    for split in splits:
        rows = [s for s in scores if s.split == split]
        if not rows:
            continue
        print(f"\n== {split} ({len(rows)} 份) ==")
        print(_HEADER)
        for s in rows:
            print(_row(s))
        for genre in sorted({s.genre for s in rows}):
            print(_row(_pool(f"体裁 {genre}", split, [s for s in rows if s.genre == genre])))
        print(_row(_pool("合计", split, rows)))
        if args.details:
            for s in rows:
                _details(s)
    return 0


_HEADER = f"{'文件':<34}{'金标':>5}{'预测':>5}{'命中':>5}{'P':>7}{'R':>7}{'F1':>7}{'单位':>7}{'主题':>7}"


def _pool(label: str, split: str, rows: list):  # noqa: ANN202 - DocScore, imported lazily
    from service.mining.evaluate import DocScore

    total = DocScore(label, split)
    for s in rows:
        total.add(s)
    return total


def _row(s) -> str:  # noqa: ANN001 - DocScore, imported lazily
    return (f"{s.file:<34}{s.gold:>5}{s.predicted:>5}{s.matched:>5}{s.precision:>7.2f}{s.recall:>7.2f}"
            f"{s.f1:>7.2f}{s.unit_accuracy:>7.2f}{s.topic_accuracy:>7.2f}")


def _details(s) -> None:  # noqa: ANN001
    print(f"\n-- {s.file}")
    for g in s.misses:
        print(f"  漏  {g['kind']:<9} {g['key']}")
    for p in s.extra:
        print(f"  多  {p.kind:<9} {'、'.join(p.orgs)}｜{p.text[:70]}")
    for g, p in s.wrong_kind:
        print(f"  类别 {g['kind']} ≠ {p.kind}｜{g['key']}")
    for g, p in s.wrong_units:
        print(f"  单位 {g['orgs']} ≠ {p.orgs}｜{g['key']}")
    for g, p in s.wrong_topics:
        print(f"  主题 {g['topics']} ≠ {p.topic}｜{g['key']}")


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``extract`` and ``eval`` to the ``jingyan`` command."""
    p = sub.add_parser("extract", help="从一个文件中抽取经验做法（单位、做法名称、主题、出处）")
    p.add_argument("file")
    p.add_argument("--json", action="store_true", help="以 JSON 输出文档和做法")
    p.add_argument("--text-only", action="store_true", help="不加载编码器，主题只按文字判断（更快，主题准确率较低）")
    p.set_defaults(func=_extract)
    e = sub.add_parser("eval", help="用 corpus/gold 的标注评估做法抽取（train、dev、test 分开，并按体裁）")
    e.add_argument("--split", action="append", choices=["train", "dev", "test"],
                   help="只评估这个划分（可重复；默认三个都评估）")
    e.add_argument("--details", action="store_true", help="列出每份文档的漏抽、多抽、类别、单位和主题错误")
    e.add_argument("--text-only", action="store_true", help="不加载编码器，主题只按文字判断（用于对比）")
    e.set_defaults(func=_eval)
