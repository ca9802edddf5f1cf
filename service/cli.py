"""The ``jingyan`` console command; each stage registers its own subcommands."""

from __future__ import annotations

import argparse
import sys

from service.api import commands as api_commands
from service.auth import commands as auth_commands
from service.broker import commands as broker_commands
from service.config import StartRefused
from service.digest import commands as digest_commands
from service.intake import commands as intake_commands
from service.library import commands as library_commands
from service.library import search_commands
from service.mining import commands as mining_commands

STAGES = (intake_commands, mining_commands, library_commands, search_commands, api_commands, broker_commands, digest_commands, auth_commands)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jingyan", description="经验库：机关党建材料解析与经验做法库")
    sub = parser.add_subparsers(dest="command", required=True)
    for stage in STAGES:
        stage.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except StartRefused as exc:  # a wrong database or broker URL stops every command, never falls back
        print(f"拒绝启动：{exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
