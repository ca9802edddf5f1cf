"""``jingyan digest run`` from a shell: a dry run lists, a forced run sends, a second run sends nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from service.config import REPO_ROOT
from service.digest.clock import ManualClock
from tests.digest.corpus_library import SEED_SPECS
from tests.digest.test_runner import store, subscribe


def jingyan(data_dir, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "JINGYAN_BASE_URL": "http://jingyan.test",
           # The test webhook receiver listens on loopback.
           "JINGYAN_WEBHOOK_ALLOW_PRIVATE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "service.cli", "digest", "run", "--data", str(data_dir), *args],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300,
    )


def test_digest_run_from_the_command_line(tmp_path, webhook):
    from service.digest import schema as digest_schema
    from service.library import schema as library_schema
    from service.library.db import connect
    from service.library.library import database_path
    from tests.digest.conftest import digest_settings

    settings = digest_settings(tmp_path)
    path = database_path(settings)
    path.parent.mkdir(parents=True)
    conn = connect(path)
    library_schema.migrate(conn)
    digest_schema.migrate(conn)
    conn.close()
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5))
    sub = subscribe(path, clock, webhook_url=webhook.url, topics=["思想建设"])
    store(path, SEED_SPECS, clock.advance(timedelta(minutes=1)))

    assert "将生成摘要 0 期" in jingyan(settings.data_dir, "--dry-run").stdout  # weekly: not due yet
    dry = jingyan(settings.data_dir, "--dry-run", "--force")
    assert dry.returncode == 0, dry.stderr
    assert f"订阅 {sub.id} → {webhook.url}：经验做法 3 条" in dry.stdout and webhook.requests == 0

    sent = jingyan(settings.data_dir, "--force")
    assert sent.returncode == 0, sent.stderr
    assert "已发送 1 期" in sent.stdout and len(webhook.received) == 1

    again = jingyan(settings.data_dir, "--force")
    assert "新生成摘要 0 期" in again.stdout and webhook.requests == 1
    conn = connect(path)
    runs = conn.execute("SELECT user, detail FROM audit_log WHERE action = 'digest_run' ORDER BY id").fetchall()
    conn.close()
    assert [(r["user"], r["detail"]) for r in runs] == [("cli", "force=True；发送 1，失败 0"),
                                                        ("cli", "force=True；发送 0，失败 0")]

    missing = jingyan(tmp_path / "nowhere")
    assert missing.returncode == 2 and "未找到经验库数据库" in missing.stdout
