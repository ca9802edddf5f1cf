"""Pictures of printed pages → text lines with their position and confidence.

RapidOCR runs the PP-OCRv4 Chinese detection and recognition models on onnxruntime; the models
ship inside the ``rapidocr-onnxruntime`` wheel, so nothing is fetched at run time. Pages are
upright scans, so the text-direction classifier is skipped: on straight lines it turned some of
them upside down and lost them. Red seal impressions are bleached before recognition, since
their curved characters only add noise lines.

Recognition of the line images takes four fifths of the time. The library's own settings cost
five times the CPU in the parse child for the same text: it pads each batch of six lines to the
widest (one line at a time is cheaper and reads as well), onnxruntime's worker threads spin while
they wait, burning a core another process could use, and without a memory arena every line's
tensors are fresh mappings (see ``_session``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

# Threads per recognition model: ingestion parses one file at a time, on at least two cores.
THREADS = 2
# Scans larger than this (long side, pixels) are scaled down first: 200 dpi A4 is plenty.
MAX_SIDE = 2400
# A page whose mean character confidence is below this is flagged for a person to check.
LOW_CONFIDENCE = 0.85

_CJK = "\u3400-\u4dbf\u4e00-\u9fff"
# The recogniser prints a full stop between Chinese characters as a middle dot.
_DOT_STOP = re.compile(rf"(?<=[{_CJK}”）])[·•](?=[{_CJK}“（]|$)")
# Chinese text asks with a full-width ？; an ASCII ? between Chinese characters is a misread 、 (四?纪律).
_MISREAD_COMMA = re.compile(rf"(?<=[{_CJK}])\?(?=[{_CJK}“])")


@dataclass
class RecognisedLine:
    """One printed row: its text, box (pixels) and mean character confidence."""

    text: str
    top: float
    bottom: float
    left: float
    right: float
    confidence: float


@dataclass
class RecognisedPage:
    """What recognition found on one page image."""

    lines: list[RecognisedLine]
    width: int
    height: int

    @property
    def confidence(self) -> float | None:
        """Mean confidence per character over the page, ``None`` for a page without text."""
        chars = sum(len(line.text) for line in self.lines)
        if not chars:
            return None
        return sum(line.confidence * len(line.text) for line in self.lines) / chars


def preload() -> None:
    """Import the recognition libraries (OpenCV, onnxruntime) into this process.

    Called before a parse is forked: the libraries' mappings (some 500 MB of address space) are
    then part of the parent, and the child's memory cap is spent on recognising pages only.
    """
    import rapidocr_onnxruntime  # noqa: F401


class PageRecognizer:
    """Recognise the text of page images.

    >>> page = PageRecognizer().run(rgb_array)   # doctest: +SKIP
    >>> [line.text for line in page.lines]       # doctest: +SKIP
    ['在机关党建工作交流会上的讲话', '同志们：', ...]

    The engine loads on first use (under half a second), inside the process that parses.
    The detector sees the page as RapidOCR sizes it (long side up to 2000 px, so a 150 dpi A4
    page whole): shrunk to 1280 px it saved a fifth of the time but misread more characters.
    """

    def __init__(self, threads: int = THREADS) -> None:
        self.threads = max(1, min(threads, os.cpu_count() or 1))
        self._engine: Any = None

    def run(self, image: np.ndarray) -> RecognisedPage:
        """Recognise one page given as an RGB (or grey) ``uint8`` array."""
        rgb = _as_rgb(image)
        scale = min(1.0, MAX_SIDE / max(rgb.shape[:2]))
        if scale < 1.0:
            from PIL import Image

            h, w = rgb.shape[:2]
            rgb = np.asarray(Image.fromarray(rgb).resize((int(w * scale), int(h * scale)), Image.Resampling.LANCZOS))
        bgr = np.ascontiguousarray(bleach_red(rgb)[:, :, ::-1])
        found, _elapsed = self._load()(bgr, use_cls=False)
        boxes = []
        for box, text, score in found or []:
            if not text.strip():
                continue
            xs, ys = [p[0] for p in box], [p[1] for p in box]
            boxes.append(RecognisedLine(text.strip(), min(ys), max(ys), min(xs), max(xs), float(score)))
        return RecognisedPage(_normalise(_rows(boxes)), rgb.shape[1], rgb.shape[0])

    def _load(self) -> Any:
        if self._engine is None:
            from rapidocr_onnxruntime import RapidOCR

            engine = RapidOCR(rec_batch_num=1)
            # RapidOCR cannot be told to keep its threads from spinning: its two models are
            # loaded again with session options that say so.
            models = _models_dir()
            engine.text_det.infer.session = _session(models / "ch_PP-OCRv4_det_infer.onnx", self.threads, arena=False)
            engine.text_rec.session.session = _session(models / "ch_PP-OCRv4_rec_infer.onnx", self.threads, arena=True)
            self._engine = engine
        return self._engine


def _models_dir() -> Path:
    """The models folder inside the installed ``rapidocr_onnxruntime`` package."""
    import rapidocr_onnxruntime

    return Path(rapidocr_onnxruntime.__file__).parent / "models"


def _session(model: Path, threads: int, arena: bool) -> Any:
    """An onnxruntime session on ``threads`` threads that sleep, rather than spin, between runs.

    With ``arena`` the session keeps the memory of one run for the next: the recogniser's runs
    (one per line) then cost no fresh mappings, which the parse child, handing every block over
    1 MB to mmap, would pay for in page faults costing more than the model itself. The detector runs
    once per page on maps of some 300 MB that an arena would keep and outgrow the memory cap with.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 4
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.enable_cpu_mem_arena = arena
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # the arena grows by what is asked, not by powers of two
    growth = {"arena_extend_strategy": "kSameAsRequested"}
    return ort.InferenceSession(str(model), options, providers=[("CPUExecutionProvider", growth)])


