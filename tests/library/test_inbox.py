"""The watched inbox: committees drop files into a shared folder instead of uploading them by hand."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import httpx

from service.config import REPO_ROOT, Settings
from service.library.inbox import FAILED, PROCESSED, REASON_SUFFIX, Inbox
from service.library.library import Library
from tests.library.conftest import SAMPLES, SEED
from tests.library.test_kill_resume import free_port
from tests.signin import api_token

ENV = os.environ | {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def wait_until(check, timeout: float, what: str):  # noqa: ANN001, ANN201 - a tiny polling helper
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what} not within {timeout:g} s"
        time.sleep(0.2)


def test_file_dropped_into_the_served_inbox_is_searchable_within_30_seconds(tmp_path: Path) -> None:
    inbox, port = tmp_path / "收件箱", free_port()
    inbox.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve", "--port", str(port), "--data", str(tmp_path / "data"),
         "--no-sample-corpus"],
        cwd=REPO_ROOT, env=ENV | {"JINGYAN_INBOX_DIR": str(inbox)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30,
                        headers={"Authorization": f"Bearer {api_token(tmp_path / 'data', 'staff')}"})
    try:
        def healthy() -> bool:
            assert proc.poll() is None, "service exited during start-up"
            try:
                return http.get("/api/health").status_code == 200
            except httpx.TransportError:
                return False

        wait_until(healthy, 120, "service start")
        # A copy arriving in two writes: the half-written file must not be taken.
        data = SEED.read_bytes()
        target = inbox / "交流会讲话.txt"
        with target.open("wb") as fh:
            fh.write(data[: len(data) // 2])
            fh.flush()
            time.sleep(0.6)
            fh.write(data[len(data) // 2 :])
        dropped = time.monotonic()

        def found() -> bool:
            results = http.get("/api/search", params={"q": "学习制度"}).json()["results"]
            return any("日读一文" in r["practice"]["text"] for r in results)

        wait_until(found, 30, "searchable")
        assert time.monotonic() - dropped < 30
        wait_until(lambda: (inbox / PROCESSED / target.name).exists(), 10, "moved to processed/")
        assert not target.exists()
        jobs = http.get("/api/jobs").json()["jobs"]
        assert [j["filename"] for j in jobs] == [target.name] and jobs[0]["status"] == "done"
        # The whole text, not half of it, was ingested.
        doc = http.get(f"/api/documents/{jobs[0]['document_id']}").json()
        assert "三卡预警" in doc["text"]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        http.close()


def test_failed_files_move_aside_with_their_reason_and_zips_are_unpacked(tmp_path: Path, embedder) -> None:
    library = Library(Settings(data_dir=tmp_path / "data", load_sample_corpus=False), embedder)
    folder = tmp_path / "inbox"
    inbox = Inbox(folder, library, settle_s=0)
    library.start()
    try:
        (folder / "坏文件.docx").write_bytes(b"PK\x03\x04 not really a word file")
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as z:
            z.writestr("a.txt", (SAMPLES / "pb-lotjol__03.txt").read_text(encoding="utf-8"))
            z.writestr("b.txt", (SAMPLES / "pb-lotjol__04.txt").read_text(encoding="utf-8"))
        (folder / "一批材料.zip").write_bytes(archive.getvalue())
        moved: list[tuple[str, str]] = []
        wait_until(lambda: moved.extend(inbox.run_once()) or len(moved) == 2, 120, "both files moved")
        assert sorted(moved) == [("一批材料.zip", PROCESSED), ("坏文件.docx", FAILED)]
        reason = (folder / FAILED / ("坏文件.docx" + REASON_SUFFIX)).read_text(encoding="utf-8")
        assert reason.startswith("坏文件.docx：") and "请" in reason
        assert (folder / PROCESSED / "一批材料.zip").exists() and not list(folder.glob("*.zip"))
        count = library.db.conn().execute("SELECT COUNT(*) FROM documents").fetchone()[0]
        assert count == 2
    finally:
        library.close()


def test_nothing_is_ingested_twice_after_a_restart(tmp_path: Path, embedder) -> None:
    settings = Settings(data_dir=tmp_path / "data", load_sample_corpus=False)
    folder = tmp_path / "inbox"
    first = Library(settings, embedder)
    inbox = Inbox(folder, first, settle_s=0)
    (folder / "讲话.txt").write_bytes(SEED.read_bytes())
    inbox.run_once()  # seen
    inbox.run_once()  # settled: its job is queued
    assert first.queue.counts()["queued"] == 1
    # The service stops before the job ran; the file is still in the inbox.
    first.close()
    assert (folder / "讲话.txt").exists()

    second = Library(settings, embedder)
    inbox = Inbox(folder, second, settle_s=0)
    second.start()
    try:
        moved: list[tuple[str, str]] = []
        wait_until(lambda: moved.extend(inbox.run_once()) or moved, 120, "file moved")
        assert moved == [("讲话.txt", PROCESSED)]
        conn = second.db.conn()
        assert conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 1
        assert conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0] == 1
        # The same file dropped again later is recognised as the same document, not a second one.
        (folder / "讲话.txt").write_bytes(SEED.read_bytes())
        moved.clear()
        wait_until(lambda: moved.extend(inbox.run_once()) or moved, 60, "second copy moved")
        assert (folder / PROCESSED / "讲话 (2).txt").exists()
        assert conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0] == 1
    finally:
        second.close()


def test_jingyan_watch_ingests_what_is_dropped_into_a_folder(tmp_path: Path) -> None:
    folder, data = tmp_path / "materials", tmp_path / "data"
    folder.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "watch", str(folder), "--data", str(data)],
        cwd=REPO_ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        (folder / "总结.txt").write_bytes((SAMPLES / "zhdj-zhongtiao__01.txt").read_bytes())
        wait_until(lambda: (folder / PROCESSED / "总结.txt").exists(), 180, "moved to processed/")
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    assert "已导入  总结.txt → processed/" in out
    assert proc.returncode == 0
    search = subprocess.run([sys.executable, "-m", "service.cli", "search", "改革创新", "--json", "--data", str(data)],
                            cwd=REPO_ROOT, env=ENV, capture_output=True, text=True, timeout=300)
    assert "中条林局" in search.stdout
