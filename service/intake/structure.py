"""Blocks → Document: clean-up, title/kind/org/date and the section tree."""

from __future__ import annotations

from pathlib import Path

from service.intake.document import Block, Document, Paragraph, SourceInfo


def build_document(blocks: list[Block], source: SourceInfo) -> Document:
    """Assemble a Document from reader output (one paragraph per non-empty block)."""
    parts: list[str] = []
    paragraphs: list[Paragraph] = []
    pos = 0
    for block in blocks:
        line = block.text.strip()
        if not line:
            continue
        if parts:
            parts.append("\n")
            pos += 1
        parts.append(line)
        paragraphs.append(Paragraph(line, (pos, pos + len(line))))
        pos += len(line)
    title = paragraphs[0].text if paragraphs else Path(source.filename).stem
    return Document(title, "其他", None, None, "".join(parts), paragraphs, [], source)
