"""Parsing from every kind of entry point: module, installed command, ad-hoc script, piped code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from service.config import REPO_ROOT

SAMPLE = REPO_ROOT / "corpus" / "samples" / "seed__000_d56bd712dbae6b12.txt"
PARSE = (
    "from pathlib import Path\n"
    "from service.intake import parse_file\n"
    "from service.intake.guard import _context\n"
    f"doc = parse_file(Path({str(SAMPLE)!r}))\n"
    "print(_context().get_start_method(), len(doc.text) > 1000)\n"
)


def run(args: list[str], **kwargs) -> list[str]:
    done = subprocess.run(args, capture_output=True, text=True, timeout=300, cwd=REPO_ROOT,
                          env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"}, **kwargs)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_code_given_with_c_parses_in_a_child_of_the_parser_server() -> None:
    assert run([sys.executable, "-c", PARSE]) == ["forkserver", "True"]


def test_an_unguarded_script_still_parses_by_forking_itself(tmp_path: Path) -> None:
    script = tmp_path / "one_off.py"
    script.write_text(PARSE, encoding="utf-8")  # no __main__ guard: a server child would re-run it
    assert run([sys.executable, str(script)]) == ["fork", "True"]


def test_code_piped_to_python_still_parses() -> None:
    assert run([sys.executable, "-"], input=PARSE) == ["fork", "True"]
