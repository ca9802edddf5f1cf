"""A database or broker URL that cannot be used stops start-up with a clear message, never a silent fallback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from service.config import REPO_ROOT, Settings
from service.library.library import Library, StorageUnavailable

POSTGRES_URL = "postgresql://clerk:s3cret@127.0.0.1:5432/test"


def run_cli(args: list[str], data: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "service.cli", *args],
        cwd=REPO_ROOT,
        env=os.environ | {"HF_HUB_OFFLINE": "1", "JINGYAN_DATA_DIR": str(data)} | env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "args",
    [["serve", "--port", "1", "--no-sample-corpus"], ["worker"], ["search", "学习制度"]],
    ids=["serve", "worker", "search"],
)
def test_a_postgresql_url_is_refused_by_every_command_instead_of_using_sqlite(tmp_path, args):
    data = tmp_path / "data"
    done = run_cli(args, data, JINGYAN_DATABASE_URL=POSTGRES_URL, JINGYAN_BROKER_URL="redis://127.0.0.1:6379/13")
    assert done.returncode == 2, done.stderr
    assert "拒绝启动" in done.stderr and "JINGYAN_DATABASE_URL=postgresql://clerk:***@127.0.0.1:5432/test" in done.stderr
    assert "s3cret" not in done.stderr
    assert not (data / "jingyan.sqlite").exists()


def test_a_sqlite_file_that_cannot_be_opened_stops_serve(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    done = run_cli(["serve", "--port", "1"], tmp_path / "data", JINGYAN_DATABASE_URL=f"sqlite:///{blocker}/jingyan.sqlite")
    assert done.returncode == 2
    assert "无法打开数据库" in done.stderr


@pytest.mark.parametrize(
    ("url", "message"),
    [("redis://127.0.0.1:1/0", "无法连接 JINGYAN_BROKER_URL"), ("amqp://127.0.0.1//", "只支持 Redis")],
    ids=["unreachable", "unsupported"],
)
def test_a_broker_that_cannot_be_used_stops_serve_and_worker(tmp_path, url, message):
    for args in (["serve", "--port", "1", "--no-sample-corpus"], ["worker"]):
        done = run_cli(args, tmp_path / "data", JINGYAN_BROKER_URL=url)
        assert done.returncode == 2, done.stderr
        assert message in done.stderr


def test_the_library_itself_refuses_an_unsupported_url(tmp_path):
    with pytest.raises(StorageUnavailable, match="PostgreSQL 后端尚未实现"):
        Library(Settings(data_dir=tmp_path, database_url=POSTGRES_URL))
    assert list(tmp_path.iterdir()) == []
