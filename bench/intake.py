"""Intake speed: pages/s for PDF, MB/s for DOCX and TXT, whole parse, one process; OCR pages/min.

Run ``python -m bench.intake``. Word-exported PDFs and DOCX are generated from the corpus TXT
files (python-docx, then LibreOffice) into a cache directory; the browser-printed PDFs are the
real ones in ``corpus/samples``. The OCR figure comes from a 150 dpi scan of the seed laid out as
an official document, parsed as an upload is (guarded child process, wall time, engine load
included), with the CPU seconds the parse child spent beside it: the wall time depends on the
cores being free, so run it on an idle machine.
"""

from __future__ import annotations

import argparse
import io
import os
import tempfile
import time
from multiprocessing import forkserver
from pathlib import Path

import pypdfium2 as pdfium

from bench.fixtures import (
    SAMPLES,
    build_corpus_fixtures,
    scan_pdf,
    soffice_convert,
    source_lines,
    write_official_docx,
)
from service.intake import parse_bytes
from service.intake.guard import start_parser_server


def measure(paths: list[Path], rounds: int) -> tuple[float, float, int, int]:
    """Parse every file ``rounds`` times in-process.

    Returns (CPU seconds, wall seconds, pages, bytes) per round. CPU time is the figure to quote:
    it stays honest when other processes share the cores.
    """
    blobs = [(p.name, p.read_bytes()) for p in paths]
    pages = 0
    for name, data in blobs:  # warm-up, and the page count
        pages += parse_bytes(data, name, isolate=False).source.pages or 0
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(rounds):
        for name, data in blobs:
            parse_bytes(data, name, isolate=False)
    cpu, wall = (time.process_time() - cpu) / rounds, (time.perf_counter() - wall) / rounds
    return cpu, wall, pages, sum(len(d) for _n, d in blobs)


def main() -> None:
    """Print the figures."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "jingyan-bench-intake")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--ocr-pages", type=int, default=4, help="scanned pages to recognise (0: skip OCR)")
    args = ap.parse_args()
    fixtures = build_corpus_fixtures(args.cache)
    sets = {
        "PDF (Word/LibreOffice export)": [f["pdf"] for f in fixtures.values()],
        "PDF (browser print, corpus)": sorted(SAMPLES.glob("*.pdf")),
        "DOCX (python-docx, corpus)": [f["docx"] for f in fixtures.values()],
        "TXT (corpus)": [f["txt"] for f in fixtures.values()],
    }
    print(f"{'set':32} {'files':>5} {'pages':>6} {'MB':>7} {'cpu s':>7} {'wall s':>7}  rate (per CPU second)")
    for label, paths in sets.items():
        cpu, wall, pages, size = measure(paths, args.rounds)
        mb = size / 1e6
        rate = f"{pages / cpu:7.1f} pages/s" if label.startswith("PDF") else f"{mb / cpu:7.2f} MB/s"
        print(f"{label:32} {len(paths):5d} {pages:6d} {mb:7.2f} {cpu:7.3f} {wall:7.3f}  {rate}")
    print(f"child-process isolation (time/memory limits) adds {isolation_overhead_ms():.1f} ms per file")
    if args.ocr_pages:
        load = os.getloadavg()[0]
        pages, wall, cpu = ocr_rate(args.cache, args.ocr_pages)
        print(f"OCR (150 dpi scan of the official-layout seed, guarded child): {pages} pages in {wall:.1f} s wall "
              f"→ {60 * pages / wall:.1f} pages/min on {os.cpu_count()} cores; {cpu:.1f} s CPU in the child "
              f"({cpu / pages:.2f} s per page); load average {load:.2f} before the run")


def ocr_rate(cache: Path, pages: int) -> tuple[int, float, float]:
    """Recognise the first ``pages`` pages of a scanned seed the way an upload is parsed.

    Returns (pages, wall seconds, CPU seconds of the parsing child). The engine's load is counted.
    """
    folder = cache / "scan"
    folder.mkdir(parents=True, exist_ok=True)
    scan = folder / "seed-scan.pdf"
    if not scan.exists():
        seed = SAMPLES / "seed__000_d56bd712dbae6b12.txt"
        docx = write_official_docx(source_lines(seed), folder / "seed-official.docx")
        [pdf] = soffice_convert([docx], "pdf", folder)
        scan_pdf(pdf, scan)
    doc = pdfium.PdfDocument(str(scan))
    count = min(pages, len(doc))
    part = pdfium.PdfDocument.new()
    part.import_pages(doc, list(range(count)))
    buf = io.BytesIO()
    part.save(buf)
    doc.close()
    from service.intake.readers.ocr import preload

    preload()
    start_parser_server()
    before = children_cpu()
    start = time.perf_counter()
    parsed = parse_bytes(buf.getvalue(), "scan.pdf")
    wall = time.perf_counter() - start
    time.sleep(0.5)  # the parser server reaps the child, and counts its CPU, on SIGCHLD
    assert parsed.source.ocr and parsed.source.pages == count
    return count, wall, children_cpu() - before


def children_cpu() -> float:
    """CPU seconds of the parse children that have ended, and of the parser server forking them.

    Children are forked by the parser server, which reaps them, so their time adds up there;
    children forked from this process count here.
    """
    own = os.times()
    total = own.children_user + own.children_system
    server = getattr(forkserver._forkserver, "_forkserver_pid", None)
    if server:
        with open(f"/proc/{server}/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        total += sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")  # utime stime cutime cstime
    return total


def isolation_overhead_ms(rounds: int = 20) -> float:
    """Extra wall time of the default isolated parse over an in-process one, on the seed."""
    data = (SAMPLES / "seed__000_d56bd712dbae6b12.txt").read_bytes()
    timings = {}
    for isolate in (False, True):
        parse_bytes(data, "seed.txt", isolate=isolate)
        start = time.perf_counter()
        for _ in range(rounds):
            parse_bytes(data, "seed.txt", isolate=isolate)
        timings[isolate] = (time.perf_counter() - start) / rounds
    return (timings[True] - timings[False]) * 1000


if __name__ == "__main__":
    main()
