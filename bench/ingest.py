"""Ingestion throughput, the 10-page PDF latency and the service's peak memory.

    python -m bench.ingest [--all]

1. Every sample in ``corpus/samples`` (the same set the service loads on first start; ``--all``
   adds the national government work reports) goes through the real queue and worker with the
   real model: documents per minute, end to end.
2. A 10-page Word document built from the seed and sample reports is exported to PDF by
   LibreOffice, then ingested into the warm library: seconds from bytes to committed (target ≤ 2 s).
3. Peak resident memory of this process, which runs the same components as ``jingyan serve``.

Without ``--encoder`` the bench runs twice, each in its own process so memory is not shared: the
service's encoder (ONNX int8) and the old path (torch fp32, ``JINGYAN_ENCODER=torch``), and prints
both. The 10-page PDF is ingested ``--pdf-runs`` times (each copy differs by its last bytes): the
median is printed, with CPU seconds beside wall seconds since the machine may be shared.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from service.config import REPO_ROOT, Settings

if TYPE_CHECKING:
    from service.library.library import Library

T = TypeVar("T")
SAMPLES = REPO_ROOT / "corpus" / "samples"
SEED = SAMPLES / "seed__000_d56bd712dbae6b12.txt"
FILLERS = sorted(SAMPLES.glob("pb-lotjol__*.txt")) + sorted(SAMPLES.glob("hust-partygov__*.txt"))


def build_word_pdf(out_dir: Path, pages: int = 10) -> Path:
    """A Word document of at least ``pages`` pages (seed + sample reports), exported to PDF by LibreOffice."""
    import docx
    import pypdfium2

    lines = SEED.read_text(encoding="utf-8").splitlines()[1:]
    fillers = iter(FILLERS)
    # About 700 characters fill a page at Word's default style; start near the target.
    while sum(len(x) for x in lines) < 700 * pages and (extra := next(fillers, None)):
        lines += extra.read_text(encoding="utf-8").splitlines()
    while True:
        document = docx.Document()
        document.add_heading(lines[0], level=1)
        for line in lines[1:]:
            if line.strip():
                document.add_paragraph(line.strip())
        path = out_dir / "十页材料.docx"
        document.save(path)
        subprocess.run(
            ["soffice", "--headless", "--convert-to", "pdf", "--outdir", str(out_dir), str(path)],
            check=True,
            capture_output=True,
            timeout=180,
        )
        pdf = out_dir / "十页材料.pdf"
        extra = next(fillers, None)
        if len(pypdfium2.PdfDocument(pdf)) >= pages or extra is None:
            return pdf
        lines += extra.read_text(encoding="utf-8").splitlines()


def drain(library: Library) -> None:
    """Run queued jobs in this thread until none is left (what the worker thread does)."""
    from service.library.jobs import run_one

    while (job := library.queue.claim_next()) is not None:
        run_one(library.queue, library.ingestor.run_job, job)


def stage_times(library: Library, data: bytes, filename: str) -> dict[str, tuple[float, float]]:
    """Wall and CPU seconds of each step of one ingestion, run again outside the queue."""
    from service import mining
    from service.intake import parse_bytes
    from service.library import dedupe

    out: dict[str, tuple[float, float]] = {}

    def timed(name: str, fn: Callable[[], T]) -> T:
        t, c = time.perf_counter(), time.process_time()
        result = fn()
        out[name] = (time.perf_counter() - t, time.process_time() - c)
        return result

    doc = timed("parse", lambda: parse_bytes(data, filename, library.settings))
    # as ingest runs it: the extractor embeds each practice once, for its topic and for search
    timed("mine+embed", lambda: mining.extract(doc, library.index.embedder))
    timed(
        "near-dup",
        lambda: dedupe.find_near_duplicate(library.db.conn(), doc.text, dedupe.signature(doc.text)),
    )
    return out


ENCODERS = ("onnx", "torch")


def compare(args: argparse.Namespace) -> int:
    """Run the bench once per encoder, each in a fresh process, and print both reports."""
    for name in ENCODERS:
        label = "new path: ONNX int8" if name == "onnx" else "old path: torch fp32"
        print(f"\n===== {label} (JINGYAN_ENCODER={name}) =====", flush=True)
        cmd = [sys.executable, "-m", "bench.ingest", "--encoder", name, "--pdf-runs", str(args.pdf_runs)]
        if args.all:
            cmd.append("--all")
        run = subprocess.run(cmd, env={**os.environ, "JINGYAN_ENCODER": name}, cwd=REPO_ROOT)
        if run.returncode:
            return run.returncode
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all", action="store_true", help="也导入国务院政府工作报告")
    parser.add_argument("--encoder", choices=ENCODERS, help="只测这一种编码器（默认两种各测一次）")
    parser.add_argument("--pdf-runs", type=int, default=5, help="十页 PDF 导入次数，取中位数（默认 5）")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.encoder is None:
        return compare(args)
    os.environ["JINGYAN_ENCODER"] = args.encoder

    from service.library.library import Library, load_embedder
    from service.library.samples import SAMPLES_DIR, queue_sample_corpus, sample_files
    from service.library.uploads import expand

    tmp = Path(tempfile.mkdtemp(prefix="jingyan-bench-"))
    try:
        settings = Settings(data_dir=tmp / "data", encoder=args.encoder)
        t0 = time.perf_counter()
        embedder = load_embedder(settings)
        load_s = time.perf_counter() - t0
        # as the service's worker process does when it starts: throughput below is the steady state
        from service.mining import default_extractor

        t0 = time.perf_counter()
        default_extractor()
        extractor_s = time.perf_counter() - t0
        library = Library(settings, embedder)

        t0, c0 = time.perf_counter(), time.process_time()
        if args.all:
            files = sorted(SAMPLES_DIR.iterdir())
            for path in files:
                for arrival in expand(path.name, path.read_bytes(), settings):
                    library.queue.submit(arrival)
            n = len(files)
        else:
            n = queue_sample_corpus(library)
        drain(library)
        corpus_s, corpus_cpu = time.perf_counter() - t0, time.process_time() - c0
        counts = library.queue.counts()
        practices = library.db.conn().execute("SELECT COUNT(*) FROM practices").fetchone()[0]

        pdf = build_word_pdf(tmp)
        import pypdfium2

        pages = len(pypdfium2.PdfDocument(pdf))
        runs: list[tuple[float, float]] = []
        for copy in range(max(1, args.pdf_runs)):
            # Each copy differs in its trailing bytes, so none is skipped as an exact duplicate.
            data = pdf.read_bytes() + f"\n%copy {copy}\n".encode()
            arrival = expand(pdf.name, data, settings)[0]
            t0, c0 = time.perf_counter(), time.process_time()
            job = library.queue.submit(arrival)
            drain(library)
            runs.append((time.perf_counter() - t0, time.process_time() - c0))
        pdf_s = statistics.median(w for w, _ in runs)
        pdf_cpu = statistics.median(c for _, c in runs)
        stages = stage_times(library, pdf.read_bytes(), pdf.name)
        pdf_job = library.queue.get(job["id"]) or {}
        pdf_practices = (
            library.db.conn()
            .execute("SELECT COUNT(*) FROM practices WHERE document_id = ?", (pdf_job.get("document_id"),))
            .fetchone()[0]
        )
        library.close()

        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"model load            {load_s:6.1f} s   (encoder: {getattr(embedder, 'name', 'none')})")
        print(f"extractor load        {extractor_s:6.1f} s   (at worker start, before the first job)")
        print(
            f"sample corpus         {n} files in {corpus_s:.1f} s = {n / corpus_s * 3600:,.0f} docs/hour"
            f" ({corpus_cpu:.1f} s CPU in this process)"
            f"  (done {counts['done']}, failed {counts['failed']}, practices {practices})"
        )
        print(
            f"10-page Word PDF      {pdf_s:.2f} s wall, {pdf_cpu:.2f} s CPU in this process, median of {len(runs)}"
            f"  ({pages} pages, {pdf_job.get('status')}, {pdf_practices} practices; target ≤ 0.8 s)"
        )
        print("  by stage (wall/CPU) " + "  ".join(f"{k} {w:.2f}/{c:.2f}" for k, (w, c) in stages.items()))
        print(
            f"load average          {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores"
        )
        print(
            f"peak RSS              {peak_mb:.0f} MB service process, {child_mb:.0f} MB largest child (parsers)"
        )
        print(
            f"samples used          {len(sample_files()) if not args.all else n} (gwr-national excluded: {not args.all})"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
