"""Photographed or scanned pages sent as pictures (PNG, JPEG, TIFF with one or many pages …) → blocks."""

from __future__ import annotations

import io
import warnings

import numpy as np

from service.config import Settings
from service.intake.errors import IntakeError
from service.intake.readers.ocr import PageRecognizer
from service.intake.readers.pages import Progress, Reading, confidence_warnings, page_blocks, recognised_lines


def read_image(
    data: bytes,
    settings: Settings,
    progress: Progress | None = None,
    recognizer: PageRecognizer | None = None,
) -> Reading:
    """Recognise every page (frame) of a picture file; raise IntakeError when none holds text."""
    from PIL import Image, ImageSequence, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            picture = Image.open(io.BytesIO(data))
            count = getattr(picture, "n_frames", 1)
            if count > settings.max_pages:
                raise IntakeError("too_many_pages", f"图片共 {count} 页，超过 {settings.max_pages} 页的上限，请拆分后再上传",
                                  f"{count} frames > max_pages={settings.max_pages}")
            recognizer = recognizer or PageRecognizer()
            pages, confidence = [], []
            for done, frame in enumerate(ImageSequence.Iterator(picture), start=1):
                recognised = recognizer.run(np.asarray(frame.convert("RGB")))
                pages.append(recognised_lines(recognised))
                confidence.append(recognised.confidence or 0.0)
                if progress is not None:
                    progress(done, count)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise IntakeError("corrupt", "图片文件已损坏或格式异常，无法读取；请重新扫描或另存为 PNG/JPEG 后上传",
                          f"{type(exc).__name__}: {exc}") from exc
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise IntakeError("too_large", "图片像素过多，无法识别；请以 150–300 dpi 重新扫描后上传", str(exc)) from exc
    if not any(page for page in pages):
        raise IntakeError("scanned", "图片中未能识别出文字（OCR）；请提供更清晰的扫描件（至少 150 dpi）或文字版",
                          f"nothing recognised on {count} image pages")
    return Reading(page_blocks(pages), count, confidence_warnings(confidence), confidence)