def bleach_red(rgb: np.ndarray) -> np.ndarray:
    """Turn the pixels of a red seal white; dark text under the seal stays dark."""
    r, g, b = (rgb[:, :, i].astype(np.int16) for i in range(3))
    red = (r > 120) & (r - np.maximum(g, b) > 60)
    if not red.any():
        return rgb
    out = rgb.copy()
    out[red] = 255
    return out


def _as_rgb(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return np.repeat(image[:, :, None], 3, axis=2)
    return image[:, :, :3]


def _normalise(lines: list[RecognisedLine]) -> list[RecognisedLine]:
    """Straight quotes back to Chinese ones, middle-dot full stops back to 。, 丶 and ? to 、.

    Whether a straight quote opens or closes follows from the quotes before it on the page, so a
    quotation that runs over a line break keeps its closing mark.
    """
    opening = True
    for line in lines:
        out = []
        for ch in line.text:
            if ch == '"':
                ch = "“" if opening else "”"
            if ch in "“”":
                opening = ch == "”"
            out.append(ch)
        line.text = _MISREAD_COMMA.sub("、", _DOT_STOP.sub("。", "".join(out)).replace("丶", "、"))
    return lines


def _rows(boxes: list[RecognisedLine]) -> list[RecognisedLine]:
    """Merge boxes that sit on one printed row (a gap split them), top to bottom, left to right."""
    rows: list[list[RecognisedLine]] = []
    for box in sorted(boxes, key=lambda b: (b.top + b.bottom) / 2):
        centre = (box.top + box.bottom) / 2
        if rows:
            last = rows[-1]
            height = max(b.bottom - b.top for b in last)
            last_centre = sum((b.top + b.bottom) / 2 for b in last) / len(last)
            if abs(centre - last_centre) < 0.5 * max(height, box.bottom - box.top):
                last.append(box)
                continue
        rows.append([box])
    out = []
    for row in rows:
        row.sort(key=lambda b: b.left)
        chars = sum(len(b.text) for b in row)
        out.append(RecognisedLine(
            "".join(b.text for b in row),
            min(b.top for b in row),
            max(b.bottom for b in row),
            row[0].left,
            max(b.right for b in row),
            sum(b.confidence * len(b.text) for b in row) / chars,
        ))
    return out
