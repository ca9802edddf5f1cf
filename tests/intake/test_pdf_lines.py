"""Lines a PDF's layout broke are one title or one paragraph again.

Reports laid out as official documents (22 pt title, 16 pt body) have titles that wrap over two
printed lines; the seed has a line that ends early because the quoted name after it moved whole
to the next line.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from bench.fixtures import SAMPLES, source_lines
from service.intake import parse_file

from .conftest import OFFICIAL
from .test_fidelity import squeeze

WRAPPED_TITLES = [stem for stem in OFFICIAL if not stem.startswith("seed")]


@pytest.mark.parametrize("stem", WRAPPED_TITLES)
def test_a_title_wrapped_over_two_lines_is_one_title(stem: str, official_pdfs: dict[str, Path]) -> None:
    pdf = official_pdfs[stem]
    printed = subprocess.run(["pdftotext", "-l", "1", str(pdf), "-"], capture_output=True, text=True, check=True)
    title = source_lines(SAMPLES / f"{stem}.txt")[0]
    # The layout really wraps it: the first printed line holds only part of the title.
    assert squeeze(printed.stdout.splitlines()[0]) != squeeze(title)
    doc = parse_file(pdf)
    assert squeeze(doc.title) == squeeze(title)
    assert squeeze(doc.text.splitlines()[0]) == squeeze(title)


def test_a_line_ending_before_a_quoted_name_runs_on_into_it(official_pdfs: dict[str, Path]) -> None:
    doc = parse_file(official_pdfs["seed__000_d56bd712dbae6b12"])
    assert "对下在机关党建网设立“亮身份、展风采”专栏进行宣传" in doc.text


def test_a_title_that_fits_one_line_still_stands_alone(official_pdfs: dict[str, Path]) -> None:
    doc = parse_file(official_pdfs["seed__000_d56bd712dbae6b12"])
    assert doc.title == "在机关党建工作交流会上的讲话"
    assert doc.text.splitlines()[1] == "同志们："


def test_browser_printed_page_with_a_long_heading_keeps_the_whole_title(tmp_path: Path) -> None:
    lines = source_lines(SAMPLES / "pb-lotjol__11.txt")
    body = "".join(f"<p>{line}</p>" for line in lines[1:] if line)
    html = tmp_path / "report.html"
    html.write_text(f'<html><head><meta charset="utf-8"><title>{lines[0]}</title></head>'
                    f'<body style="width:36em"><h1 style="font-size:28px">{lines[0]}</h1>{body}</body></html>',
                    encoding="utf-8")
    out = tmp_path / "report.pdf"
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or "chromium"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
                    f"--print-to-pdf={out}", html.as_uri()], check=True, capture_output=True, timeout=120)
    printed = subprocess.run(["pdftotext", "-l", "1", str(out), "-"], capture_output=True, text=True, check=True)
    assert squeeze(printed.stdout.splitlines()[0]) != squeeze(lines[0])
    doc = parse_file(out)
    assert squeeze(doc.title) == squeeze(lines[0])
