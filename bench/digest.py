"""Digest and export figures: how long a Word 汇编 of the whole library takes, and digests per second.

    python -m bench.digest [--copies 1] [--subscriptions 50]

Builds a throwaway library from the mined sample corpus (each document stored ``--copies`` times
to grow it), then times export to .docx/CSV of the most the API exports at once (5000 practices)
and one forced digest run to ``--subscriptions`` subscribers (one topic each) over a loopback
SMTP server (aiosmtpd).
"""

from __future__ import annotations

import argparse
import hashlib
import socket
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from service.api.routes_export import MAX_EXPORT
from service.config import REPO_ROOT, Settings
from service.digest import schema as digest_schema
from service.digest import subscriptions as subs
from service.digest.clock import ManualClock
from service.digest.runner import DigestRunner
from service.library import export, store
from service.library import schema as library_schema
from service.library.db import connect
from service.mining.practice import TOPICS

SAMPLES = REPO_ROOT / "corpus" / "samples"


def build_library(path: Path, copies: int, when: datetime) -> int:
    """Mine every sample text and store it ``copies`` times; returns the number of practices."""
    from service import mining
    from service.intake import parse_file

    conn = connect(path)
    library_schema.migrate(conn)
    digest_schema.migrate(conn)
    total = 0
    for source in sorted(SAMPLES.glob("*.txt")):
        doc = parse_file(source)
        practices = mining.extract(doc)
        for copy in range(copies):
            data = source.read_bytes() + f"#{copy}".encode()
            with store.transaction(conn):
                doc_id = store.insert_document(
                    conn, doc, sha256=hashlib.sha256(data).hexdigest(), filename=source.name, size=len(data)
                )
                ids = store.insert_practices(conn, doc_id, practices)
                conn.executemany(
                    "UPDATE practices SET created_at = ? WHERE id = ?", [(when.isoformat(), i) for i in ids]
                )
            total += len(ids)
    conn.close()
    return total


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=1)
    parser.add_argument("--subscriptions", type=int, default=50)
    args = parser.parse_args(argv)

    from aiosmtpd.controller import Controller

    class Sink:
        count = 0

        async def handle_DATA(self, server, session, envelope):
            Sink.count += 1
            return "250 OK"

    with tempfile.TemporaryDirectory(prefix="jingyan-bench-") as tmp:
        db = Path(tmp) / "library.sqlite"
        clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
        conn = connect(db)
        library_schema.migrate(conn)
        digest_schema.migrate(conn)
        for i in range(args.subscriptions):
            subs.create(conn, {"email": f"reader{i}@bench.test", "topics": [TOPICS[i % len(TOPICS)]]}, clock.now())
        conn.close()

        t0 = time.perf_counter()
        n = build_library(db, args.copies, clock.advance(timedelta(minutes=1)))
        print(f"library: {n} practices from {args.copies} copies of the samples ({time.perf_counter() - t0:.1f} s)")

        conn = connect(db)
        ids = [r[0] for r in conn.execute("SELECT id FROM practices ORDER BY id LIMIT ?", (MAX_EXPORT,))]
        t0 = time.perf_counter()
        practices = export.load_export_practices(conn, ids, "http://bench.test")
        t_load = time.perf_counter() - t0
        t0 = time.perf_counter()
        word = export.to_docx(practices)
        t_docx = time.perf_counter() - t0
        t0 = time.perf_counter()
        sheet = export.to_csv(practices)
        t_csv = time.perf_counter() - t0
        conn.close()
        print(f"export: read {len(practices)} practices {t_load:.2f} s; .docx {t_docx:.2f} s "
              f"({len(word) / 1e6:.1f} MB); CSV {t_csv:.2f} s ({len(sheet) / 1e6:.1f} MB)")

        port = free_port()
        controller = Controller(Sink(), hostname="127.0.0.1", port=port)
        controller.start()
        try:
            settings = Settings(data_dir=Path(tmp), smtp_host="127.0.0.1", smtp_port=port,
                                extra={"digest_scheduler": "0"})
            runner = DigestRunner(settings, connect=lambda: connect(db), clock=clock)
            clock.advance(timedelta(minutes=1))
            t0 = time.perf_counter()
            report = runner.run(force=True)
            t_run = time.perf_counter() - t0
        finally:
            controller.stop()
        sizes = [len(c["practice_ids"]) for c in report.created]
        print(f"digest run: {len(report.sent)} mails sent, {len(report.failed)} failed, "
              f"{sum(sizes) / max(len(sizes), 1):.0f} practices per digest on average, {t_run:.1f} s "
              f"({len(report.sent) / t_run:.1f} digests/s); SMTP received {Sink.count}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
